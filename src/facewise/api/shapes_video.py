"""The video job operations' responses in Rekognition's shapes (botocore's model)."""

from __future__ import annotations

from facewise.api.shapes import Json, bounding_box, face_detail
from facewise.api.shapes_collections import face
from facewise.service.video_results import FaceDetectionPage, FaceSearchPage, VideoJobStatus


def _job(status: VideoJobStatus) -> Json:
    shown: Json = {"JobId": status.job_id, "JobStatus": status.status}
    if status.status_message:
        shown["StatusMessage"] = status.status_message
    if status.metadata is not None:
        m = status.metadata
        shown["VideoMetadata"] = {
            "Codec": m.codec,
            "DurationMillis": m.duration_ms,
            "Format": m.format,
            "FrameRate": m.frame_rate,
            "FrameWidth": m.frame_wh[0],
            "FrameHeight": m.frame_wh[1],
            "ColorRange": m.color_range,
        }
    if status.video is not None:
        s3: Json = {"Bucket": status.video.bucket, "Name": status.video.name}
        if status.video.version:
            s3["Version"] = status.video.version
        shown["Video"] = {"S3Object": s3}
    if status.job_tag:
        shown["JobTag"] = status.job_tag
    return shown


def get_face_detection_response(page: FaceDetectionPage) -> Json:
    shown = _job(page.job)
    shown["Faces"] = [
        {"Timestamp": f.timestamp_ms, "Face": face_detail(f.face, f.frame_wh)} for f in page.faces
    ]
    if page.next_token is not None:
        shown["NextToken"] = page.next_token
    return shown


def get_face_search_response(page: FaceSearchPage) -> Json:
    shown = _job(page.job)
    shown["Persons"] = [
        {
            "Timestamp": p.timestamp_ms,
            "Person": {
                "Index": p.index,
                "BoundingBox": bounding_box(p.face.box_xyxy, p.frame_wh),
                "Face": face_detail(p.face, p.frame_wh),
            },
            "FaceMatches": [
                {"Similarity": m.similarity_pct, "Face": face(m.face)} for m in p.matches
            ],
        }
        for p in page.persons
    ]
    if page.next_token is not None:
        shown["NextToken"] = page.next_token
    return shown
