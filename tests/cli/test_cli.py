"""The `facewise` command end to end: real subprocesses, real models, real photos.

Each command that analyses a photo is run once per module (fixtures below) and its output is
shared by the tests that read it; the photos are written once to a module-wide folder.
Commands that fail on their input exit before any model loads, so they are cheap.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import facewise
from tests.cli.runner import Run, one_line_error, run
from tests.conftest import encode, grace_hopper_path

CONSOLE_SCRIPT = Path(sys.executable).parent / "facewise"
FIVE_TYPES = ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
MODEL_COUNT = 6


@dataclass(frozen=True)
class Photos:
    folder: Path
    astronaut: Path  # PNG, 512x512
    astronaut_flipped: Path  # JPEG, mirrored left to right
    hopper: Path  # matplotlib's JPEG, as shipped
    text: Path
    gif: Path
    one_pixel: Path
    missing: Path


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Photos:
    folder = tmp_path_factory.mktemp("cli")
    files = {
        "astronaut.png": encode(astronaut, "PNG"),
        "astronaut_flipped.jpg": encode(
            np.ascontiguousarray(astronaut[:, ::-1]), "JPEG", quality=95
        ),
        "notes.txt": b"not a photo, just some words\n",
        "astronaut.gif": encode(astronaut, "GIF"),
        "one-pixel.png": encode(np.zeros((1, 1, 3), np.uint8), "PNG"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return Photos(
        folder=folder,
        astronaut=folder / "astronaut.png",
        astronaut_flipped=folder / "astronaut_flipped.jpg",
        hopper=grace_hopper_path(),
        text=folder / "notes.txt",
        gif=folder / "astronaut.gif",
        one_pixel=folder / "one-pixel.png",
        missing=folder / "no-such-photo.jpg",
    )


# --- the commands, each run once ----------------------------------------------------------


@pytest.fixture(scope="module")
def detect_default(photos: Photos) -> dict[str, Any]:
    return run("detect-faces", photos.astronaut, "--json", cwd=photos.folder).json()


@pytest.fixture(scope="module")
def detect_all(photos: Photos) -> dict[str, Any]:
    args = ("detect-faces", photos.astronaut, "--attributes", "ALL", "--json")
    return run(*args, cwd=photos.folder).json()


@pytest.fixture(scope="module")
def detect_all_68(photos: Photos) -> dict[str, Any]:
    args = ("detect-faces", photos.astronaut, "--attributes", "ALL", "--landmarks-68", "--json")
    return run(*args, cwd=photos.folder).json()


@pytest.fixture(scope="module")
def detect_table_and_drawing(photos: Photos) -> tuple[Run, Path]:
    out = photos.folder / "out.png"
    return run("detect-faces", photos.astronaut, "--draw", out, cwd=photos.folder), out


@pytest.fixture(scope="module")
def compare_flipped(photos: Photos) -> tuple[Run, Path]:
    out = photos.folder / "cmp.png"
    args = ("compare-faces", photos.astronaut, photos.astronaut_flipped, "--json", "--draw", out)
    return run(*args, cwd=photos.folder), out


@pytest.fixture(scope="module")
def models_json(photos: Photos) -> list[dict[str, Any]]:
    return run("models", "--json", cwd=photos.folder).json()["models"]


def only_face(response: dict[str, Any]) -> dict[str, Any]:
    assert len(response["FaceDetails"]) == 1, response
    return response["FaceDetails"][0]


def check_box(box: dict[str, float]) -> None:
    assert set(box) == {"Width", "Height", "Left", "Top"}
    for name, ratio in box.items():
        assert 0.0 <= ratio <= 1.0, f"BoundingBox {name} = {ratio}, expected a ratio in [0, 1]"
    assert box["Width"] > 0.0 and box["Left"] + box["Width"] <= 1.0 + 1e-6
    assert box["Height"] > 0.0 and box["Top"] + box["Height"] <= 1.0 + 1e-6


# --- the installed command ----------------------------------------------------------------


def test_console_script_is_installed_next_to_the_interpreter() -> None:
    assert CONSOLE_SCRIPT.is_file(), f"no console script at {CONSOLE_SCRIPT}"


def test_help_lists_the_commands(photos: Photos) -> None:
    result = run("--help", cwd=photos.folder, command=[str(CONSOLE_SCRIPT)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: facewise")
    for command in ("detect-faces", "compare-faces", "models"):
        assert command in result.stdout


def test_version_is_the_package_version(photos: Photos) -> None:
    result = run("--version", cwd=photos.folder, command=[str(CONSOLE_SCRIPT)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"facewise {facewise.__version__}"


# --- detect-faces -------------------------------------------------------------------------


def test_detect_default_is_one_confident_face_with_the_default_attributes(
    detect_default: dict[str, Any],
) -> None:
    face = only_face(detect_default)
    assert set(face) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    check_box(face["BoundingBox"])
    assert 99.0 < face["Confidence"] <= 100.0
    assert [mark["Type"] for mark in face["Landmarks"]] == FIVE_TYPES
    assert set(face["Pose"]) == {"Roll", "Yaw", "Pitch"}
    assert set(face["Quality"]) == {"Brightness", "Sharpness"}


def test_detect_default_finds_the_astronauts_face_where_it_is(
    detect_default: dict[str, Any],
) -> None:
    face = only_face(detect_default)
    box = face["BoundingBox"]
    # Eileen Collins' face spans about x 180-270, y 59-178 of the 512 px photo.
    assert box["Left"] + box["Width"] / 2 == pytest.approx(0.44, abs=0.05)
    assert box["Top"] + box["Height"] / 2 == pytest.approx(0.23, abs=0.05)
    for mark in face["Landmarks"]:
        assert box["Left"] <= mark["X"] <= box["Left"] + box["Width"], mark
        assert box["Top"] <= mark["Y"] <= box["Top"] + box["Height"], mark
    eye_left, eye_right = face["Landmarks"][0], face["Landmarks"][1]
    assert eye_left["X"] < eye_right["X"]  # Rekognition's eyeLeft is the viewer's left
    for angle in face["Pose"].values():
        assert abs(angle) < 20.0  # she looks at the camera (measured within 3 degrees)


def test_detect_all_adds_age_and_gender(detect_all: dict[str, Any]) -> None:
    face = only_face(detect_all)
    assert 0 <= face["AgeRange"]["Low"] <= face["AgeRange"]["High"]
    assert face["Gender"]["Value"] == "Female"
    assert 50.0 < face["Gender"]["Confidence"] <= 100.0
    # Without the 68-point model there are five landmarks and no smile/eyes/mouth estimates.
    assert [mark["Type"] for mark in face["Landmarks"]] == FIVE_TYPES
    assert not {"Smile", "EyesOpen", "MouthOpen"} & set(face)


def test_detect_all_with_68_points_gives_30_landmarks_and_the_flags(
    detect_all_68: dict[str, Any],
) -> None:
    face = only_face(detect_all_68)
    types = [mark["Type"] for mark in face["Landmarks"]]
    assert len(types) == 30
    assert len(set(types)) == 30
    assert set(FIVE_TYPES) <= set(types)
    for name in ("Smile", "EyesOpen", "MouthOpen"):
        assert isinstance(face[name]["Value"], bool), face[name]
        assert 50.0 <= face[name]["Confidence"] <= 100.0
    assert face["Gender"]["Value"] == "Female"
    assert "AgeRange" in face


def test_detect_one_attribute_without_default_leaves_out_the_defaults(photos: Photos) -> None:
    args = ("detect-faces", photos.astronaut, "--attributes", "AGE_RANGE", "--json")
    face = only_face(run(*args, cwd=photos.folder).json())
    # Rekognition: naming attributes without DEFAULT returns only those plus box and confidence.
    assert set(face) == {"BoundingBox", "Confidence", "AgeRange"}


def test_detect_unknown_attribute_is_refused(photos: Photos) -> None:
    result = run("detect-faces", photos.astronaut, "--attributes", "NOPE", cwd=photos.folder)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("facewise: InvalidParameterError: ")
    assert "'NOPE'" in result.stderr
    assert "Traceback" not in result.stderr


def test_detect_prints_a_table_and_draws_the_boxes(
    detect_table_and_drawing: tuple[Run, Path],
    detect_default: dict[str, Any],
    photos: Photos,
) -> None:
    result, out = detect_table_and_drawing
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 face(s) in a 512x512 image")
    assert f"wrote {out}" in result.stderr

    original = np.asarray(Image.open(photos.astronaut).convert("RGB"))
    with Image.open(out) as drawn:
        assert drawn.format == "PNG"
        assert drawn.size == (512, 512)
        drawn_rgb = np.asarray(drawn.convert("RGB"))
    changed = np.any(drawn_rgb != original, axis=2)
    assert changed.any(), "the drawing is the input unchanged"
    # What changed (box, landmarks, label) surrounds the detected face.
    box = only_face(detect_default)["BoundingBox"]
    x1, x2 = box["Left"] * 512, (box["Left"] + box["Width"]) * 512
    y1, y2 = box["Top"] * 512, (box["Top"] + box["Height"]) * 512
    rows, cols = np.nonzero(changed)
    assert cols.min() <= x1 + 3 and cols.max() >= x2 - 3
    assert rows.min() <= y1 + 3 and rows.max() >= y2 - 3


# --- compare-faces ------------------------------------------------------------------------


def test_compare_with_the_mirrored_photo_matches(compare_flipped: tuple[Run, Path]) -> None:
    result, _ = compare_flipped
    response = result.json()
    assert response["UnmatchedFaces"] == []
    [match] = response["FaceMatches"]
    assert 90.0 < match["Similarity"] <= 100.0
    check_box(match["Face"]["BoundingBox"])
    check_box(response["SourceImageFace"]["BoundingBox"])
    # Mirrored, her face moves from x 180-270 to x 242-332.
    source_left = response["SourceImageFace"]["BoundingBox"]["Left"]
    assert match["Face"]["BoundingBox"]["Left"] > source_left + 0.05


def test_compare_draws_both_photos(compare_flipped: tuple[Run, Path]) -> None:
    result, out = compare_flipped
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stderr
    with Image.open(out) as drawn:
        assert drawn.format == "PNG"
        assert drawn.height == 512
        assert drawn.width > 2 * 512  # source and target side by side


def test_compare_with_another_person_does_not_match(photos: Photos) -> None:
    args = ("compare-faces", photos.astronaut, photos.hopper, "--json")
    response = run(*args, cwd=photos.folder).json()
    assert response["FaceMatches"] == []
    [unmatched] = response["UnmatchedFaces"]
    check_box(unmatched["BoundingBox"])
    assert "Similarity" not in unmatched


def test_compare_threshold_above_100_is_refused(photos: Photos) -> None:
    args = ("compare-faces", photos.astronaut, photos.astronaut_flipped, "--threshold", "150")
    result = run(*args, cwd=photos.folder)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "threshold" in result.stderr and "150" in result.stderr
    assert "Traceback" not in result.stderr


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("photo", "error", "detail"),
    [
        pytest.param("text", "InvalidImageFormatError", "JPEG or PNG", id="text-file"),
        pytest.param("missing", "InvalidParameterError", "not found", id="missing-path"),
        pytest.param("gif", "InvalidImageFormatError", "GIF", id="gif"),
        pytest.param("one_pixel", "InvalidParameterError", "1x1", id="1x1-png"),
    ],
)
def test_bad_input_is_one_line_error(photos: Photos, photo: str, error: str, detail: str) -> None:
    result = run("detect-faces", getattr(photos, photo), "--json", cwd=photos.folder)
    one_line_error(result, error, detail)


# --- models -------------------------------------------------------------------------------


def test_models_lists_every_model_as_ok(photos: Photos, models_json: list[dict[str, Any]]) -> None:
    result = run("models", cwd=photos.folder)
    assert result.returncode == 0, result.stderr
    status_lines = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    declared, converted = status_lines[:-1], status_lines[-1]
    assert len(declared) == MODEL_COUNT
    assert all(line.startswith("ok ") for line in declared), status_lines
    assert "dlib-resnet-v1.onnx" in converted
    for model in models_json:
        assert model["name"] in result.stdout


def test_models_json_declares_checksums_and_licenses(models_json: list[dict[str, Any]]) -> None:
    assert len(models_json) == MODEL_COUNT
    assert len({model["name"] for model in models_json}) == MODEL_COUNT
    for model in models_json:
        assert model["ok"] is True, model
        assert re.fullmatch(r"[0-9a-f]{64}", model["sha256"]), model
        assert isinstance(model["license"], str) and model["license"].strip(), model
        assert Path(model["path"]).is_file(), model


@pytest.mark.parametrize(
    ("option", "detail"),
    [
        pytest.param(("--draw", "out.xyz"), "must end in one of", id="draw-suffix"),
        pytest.param(("--max-side", "0"), "max_side_px", id="max-side-zero"),
        pytest.param(("--min-confidence", "150"), "score_threshold", id="min-confidence"),
    ],
)
def test_bad_options_are_refused_with_a_message(
    photos: Photos, option: tuple[str, str], detail: str
) -> None:
    result = run("detect-faces", photos.astronaut, *option, cwd=photos.folder)
    assert result.returncode in (1, 2)
    assert detail in result.stderr
    assert "Traceback" not in result.stderr


def test_models_prepare_converts_into_the_data_dir(photos: Photos, tmp_path: Path) -> None:
    before = run("models", "--json", "--data-dir", tmp_path, cwd=photos.folder).json()
    assert before["converted"]["ok"] is False
    after = run("models", "--json", "--prepare", "--data-dir", tmp_path, cwd=photos.folder)
    converted = after.json()["converted"]
    assert converted["ok"] is True and re.fullmatch(r"[0-9a-f]{64}", converted["sha256"])
    assert (tmp_path / "models" / "dlib-resnet-v1.onnx").is_file()
