"""Embedding speed: dlib's ResNet in dlib (dlib-bin) against the same network under
onnxruntime, side by side in one run, at batch 1, 8 and 32, on the same aligned chips.

    .venv/bin/python bench/bench_embed.py [--repeat 3]

Chips are made from photos installed packages ship (skimage's astronaut, matplotlib's
grace_hopper.jpg) and edits of them. Prints a Markdown table and the agreement (minimum
cosine similarity) between the two descriptors.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import dlib
import numpy as np
import onnxruntime
from PIL import Image

from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

BATCHES = (1, 8, 32)


def sample_chips(analyzer: FaceAnalyzer, count: int) -> list[np.ndarray]:
    """Aligned 150 px chips from the two sample photos and edits of them."""
    import matplotlib.cbook
    import skimage.data

    hopper_path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photos = [skimage.data.astronaut(), np.asarray(Image.open(hopper_path).convert("RGB"))]
    chips: list[np.ndarray] = []
    variant = 0
    while len(chips) < count:
        for rgb in photos:
            gain, scale = 0.7 + 0.1 * (variant % 7), 0.6 + 0.1 * (variant % 5)
            edited = cv2.resize(
                np.clip(rgb * gain, 0, 255).astype(np.uint8), None, fx=scale, fy=scale
            )
            if variant % 2:
                edited = edited[:, ::-1].copy()
            detection = analyzer.detect(edited)[0]
            shape = analyzer.shape_5.shape(edited, detection.box_xyxy)
            chips.append(analyzer._chips(edited, [shape], analyzer.embedder)[0])
        variant += 1
    return chips[:count]


def ms_per_face(
    embed: Callable[[list[np.ndarray]], np.ndarray],
    chips: list[np.ndarray],
    batch: int,
    repeat: int,
) -> float:
    embed(chips[:batch])  # warm up
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for start in range(0, len(chips), batch):
            embed(chips[start : start + batch])
        runs.append((time.perf_counter() - started) * 1000 / len(chips))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per cell (median)")
    parser.add_argument("--faces", type=int, default=64, help="chips per timed run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        onnx_analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=Path(cache)))
        dlib_analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=Path(cache), embedder="dlib"))
        chips = sample_chips(onnx_analyzer, args.faces)
        onnx_embed, dlib_embed = (
            onnx_analyzer.embedder.embed_chips,
            dlib_analyzer.embedder.embed_chips,
        )
        a, b = onnx_embed(chips), dlib_embed(chips)
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        print(
            f"{os.cpu_count()} cores, {platform.machine()}; onnxruntime {onnxruntime.__version__}, "
            f"dlib {dlib.__version__}; {len(chips)} chips; min cosine ONNX vs dlib "
            f"{cosine.min():.7f}, max |diff| {np.abs(a - b).max():.2e}\n"
        )
        print("| batch | dlib ms/face | onnxruntime ms/face | speed-up |")
        print("|---|---|---|---|")
        for batch in BATCHES:
            dlib_ms = ms_per_face(dlib_embed, chips, batch, args.repeat)
            onnx_ms = ms_per_face(onnx_embed, chips, batch, args.repeat)
            print(f"| {batch} | {dlib_ms:.1f} | {onnx_ms:.2f} | {dlib_ms / onnx_ms:.1f}x |")


if __name__ == "__main__":
    main()
