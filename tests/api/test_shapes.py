"""Rekognition response shapes checked against botocore's own service model.

botocore's model of Rekognition is the spec: every key must be a member of its structure,
enums must hold, numbers must be numbers within the declared min/max. Then each response goes
through JSON and botocore's awsjson parser, as boto3 would read it, and must come back whole.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import botocore.parsers
import botocore.session
import numpy as np
import pytest
from botocore.model import ServiceModel, Shape

from facewise.api.shapes import compare_faces_response, detect_faces_response
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.service.faces import compare_faces, detect_faces
from tests.api.shape_check import shape_problems

Json = dict[str, Any]

DEFAULT_KEYS = {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
ALL_68_KEYS = DEFAULT_KEYS | {"AgeRange", "Gender", "Smile", "EyesOpen", "MouthOpen"}


def boxes(response: Any) -> Iterator[Json]:
    """Every BoundingBox anywhere in a response."""
    if isinstance(response, dict):
        for key, value in response.items():
            if key == "BoundingBox":
                yield value
            else:
                yield from boxes(value)
    elif isinstance(response, list):
        for item in response:
            yield from boxes(item)


def through_boto(response: Json, output_shape: Shape) -> Json:
    """The response as strict JSON, read back by botocore's awsjson parser (what boto3 does)."""
    body = json.dumps(response, allow_nan=False).encode()
    http = {"body": body, "headers": {}, "status_code": 200}
    parsed = botocore.parsers.create_parser("json").parse(http, output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def assert_same(actual: Any, expected: Any, path: str = "$") -> None:
    """Equal structure, keys and types; floats equal to 1e-12 relative."""
    assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), (
            f"{path}: keys {actual.keys()} != {expected.keys()}"
        )
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: {len(actual)} items != {len(expected)}"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=1e-12), f"{path}: {actual} != {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


# --- the model and the responses ----------------------------------------------------------


@pytest.fixture(scope="module")
def rekognition() -> ServiceModel:
    return botocore.session.get_session().get_service_model("rekognition")


@pytest.fixture(scope="module")
def detect_shape(rekognition: ServiceModel) -> Shape:
    return rekognition.operation_model("DetectFaces").output_shape


@pytest.fixture(scope="module")
def compare_shape(rekognition: ServiceModel) -> Shape:
    return rekognition.operation_model("CompareFaces").output_shape


@pytest.fixture(scope="module")
def detect_all_68(astronaut: np.ndarray, analyzer_68: FaceAnalyzer) -> Json:
    return detect_faces_response(detect_faces(astronaut, attributes="ALL", analyzer=analyzer_68))


@pytest.fixture(scope="module")
def detect_default(astronaut: np.ndarray, analyzer: FaceAnalyzer) -> Json:
    return detect_faces_response(detect_faces(astronaut, analyzer=analyzer))


@pytest.fixture(scope="module")
def detect_hopper_all(hopper: np.ndarray, analyzer: FaceAnalyzer) -> Json:
    return detect_faces_response(detect_faces(hopper, attributes="ALL", analyzer=analyzer))


@pytest.fixture(scope="module")
def two_people(astronaut: np.ndarray, hopper: np.ndarray) -> np.ndarray:
    """A 1400x700 grey canvas: the astronaut on the left, Grace Hopper on the right."""
    canvas = np.full((700, 1400, 3), 128, dtype=np.uint8)
    canvas[50:562, 60:572] = astronaut
    canvas[80:680, 800:1312] = hopper
    return canvas


@pytest.fixture(scope="module")
def compare_two_people(
    astronaut: np.ndarray, two_people: np.ndarray, analyzer: FaceAnalyzer
) -> Json:
    return compare_faces_response(compare_faces(astronaut, two_people, analyzer=analyzer))


DETECT_RESPONSES = ["detect_all_68", "detect_default", "detect_hopper_all"]


# --- the model declares what the checker relies on ----------------------------------------


def test_the_model_declares_ranges_and_enums(rekognition: ServiceModel) -> None:
    percent = rekognition.shape_for("Percent")
    assert (percent.metadata.get("min"), percent.metadata.get("max")) == (0, 100)
    degree = rekognition.shape_for("Degree")
    assert (degree.metadata.get("min"), degree.metadata.get("max")) == (-180, 180)
    assert len(rekognition.shape_for("LandmarkType").enum) == 30
    assert set(rekognition.shape_for("GenderType").enum) == {"Male", "Female"}


# --- DetectFaces --------------------------------------------------------------------------


@pytest.mark.parametrize("response_name", DETECT_RESPONSES)
def test_detect_faces_response_conforms(
    request: pytest.FixtureRequest, response_name: str, detect_shape: Shape
) -> None:
    response = request.getfixturevalue(response_name)
    assert len(response["FaceDetails"]) == 1
    assert shape_problems(response, detect_shape) == []


@pytest.mark.parametrize("response_name", DETECT_RESPONSES)
def test_detect_faces_response_survives_boto(
    request: pytest.FixtureRequest, response_name: str, detect_shape: Shape
) -> None:
    response = request.getfixturevalue(response_name)
    assert_same(through_boto(response, detect_shape), response)


@pytest.mark.parametrize("response_name", DETECT_RESPONSES)
def test_boxes_and_landmarks_are_ratios_of_the_image(
    request: pytest.FixtureRequest, response_name: str
) -> None:
    response = request.getfixturevalue(response_name)
    for box in boxes(response):
        assert all(0.0 <= ratio <= 1.0 for ratio in box.values()), box
        assert box["Left"] + box["Width"] <= 1.0 + 1e-6, box
        assert box["Top"] + box["Height"] <= 1.0 + 1e-6, box
    for face in response["FaceDetails"]:
        for mark in face["Landmarks"]:
            assert 0.0 <= mark["X"] <= 1.0 and 0.0 <= mark["Y"] <= 1.0, mark


def test_detect_default_has_only_the_default_members(detect_default: Json) -> None:
    [face] = detect_default["FaceDetails"]
    assert set(face) == DEFAULT_KEYS
    assert [mark["Type"] for mark in face["Landmarks"]] == [
        "eyeLeft",
        "eyeRight",
        "nose",
        "mouthLeft",
        "mouthRight",
    ]


def test_detect_all_68_has_every_estimated_member(
    detect_all_68: Json, rekognition: ServiceModel
) -> None:
    [face] = detect_all_68["FaceDetails"]
    assert set(face) == ALL_68_KEYS
    types = [mark["Type"] for mark in face["Landmarks"]]
    assert sorted(types) == sorted(rekognition.shape_for("LandmarkType").enum)
    assert face["Gender"]["Value"] == "Female"


# --- CompareFaces -------------------------------------------------------------------------


def test_compare_faces_finds_the_astronaut_on_the_left(compare_two_people: Json) -> None:
    [match] = compare_two_people["FaceMatches"]
    [unmatched] = compare_two_people["UnmatchedFaces"]
    assert match["Similarity"] >= 80.0
    assert match["Face"]["BoundingBox"]["Left"] < 0.5
    assert unmatched["BoundingBox"]["Left"] > 0.5
    assert set(compare_two_people["SourceImageFace"]) == {"BoundingBox", "Confidence"}


def test_compare_faces_response_conforms(compare_two_people: Json, compare_shape: Shape) -> None:
    assert shape_problems(compare_two_people, compare_shape) == []
    for box in boxes(compare_two_people):
        assert all(0.0 <= ratio <= 1.0 for ratio in box.values()), box


def test_compare_faces_response_survives_boto(
    compare_two_people: Json, compare_shape: Shape
) -> None:
    assert_same(through_boto(compare_two_people, compare_shape), compare_two_people)


# --- the checker is not vacuous -----------------------------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Json], None]:
    def change(response: Json) -> None:
        target = response
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


FACE = ("FaceDetails", 0)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param(_set((*FACE, "Age"), 30), "'Age' is not a member of FaceDetail", id="key"),
        pytest.param(
            _set((*FACE, "Landmarks", 0, "Type"), "leftEar"),
            "'leftEar' is not one of LandmarkType",
            id="landmark-enum",
        ),
        pytest.param(
            _set((*FACE, "Gender", "Value"), "female"),
            "'female' is not one of GenderType",
            id="gender-enum",
        ),
        pytest.param(
            _set((*FACE, "Confidence"), 100.5), "above Percent's max 100", id="confidence-max"
        ),
        pytest.param(_set((*FACE, "Pose", "Yaw"), -181.0), "below Degree's min -180", id="pose"),
        pytest.param(
            _set((*FACE, "Confidence"), "99.9"), "expected a finite number", id="number-as-string"
        ),
        pytest.param(
            _set((*FACE, "Quality", "Sharpness"), math.nan), "expected a finite number", id="nan"
        ),
        pytest.param(_set((*FACE, "AgeRange", "Low"), 20.5), "expected an integer", id="int"),
        pytest.param(_set((*FACE, "AgeRange", "Low"), -1), "below UInteger's min 0", id="uint"),
        pytest.param(_set((*FACE, "Smile", "Value"), 1), "expected a boolean", id="bool"),
        pytest.param(_set((*FACE, "Landmarks"), {}), "expected a list", id="list"),
        pytest.param(_set((*FACE, "Pose"), []), "expected an object", id="structure"),
    ],
)
def test_checker_reports_what_the_model_forbids(
    detect_all_68: Json,
    detect_shape: Shape,
    change: Callable[[Json], None],
    problem: str,
) -> None:
    broken = copy.deepcopy(detect_all_68)
    change(broken)
    problems = shape_problems(broken, detect_shape)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_boto_drops_what_the_model_does_not_declare(
    detect_default: Json, detect_shape: Shape
) -> None:
    """Why the round trip matters: an undeclared key never reaches a boto3 caller."""
    extended = copy.deepcopy(detect_default)
    extended["FaceDetails"][0]["Age"] = 30
    with pytest.raises(AssertionError, match="keys"):
        assert_same(through_boto(extended, detect_shape), extended)


def test_the_wire_check_of_test_clients_catches_unknown_keys() -> None:
    from types import SimpleNamespace

    from tests.api.server import check_response_shape

    model = botocore.session.get_session().get_service_model("rekognition")
    operation = model.operation_model("ListCollections")
    good = SimpleNamespace(status_code=200, content=b'{"CollectionIds": ["a"]}')
    check_response_shape(http_response=good, parsed={}, model=operation)
    extra = SimpleNamespace(status_code=200, content=b'{"CollectionIds": [], "Extra": 1}')
    with pytest.raises(AssertionError, match="'Extra' is not a member"):
        check_response_shape(http_response=extra, parsed={}, model=operation)
