"""Faces followed from one sampled frame to the next: ByteTrack (the ``trackers`` package,
over supervision's Detections) on face boxes, and a cheap scene-cut test that resets it.

ByteTrack gives a new face its id only on the second frame it is seen; ``FaceTracker``
gives it an id at once and keeps that id when ByteTrack confirms the face, so the first
frame a person appears in belongs to their track too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from facewise.types import FaceDetection

if TYPE_CHECKING:
    from trackers import ByteTrackTracker


def iou_xyxy(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are followed.

    lost_after_s: how long a face may go unseen (occluded, turned away, missed by the
        detector) and keep its track. Longer bridges longer gaps; too long lets a new person
        who steps into the same place inherit the track.
    min_iou: least box overlap, between a predicted track box and a detection, to match.
        Lower follows faster movement between sampled frames, at the risk of swapping
        people who cross.
    box_buffer: boxes are matched grown by this factor around their centre (buffered IoU),
        so a face that moved more than its own width between sampled frames is still
        followed. Larger follows faster movement; too large joins people who stand close.
    scene_cut: mean absolute difference (0-255) of two consecutive sampled frames, at
        32x18 grey, above which the scene is taken to have changed and every track ends.
    """

    lost_after_s: float = 1.5
    min_iou: float = 0.1
    box_buffer: float = 2.5
    scene_cut: float = 30.0


class FaceTracker:
    """Gives each detection of each sampled frame a track id, stable while a face stays."""

    def __init__(self, rate_fps: float, config: TrackerConfig = TrackerConfig()) -> None:
        self.rate_fps = rate_fps
        self.config = config
        self._next_id = 0
        self._tracker = self._new_tracker()
        self._ours: dict[int, int] = {}  # ByteTrack's id -> ours
        self._unconfirmed: list[tuple[tuple[float, float, float, float], int]] = []

    def _new_tracker(self) -> ByteTrackTracker:
        from trackers import ByteTrackTracker

        return ByteTrackTracker(
            # trackers counts the buffer in frames at 30 fps, whatever frame_rate is.
            lost_track_buffer=max(1, round(self.config.lost_after_s * 30)),
            frame_rate=self.rate_fps,
            track_activation_threshold=0.3,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=self.config.min_iou,
            high_conf_det_threshold=0.5,
        )

    def reset(self) -> None:
        """End every track (a scene cut); ids keep counting up."""
        self._tracker = self._new_tracker()
        self._ours.clear()
        self._unconfirmed.clear()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def update(self, detections: Sequence[FaceDetection]) -> list[int]:
        """The track id of each detection, in the order given."""
        import supervision as sv

        if not detections:
            self._tracker.update(sv.Detections.empty())
            self._unconfirmed.clear()
            return []
        boxes = np.array([self._grown(d.box_xyxy) for d in detections], dtype=np.float32)
        found = sv.Detections(
            xyxy=boxes,
            confidence=np.array([d.score for d in detections], dtype=np.float32),
            data={"order": np.arange(len(detections))},
        )
        tracked = self._tracker.update(found)
        ids = [-1] * len(detections)
        their_ids: Sequence[int] = [] if tracked.tracker_id is None else tracked.tracker_id.tolist()
        for order, theirs in zip(tracked.data["order"], their_ids, strict=True):
            ids[int(order)] = int(theirs)
        ours: list[int] = []
        unconfirmed = []
        for box, theirs in zip(boxes, ids, strict=True):
            grown = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
            if theirs >= 0 and theirs in self._ours:
                ours.append(self._ours[theirs])
                continue
            mine = self._claim(grown)
            if theirs >= 0:
                self._ours[theirs] = mine
            else:
                unconfirmed.append((grown, mine))
            ours.append(mine)
        self._unconfirmed = unconfirmed
        return ours

    def _grown(self, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half_w, half_h = (
            (x2 - x1) * self.config.box_buffer / 2,
            (y2 - y1) * self.config.box_buffer / 2,
        )
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    def _claim(self, box: tuple[float, float, float, float]) -> int:
        """The id of last frame's unconfirmed face this box continues, else a new id."""
        best, best_iou = None, self.config.min_iou
        for index, (previous, _) in enumerate(self._unconfirmed):
            overlap = iou_xyxy(previous, box)
            if overlap >= best_iou:
                best, best_iou = index, overlap
        if best is None:
            return self._new_id()
        return self._unconfirmed.pop(best)[1]


class SceneCuts:
    """Says when consecutive sampled frames belong to different shots."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        import cv2

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        small = np.asarray(cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA), np.float32)
        previous, self._previous = self._previous, small
        return previous is not None and float(np.abs(small - previous).mean()) > self.threshold
