"""The typed values that cross layers. Boxes and points are pixels in the decoded (upright)
image; ratios exist only at the protocol edge. Scores are 0-1; ``*_pct`` values are 0-100."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

# Order of the five landmarks every detection carries. Left and right are as the viewer sees
# the image (Rekognition's eyeLeft has the smaller x), not the subject's own left.
FIVE_LANDMARKS: tuple[str, ...] = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")


class Attribute(StrEnum):
    """Face attributes a caller can ask for (Rekognition's names, snake_case)."""

    DEFAULT = "default"
    ALL = "all"
    AGE_RANGE = "age_range"
    GENDER = "gender"
    SMILE = "smile"
    EYES_OPEN = "eyes_open"
    MOUTH_OPEN = "mouth_open"
    # Requested by Rekognition clients, but no bundled model can estimate them; accepted and
    # left out of results (docs/attributes.md).
    EMOTIONS = "emotions"
    EYEGLASSES = "eyeglasses"
    SUNGLASSES = "sunglasses"
    BEARD = "beard"
    MUSTACHE = "mustache"
    EYE_DIRECTION = "eye_direction"
    FACE_OCCLUDED = "face_occluded"


class QualityFilter(StrEnum):
    """How strict to be about face quality before a face takes part in a comparison."""

    NONE = "none"
    AUTO = "auto"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Landmark:
    """A named facial point in pixels."""

    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class FaceDetection:
    """One face found by the detector: box, confidence and the five landmarks."""

    box_xyxy: tuple[float, float, float, float]
    score: float
    landmarks_xy: tuple[tuple[float, float], ...]

    @property
    def area_px(self) -> float:
        x1, y1, x2, y2 = self.box_xyxy
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(frozen=True)
class Pose:
    """Head orientation in degrees: roll (in-plane), yaw (left/right), pitch (up/down)."""

    roll_deg: float
    yaw_deg: float
    pitch_deg: float


@dataclass(frozen=True)
class ImageQuality:
    """Brightness and sharpness of the face region, each 0-100 (higher is brighter/sharper)."""

    brightness: float
    sharpness: float


@dataclass(frozen=True)
class AgeRange:
    """Estimated age range in years, low to high inclusive."""

    low: int
    high: int


@dataclass(frozen=True)
class Gender:
    """Predicted gender label ("male" or "female") and the model's probability for it."""

    value: str
    score: float


@dataclass(frozen=True)
class Flag:
    """A yes/no attribute (smile, eyes open, mouth open) and how sure the estimate is (0-1)."""

    value: bool
    score: float


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything facewise knows about one face. Optional fields are None when not asked for."""

    detection: FaceDetection
    landmarks: tuple[Landmark, ...] = ()
    pose: Pose | None = None
    quality: ImageQuality | None = None
    age_range: AgeRange | None = None
    gender: Gender | None = None
    smile: Flag | None = None
    eyes_open: Flag | None = None
    mouth_open: Flag | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def box_xyxy(self) -> tuple[float, float, float, float]:
        return self.detection.box_xyxy

    @property
    def score(self) -> float:
        return self.detection.score


@dataclass(frozen=True)
class DetectFacesResult:
    """Faces in one image, largest first, and the size of the upright image they refer to."""

    faces: list[FaceAnalysis]
    image_wh: tuple[int, int]


@dataclass(frozen=True)
class FaceMatch:
    """A target face and how similar it is to the source face (0-100, Rekognition's scale)."""

    face: FaceAnalysis
    similarity_pct: float


@dataclass(frozen=True)
class CompareFacesResult:
    """The source's largest face against every target face."""

    source_face: FaceAnalysis
    matches: list[FaceMatch]
    unmatched: list[FaceAnalysis]
    source_image_wh: tuple[int, int]
    target_image_wh: tuple[int, int]
