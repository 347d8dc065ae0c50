"""Face geometry from landmarks: head pose from the five points, and the 68-point features."""

from __future__ import annotations

import math

import numpy as np

from facewise.types import FIVE_LANDMARKS, Flag, Landmark, Pose

# A generic face: the nose tip stands this far in front of the eye plane, relative to half the
# distance between the eyes, and sits this far down from the eyes towards the mouth when the
# head is level. They turn landmark offsets into yaw and pitch angles.
NOSE_DEPTH_PER_HALF_EYE_SPAN = 0.95
NOSE_LEVEL_FRACTION = 0.62
NOSE_PITCH_GAIN = 1.6


def eye_centres_from_dlib5(points: np.ndarray) -> np.ndarray:
    """Viewer's-left and viewer's-right eye centres from dlib's 5 points (eye corners, nose)."""
    return np.stack([points[2:4].mean(axis=0), points[0:2].mean(axis=0)])


def pose_from_five(landmarks_xy: np.ndarray, eye_centres_xy: np.ndarray | None = None) -> Pose:
    """Roll, yaw and pitch (degrees) from eyes, nose and mouth corners (viewer's left first).

    eye_centres_xy: better eye centres (2, 2) to use instead of the first two landmarks; the
    detector's eye points under-read in-plane rotation by about a fifth.
    Roll is the tilt of the eye line (positive: clockwise in the image); yaw is positive when
    the face turns towards the image's right; pitch is positive when the face looks up.
    """
    eye_l, eye_r, nose, mouth_l, mouth_r = landmarks_xy.astype(np.float64)
    if eye_centres_xy is not None:
        eye_l, eye_r = eye_centres_xy.astype(np.float64)
    eye_vec = eye_r - eye_l
    roll = math.atan2(eye_vec[1], eye_vec[0])
    # Undo the roll so the remaining offsets are horizontal/vertical in face coordinates.
    cos_r, sin_r = math.cos(-roll), math.sin(-roll)
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    eye_mid = (eye_l + eye_r) / 2
    nose_f = rotation @ (nose - eye_mid)
    mouth_f = rotation @ ((mouth_l + mouth_r) / 2 - eye_mid)
    half_span = max(float(np.linalg.norm(eye_vec)) / 2, 1e-6)
    yaw_sine = nose_f[0] / (half_span * NOSE_DEPTH_PER_HALF_EYE_SPAN)
    yaw = math.asin(max(-1.0, min(1.0, yaw_sine)))
    eye_to_mouth = max(float(mouth_f[1]), 1e-6)
    pitch_sine = (NOSE_LEVEL_FRACTION - nose_f[1] / eye_to_mouth) * NOSE_PITCH_GAIN
    pitch = math.asin(max(-1.0, min(1.0, pitch_sine)))
    return Pose(
        roll_deg=math.degrees(roll), yaw_deg=math.degrees(yaw), pitch_deg=math.degrees(pitch)
    )


def five_landmarks(landmarks_xy: np.ndarray) -> tuple[Landmark, ...]:
    """The detector's five points as named landmarks."""
    return tuple(
        Landmark(kind, float(x), float(y))
        for kind, (x, y) in zip(FIVE_LANDMARKS, landmarks_xy, strict=True)
    )


# Rekognition's 30 landmark types from iBUG's 68 points (0-based indices; a tuple is averaged).
# Left/right follow the viewer, like the detector's five points.
LANDMARKS_FROM_68: dict[str, tuple[int, ...]] = {
    "eye_left": (36, 37, 38, 39, 40, 41),
    "eye_right": (42, 43, 44, 45, 46, 47),
    "nose": (30,),
    "mouth_left": (48,),
    "mouth_right": (54,),
    "left_eye_brow_left": (17,),
    "left_eye_brow_right": (21,),
    "left_eye_brow_up": (19,),
    "right_eye_brow_left": (22,),
    "right_eye_brow_right": (26,),
    "right_eye_brow_up": (24,),
    "left_eye_left": (36,),
    "left_eye_right": (39,),
    "left_eye_up": (37, 38),
    "left_eye_down": (40, 41),
    "right_eye_left": (42,),
    "right_eye_right": (45,),
    "right_eye_up": (43, 44),
    "right_eye_down": (46, 47),
    "nose_left": (31,),
    "nose_right": (35,),
    "mouth_up": (51,),
    "mouth_down": (57,),
    "left_pupil": (37, 38, 40, 41),
    "right_pupil": (43, 44, 46, 47),
    "upper_jawline_left": (1,),
    "mid_jawline_left": (4,),
    "chin_bottom": (8,),
    "mid_jawline_right": (12,),
    "upper_jawline_right": (15,),
}


def landmarks_from_68(points: np.ndarray) -> tuple[Landmark, ...]:
    """Rekognition's 30 named landmarks from a (68, 2) array."""
    return tuple(
        Landmark(kind, float(points[list(idx), 0].mean()), float(points[list(idx), 1].mean()))
        for kind, idx in LANDMARKS_FROM_68.items()
    )


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a] - points[b]))


def _flag(value: float, threshold: float, spread: float) -> Flag:
    """A yes/no from a measurement: yes above the threshold; the score grows with the margin."""
    margin = (value - threshold) / spread
    probability_yes = 1.0 / (1.0 + math.exp(-margin))
    is_yes = probability_yes >= 0.5
    return Flag(value=is_yes, score=probability_yes if is_yes else 1.0 - probability_yes)


# Thresholds of the 68-point heuristics: eye aspect ratio (lid gap over eye width) above which an
# eye is open; inner-lip gap over mouth width above which the mouth is open; mouth width over
# eye-centre distance and corner lift above which a face smiles.
EYE_OPEN_RATIO = 0.19
MOUTH_OPEN_RATIO = 0.10
SMILE_WIDTH_RATIO = 0.92


def eyes_open(points: np.ndarray) -> Flag:
    """Open eyes from the lids' gap relative to the eye width (both eyes averaged)."""
    ratios = []
    for start in (36, 42):
        vertical = _distance(points, start + 1, start + 5) + _distance(points, start + 2, start + 4)
        ratios.append(vertical / (2 * max(_distance(points, start, start + 3), 1e-6)))
    return _flag(sum(ratios) / 2, EYE_OPEN_RATIO, 0.03)


def mouth_open(points: np.ndarray) -> Flag:
    """An open mouth from the inner lips' gap relative to the mouth width."""
    gap = _distance(points, 62, 66)
    return _flag(gap / max(_distance(points, 60, 64), 1e-6), MOUTH_OPEN_RATIO, 0.04)


def smile(points: np.ndarray) -> Flag:
    """A smile from a wide mouth relative to the eyes and corners raised above the lip centre."""
    eye_span = float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))
    width_ratio = _distance(points, 48, 54) / max(eye_span, 1e-6)
    lip_centre_y = (points[62, 1] + points[66, 1]) / 2
    corner_lift = (lip_centre_y - (points[48, 1] + points[54, 1]) / 2) / max(eye_span, 1e-6)
    return _flag(width_ratio + corner_lift, SMILE_WIDTH_RATIO, 0.06)
