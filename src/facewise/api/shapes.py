"""Core results to Rekognition response shapes (plain JSON-ready dicts).

Names and structure follow botocore's Rekognition model (service-2.json): BoundingBox as
ratios of the image, Landmarks with X/Y ratios, Pose in degrees, Quality 0-100, Confidence
and Similarity 0-100.
"""

from __future__ import annotations

from typing import Any

from facewise.types import CompareFacesResult, DetectFacesResult, FaceAnalysis, Flag

Json = dict[str, Any]


def _camel(kind: str) -> str:
    head, *rest = kind.split("_")
    return head + "".join(word.capitalize() for word in rest)


def bounding_box(box_xyxy: tuple[float, float, float, float], image_wh: tuple[int, int]) -> Json:
    """Rekognition's BoundingBox: Width, Height, Left, Top as ratios of the image size."""
    width, height = image_wh
    x1, y1, x2, y2 = box_xyxy
    return {
        "Width": (x2 - x1) / width,
        "Height": (y2 - y1) / height,
        "Left": x1 / width,
        "Top": y1 / height,
    }


def _flag(flag: Flag) -> Json:
    return {"Value": flag.value, "Confidence": flag.score * 100.0}


def face_detail(face: FaceAnalysis, image_wh: tuple[int, int]) -> Json:
    """A FaceDetail: what was computed, nothing invented."""
    width, height = image_wh
    detail: Json = {
        "BoundingBox": bounding_box(face.box_xyxy, image_wh),
        "Confidence": face.score * 100.0,
    }
    if face.age_range is not None:
        detail["AgeRange"] = {"Low": face.age_range.low, "High": face.age_range.high}
    if face.smile is not None:
        detail["Smile"] = _flag(face.smile)
    if face.gender is not None:
        detail["Gender"] = {
            "Value": face.gender.value.capitalize(),
            "Confidence": face.gender.score * 100.0,
        }
    if face.eyes_open is not None:
        detail["EyesOpen"] = _flag(face.eyes_open)
    if face.mouth_open is not None:
        detail["MouthOpen"] = _flag(face.mouth_open)
    if face.landmarks:
        detail["Landmarks"] = [
            {"Type": _camel(mark.kind), "X": mark.x / width, "Y": mark.y / height}
            for mark in face.landmarks
        ]
    if face.pose is not None:
        detail["Pose"] = {
            "Roll": face.pose.roll_deg,
            "Yaw": face.pose.yaw_deg,
            "Pitch": face.pose.pitch_deg,
        }
    if face.quality is not None:
        detail["Quality"] = {
            "Brightness": face.quality.brightness,
            "Sharpness": face.quality.sharpness,
        }
    return detail


def detect_faces_response(result: DetectFacesResult) -> Json:
    """The DetectFaces response."""
    return {"FaceDetails": [face_detail(face, result.image_wh) for face in result.faces]}


def _compared_face(face: FaceAnalysis, image_wh: tuple[int, int]) -> Json:
    detail = face_detail(face, image_wh)
    allowed = ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality", "Smile")
    return {key: detail[key] for key in allowed if key in detail}


def compare_faces_response(result: CompareFacesResult) -> Json:
    """The CompareFaces response."""
    source = result.source_face
    return {
        "SourceImageFace": {
            "BoundingBox": bounding_box(source.box_xyxy, result.source_image_wh),
            "Confidence": source.score * 100.0,
        },
        "FaceMatches": [
            {
                "Similarity": match.similarity_pct,
                "Face": _compared_face(match.face, result.target_image_wh),
            }
            for match in result.matches
        ],
        "UnmatchedFaces": [_compared_face(f, result.target_image_wh) for f in result.unmatched],
    }
