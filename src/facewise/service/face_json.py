"""A FaceAnalysis (without its descriptor) to JSON text and back: how video results are
kept in the job store. Plain snake_case data; the protocol layer names it for the wire."""

from __future__ import annotations

import json
from typing import Any

from facewise.types import (
    AgeRange,
    FaceAnalysis,
    FaceDetection,
    Flag,
    Gender,
    ImageQuality,
    Landmark,
    Pose,
)


def _flag(flag: Flag | None) -> list[Any] | None:
    return None if flag is None else [flag.value, flag.score]


def face_to_json(face: FaceAnalysis, frame_wh: tuple[int, int]) -> str:
    """The face and the size of the frame it was found in."""
    d = face.detection
    data = {
        "frame_wh": list(frame_wh),
        "box": list(d.box_xyxy),
        "score": d.score,
        "points": [list(p) for p in d.landmarks_xy],
        "landmarks": [[m.kind, m.x, m.y] for m in face.landmarks],
        "pose": None
        if face.pose is None
        else [face.pose.roll_deg, face.pose.yaw_deg, face.pose.pitch_deg],
        "quality": None
        if face.quality is None
        else [face.quality.brightness, face.quality.sharpness],
        "age": None if face.age_range is None else [face.age_range.low, face.age_range.high],
        "gender": None if face.gender is None else [face.gender.value, face.gender.score],
        "smile": _flag(face.smile),
        "eyes_open": _flag(face.eyes_open),
        "mouth_open": _flag(face.mouth_open),
    }
    return json.dumps(data, separators=(",", ":"))


def _to_flag(value: list[Any] | None) -> Flag | None:
    return None if value is None else Flag(bool(value[0]), float(value[1]))


def face_from_json(text: str) -> tuple[FaceAnalysis, tuple[int, int]]:
    data = json.loads(text)
    box = tuple(float(v) for v in data["box"])
    detection = FaceDetection(
        (box[0], box[1], box[2], box[3]),
        float(data["score"]),
        tuple((float(x), float(y)) for x, y in data["points"]),
    )
    pose, quality, age, gender = data["pose"], data["quality"], data["age"], data["gender"]
    face = FaceAnalysis(
        detection,
        landmarks=tuple(Landmark(str(k), float(x), float(y)) for k, x, y in data["landmarks"]),
        pose=None if pose is None else Pose(*map(float, pose)),
        quality=None if quality is None else ImageQuality(*map(float, quality)),
        age_range=None if age is None else AgeRange(int(age[0]), int(age[1])),
        gender=None if gender is None else Gender(str(gender[0]), float(gender[1])),
        smile=_to_flag(data["smile"]),
        eyes_open=_to_flag(data["eyes_open"]),
        mouth_open=_to_flag(data["mouth_open"]),
    )
    width, height = data["frame_wh"]
    return face, (int(width), int(height))
