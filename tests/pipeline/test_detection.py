"""The detector on real photos and on photos made from them: boxes and landmarks land where
they should, whatever the scale, flip, crop, exposure, compression or canvas."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facewise.imaging.decode import decode_image
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.types import FaceDetection
from tests.conftest import encode

# Pinned from the model on the untouched photos (pixels, x1 y1 x2 y2); tolerances below.
ASTRONAUT_BOX = (180.0, 59.0, 270.0, 178.0)
HOPPER_BOX = (173.0, 106.0, 352.0, 330.0)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def only_face(analyzer: FaceAnalyzer, rgb: np.ndarray) -> FaceDetection:
    faces = analyzer.detect(rgb)
    assert len(faces) == 1, [f.box_xyxy for f in faces]
    return faces[0]


def test_astronaut_has_one_confident_face_where_expected(analyzer, astronaut):
    face = only_face(analyzer, astronaut)
    assert face.score > 0.99
    assert iou(face.box_xyxy, ASTRONAUT_BOX) > 0.9


def test_landmarks_sit_inside_the_box_in_anatomical_order(analyzer, hopper):
    face = only_face(analyzer, hopper)
    assert iou(face.box_xyxy, HOPPER_BOX) > 0.9
    (eye_l, eye_r, nose, mouth_l, mouth_r) = face.landmarks_xy
    x1, y1, x2, y2 = face.box_xyxy
    for x, y in face.landmarks_xy:
        assert x1 <= x <= x2 and y1 <= y <= y2
    assert eye_l[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
    assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])


def test_horizontal_flip_mirrors_the_box(analyzer, astronaut):
    face = only_face(analyzer, astronaut[:, ::-1].copy())
    width = astronaut.shape[1]
    x1, y1, x2, y2 = ASTRONAUT_BOX
    assert iou(face.box_xyxy, (width - x2, y1, width - x1, y2)) > 0.85


@pytest.mark.parametrize("scale", [0.5, 1.5, 3.0])
def test_scaling_scales_the_box(analyzer, astronaut, scale):
    size = round(512 * scale)
    scaled = cv2.resize(astronaut, (size, size), interpolation=cv2.INTER_AREA)
    face = only_face(analyzer, scaled)
    expected = tuple(v * scale for v in ASTRONAUT_BOX)
    assert iou(face.box_xyxy, expected) > 0.85


def test_crop_moves_the_box(analyzer, astronaut):
    cropped = astronaut[30:330, 100:400]
    face = only_face(analyzer, np.ascontiguousarray(cropped))
    x1, y1, x2, y2 = ASTRONAUT_BOX
    assert iou(face.box_xyxy, (x1 - 100, y1 - 30, x2 - 100, y2 - 30)) > 0.9


@pytest.mark.parametrize("gain", [0.45, 1.6])
def test_darker_and_brighter_photos_still_show_the_face(analyzer, astronaut, gain):
    exposed = np.clip(astronaut.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    face = only_face(analyzer, exposed)
    assert iou(face.box_xyxy, ASTRONAUT_BOX) > 0.85


def test_heavy_jpeg_compression_keeps_the_face(analyzer, astronaut):
    rgb = decode_image(encode(astronaut, "JPEG", quality=15))
    face = only_face(analyzer, rgb)
    assert iou(face.box_xyxy, ASTRONAUT_BOX) > 0.85


def test_in_plane_rotation_is_reported_as_roll(analyzer, hopper):
    height, width = hopper.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -20, 1.0)  # clockwise 20 degrees
    rotated = cv2.warpAffine(hopper, matrix, (width, height))
    faces = analyzer.analyze(rotated, [only_face(analyzer, rotated)])
    upright = analyzer.analyze(hopper, [only_face(analyzer, hopper)])
    assert faces[0].pose.roll_deg - upright[0].pose.roll_deg == pytest.approx(20, abs=4)


def test_two_pasted_faces_are_both_found_in_place(analyzer, astronaut, hopper):
    canvas = np.full((700, 1400, 3), 200, dtype=np.uint8)
    canvas[50:562, 60:572] = astronaut
    canvas[80:680, 800:1312] = hopper
    faces = analyzer.detect(canvas)
    assert len(faces) == 2
    boxes = sorted((f.box_xyxy for f in faces), key=lambda b: b[0])
    x1, y1, x2, y2 = ASTRONAUT_BOX
    assert iou(boxes[0], (x1 + 60, y1 + 50, x2 + 60, y2 + 50)) > 0.9
    x1, y1, x2, y2 = HOPPER_BOX
    assert iou(boxes[1], (x1 + 800, y1 + 80, x2 + 800, y2 + 80)) > 0.9


def test_small_faces_in_a_grid_are_all_found(analyzer, astronaut):
    tile = cv2.resize(astronaut[40:220, 130:320], (96, 90), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 960, 3), 120, dtype=np.uint8)
    for row in range(3):
        for col in range(6):
            canvas[20 + row * 150 : 110 + row * 150, 30 + col * 155 : 126 + col * 155] = tile
    faces = analyzer.detect(canvas)
    assert len(faces) == 18


def test_face_cut_by_the_frame_is_found(analyzer, hopper):
    half = np.ascontiguousarray(hopper[:, 260:])  # the left half of the face is outside
    assert len(analyzer.detect(half)) == 1


def test_no_face_in_a_flat_or_noisy_image(analyzer):
    rng = np.random.default_rng(0)
    assert analyzer.detect(np.full((300, 400, 3), 128, dtype=np.uint8)) == []
    assert analyzer.detect(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) == []


def test_max_faces_keeps_the_largest(astronaut):
    from facewise.models.retinaface import DetectorConfig
    from facewise.pipeline.analyzer import AnalyzerConfig

    canvas = np.full((600, 1200, 3), 90, dtype=np.uint8)
    canvas[40:552, 20:532] = astronaut
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[100:356, 700:956] = small
    limited = FaceAnalyzer(AnalyzerConfig(detector=DetectorConfig(max_faces=1)))
    faces = limited.detect(canvas)
    assert len(faces) == 1 and faces[0].box_xyxy[0] < 532


@pytest.mark.parametrize(
    "kwargs",
    [
        {"score_threshold": 1.5},
        {"score_threshold": "0.9"},
        {"max_side_px": 0},
        {"max_faces": 0},
        {"nms_iou": -0.1},
        {"border_fraction": True},
    ],
)
def test_detector_config_rejects_out_of_range_values(kwargs):
    from facewise.errors import InvalidParameterError
    from facewise.models.retinaface import DetectorConfig

    with pytest.raises(InvalidParameterError):
        DetectorConfig(**kwargs)


def test_frame_filling_face_is_found(analyzer, astronaut):
    tight = cv2.resize(astronaut[70:170, 185:265], (400, 500), interpolation=cv2.INTER_CUBIC)
    faces = analyzer.detect(tight)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box_xyxy
    assert (x2 - x1) * (y2 - y1) > 0.8 * 400 * 500
