"""dlib's face ResNet converted to ONNX gives dlib's own descriptors, on real aligned chips."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort
import pytest

from facewise.errors import ModelError
from facewise.models import registry
from facewise.models.dlib_convert import convert
from facewise.models.dlib_models import EMBEDDER_NAME, SHAPE_5_NAME
from facewise.models.dlib_serialization import Conv, read_dlib_resnet


@pytest.fixture(scope="module")
def dat_path() -> Path:
    return registry.verified_path(EMBEDDER_NAME)


@pytest.fixture(scope="module")
def onnx_path(dat_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dlib_onnx") / "dlib_resnet_v1.onnx"
    digest = convert(dat_path, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    return path


@pytest.fixture(scope="module")
def session(onnx_path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def _edits(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The photo plus a flip, a down-scale and two brightness changes of it."""
    height, width = rgb.shape[:2]
    small = dlib.resize_image(rgb, int(height * 0.7), int(width * 0.7))
    return {
        "original": rgb,
        "flipped": np.ascontiguousarray(rgb[:, ::-1]),
        "scaled_0.7": np.asarray(small, dtype=np.uint8),
        "brighter": np.clip(rgb.astype(np.float32) * 1.3, 0, 255).astype(np.uint8),
        "darker": (rgb.astype(np.float32) * 0.6).astype(np.uint8),
    }


@pytest.fixture(scope="module")
def chips(astronaut: np.ndarray, hopper: np.ndarray) -> dict[str, np.ndarray]:
    """150 px aligned chips (dlib's detector, 5-point shape, padding 0.25), one per image."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(registry.verified_path(SHAPE_5_NAME)))
    chips = {}
    for photo, rgb in (("astronaut", astronaut), ("hopper", hopper)):
        for edit, image in _edits(rgb).items():
            boxes, scores, _ = detector.run(image, 1)
            assert boxes, f"{photo}/{edit}: no face found"
            shape = predictor(image, boxes[int(np.argmax(scores))])  # extras are weak duplicates
            chip = dlib.get_face_chip(image, shape, size=150, padding=0.25)
            chips[f"{photo}/{edit}"] = np.asarray(chip)
    return chips


def _onnx_descriptors(session: ort.InferenceSession, chips: list[np.ndarray]) -> np.ndarray:
    batch = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)  # NHWC uint8 -> NCHW float
    return session.run(["descriptors"], {"chips": batch})[0]


def test_reader_finds_the_declared_network(dat_path: Path):
    network = read_dlib_resnet(dat_path)
    assert network.input.size_hw == (150, 150)
    np.testing.assert_allclose(network.input.means_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert (network.loss_margin, network.loss_distance_threshold) == pytest.approx((0.04, 0.6))
    convs = [layer for layer in network.layers_input_to_output if isinstance(layer, Conv)]
    assert len(convs) == 29
    assert (
        sum(conv.weights_oihw.size + conv.bias.size for conv in convs) == 5_574_720
    )  # 4736 + 55488 + 276992 + 811776 + 3245568 + 1180160


def test_onnx_matches_dlib_on_every_chip(session, dat_path, chips):
    dlib_net = dlib.face_recognition_model_v1(str(dat_path))
    names = list(chips)
    ours = _onnx_descriptors(session, [chips[name] for name in names])
    assert ours.shape == (len(names), 128) and ours.dtype == np.float32
    for name, mine in zip(names, ours.astype(np.float64), strict=True):
        theirs = np.asarray(dlib_net.compute_face_descriptor(chips[name]), dtype=np.float64)
        cosine = mine @ theirs / (np.linalg.norm(mine) * np.linalg.norm(theirs))
        assert cosine >= 0.9999, name  # observed >= 0.99999991
        assert np.abs(mine - theirs).max() < 1e-5, name  # observed <= 3.5e-7; norms are ~1.4


def test_the_same_face_stays_closer_than_dlibs_threshold(session, chips):
    descriptors = _onnx_descriptors(session, list(chips.values()))
    astronaut, hopper = descriptors[:5], descriptors[5:]
    for person in (astronaut, hopper):
        assert np.linalg.norm(person - person[0], axis=1).max() < 0.6
    assert np.linalg.norm(astronaut[0] - hopper[0]) > 0.6


def test_batching_does_not_change_rows(session, chips):
    five = list(chips.values())[:5]
    batched = _onnx_descriptors(session, five)
    single = np.concatenate([_onnx_descriptors(session, [chip]) for chip in five])
    np.testing.assert_array_equal(batched, single)


def test_conversion_is_deterministic(dat_path, onnx_path, tmp_path):
    again = tmp_path / "again.onnx"
    assert convert(dat_path, again) == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.onnx"]  # no temp file left


def _truncated(dat: Path, tmp: Path) -> Path:
    path = tmp / "truncated.dat"
    path.write_bytes(dat.read_bytes()[:1_000_000])
    return path


def _padded(dat: Path, tmp: Path) -> Path:
    path = tmp / "padded.dat"
    path.write_bytes(dat.read_bytes() + b"\0")
    return path


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (_truncated, "truncated"),
        (_padded, "file length"),
        (lambda dat, tmp: registry.verified_path(SHAPE_5_NAME), "not dlib's face ResNet"),
        (lambda dat, tmp: dat.with_name("mmod_human_face_detector.dat"), "loss_mmod_"),
    ],
    ids=["truncated", "trailing-bytes", "shape-predictor-5", "mmod-detector"],
)
def test_other_files_are_refused(dat_path, tmp_path, make_path, message):
    target = tmp_path / "out.onnx"
    with pytest.raises(ModelError, match=message):
        convert(make_path(dat_path, tmp_path), target)
    assert not target.exists()
