"""Image quality of a face region, and the QualityFilter levels built on it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facewise.types import FaceAnalysis, ImageQuality, QualityFilter

# Variance of the Laplacian of a 128 px grey face crop that maps to sharpness 63 (1 - 1/e).
# Larger makes the scale stricter: the same photo scores lower.
SHARPNESS_SCALE = 250.0
QUALITY_CROP_PX = 128


def face_quality(rgb: np.ndarray, box_xyxy: tuple[float, float, float, float]) -> ImageQuality:
    """Brightness (mean luminance) and sharpness (Laplacian energy) of the face box, 0-100."""
    height, width = rgb.shape[:2]
    x1, y1 = max(0, int(box_xyxy[0])), max(0, int(box_xyxy[1]))
    x2, y2 = min(width, math.ceil(box_xyxy[2])), min(height, math.ceil(box_xyxy[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return ImageQuality(brightness=0.0, sharpness=0.0)
    grey = cv2.cvtColor(rgb[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY)
    brightness = float(grey.mean()) / 255.0 * 100.0
    crop = cv2.resize(grey, (QUALITY_CROP_PX, QUALITY_CROP_PX), interpolation=cv2.INTER_AREA)
    energy = float(cv2.Laplacian(crop, cv2.CV_64F).var())
    sharpness = 100.0 * (1.0 - math.exp(-energy / SHARPNESS_SCALE))
    return ImageQuality(brightness=brightness, sharpness=sharpness)


@dataclass(frozen=True)
class QualityBar:
    """The least a face must have to pass a filter level."""

    min_score: float
    min_sharpness: float
    brightness_range: tuple[float, float]
    min_side_px: float
    max_abs_yaw_deg: float
    max_abs_pitch_deg: float


QUALITY_BARS: dict[QualityFilter, QualityBar] = {
    QualityFilter.LOW: QualityBar(0.90, 8.0, (8.0, 97.0), 20.0, 80.0, 70.0),
    QualityFilter.MEDIUM: QualityBar(0.95, 20.0, (15.0, 93.0), 40.0, 60.0, 50.0),
    QualityFilter.HIGH: QualityBar(0.98, 35.0, (20.0, 90.0), 64.0, 45.0, 40.0),
}
# AUTO lets the service choose, as in Rekognition: it drops only clearly unusable faces.
QUALITY_BARS[QualityFilter.AUTO] = QUALITY_BARS[QualityFilter.LOW]


def quality_problems(face: FaceAnalysis, level: QualityFilter) -> list[str]:
    """Why the face fails this filter level, in Rekognition's reason words; empty if it passes.

    Needs the face's pose and quality; QualityFilter.NONE passes everything.
    """
    bar = QUALITY_BARS.get(level)
    if bar is None:
        return []
    problems = []
    x1, y1, x2, y2 = face.box_xyxy
    if face.score < bar.min_score:
        problems.append("low_confidence")
    if min(x2 - x1, y2 - y1) < bar.min_side_px:
        problems.append("small_bounding_box")
    if face.pose is not None and (
        abs(face.pose.yaw_deg) > bar.max_abs_yaw_deg
        or abs(face.pose.pitch_deg) > bar.max_abs_pitch_deg
    ):
        problems.append("extreme_pose")
    if face.quality is not None:
        low, high = bar.brightness_range
        if face.quality.brightness < low:
            problems.append("low_brightness")
        if face.quality.brightness > high:
            problems.append("low_face_quality")  # over-exposed
        if face.quality.sharpness < bar.min_sharpness:
            problems.append("low_sharpness")
    return problems
