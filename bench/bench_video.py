"""Stored-video face search: facewise's job path against the naive way, side by side.

    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_video.py \
        --data ../../shared/data/faces [--seconds 60] [--heights 720,1080] [--hour]

The video: H.264 at 25 fps, people from --data's manifest (one photo each as a walking
face sprite, 1/5 of the frame high) crossing a still background, two or three in view at a
time; another photo of each person is indexed into a collection. Both paths analyse 5
frames a second and run in their own process (peak memory is each process's VmHWM):

- facewise: StartFaceSearch's path (decode, detect, track, embed a few frames per track,
  search, decide per track), run inline on a temporary store;
- naive: DetectFaces and SearchFacesByImage through the library on every sampled frame.

Both start warm (models loaded, packages imported), as in a running server. Real-time
factor = video seconds / wall seconds. --hour also runs facewise on a one-hour
720p video for its peak memory (results streamed to the store, frames never all kept).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def people_of(data: Path, count: int) -> list[tuple[str, Path, Path]]:
    """(identity, sprite photo, indexed photo) for people with at least two photos."""
    by_identity: dict[str, list[Path]] = {}
    with open(data / "manifest.csv") as file:
        for row in csv.DictReader(file):
            if not row["path"].endswith("img47.jpg"):  # really a WebP
                by_identity.setdefault(row["identity"], []).append(data / row["path"])
    chosen = [(k, v[0], v[1]) for k, v in sorted(by_identity.items()) if len(v) >= 2]
    return chosen[:count]


def make_video(data: Path, height: int, seconds: int, path: Path) -> list[tuple[str, Path]]:
    """Write the benchmark video; returns the (identity, photo) pairs to index."""
    sys.path.insert(0, str(HERE.parent))
    from PIL import Image
    from tests.video.synth import Walk, encode, face_crop, scene_frames

    from facewise.pipeline.analyzer import FaceAnalyzer
    from facewise.service.images import DEFAULT_IMAGES

    analyzer = FaceAnalyzer()
    width = height * 16 // 9
    side = height // 5
    walks, indexed = [], []
    people = people_of(data, 6)
    for number, (identity, sprite_photo, index_photo) in enumerate(people):
        rgb = DEFAULT_IMAGES.rgb(sprite_photo)
        box = analyzer.detect(rgb)[0].box_xyxy
        sprite = face_crop(rgb, tuple(int(v) for v in box), side)  # type: ignore[arg-type]
        indexed.append((identity, index_photo))
        period = 12_000
        for start in range(number * 2000, seconds * 1000, period):
            top = (number % 3) * (height - side) // 2
            walks.append(
                Walk(sprite, start, min(start + 6000, seconds * 1000), top, number % 2 == 0)
            )
    background = np.asarray(
        Image.fromarray(__import__("skimage.data", fromlist=["coffee"]).coffee()).resize(
            (width, height)
        )
    )
    frames = scene_frames(walks, seconds * 1000, (width, height), background=lambda t: background)
    encode(frames, path)
    return indexed


def child(mode: str, video: Path, indexed_json: str, store: Path) -> dict[str, float]:
    from facewise.service.collections import FaceCollections
    from facewise.video.decode import probe, sample_frames

    indexed = json.loads(indexed_json)
    with FaceCollections.open(store) as faces:
        if not faces.list_collections().items:
            faces.create_collection("bench")
            for identity, photo in indexed:
                faces.index_faces("bench", photo, external_image_id=identity)
        duration_s = probe(video).duration_ms / 1000
        # Warm, as in a running server: models loaded, the tracker's packages imported.
        faces.context.analyzer.load_all()
        faces.context.analyzer.detect(np.zeros((360, 640, 3), np.uint8))
        import trackers  # noqa: F401

        started = time.perf_counter()
        if mode == "facewise":
            from facewise.service.video_runner import analysed_now

            jobs = analysed_now(faces.context, faces.caller)
            job_id = jobs.start_face_search(video, "bench")
            page = jobs.get_face_search(job_id, max_results=1)
            assert page.job.status == "SUCCEEDED", page.job.status_message
            frames = len(list(range(0, int(duration_s * 5))))
        else:
            from facewise.errors import InvalidParameterError
            from facewise.service.faces import detect_faces

            frames = 0
            for frame in sample_frames(video, 5.0):
                detect_faces(frame.rgb, analyzer=faces.context.analyzer)
                with contextlib.suppress(InvalidParameterError):  # no face in this frame
                    faces.search_faces_by_image("bench", frame.rgb)
                frames += 1
        wall = time.perf_counter() - started
    peak_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return {"wall_s": wall, "video_s": duration_s, "frames": frames, "peak_mb": peak_kb / 1024}


def run_child(
    mode: str, video: Path, indexed: list[tuple[str, Path]], store: Path
) -> dict[str, float]:
    indexed_json = json.dumps([(i, str(p)) for i, p in indexed])
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(video), indexed_json, str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/faces")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--heights", default="720,1080")
    parser.add_argument("--hour", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "VIDEO", "INDEXED", "STORE"))
    args = parser.parse_args()
    if args.child:
        mode, video, indexed, store = args.child
        print(json.dumps(child(mode, Path(video), indexed, Path(store))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for height in (int(h) for h in args.heights.split(",")):
            video = work / f"{height}p.mp4"
            indexed = make_video(args.data, height, args.seconds, video)
            for mode in ("facewise", "naive"):
                store = work / f"store-{height}-{mode}"
                result = run_child(mode, video, indexed, store)
                rows.append((f"{height}p", mode, result))
        if args.hour:
            video = work / "hour.mp4"
            indexed = make_video(args.data, 720, 3600, video)
            rows.append(
                ("720p, 1 hour", "facewise", run_child("facewise", video, indexed, work / "h"))
            )
    print("| video | path | video s | wall s | real-time × | analysed frames/s | peak MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, mode, r in rows:
        print(
            f"| {name} | {mode} | {r['video_s']:.0f} | {r['wall_s']:.1f} | "
            f"{r['video_s'] / r['wall_s']:.1f} | {r['frames'] / r['wall_s']:.1f} | "
            f"{r['peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
