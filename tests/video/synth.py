"""Videos made from real photos for the video tests: people (face crops of photos that
installed packages ship) entering, crossing and leaving a scene, encoded with libx264."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Walk:
    """One person crossing the scene: who, from when to when (ms), left to right or back."""

    face: np.ndarray  # RGB crop of a face with some head around it
    start_ms: int
    end_ms: int
    top: int
    rightwards: bool = True

    def left_at(self, t_ms: int, width: int) -> int | None:
        if not self.start_ms <= t_ms < self.end_ms:
            return None
        progress = (t_ms - self.start_ms) / (self.end_ms - self.start_ms)
        span = width - self.face.shape[1]
        x = progress * span
        return int(x if self.rightwards else span - x)


def scene(
    walks: Sequence[Walk],
    duration_ms: int,
    frame_wh: tuple[int, int] = (640, 360),
    background: Callable[[int], np.ndarray] | None = None,
    fps: int = 25,
) -> list[np.ndarray]:
    """The frames of a scene: a plain background with each walker drawn where it is."""
    return list(scene_frames(walks, duration_ms, frame_wh, background, fps))


def scene_frames(
    walks: Sequence[Walk],
    duration_ms: int,
    frame_wh: tuple[int, int] = (640, 360),
    background: Callable[[int], np.ndarray] | None = None,
    fps: int = 25,
) -> Iterator[np.ndarray]:
    """scene(), one frame at a time (for videos too long to hold)."""
    width, height = frame_wh
    active = sorted(walks, key=lambda w: w.start_ms)
    for number in range(duration_ms * fps // 1000):
        t_ms = number * 1000 // fps
        frame = (
            background(t_ms)
            if background is not None
            else np.full((height, width, 3), (96, 110, 120), dtype=np.uint8)
        )
        frame = frame.copy()
        for walk in active:
            if walk.start_ms > t_ms:
                break
            left = walk.left_at(t_ms, width)
            if left is not None:
                h, w = walk.face.shape[:2]
                frame[walk.top : walk.top + h, left : left + w] = walk.face
        yield frame


def encode(
    frames: Iterable[np.ndarray],
    path: Path,
    fps: int = 25,
    codec: str = "libx264",
    rotation_deg: int = 0,
    crf: int = 20,
) -> Path:
    """Write frames to a video file (the container follows the suffix); libx264 at ``crf``
    (0: lossless, and large)."""
    import av

    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": str(crf)}
        if rotation_deg:
            stream.set_display_rotation(rotation_deg)
        for rgb in _chain(first, frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_crop(rgb: np.ndarray, box_xyxy: tuple[int, int, int, int], side: int) -> np.ndarray:
    """A square crop around a face box (with some head and shoulders), resized to side px."""
    from PIL import Image

    x1, y1, x2, y2 = box_xyxy
    cx, cy, half = (x1 + x2) // 2, (y1 + y2) // 2, int(max(x2 - x1, y2 - y1) * 0.9)
    top, left = max(cy - half, 0), max(cx - half, 0)
    crop = rgb[top : cy + half, left : cx + half]
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.LANCZOS))


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
