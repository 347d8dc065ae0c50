"""Live streams: how many 720p 25 fps cameras one machine analyses at 5 frames a second each
without falling behind, and how long a face takes from entering the frame to its record.

    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_streams.py \
        --data ../../shared/data/faces [--seconds 30] [--always 2,4,6,8] [--sometimes 6,9,12,15]

Each camera is a looped H.264 file played in real time by facewise's camera reader (so
decoding is paid as for a real camera), watched by a stream processor of the embedded
runner (the server's), searching a collection holding another photo of each person. Two
videos, made from --data's photos walking across a still photo background:

- always: a new person enters every 3 s and crosses in 6 s (faces always in view);
- sometimes: one person crosses in 2 s every 10 s (people in view 20% of the time).

A stream keeps up when it analyses (searches, or skips for lack of motion) at least 4.5 of
its 5 sampled frames a second. The cameras are started spread over one period of their
video, so people enter them at different moments, as with real cameras (--in-step starts
them together: everyone enters every camera at once, the worst case). Latency: from the
moment a face enters the frame (the video's schedule, in the camera's real-time playback) to
its record being written to the data stream, where GetRecords reads it, for records naming
someone; it includes waiting for the next sampled frame (up to 200 ms) and the identity
rule's second searched frame. An unknown face is reported after three searched frames, so
later (its own column). The baseline rows run the same cameras with motion gating off (every
sampled frame searched).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS = 1280, 720, 25


@dataclass(frozen=True)
class Scenario:
    name: str
    every_ms: int  # a new person enters this often
    walk_ms: int  # and takes this long to cross
    length_ms: int  # the looped video's length


ALWAYS = Scenario("always", 3000, 6000, 30_000)
SOMETIMES = Scenario("sometimes", 10_000, 2000, 30_000)


def make_video(scenario: Scenario, people: list[tuple[str, Path, Path]], path: Path) -> None:
    sys.path.insert(0, str(HERE.parent))
    from PIL import Image
    from skimage.data import coffee
    from tests.video.synth import Walk, encode, face_crop, scene_frames

    from facewise.pipeline.analyzer import FaceAnalyzer
    from facewise.service.images import DEFAULT_IMAGES

    analyzer = FaceAnalyzer()
    side = HEIGHT // 5
    sprites = []
    for _, photo, _ in people:
        rgb = DEFAULT_IMAGES.rgb(photo)
        box = analyzer.detect(rgb)[0].box_xyxy
        sprites.append(face_crop(rgb, tuple(int(v) for v in box), side))  # type: ignore[arg-type]
    walks = []
    for number, start in enumerate(range(0, scenario.length_ms, scenario.every_ms)):
        top = (number % 3) * (HEIGHT - side) // 2
        end = min(start + scenario.walk_ms, scenario.length_ms)
        walks.append(Walk(sprites[number % len(sprites)], start, end, top, number % 2 == 0))
    background = np.asarray(Image.fromarray(coffee()).resize((WIDTH, HEIGHT)))
    frames = scene_frames(
        walks, scenario.length_ms, (WIDTH, HEIGHT), background=lambda t: background
    )
    encode(frames, path)


def run(
    store: Path,
    video: Path,
    scenario: Scenario,
    streams: int,
    seconds: float,
    gating: bool,
    people: list[tuple[str, Path, Path]],
    stagger: bool = True,
) -> dict[str, float]:
    from facewise.api.shapes_streams import stream_record
    from facewise.service.caller import Caller
    from facewise.service.cameras import Cameras
    from facewise.service.collections import FaceCollections
    from facewise.service.data_streams import DataStreams
    from facewise.service.stream_processors import StreamProcessors
    from facewise.service.stream_runner import EmbeddedRunner, MatchEvent

    events: list[tuple[MatchEvent, float]] = []

    def capture(event: MatchEvent) -> bytes:
        events.append((event, time.time() * 1000))
        return stream_record(event)

    with FaceCollections.open(store) as faces:
        context = faces.context
        if not faces.list_collections().items:
            faces.create_collection("bench")
            for identity, _, indexed in people:
                faces.index_faces("bench", indexed, external_image_id=identity)
        context.live_settings = replace(context.live_settings, motion_gating=gating)
        context.analyzer.load_all()
        context.analyzer.detect(np.zeros((360, 640, 3), np.uint8))
        caller = Caller()
        cameras, outputs = Cameras(context, caller), DataStreams(context, caller)
        processors = StreamProcessors(context, caller)
        for old in processors.list_processors().items:
            processors.delete(old.name)
        for old_stream in outputs.list():
            outputs.delete(old_stream.name)
        runner = EmbeddedRunner(context, capture)
        context.live = runner
        names = [f"cam{i}" for i in range(streams)]
        for name in names:
            camera = cameras.add(name, str(video), loop=True)
            stream = outputs.create(f"{name}-out")
            processors.create(name, cameras.arn(camera), outputs.arn(stream), "bench")
        runner.begin()
        for name in names:
            processors.start(name)
            if stagger:  # cameras out of step, as real ones are: people enter at other times
                time.sleep(scenario.every_ms / 1000 / streams)
        time.sleep(3.0)  # connecting, first frames
        running = runner.running()
        before = {p.key: (_analysed(p), _dropped(p)) for p in running}
        events.clear()
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        rates, drops = [], []
        for processor in runner.running():
            analysed, dropped = before.get(processor.key, (0, 0))
            rates.append((_analysed(processor) - analysed) / elapsed)
            drops.append((_dropped(processor) - dropped) / elapsed)
        named = [_latency_ms(e, written, scenario) for e, written in events if e.matches]
        unknown = [_latency_ms(e, written, scenario) for e, written in events if not e.matches]
        for name in names:
            processors.stop(name)
        for processor in runner.running():
            processor.thread.join(10)
        runner.close()
    return {
        "min_rate": min(rates) if rates else 0.0,
        "mean_rate": statistics.fmean(rates) if rates else 0.0,
        "dropped": statistics.fmean(drops) if drops else 0.0,
        "records": len(events),
        "named": len(named),
        "p50": _percentile(named, 50),
        "p99": _percentile(named, 99),
        "unknown_p50": _percentile(unknown, 50),
    }


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _analysed(processor) -> int:  # type: ignore[no-untyped-def]
    live = processor.live
    return 0 if live is None else int(live.searched + live.skipped)


def _dropped(processor) -> int:  # type: ignore[no-untyped-def]
    source = processor.source
    return 0 if source is None else int(source.dropped)


def _latency_ms(event, written_ms: float, scenario: Scenario) -> float:  # type: ignore[no-untyped-def]
    """From the face entering the frame (the schedule, in real-time playback) to its record."""
    media = event.first_seen_media_ms
    entered_media = media - media % scenario.every_ms  # the latest entry before it was seen
    entered_wall = event.first_seen_arrived_ms - (media - entered_media)
    return written_ms - entered_wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/faces")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--always", default="2,4,6,8")
    parser.add_argument("--sometimes", default="6,9,12,15")
    parser.add_argument("--baseline", default="6,12", help="sometimes, motion gating off")
    parser.add_argument(
        "--in-step",
        action="store_true",
        help="start every camera at once, so people enter all of them at the same moment "
        "(the worst case; by default the cameras are started spread over one period)",
    )
    args = parser.parse_args()
    from bench_video import people_of

    people = people_of(args.data, 6)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        store = work / "store"
        plan = [(ALWAYS, int(n), True) for n in args.always.split(",") if n]
        plan += [(SOMETIMES, int(n), True) for n in args.sometimes.split(",") if n]
        plan += [(SOMETIMES, int(n), False) for n in args.baseline.split(",") if n]
        videos: dict[str, Path] = {}
        for scenario, streams, gating in plan:
            if scenario.name not in videos:
                videos[scenario.name] = work / f"{scenario.name}.mp4"
                make_video(scenario, people, videos[scenario.name])
            result = run(
                store,
                videos[scenario.name],
                scenario,
                streams,
                args.seconds,
                gating,
                people,
                stagger=not args.in_step,
            )
            rows.append((scenario.name, streams, gating, result))
            print(scenario.name, streams, gating, result, file=sys.stderr, flush=True)
    print(
        "| faces in view | streams | motion gating | analysed frames/s per stream, min | mean "
        "| dropped frames/s per stream | keeps up | records (named) | latency p50 ms | p99 ms "
        "| unknown faces' p50 ms |"
    )
    print("|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|")
    for name, streams, gating, r in rows:
        keeps = "yes" if r["min_rate"] >= 4.5 else "no"
        shown = "always" if name == "always" else "20%"
        print(
            f"| {shown} | {streams} | {'on' if gating else 'off'} | {r['min_rate']:.2f} | "
            f"{r['mean_rate']:.2f} | {r['dropped']:.2f} | {keeps} | {r['records']} "
            f"({r['named']}) | {r['p50']:.0f} | {r['p99']:.0f} | {r['unknown_p50']:.0f} |"
        )


if __name__ == "__main__":
    main()
