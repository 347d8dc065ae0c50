"""How video job data is kept in the job store: metadata and a track's matches as JSON
text (snake_case, no AWS names), and the key faces are voted under."""

from __future__ import annotations

import json
from typing import Any

from facewise.service.results import FaceSearchMatch
from facewise.store.records import StoredFace
from facewise.video.decode import VideoMetadata


def metadata_json(metadata: VideoMetadata) -> str:
    return json.dumps(
        {
            "codec": metadata.codec,
            "duration_ms": metadata.duration_ms,
            "format": metadata.format,
            "frame_rate": metadata.frame_rate,
            "frame_wh": list(metadata.frame_wh),
            "color_range": metadata.color_range,
            "rotation_deg": metadata.rotation_deg,
        }
    )


def metadata_from(text: str | None) -> VideoMetadata | None:
    if text is None:
        return None
    data = json.loads(text)
    return VideoMetadata(
        str(data["codec"]),
        int(data["duration_ms"]),
        str(data["format"]),
        float(data["frame_rate"]),
        (int(data["frame_wh"][0]), int(data["frame_wh"][1])),
        str(data["color_range"]),
        int(data["rotation_deg"]),
    )


def match_json(match: FaceSearchMatch) -> dict[str, Any]:
    face = match.face
    return {
        "face_id": face.face_id,
        "image_id": face.image_id,
        "external_image_id": face.external_image_id,
        "box_ratio": list(face.box_ratio),
        "confidence": face.confidence,
        "user_id": face.user_id,
        "similarity_pct": match.similarity_pct,
    }


def match_from(data: dict[str, Any]) -> FaceSearchMatch:
    box = [float(v) for v in data["box_ratio"]]
    face = StoredFace(
        0,
        str(data["face_id"]),
        str(data["image_id"]),
        data["external_image_id"],
        (box[0], box[1], box[2], box[3]),
        float(data["confidence"]),
        data["user_id"],
        0,
    )
    return FaceSearchMatch(face, float(data["similarity_pct"]))


def identity_key(face: StoredFace) -> str:
    """Who a collection face is for voting: its user, else its ExternalImageId, else itself."""
    if face.user_id:
        return f"user:{face.user_id}"
    if face.external_image_id:
        return f"external:{face.external_image_id}"
    return f"face:{face.face_id}"
