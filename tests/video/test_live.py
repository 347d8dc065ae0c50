"""Live analysis: regions of interest, motion gating, camera URLs, and a file read as a
camera (paced in real time, newest frame only)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.service.cameras import parse_camera_url
from facewise.video.analysis import VideoAnalysisConfig
from facewise.video.camera import CameraSource, SourceState
from facewise.video.decode import sample_frames
from facewise.video.live import LiveAnalysis, RegionOfInterest
from tests.video.synth import encode


@pytest.mark.parametrize(
    ("region", "inside", "outside"),
    [
        (RegionOfInterest(box_ltwh=(0.0, 0.5, 1.0, 0.5)), (0.5, 0.7), (0.5, 0.2)),
        (
            RegionOfInterest(polygon_xy=((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))),
            (0.2, 0.2),
            (0.8, 0.8),
        ),
    ],
)
def test_regions_of_interest_contain(
    region: RegionOfInterest, inside: tuple[float, float], outside: tuple[float, float]
) -> None:
    assert region.contains(*inside) and not region.contains(*outside)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RegionOfInterest(), "a bounding box or a polygon"),
        (lambda: RegionOfInterest(box_ltwh=(0, 0, 2, 1)), "ratios from 0 to 1"),
        (lambda: RegionOfInterest(polygon_xy=((0, 0), (1, 1))), "3 to 10 points"),
    ],
)
def test_bad_regions_are_refused(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterError, match=message):
        make()


def test_camera_urls(tmp_path: Path) -> None:
    video = tmp_path / "door.mp4"
    video.write_bytes(b"x")
    assert parse_camera_url("rtsp://cam.local:554/stream#udp") == "rtsp://cam.local:554/stream#udp"
    assert parse_camera_url("http://cam.local/video.mjpg") == "http://cam.local/video.mjpg"
    assert parse_camera_url(str(video)) == str(video)
    assert parse_camera_url(f"file://{video}") == str(video)
    for bad in ("ftp://cam/x", "rtsp:///nohost", str(tmp_path / "absent.mp4"), "", 7):
        with pytest.raises(InvalidParameterError):
            parse_camera_url(bad)


def _tracks(path: Path, analyzer: FaceAnalyzer, live: LiveAnalysis) -> set[int]:
    seen = set()
    for frame in sample_frames(path, 5.0):
        seen |= {found.track for found in live.process(frame)}
    return seen


def test_only_faces_inside_the_regions_are_kept(
    crossing_video: Path, analyzer: FaceAnalyzer
) -> None:  # type: ignore[no-untyped-def]
    config = VideoAnalysisConfig(detection_lanes=1)
    everyone = _tracks(crossing_video, analyzer, LiveAnalysis(analyzer, config))
    assert len(everyone) == 3  # Eileen, Grace, Eileen again
    # Grace walks lower (top 190 of 360): a region over the bottom half keeps only her.
    lower = LiveAnalysis(analyzer, config, [RegionOfInterest(box_ltwh=(0.0, 0.5, 1.0, 0.5))])
    assert len(_tracks(crossing_video, analyzer, lower)) == 1


def test_still_frames_without_faces_are_skipped(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    still = [np.full((360, 640, 3), 120, np.uint8)] * 75
    path = encode(still, tmp_path / "still.mp4")
    gated = LiveAnalysis(analyzer, VideoAnalysisConfig(detection_lanes=1))
    assert _tracks(path, analyzer, gated) == set()
    assert (gated.searched, gated.skipped) == (1, 14)
    ungated = LiveAnalysis(analyzer, VideoAnalysisConfig(detection_lanes=1), motion_gating=False)
    _tracks(path, analyzer, ungated)
    assert (ungated.searched, ungated.skipped) == (15, 0)


def test_a_file_is_played_in_real_time_and_ends(crossing_video: Path) -> None:
    states: list[SourceState] = []
    source = CameraSource(str(crossing_video), False, 5.0, lambda s, m: states.append(s))
    started = time.monotonic()
    source.start()
    frames = []
    while source.running:
        if (frame := source.newest(0.5)) is not None:
            frames.append(frame)
    if (last := source.newest(0.0)) is not None:
        frames.append(last)
    elapsed = time.monotonic() - started
    assert states == [SourceState.CONNECTED, SourceState.ENDED]
    assert 8.0 < elapsed < 11.0  # 8.5 s of video
    assert 40 <= len(frames) + source.dropped <= 44 and source.dropped <= 2
    assert frames[0].media_ms == 0


def test_a_camera_that_never_answers_fails_after_its_tries() -> None:
    from facewise.video.camera import RetryPolicy

    states: list[tuple[SourceState, str | None]] = []
    source = CameraSource(
        "rtsp://127.0.0.1:9/none",
        False,
        5.0,
        lambda s, m: states.append((s, m)),
        RetryPolicy(first_connect_tries=2, retry_first_s=0.1),
    ).start()
    deadline = time.monotonic() + 15
    while source.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s for s, _ in states] == [SourceState.RETRYING, SourceState.FAILED]
    assert (states[-1][1] or "").startswith("cannot read the camera: ")
