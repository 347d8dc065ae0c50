"""Decode a video file with PyAV (FFmpeg) into sampled RGB frames, under limits.

Whatever FFmpeg reads is accepted: MP4, MOV, MKV, WebM, AVI... with H.264, H.265, VP8/9,
AV1, MPEG-4 and more (Rekognition takes only MP4/MOV with H.264). Rotation metadata (phone
videos) is applied, so frames come out the way up a viewer shows them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facewise.errors import InvalidParameterError, VideoError, VideoTooLargeError
from facewise.imaging.decode import require_positive_ints

GIB = 1024**3


@dataclass(frozen=True)
class VideoLimits:
    """What a video job accepts. The defaults are Rekognition's (10 GB, 6 hours).

    max_bytes: largest file. max_duration_ms: longest video; longer ones are refused before
    decoding. max_side_px: longest frame side (8K is 7680); decoding cost grows with area.
    """

    max_bytes: int = 10 * GIB
    max_duration_ms: int = 6 * 3600 * 1000
    max_side_px: int = 7680

    def __post_init__(self) -> None:
        require_positive_ints(self, "max_bytes", "max_duration_ms", "max_side_px")


DEFAULT_VIDEO_LIMITS = VideoLimits()


@dataclass(frozen=True)
class VideoMetadata:
    """What Rekognition reports of a video (VideoMetadata), as the stream declares it.

    frame_wh is as displayed, after rotation."""

    codec: str
    duration_ms: int
    format: str
    frame_rate: float
    frame_wh: tuple[int, int]
    color_range: str  # "FULL" or "LIMITED"
    rotation_deg: int


@dataclass(frozen=True)
class SampledFrame:
    """One analysed frame: its number among the sampled ones, its time and its pixels."""

    number: int
    timestamp_ms: int
    rgb: np.ndarray


def _open(path: Path):  # type: ignore[no-untyped-def]  # av.container.InputContainer
    import av

    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise VideoError(f"not a video FFmpeg can read: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.split(": '", 1)[0] if text else type(error).__name__


def _rotation(frame: object) -> int:
    """The frame's display rotation, counter-clockwise degrees (0, 90, 180 or 270): FFmpeg's
    display matrix, which also carries the older MP4 ``rotate`` tag of phone videos."""
    try:
        degrees = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return round(degrees / 90) * 90 % 360


def _check_file(path: Path, limits: VideoLimits) -> None:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise VideoError(f"cannot read the video: {error.strerror}") from None
    if size == 0:
        raise VideoError("the video file is empty")
    if size > limits.max_bytes:
        raise VideoTooLargeError(f"the video is {size:,} bytes; the limit is {limits.max_bytes:,}")


def probe(path: Path | str, limits: VideoLimits = DEFAULT_VIDEO_LIMITS) -> VideoMetadata:
    """The video's metadata; VideoError unless it has a video stream within the limits."""
    path = Path(path)
    _check_file(path, limits)
    with _open(path) as container:
        return _metadata(container, limits, _first_rotation(container))


def _first_rotation(container) -> int:  # type: ignore[no-untyped-def]
    import av

    if not container.streams.video:
        return 0
    try:
        for frame in container.decode(container.streams.video[0]):
            return _rotation(frame)
    except av.FFmpegError:
        return 0  # sample_frames reports the damage with the frame it happens at
    return 0


def _metadata(container, limits: VideoLimits, rotation: int) -> VideoMetadata:  # type: ignore[no-untyped-def]
    if not container.streams.video:
        raise VideoError("the file holds no video stream")
    format_name = str(container.format.name)
    if format_name == "image2" or format_name.endswith("_pipe"):
        raise VideoError(f"the file is a still image ({format_name}), not a video")
    stream = container.streams.video[0]
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width < 1 or height < 1:
        raise VideoError("the video stream declares no frame size")
    if max(width, height) > limits.max_side_px:
        raise VideoTooLargeError(
            f"frames are {width}x{height}; the longest side may be {limits.max_side_px} px"
        )
    duration_ms = _duration_ms(container, stream)
    if duration_ms > limits.max_duration_ms:
        raise VideoTooLargeError(
            f"the video lasts {duration_ms / 1000:,.0f} s; the limit is "
            f"{limits.max_duration_ms / 1000:,.0f} s"
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or 0
    shown = (height, width) if rotation in (90, 270) else (width, height)
    color_range = "FULL" if getattr(stream.codec_context, "color_range", 0) == 2 else "LIMITED"
    return VideoMetadata(
        codec=str(stream.codec_context.name),
        duration_ms=duration_ms,
        format=str(container.format.long_name or container.format.name),
        frame_rate=round(float(rate), 3),
        frame_wh=shown,
        color_range=color_range,
        rotation_deg=rotation,
    )


def _duration_ms(container, stream) -> int:  # type: ignore[no-untyped-def]
    if stream.duration is not None and stream.time_base is not None:
        return int(stream.duration * stream.time_base * 1000)
    if container.duration is not None:
        return int(container.duration / 1000)  # AV_TIME_BASE is microseconds
    return 0


def _turn(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as displayed: turned ``rotation`` degrees counter-clockwise."""
    if rotation == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))


def displayed_rgb(frame: Any) -> np.ndarray:
    """A decoded PyAV frame as RGB, turned the way it is displayed."""
    return _turn(frame.to_ndarray(format="rgb24"), _rotation(frame))


def sample_frames(
    path: Path | str,
    rate_fps: float | None = 5.0,
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
) -> Iterator[SampledFrame]:
    """Frames at ``rate_fps`` (the first frame at or after each 1/rate step), as RGB.

    rate_fps: analysed frames per second (None: every frame). Higher follows fast movement
        and short appearances better and costs proportionally more analysis (decoding is
        the same).
    Raises VideoError for a video that cannot be decoded, also midway (after the frames
    decoded so far have been yielded), and when it has no frame at all.
    """
    import av

    if rate_fps is not None and not (
        isinstance(rate_fps, int | float) and math.isfinite(rate_fps) and 0 < rate_fps <= 60
    ):
        raise InvalidParameterError(f"rate_fps must be in (0, 60], got {rate_fps!r}")
    path = Path(path)
    _check_file(path, limits)
    step = Fraction(0) if rate_fps is None else 1 / Fraction(rate_fps).limit_denominator(1000)
    with _open(path) as container:
        _metadata(container, limits, 0)  # the limits, before decoding anything
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_time, number, start = Fraction(0), 0, None
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                when = Fraction(frame.pts) * frame.time_base
                start = when if start is None else start
                when -= start
                if when * 1000 > limits.max_duration_ms:
                    raise VideoTooLargeError("the video runs past the duration limit")
                if when + Fraction(1, 1000) < next_time:
                    continue
                yield SampledFrame(number, int(when * 1000), displayed_rgb(frame))
                number += 1
                while step and next_time <= when:
                    next_time += step
        except av.FFmpegError as error:
            raise VideoError(f"the video is corrupt at frame {number}: {_reason(error)}") from None
        if number == 0:
            raise VideoError("the video has no decodable frame")
