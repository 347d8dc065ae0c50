"""The ONNX ResNet against dlib's own, through the whole pipeline, and its model cache."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facewise.models import resnet_onnx
from facewise.pipeline.similarity import similarity_pct


def photos(astronaut: np.ndarray, hopper: np.ndarray) -> list[np.ndarray]:
    edits = []
    for rgb in (astronaut, hopper):
        edits += [
            rgb,
            rgb[:, ::-1].copy(),
            cv2.resize(rgb, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA),
            np.clip(rgb * 1.3, 0, 255).astype(np.uint8),
        ]
    return edits


@pytest.fixture(scope="module")
def descriptor_pairs(analyzer, analyzer_dlib, astronaut, hopper):
    onnx_rows, dlib_rows = [], []
    for rgb in photos(astronaut, hopper):
        detections = analyzer.detect(rgb)
        onnx_rows.append(analyzer.analyze(rgb, detections, with_embedding=True)[0].embedding)
        dlib_rows.append(analyzer_dlib.analyze(rgb, detections, with_embedding=True)[0].embedding)
    return np.stack(onnx_rows), np.stack(dlib_rows)


def test_onnx_descriptors_match_dlib(descriptor_pairs):
    onnx_rows, dlib_rows = descriptor_pairs
    cosine = (onnx_rows * dlib_rows).sum(1) / (
        np.linalg.norm(onnx_rows, axis=1) * np.linalg.norm(dlib_rows, axis=1)
    )
    assert cosine.min() >= 0.9999
    assert np.abs(onnx_rows - dlib_rows).max() < 1e-3


def test_onnx_and_dlib_make_the_same_decisions(descriptor_pairs):
    decisions = []
    for rows in descriptor_pairs:
        distances = np.linalg.norm(rows[:, None] - rows[None], axis=2)
        decisions.append(np.asarray(similarity_pct(distances)) >= 80)
    assert (decisions[0] == decisions[1]).all()
    same_person = np.kron(np.eye(2, dtype=bool), np.ones((4, 4), dtype=bool))
    assert (decisions[0] == same_person).all()


def test_batched_embedding_equals_one_by_one(analyzer, astronaut, hopper):
    embedder = analyzer.embedder
    chips = []
    for rgb in photos(astronaut, hopper):
        shape = analyzer.shape_5.shape(rgb, analyzer.detect(rgb)[0].box_xyxy)
        chips.append(analyzer._chips(rgb, [shape], embedder)[0])
    together = embedder.embed_chips(chips)
    alone = np.concatenate([embedder.embed_chips([chip]) for chip in chips])
    assert np.allclose(together, alone, atol=1e-5)
    assert embedder.embed_chips([]).shape == (0, 128)


def test_cache_is_verified_and_rebuilt_when_tampered(tmp_path):
    path = resnet_onnx.prepare(tmp_path)
    record = json.loads((tmp_path / resnet_onnx.RECORD_FILE).read_text())
    original = path.read_bytes()
    assert len(record["sha256"]) == 64
    path.write_bytes(original[:-10] + b"tampered!!")
    assert resnet_onnx.verified_onnx_bytes(tmp_path) == original
    (tmp_path / resnet_onnx.RECORD_FILE).write_text("{not json")
    assert resnet_onnx.verified_onnx_bytes(tmp_path) == original


def test_load_all_loads_every_model_of_the_configuration(data_dir) -> None:  # type: ignore[no-untyped-def]
    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

    analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=data_dir))
    assert analyzer._models == {}
    analyzer.load_all()
    assert set(analyzer._models) == {"detector", "shape_5", "embedder", "age", "gender"}
