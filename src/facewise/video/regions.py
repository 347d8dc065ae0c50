"""Where a frame can hold faces: the parts that changed since a frame whose faces are known,
plus where those faces were. Searching only there, instead of the whole frame, is most of
what makes video cheap: a still camera's picture barely changes, and a face that moved
leaves a difference where it is now (Frigate looks for objects only in motion regions, the
same way).

A face can only be missed if it appears without changing the picture (it was there all
along but not found); every ``full_frame_every`` frames the whole frame is searched again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facewise.errors import InvalidParameterError

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in working pixels

# Motion is looked for at this width (the frame's aspect kept): a face is a few pixels wide
# there, which is enough to see it move, and comparing costs well under a millisecond.
MOTION_WIDTH_PX = 160


@dataclass(frozen=True)
class RegionConfig:
    """Which parts of a frame are searched for faces.

    enabled: False searches every frame whole (slower, the same faces on a still camera).
    motion_threshold: grey-level change (0-255, after a light blur) that counts as motion.
        Lower follows faint changes (dim scenes) and wakes on sensor noise; a noisy camera
        simply gets more whole-frame searches, never fewer faces.
    full_frame_every: analysed frames between whole-frame searches (10 at 5 fps: every
        2 s), bounding how long a face that neither moves nor was found can stay unfound.
    max_share: when the regions cover more than this share of the frame, the whole frame
        is searched (one call is then cheaper than many).
    margin: regions reach this many face-widths around where faces were (and, in working
        pixels, MOTION_MARGIN_PX around motion), so a face cut by a region edge is rare.
    """

    enabled: bool = True
    motion_threshold: int = 25
    full_frame_every: int = 10
    max_share: float = 0.5
    margin: float = 0.5

    def __post_init__(self) -> None:
        checks = (
            ("motion_threshold", self.motion_threshold, 1, 255),
            ("full_frame_every", self.full_frame_every, 1, 10_000),
            ("max_share", self.max_share, 0.0, 1.0),
            ("margin", self.margin, 0.0, 4.0),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParameterError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise InvalidParameterError(f"{name} must be in [{low}, {high}], got {value}")


MOTION_MARGIN_PX = 16
MIN_REGION_PX = 48


def motion_image(working_rgb: np.ndarray) -> np.ndarray:
    """A small blurred grey copy of the frame, for comparing frames cheaply."""
    height, width = working_rgb.shape[:2]
    small_h = max(1, round(height * MOTION_WIDTH_PX / width))
    small = cv2.resize(working_rgb, (MOTION_WIDTH_PX, small_h), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(grey, (3, 3), 0)


def motion_boxes(before: np.ndarray, after: np.ndarray, threshold: int) -> list[Box]:
    """Bounding boxes, in the small images' pixels, of the parts that changed."""
    changed = cv2.absdiff(before, after) >= threshold
    mask = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [
        (int(x), int(y), int(x + w), int(y + h))
        for x, y, w, h, _area in stats[1:count]  # component 0 is the unchanged rest
    ]


def _grow(box: Box, by_x: float, by_y: float, size_wh: tuple[int, int]) -> Box:
    x1, y1, x2, y2 = box
    width, height = size_wh
    return (
        max(0, int(x1 - by_x)),
        max(0, int(y1 - by_y)),
        min(width, int(np.ceil(x2 + by_x))),
        min(height, int(np.ceil(y2 + by_y))),
    )


def _at_least(box: Box, side: int, size_wh: tuple[int, int]) -> Box:
    """The box, widened around its centre to at least ``side`` each way (within the frame)."""
    x1, y1, x2, y2 = box
    grow_x = max(0, side - (x2 - x1)) / 2
    grow_y = max(0, side - (y2 - y1)) / 2
    return _grow(box, grow_x, grow_y, size_wh)


def _touch(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def merged(boxes: Sequence[Box]) -> list[Box]:
    """The boxes, with every group that overlaps or touches replaced by its bounding box."""
    result = list(boxes)
    joined = True
    while joined:
        joined = False
        pairs = [(a, b) for a in range(len(result)) for b in range(a + 1, len(result))]
        for i, j in pairs:
            if _touch(result[i], result[j]):
                result[i] = _union(result[i], result.pop(j))
                joined = True
                break
    return result


def face_regions(
    size_wh: tuple[int, int],
    moved: Sequence[Box],
    motion_scale: float,
    known_faces: Sequence[tuple[float, float, float, float]],
    config: RegionConfig,
) -> list[Box] | None:
    """The parts of a working-size frame to search, or None for the whole frame.

    moved: motion boxes in the small images' pixels (``motion_scale`` working pixels each);
    known_faces: face boxes of the reference frame, in working pixels.
    """
    boxes: list[Box] = []
    for mx1, my1, mx2, my2 in moved:
        scaled = (
            int(mx1 * motion_scale),
            int(my1 * motion_scale),
            int(np.ceil(mx2 * motion_scale)),
            int(np.ceil(my2 * motion_scale)),
        )
        boxes.append(_grow(scaled, MOTION_MARGIN_PX, MOTION_MARGIN_PX, size_wh))
    for fx1, fy1, fx2, fy2 in known_faces:
        side = max(fx2 - fx1, fy2 - fy1)
        face: Box = (int(fx1), int(fy1), int(np.ceil(fx2)), int(np.ceil(fy2)))
        boxes.append(_grow(face, side * config.margin, side * config.margin, size_wh))
    regions = merged([_at_least(box, MIN_REGION_PX, size_wh) for box in boxes])
    area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions)
    if area > config.max_share * size_wh[0] * size_wh[1]:
        return None
    return regions
