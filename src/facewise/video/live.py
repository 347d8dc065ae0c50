"""A live camera's sampled frames, one at a time as they come: skip the ones in which nothing
moved (while no face is tracked), find faces where the frame changed and where faces were,
keep only faces inside the regions of interest, track them and embed a few of each track's
best frames. What to do with a track's embeddings (search, report) is the caller's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import Analyzer
from facewise.types import FaceAnalysis
from facewise.video.analysis import (
    BestFrames,
    FrameSearcher,
    PreparedFrame,
    TrackSample,
    VideoAnalysisConfig,
    embed_if_among_best,
)
from facewise.video.decode import SampledFrame
from facewise.video.tracking import FaceTracker, SceneCuts

MAX_REGIONS = 10
MAX_POLYGON_POINTS = 10


@dataclass(frozen=True)
class RegionOfInterest:
    """A part of the frame, as ratios of its width and height (0-1): a box (left, top,
    width, height) or a polygon of 3-10 points."""

    box_ltwh: tuple[float, float, float, float] | None = None
    polygon_xy: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if (self.box_ltwh is None) == (self.polygon_xy is None):
            raise InvalidParameterError("a region of interest is a bounding box or a polygon")
        values = list(self.box_ltwh or ()) + [v for p in self.polygon_xy or () for v in p]
        if not all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in values):
            raise InvalidParameterError("regions of interest are ratios from 0 to 1")
        points = self.polygon_xy
        if points is not None and not 3 <= len(points) <= MAX_POLYGON_POINTS:
            raise InvalidParameterError(f"a polygon has 3 to {MAX_POLYGON_POINTS} points")

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (ratios) is inside."""
        if self.box_ltwh is not None:
            left, top, width, height = self.box_ltwh
            return left <= x <= left + width and top <= y <= top + height
        contour = np.asarray(self.polygon_xy, dtype=np.float32)
        return cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0


def check_regions(regions: Sequence[RegionOfInterest]) -> tuple[RegionOfInterest, ...]:
    if len(regions) > MAX_REGIONS:
        raise InvalidParameterError(f"at most {MAX_REGIONS} regions of interest")
    return tuple(regions)


@dataclass(frozen=True)
class TrackedFace:
    """A face in one frame, its track, and the embedding taken of it now (if any)."""

    track: int
    face: FaceAnalysis
    sample: TrackSample | None


class LiveAnalysis:
    """The state of one camera's analysis: the last frame, the tracks, their best frames.

    regions: faces whose centre lies outside every region are ignored (none: all faces).
    motion_gating: frames with no motion while no face is tracked are not searched.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        config: VideoAnalysisConfig,
        regions: Sequence[RegionOfInterest] = (),
        motion_gating: bool = True,
    ) -> None:
        self.analyzer, self.config = analyzer, config
        self.regions = check_regions(regions)
        self.motion_gating = motion_gating
        # One thread per detection: several cameras share the cores.
        self.searcher = FrameSearcher(analyzer, config, threads=1)
        self.tracker = FaceTracker(config.rate_fps, config.tracker)
        self.cuts = SceneCuts(config.tracker.scene_cut)
        self.best: dict[int, BestFrames] = {}
        self._previous: PreparedFrame | None = None
        self._previous_faces: list[FaceAnalysis] = []
        self._last_seen_ms: dict[int, int] = {}
        self.ended: list[int] = []  # tracks that ended during the last process() call
        self.searched = 0  # frames searched for faces
        self.skipped = 0  # frames skipped: nothing moved

    def process(self, frame: SampledFrame) -> list[TrackedFace]:
        """The frame's faces with their tracks (embedding the track's best frames)."""
        self._end_tracks(frame.timestamp_ms)
        item = self.searcher.prepare(frame)
        previous, self._previous = self._previous, item
        if self.cuts.is_cut(frame.rgb):
            self.tracker.reset()
            previous = None
        regions = None
        if previous is not None:
            if (
                self.motion_gating
                and not self._previous_faces
                and not self.searcher.motion(item, previous)
            ):
                self.skipped += 1
                self.tracker.update([])  # time passes for lost tracks all the same
                return []
            regions = self.searcher.regions(item, previous, self._previous_faces)
        self.searched += 1
        faces = [f for f in self.searcher.faces(item, regions) if self._wanted(f, frame.rgb)]
        self._previous_faces = faces
        tracks = self.tracker.update([face.detection for face in faces])
        found = []
        for face, track in zip(faces, tracks, strict=True):
            sample = embed_if_among_best(
                self.analyzer, frame.rgb, face, track, frame.timestamp_ms, self.best, self.config
            )
            found.append(TrackedFace(track, face, sample))
            self._last_seen_ms[track] = frame.timestamp_ms
        return found

    def _end_tracks(self, now_ms: int) -> None:
        """Forget tracks unseen for twice the tracker's patience (their best frames too)."""
        patience_ms = 2000 * self.config.tracker.lost_after_s
        self.ended = [t for t, seen in self._last_seen_ms.items() if now_ms - seen > patience_ms]
        for track in self.ended:
            del self._last_seen_ms[track]
            self.best.pop(track, None)

    def _wanted(self, face: FaceAnalysis, rgb: np.ndarray) -> bool:
        if not self.regions:
            return True
        height, width = rgb.shape[:2]
        x1, y1, x2, y2 = face.box_xyxy
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        return any(region.contains(cx, cy) for region in self.regions)
