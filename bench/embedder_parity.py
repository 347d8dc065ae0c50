"""The ONNX ResNet against dlib's own on every labelled photo, and test-time flip averaging.

For each manifest photo: the largest face's descriptor from both embedders on the very same
chip; prints the lowest cosine similarity, whether the Similarity-80 decisions on deepface's
master.csv and face-recognition-pivot.csv agree pair by pair, and the accuracy with and
without averaging each descriptor with that of the mirrored chip.

    .venv/bin/python bench/embedder_parity.py --data ../shared/data/faces
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from accuracy import read_photo
from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
from facewise.pipeline.similarity import DISTANCE_AT_80


def chips_of(analyzer: FaceAnalyzer, data: Path, paths: list[str]) -> dict[str, np.ndarray]:
    chips = {}
    for path in paths:
        rgb = read_photo(data / path)
        shape = analyzer.shape_5.shape(rgb, analyzer.detect(rgb)[0].box_xyxy)
        chips[path] = analyzer._chips(rgb, [shape], analyzer.embedder)[0]
    return chips


def decisions(data: Path, csv_name: str, vectors: dict[str, np.ndarray]) -> np.ndarray:
    rows = list(csv.DictReader((data / "deepface" / csv_name).open()))
    out = []
    for row in rows:
        a = vectors["deepface/" + Path(row["file_x"]).name]
        b = vectors["deepface/" + Path(row["file_y"]).name]
        out.append(float(np.linalg.norm(a - b)) < DISTANCE_AT_80)
    return np.array(out)


def truth(data: Path, csv_name: str) -> np.ndarray:
    rows = list(csv.DictReader((data / "deepface" / csv_name).open()))
    return np.array([(r.get("Decision") or r.get("decision")) == "Yes" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"))
    args = parser.parse_args()
    paths = [r["path"] for r in csv.DictReader((args.data / "manifest.csv").open())]
    with tempfile.TemporaryDirectory() as cache:
        onnx = FaceAnalyzer(AnalyzerConfig(data_dir=Path(cache)))
        dlib_ref = FaceAnalyzer(AnalyzerConfig(data_dir=Path(cache), embedder="dlib"))
        chips = chips_of(onnx, args.data, paths)
        names = list(chips)
        stacked = [chips[n] for n in names]
        onnx_rows = onnx.embedder.embed_chips(stacked)
        dlib_rows = dlib_ref.embedder.embed_chips(stacked)
        mirrored = onnx.embedder.embed_chips([c[:, ::-1].copy() for c in stacked])
    cosine = (onnx_rows * dlib_rows).sum(1) / (
        np.linalg.norm(onnx_rows, axis=1) * np.linalg.norm(dlib_rows, axis=1)
    )
    print(
        f"{len(names)} faces: min cosine ONNX vs dlib {cosine.min():.7f}, "
        f"max |difference| {np.abs(onnx_rows - dlib_rows).max():.2e}"
    )
    by_onnx = dict(zip(names, onnx_rows, strict=True))
    by_dlib = dict(zip(names, dlib_rows, strict=True))
    by_flip = dict(zip(names, (onnx_rows + mirrored) / 2, strict=True))
    for csv_name in ("master.csv", "face-recognition-pivot.csv"):
        expected = truth(args.data, csv_name)
        got = {
            k: decisions(args.data, csv_name, v)
            for k, v in (("onnx", by_onnx), ("dlib", by_dlib), ("onnx+flip", by_flip))
        }
        same = int((got["onnx"] == got["dlib"]).sum())
        accuracy = ", ".join(f"{k} {(v == expected).mean() * 100:.1f}%" for k, v in got.items())
        print(
            f"{csv_name}: decisions identical on {same}/{len(expected)} pairs; "
            f"accuracy at 80: {accuracy}"
        )


if __name__ == "__main__":
    main()
