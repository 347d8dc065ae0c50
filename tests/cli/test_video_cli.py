"""`facewise video faces|search VIDEO` on a video of real photos, as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facewise.models.resnet_onnx import prepare
from facewise.settings import model_cache_dir
from tests.cli.runner import one_line_error, run
from tests.conftest import encode


@pytest.fixture(scope="module")
def session(
    tmp_path_factory: pytest.TempPathFactory,
    data_dir: Path,
    astronaut: np.ndarray,
    crossing_video: Path,
) -> Path:
    """A data directory whose collection "staff" holds Eileen (the converted model copied)."""
    prepare(model_cache_dir(data_dir))
    home = tmp_path_factory.mktemp("video-cli")
    shutil.copytree(data_dir / "models", home / "data" / "models")
    (home / "eileen.jpg").write_bytes(encode(astronaut))
    shutil.copy(crossing_video, home / "crossing.mp4")
    assert run("collections", "create", "staff", "--data-dir", "data", cwd=home).returncode == 0
    indexed = run("index", "eileen.jpg", "--collection", "staff", "--data-dir", "data", cwd=home)
    assert indexed.json()["indexed"] == 1
    return home


def test_search_prints_who_appeared_when(session: Path) -> None:
    result = run(
        "video",
        "search",
        "crossing.mp4",
        "--collection",
        "staff",
        "--data-dir",
        "data",
        cwd=session,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["person", "seen", "(s)", "matched"]
    rows = [line.split(None, 2) for line in lines[1:]]
    assert [(r[1], r[2].split()[0]) for r in rows] == [
        ("0.0-3.8", "eileen.jpg"),
        ("1.0-4.8", "nobody"),
        ("6.0-7.8", "eileen.jpg"),
    ]
    assert "/ 8.5 s" in result.stderr  # the progress bar


def test_draw_writes_the_video_with_the_boxes(session: Path) -> None:
    from facewise.video.decode import probe, sample_frames

    result = run(
        "video",
        "search",
        "crossing.mp4",
        "--collection",
        "staff",
        "--quiet",
        "--draw",
        "out/drawn.mp4",
        "--data-dir",
        "data",
        cwd=session,
    )
    assert result.returncode == 0, result.stderr
    drawn, source = session / "out" / "drawn.mp4", session / "crossing.mp4"
    assert probe(drawn).frame_wh == (640, 360) and probe(drawn).frame_rate == 25.0
    assert abs(probe(drawn).duration_ms - probe(source).duration_ms) <= 80
    at_two = next(f for f in sample_frames(drawn, 1) if f.timestamp_ms >= 2000).rgb
    plain = next(f for f in sample_frames(source, 1) if f.timestamp_ms >= 2000).rgb
    green = (at_two[:, :, 1] > 180) & (at_two[:, :, 0] < 90) & (at_two[:, :, 2] < 120)
    red = (at_two[:, :, 0] > 200) & (at_two[:, :, 1] < 90) & (at_two[:, :, 2] < 90)
    was_green = (plain[:, :, 1] > 180) & (plain[:, :, 0] < 90) & (plain[:, :, 2] < 120)
    assert green.sum() > was_green.sum() + 200  # Eileen's box and label: matched
    assert red.sum() > 200  # Grace's box: nobody in the collection


def test_faces_as_json_is_the_get_response(session: Path) -> None:
    result = run("video", "faces", "crossing.mp4", "--json", "--data-dir", "data", cwd=session)
    answer = json.loads(result.stdout)
    assert answer["JobStatus"] == "SUCCEEDED" and answer["VideoMetadata"]["Codec"] == "h264"
    at_two_seconds = [f for f in answer["Faces"] if f["Timestamp"] == 2000]
    assert len(at_two_seconds) == 2 and result.stderr == ""


def test_a_file_that_is_not_a_video_is_one_line(session: Path) -> None:
    result = run("video", "faces", "eileen.jpg", "--quiet", "--data-dir", "data", cwd=session)
    assert result.returncode == 1 and "still image" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    missing = run(
        "video", "search", "nope.mp4", "--collection", "staff", "--data-dir", "data", cwd=session
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown = run(
        "video",
        "search",
        "crossing.mp4",
        "--collection",
        "absent",
        "--quiet",
        "--data-dir",
        "data",
        cwd=session,
    )
    one_line_error(unknown, "ResourceNotFoundError", "absent")
