"""Decoding: metadata, sampling times, rotation, and every kind of bad file refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facewise.errors import InvalidParameterError, VideoError, VideoTooLargeError
from facewise.video.decode import VideoLimits, probe, sample_frames
from tests.video.synth import encode


def _marked(width: int = 200, height: int = 120) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:30, :50] = (255, 0, 0)  # red in the top-left corner, to see the rotation
    return frame


def test_metadata_and_sampling_times(tmp_path: Path) -> None:
    path = encode([_marked()] * 50, tmp_path / "two-seconds.mp4")  # 2 s at 25 fps
    metadata = probe(path)
    assert (metadata.codec, metadata.frame_rate, metadata.frame_wh) == ("h264", 25.0, (200, 120))
    assert metadata.duration_ms == 2000 and metadata.rotation_deg == 0
    times = [f.timestamp_ms for f in sample_frames(path, rate_fps=5)]
    assert times == [0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]
    assert [f.timestamp_ms for f in sample_frames(path, rate_fps=2)] == [0, 520, 1000, 1520]


@pytest.mark.parametrize(("rotation", "red_corner"), [(90, "bottom-left"), (270, "top-right")])
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int, red_corner: str) -> None:
    """A phone video's display rotation: frames come out as a player shows them."""
    path = encode([_marked()] * 5, tmp_path / "phone.mp4", rotation_deg=rotation)
    assert probe(path).frame_wh == (120, 200) and probe(path).rotation_deg == rotation
    rgb = next(iter(sample_frames(path))).rgb
    assert rgb.shape == (200, 120, 3)
    ys, xs = np.nonzero(rgb[:, :, 0] > 200)
    vertical = "bottom" if ys.mean() > 100 else "top"
    horizontal = "right" if xs.mean() > 60 else "left"
    assert f"{vertical}-{horizontal}" == red_corner


@pytest.mark.parametrize("suffix,codec", [(".webm", "libvpx-vp9"), (".mkv", "libx265")])
def test_other_containers_and_codecs(tmp_path: Path, suffix: str, codec: str) -> None:
    path = encode([_marked()] * 10, tmp_path / f"clip{suffix}", codec=codec)
    assert len(list(sample_frames(path))) == 2


def _truncated(folder: Path) -> Path:
    whole = encode([_marked()] * 50, folder / "whole.mp4").read_bytes()
    return _file(folder, "truncated.mp4", whole[: len(whole) // 2])


def _jpeg() -> bytes:
    from tests.conftest import encode as encode_image

    return encode_image(_marked())


def _file(folder: Path, name: str, data: bytes) -> Path:
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _file(d, "empty.mp4", b""), "empty"),
        (lambda d: _file(d, "text.mp4", b"not a video\n" * 50), "not a video"),
        (lambda d: _file(d, "noise.mp4", bytes(range(256)) * 400), None),
        (lambda d: d / "missing.mp4", "cannot read"),
        (lambda d: _file(d, "photo.mp4", _jpeg()), "still image"),
        (_truncated, None),
    ],
)
def test_bad_files_are_video_errors(tmp_path: Path, make, message: str | None) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(VideoError, match=message):
        list(sample_frames(path))


def test_limits(tmp_path: Path) -> None:
    path = encode([_marked()] * 50, tmp_path / "clip.mp4")
    with pytest.raises(VideoTooLargeError, match="bytes"):
        probe(path, VideoLimits(max_bytes=100))
    with pytest.raises(VideoTooLargeError, match="lasts"):
        probe(path, VideoLimits(max_duration_ms=1000))
    with pytest.raises(VideoTooLargeError, match="longest side"):
        list(sample_frames(path, 5, VideoLimits(max_side_px=100)))
    with pytest.raises(InvalidParameterError):
        list(sample_frames(path, rate_fps=0))
