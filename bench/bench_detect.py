"""Speed of facewise next to face_recognition (dlib HOG + the same dlib ResNet), one run.

facewise runs the ResNet under onnxruntime by default (AnalyzerConfig.embedder), face_recognition
in dlib. Both libraries see the same photos at 640x480 and 1920x1080: skimage's astronaut and
matplotlib's grace_hopper.jpg, plus, with --data, every photo in that folder's manifest.csv.
Each photo is scaled to fit inside the target size (aspect kept, INTER_AREA when shrinking,
INTER_LINEAR when enlarging) and centred on black padding. Prints a Markdown table of
detection ms per image, faces found and embedding ms per face, with face_recognition / facewise
ratios (above 1 means facewise is faster). Not part of the test suite.

The baseline is not a facewise dependency; install it without its `dlib` requirement (that
would compile dlib from source; dlib-bin already provides the `dlib` module):

    /work/main/.venv/bin/pip install --no-deps face-recognition==1.3.0 click

Run from the project root:

    PYTHONPATH=src .venv/bin/python bench/bench_detect.py [--data ../shared/data/faces]
        [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

RESOLUTIONS_WH = ((640, 480), (1920, 1080))
TABLE_HEADER = (
    "| resolution | metric | facewise | face_recognition | ratio |\n|---|---|---:|---:|---:|"
)
INSTALL_BASELINE = "/work/main/.venv/bin/pip install --no-deps face-recognition==1.3.0 click"


@dataclass(frozen=True)
class Photo:
    name: str
    rgb: np.ndarray
    from_manifest: bool


@dataclass(frozen=True)
class Library:
    """What is timed: ``detect`` on an image, then ``embed`` on that image and its faces."""

    name: str
    detect: Callable[[np.ndarray], Sequence[Any]]
    embed: Callable[[np.ndarray, Sequence[Any]], object]


@dataclass
class Timings:
    """One library at one resolution; each list entry is one call."""

    detect_ms: list[float] = field(default_factory=list)  # every photo, every repeat
    embed_ms: list[float] = field(default_factory=list)  # photos with faces, every repeat
    embed_faces: list[int] = field(default_factory=list)  # faces in each embed call
    faces_per_photo: list[int] = field(default_factory=list)  # first repeat only

    def embed_ms_per_face(self) -> list[float]:
        return [ms / n for ms, n in zip(self.embed_ms, self.embed_faces, strict=True)]

    def embed_mean_ms_per_face(self) -> float:
        """Total embedding time over total faces (photos with more faces weigh more)."""
        return sum(self.embed_ms) / sum(self.embed_faces) if self.embed_faces else float("nan")


def fit(rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Scale to fit inside size_wh keeping the aspect, centred on black."""
    width, height = size_wh
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    new_w, new_h = round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


def source_photos(data: Path | None, limit: int | None) -> list[Photo]:
    """The built-in photos, then the manifest's, at their own size."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image, ImageOps

    def read(path: Path | str) -> np.ndarray:
        with Image.open(path) as image:  # Pillow also reads the one WebP named .jpg
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))

    grace = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photos = [
        Photo("astronaut", skimage.data.astronaut(), False),
        Photo("grace", read(grace), False),
    ]
    if data is not None:
        with (data / "manifest.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        photos += [Photo(row["path"], read(data / row["path"]), True) for row in rows]
    return photos[:limit] if limit else photos


def import_face_recognition() -> ModuleType:
    try:
        import face_recognition
    except ImportError:
        print(
            f"face_recognition is not installed; install the baseline with:\n  {INSTALL_BASELINE}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    return face_recognition


def measure(libraries: Sequence[Library], photos: Sequence[Photo], repeat: int) -> list[Timings]:
    """Libraries alternate photo by photo, so drift in machine load hits both alike."""
    for library in libraries:  # warm-up: first inference, allocations, caches
        faces = library.detect(photos[0].rgb)
        if faces:
            library.embed(photos[0].rgb, faces)
    timings = [Timings() for _ in libraries]
    for round_ in range(repeat):
        for photo in photos:
            for library, t in zip(libraries, timings, strict=True):
                start = time.perf_counter()
                faces = library.detect(photo.rgb)
                t.detect_ms.append((time.perf_counter() - start) * 1000)
                if round_ == 0:
                    t.faces_per_photo.append(len(faces))
                if not faces:
                    continue
                start = time.perf_counter()
                library.embed(photo.rgb, faces)
                t.embed_ms.append((time.perf_counter() - start) * 1000)
                t.embed_faces.append(len(faces))
    return timings


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def table_rows(resolution: str, photos: Sequence[Photo], fw: Timings, fr: Timings) -> list[str]:
    def timed(metric: str, a: float, b: float) -> str:
        return f"| {resolution} | {metric} | {a:.1f} | {b:.1f} | {b / a:.2f}× |"

    def counted(metric: str, a: int, b: int) -> str:
        return f"| {resolution} | {metric} | {a} | {b} | — |"

    rows = [
        timed("detect ms/image, mean", mean(fw.detect_ms), mean(fr.detect_ms)),
        timed("detect ms/image, p50", p50(fw.detect_ms), p50(fr.detect_ms)),
        counted(
            f"faces found ({len(photos)} photos)", sum(fw.faces_per_photo), sum(fr.faces_per_photo)
        ),
    ]
    manifest = [i for i, photo in enumerate(photos) if photo.from_manifest]
    if manifest:  # its photos each show one person
        fw_ones, fr_ones = (sum(t.faces_per_photo[i] == 1 for i in manifest) for t in (fw, fr))
        rows.append(counted(f"manifest photos with 1 face (of {len(manifest)})", fw_ones, fr_ones))
    rows += [
        timed("embed ms/face, mean", fw.embed_mean_ms_per_face(), fr.embed_mean_ms_per_face()),
        timed("embed ms/face, p50", p50(fw.embed_ms_per_face()), p50(fr.embed_ms_per_face())),
    ]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="folder with manifest.csv (path,identity,source)")
    parser.add_argument("--limit", type=int, help="use at most this many photos (default all)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the photos")
    args = parser.parse_args(argv)
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        parser.error(f"--repeat and --limit must be >= 1, got {args.repeat} and {args.limit}")

    face_recognition = import_face_recognition()
    import dlib
    import onnxruntime

    from facewise.service.faces import default_analyzer

    analyzer = default_analyzer()
    libraries = (
        Library(
            "facewise",
            analyzer.detect,
            lambda rgb, faces: analyzer.analyze(rgb, faces, with_embedding=True),
        ),
        Library(  # face_encodings(rgb, known_face_locations): num_jitters=1, model="small"
            "face_recognition",
            partial(face_recognition.face_locations, number_of_times_to_upsample=1, model="hog"),
            face_recognition.face_encodings,
        ),
    )
    sources = source_photos(args.data, args.limit)
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
        f"onnxruntime {onnxruntime.__version__}, dlib {dlib.__version__}, "
        f"face_recognition {importlib.metadata.version('face-recognition')}; {len(sources)} photos "
        f"({sum(p.from_manifest for p in sources)} from manifest), repeat {args.repeat}; "
        f"load average {os.getloadavg()[0]:.1f} at start\nfacewise: embedder "
        f"{getattr(analyzer.config, 'embedder', 'dlib')}, {analyzer.config.detector}\n",
        flush=True,
    )
    lines = [TABLE_HEADER]
    for size_wh in RESOLUTIONS_WH:
        photos = [replace(p, rgb=fit(p.rgb, size_wh)) for p in sources]
        fw, fr = measure(libraries, photos, args.repeat)
        lines += table_rows(f"{size_wh[0]}×{size_wh[1]}", photos, fw, fr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
