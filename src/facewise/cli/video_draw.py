"""`facewise video ... --draw OUT.mp4`: the video again, with each face's box, track and
match burnt in (each frame shows the boxes of the latest analysed frame)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewise.cli import draw
from facewise.types import FaceAnalysis
from facewise.video.decode import probe, sample_frames


@dataclass(frozen=True)
class Mark:
    """One face to draw at one analysed moment."""

    timestamp_ms: int
    face: FaceAnalysis
    label: str
    matched: bool


def draw_video(source: Path, out: Path, marks: Sequence[Mark]) -> None:
    """Write ``out`` (H.264, the source's frame rate and displayed size) with the marks."""
    import av

    by_time: dict[int, list[Mark]] = {}
    for mark in marks:
        by_time.setdefault(mark.timestamp_ms, []).append(mark)
    times = sorted(by_time)
    rate = round(probe(source).frame_rate) or 25  # 25 when the stream declares none
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), mode="w") as container:
        stream = None
        for frame in sample_frames(source, None):
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.height, stream.width = (v - v % 2 for v in frame.rgb.shape[:2])
                stream.pix_fmt = "yuv420p"
            shown = _at(frame.timestamp_ms, times, by_time, frame.rgb)
            even = np.ascontiguousarray(shown[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(even, format="rgb24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)


def _at(t_ms: int, times: list[int], by_time: dict[int, list[Mark]], rgb: np.ndarray) -> np.ndarray:
    """The frame with the marks of the latest analysed moment at or before t_ms (none once
    the next analysed moment is over 500 ms away)."""
    index = bisect.bisect_right(times, t_ms) - 1
    if index < 0 or t_ms - times[index] > 500:
        return rgb
    marks = by_time[times[index]]
    colours = [draw.MATCH_RGB if m.matched else draw.OTHER_RGB for m in marks]
    image = draw.annotate(rgb, [m.face for m in marks], [m.label for m in marks], colours)
    return np.asarray(image)
