"""DetectFaces and CompareFaces through the library API on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import facewise
from facewise.errors import (
    ImageTooLargeError,
    InvalidImageFormatError,
    InvalidParameterError,
)
from facewise.types import Attribute
from tests.conftest import encode


@pytest.fixture(scope="module")
def canvas(astronaut, hopper) -> np.ndarray:
    """Both photos pasted on one grey canvas: astronaut left, Grace Hopper right."""
    image = np.full((700, 1400, 3), 200, dtype=np.uint8)
    image[50:562, 60:572] = astronaut
    image[80:680, 800:1312] = hopper
    return image


def test_detect_accepts_path_bytes_and_array_alike(analyzer, hopper_path, hopper):
    by_path = facewise.detect_faces(str(hopper_path), analyzer=analyzer)
    by_bytes = facewise.detect_faces(hopper_path.read_bytes(), analyzer=analyzer)
    by_array = facewise.detect_faces(hopper, analyzer=analyzer)
    boxes = [r.faces[0].box_xyxy for r in (by_path, by_bytes, by_array)]
    assert len(by_path.faces) == 1
    assert np.allclose(boxes[0], boxes[1]) and np.allclose(boxes[0], boxes[2], atol=2)
    assert by_path.image_wh == (512, 600)


def test_default_attributes(analyzer, astronaut):
    face = facewise.detect_faces(astronaut, analyzer=analyzer).faces[0]
    assert [mark.kind for mark in face.landmarks] == [
        "eye_left",
        "eye_right",
        "nose",
        "mouth_left",
        "mouth_right",
    ]
    assert abs(face.pose.yaw_deg) < 15 and abs(face.pose.roll_deg) < 10
    assert abs(face.pose.pitch_deg) < 20
    assert 20 < face.quality.brightness < 90 and face.quality.sharpness > 50
    assert face.age_range is None and face.gender is None and face.smile is None


def test_all_attributes_estimate_age_and_gender(analyzer, astronaut, hopper):
    astronaut_face = facewise.detect_faces(astronaut, "ALL", analyzer=analyzer).faces[0]
    assert astronaut_face.gender.value == "female" and astronaut_face.gender.score > 0.8
    assert 20 <= astronaut_face.age_range.low <= astronaut_face.age_range.high <= 50
    hopper_face = facewise.detect_faces(hopper, "ALL", analyzer=analyzer).faces[0]
    assert hopper_face.age_range.high >= 65  # she was 77 in this photo
    # Smile/eyes/mouth need the optional 68-point model, which is off by default.
    assert astronaut_face.smile is None and astronaut_face.eyes_open is None


def test_68_point_model_gives_30_landmarks_and_face_flags(analyzer_68, astronaut):
    face = facewise.detect_faces(astronaut, "ALL", analyzer=analyzer_68).faces[0]
    assert len({mark.kind for mark in face.landmarks}) == 30
    assert face.eyes_open.value is True
    assert face.smile.value is True  # Eileen Collins smiles in this portrait
    marks = {mark.kind: mark for mark in face.landmarks}
    assert marks["eye_left"].x < marks["eye_right"].x
    assert marks["chin_bottom"].y > marks["mouth_down"].y > marks["nose"].y


def test_attribute_list_without_default_drops_the_default_fields(analyzer, astronaut):
    face = facewise.detect_faces(astronaut, ["AGE_RANGE"], analyzer=analyzer).faces[0]
    assert face.age_range is not None
    assert face.landmarks == () and face.pose is None and face.quality is None
    assert face.gender is None


def test_unsupported_rekognition_attributes_are_accepted_and_left_out(analyzer, astronaut):
    face = facewise.detect_faces(astronaut, ["DEFAULT", "EMOTIONS"], analyzer=analyzer).faces[0]
    assert face.pose is not None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"attributes": "NOPE"}, InvalidParameterError),
        ({"attributes": ["DEFAULT", 3]}, InvalidParameterError),
    ],
)
def test_bad_detect_options(analyzer, astronaut, kwargs, error):
    with pytest.raises(error):
        facewise.detect_faces(astronaut, analyzer=analyzer, **kwargs)


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (b"", InvalidImageFormatError),
        (b"hello, I am not a photo", InvalidImageFormatError),
        (b"\xff\xd8\xff" + bytes(6 * 1024 * 1024), ImageTooLargeError),
        ("/no/such/photo.jpg", InvalidParameterError),
        (12345, InvalidParameterError),
    ],
)
def test_bad_images_raise_typed_errors(analyzer, image, error):
    with pytest.raises(error):
        facewise.detect_faces(image, analyzer=analyzer)


def transforms(rgb: np.ndarray) -> dict[str, np.ndarray]:
    height, width = rgb.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 12, 1.0)
    return {
        "flipped": rgb[:, ::-1].copy(),
        "half size": cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA),
        "double size": cv2.resize(rgb, (width * 2, height * 2), interpolation=cv2.INTER_CUBIC),
        "darker": (rgb * 0.5).astype(np.uint8),
        "brighter": np.clip(rgb * 1.4, 0, 255).astype(np.uint8),
        "jpeg q20": cv2.imdecode(
            cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 20])[1], 1
        )[:, :, ::-1].copy(),
        "rotated 12deg": cv2.warpAffine(rgb, rotation, (width, height)),
        "cropped": np.ascontiguousarray(rgb[20 : height - 60, 40 : width - 40]),
    }


@pytest.mark.parametrize(
    "name",
    [
        "flipped",
        "half size",
        "double size",
        "darker",
        "brighter",
        "jpeg q20",
        "rotated 12deg",
        "cropped",
    ],
)
@pytest.mark.parametrize("photo", ["astronaut", "hopper"])
def test_same_person_matches_after_edits(analyzer, request, photo, name):
    rgb = request.getfixturevalue(photo)
    result = facewise.compare_faces(rgb, transforms(rgb)[name], analyzer=analyzer)
    assert len(result.matches) == 1, name
    assert result.matches[0].similarity_pct > 90, name


def test_different_people_do_not_match(analyzer, astronaut, hopper):
    result = facewise.compare_faces(astronaut, hopper, analyzer=analyzer)
    assert result.matches == [] and len(result.unmatched) == 1
    with_low_bar = facewise.compare_faces(astronaut, hopper, 0, analyzer=analyzer)
    assert with_low_bar.matches[0].similarity_pct < 60  # distance 0.68 here


def test_compare_finds_the_right_face_on_a_canvas(analyzer, astronaut, hopper, canvas):
    for source, left in ((astronaut, True), (hopper, False)):
        result = facewise.compare_faces(source, canvas, analyzer=analyzer)
        assert len(result.matches) == 1 and len(result.unmatched) == 1
        match_x = result.matches[0].face.box_xyxy[0]
        assert (match_x < 700) is left
    assert result.target_image_wh == (1400, 700)


def test_threshold_moves_faces_between_matched_and_unmatched(analyzer, astronaut):
    darker = (astronaut * 0.5).astype(np.uint8)
    similarity = facewise.compare_faces(astronaut, darker, analyzer=analyzer).matches[0]
    above = facewise.compare_faces(
        astronaut, darker, similarity.similarity_pct + 0.01, analyzer=analyzer
    )
    assert above.matches == [] and len(above.unmatched) == 1


def test_quality_filter_drops_blurred_faces(analyzer, astronaut):
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 6)
    assert len(facewise.compare_faces(astronaut, blurred, analyzer=analyzer).matches) == 1
    strict = facewise.compare_faces(astronaut, blurred, quality_filter="HIGH", analyzer=analyzer)
    assert strict.matches == [] and strict.unmatched == []


def test_source_without_a_face_is_an_invalid_parameter(analyzer, astronaut):
    blank = np.full((200, 200, 3), 127, dtype=np.uint8)
    with pytest.raises(InvalidParameterError, match="no face"):
        facewise.compare_faces(blank, astronaut, analyzer=analyzer)
    result = facewise.compare_faces(astronaut, blank, analyzer=analyzer)
    assert result.matches == [] and result.unmatched == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"similarity_threshold": -1}, InvalidParameterError),
        ({"similarity_threshold": 100.5}, InvalidParameterError),
        ({"similarity_threshold": float("nan")}, InvalidParameterError),
        ({"similarity_threshold": "80"}, InvalidParameterError),
        ({"similarity_threshold": True}, InvalidParameterError),
        ({"quality_filter": "SUPERB"}, InvalidParameterError),
    ],
)
def test_bad_compare_options(analyzer, astronaut, kwargs, error):
    with pytest.raises(error):
        facewise.compare_faces(astronaut, astronaut, analyzer=analyzer, **kwargs)


def test_compare_accepts_encoded_images(analyzer, astronaut):
    result = facewise.compare_faces(
        encode(astronaut, "PNG"), encode(astronaut, "JPEG", quality=90), analyzer=analyzer
    )
    assert result.matches[0].similarity_pct > 99


def test_attribute_enum_values_are_snake_case():
    assert Attribute("age_range") is Attribute.AGE_RANGE


def test_empty_attribute_list_means_default(analyzer, astronaut):
    face = facewise.detect_faces(astronaut, [], analyzer=analyzer).faces[0]
    assert face.pose is not None and face.landmarks and face.age_range is None
