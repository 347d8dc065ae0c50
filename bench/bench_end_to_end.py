"""End-to-end DetectFaces speed and peak memory: facewise against face_recognition.

Each library runs in its own fresh process (so peak memory is its own), over the same JPEG
bytes at 640x480 and 1920x1080: decode -> detect -> embed -> attributes.

- facewise: decode with limits, RetinaFace, dlib 5-point alignment, ResNet under
  onnxruntime, pose/quality, age and gender (Attributes=ALL).
- facewise-dlib: the same, with the ResNet run by dlib (the reference path).
- face_recognition: load_image_file, HOG (upsample 1), face_encodings, face_landmarks.

    .venv/bin/python bench/bench_end_to_end.py [--data ../shared/data/faces] [--repeat 2]

Photos: skimage's astronaut and matplotlib's grace_hopper.jpg, plus the manifest photos of
--data; each fitted inside the frame on black and JPEG-encoded (quality 92). Needs the
baseline: .venv/bin/pip install --no-deps face-recognition==1.3.0 click
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench_detect import RESOLUTIONS_WH, fit, source_photos

LIBRARIES = ("facewise", "facewise-dlib", "face_recognition")


def encoded_photos(data: Path | None) -> dict[str, list[bytes]]:
    photos = source_photos(data, None)
    out = {}
    for width, height in RESOLUTIONS_WH:
        frames = []
        for photo in photos:
            buffer = io.BytesIO()
            Image.fromarray(fit(photo.rgb, (width, height))).save(buffer, "JPEG", quality=92)
            frames.append(buffer.getvalue())
        out[f"{width}x{height}"] = frames
    return out


def pipeline(library: str, cache: str):  # type: ignore[no-untyped-def]
    """A function from JPEG bytes to the number of faces, doing the whole job."""
    if library == "face_recognition":
        import face_recognition

        def run(data: bytes) -> int:
            rgb = face_recognition.load_image_file(io.BytesIO(data))
            boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=1)
            face_recognition.face_encodings(rgb, known_face_locations=boxes)
            face_recognition.face_landmarks(rgb, face_locations=boxes)
            return len(boxes)

        return run
    from facewise.imaging.decode import load_image
    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
    from facewise.types import Attribute

    embedder = "dlib" if library == "facewise-dlib" else "onnx"
    analyzer = FaceAnalyzer(AnalyzerConfig(embedder=embedder, data_dir=Path(cache)))
    everything = frozenset(Attribute)

    def run(data: bytes) -> int:
        rgb = load_image(data)
        faces = analyzer.analyze(rgb, analyzer.detect(rgb), everything, with_embedding=True)
        return len(faces)

    return run


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM). Unlike ru_maxrss, it is not inherited
    from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(library: str, photo_dir: str, repeat: int, cache: str) -> None:
    """Time the pipeline on the photo files, reading one at a time so they don't count in the
    process's peak memory."""
    folders = sorted(p for p in Path(photo_dir).iterdir() if p.is_dir())
    run = pipeline(library, cache)
    run(next(folders[0].iterdir()).read_bytes())  # warm-up: load models, first inference
    report: dict[str, object] = {}
    for folder in folders:
        timings, faces = [], 0
        for round_ in range(repeat):
            for path in sorted(folder.iterdir()):
                data = path.read_bytes()
                started = time.perf_counter()
                found = run(data)
                timings.append((time.perf_counter() - started) * 1000)
                faces += found if round_ == 0 else 0
        report[folder.name] = {
            "p50": statistics.median(timings),
            "mean": statistics.fmean(timings),
            "faces": faces,
        }
    report["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with manifest.csv")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        library, photo_dir, cache = args.worker
        worker(library, photo_dir, args.repeat, cache)
        return
    photos = encoded_photos(args.data)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        photo_dir = Path(folder) / "photos"
        for size, frames in photos.items():
            (photo_dir / size).mkdir(parents=True)
            for index, data in enumerate(frames):
                (photo_dir / size / f"{index:04d}.jpg").write_bytes(data)
        for library in LIBRARIES:
            command = [
                sys.executable,
                __file__,
                "--repeat",
                str(args.repeat),
                "--worker",
                library,
                str(photo_dir),
                folder,
            ]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            results[library] = json.loads(out.stdout.strip().splitlines()[-1])
    count = len(next(iter(photos.values())))
    print(
        f"{os.cpu_count()} cores, {platform.machine()}; {count} photos per resolution, "
        f"repeat {args.repeat}; load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| resolution | metric | facewise | facewise-dlib | face_recognition | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for size in photos:
        row = {lib: results[lib][size] for lib in LIBRARIES}
        for metric in ("p50", "mean"):
            cells = " | ".join(f"{row[lib][metric]:.0f}" for lib in LIBRARIES)
            ratio = row["face_recognition"][metric] / row["facewise"][metric]
            print(f"| {size} | ms/image, {metric} | {cells} | {ratio:.1f}x |")
        faces = " | ".join(str(row[lib]["faces"]) for lib in LIBRARIES)
        print(f"| {size} | faces found | {faces} | |")
    peaks = " | ".join(f"{results[lib]['peak_rss_mb']:.0f}" for lib in LIBRARIES)
    print(f"| all | peak memory of the process, MB | {peaks} | |")


if __name__ == "__main__":
    main()
