"""StartFaceDetection, GetFaceDetection, StartFaceSearch and GetFaceSearch."""

from __future__ import annotations

from facewise.api import errors
from facewise.api import shapes_video as out
from facewise.api.handlers.call import Call, Json
from facewise.api.images import object_ref
from facewise.service.images import ObjectRef
from facewise.service.video_jobs import VideoJobs


def _video(params: Json) -> ObjectRef:
    video = params["Video"]
    if "S3Object" not in video:
        raise errors.InvalidParameter("Video needs an S3Object")
    return object_ref(video["S3Object"])


def _topic_arn(params: Json) -> str | None:
    channel = params.get("NotificationChannel")
    return None if channel is None else str(channel["SNSTopicArn"])  # RoleArn is not used


class VideoHandlers:
    def __init__(self, call: Call) -> None:
        self.jobs = VideoJobs(call.context, call.caller)

    def start_face_detection(self, params: Json) -> Json:
        job_id = self.jobs.start_face_detection(
            _video(params),
            params.get("FaceAttributes", "DEFAULT"),
            params.get("ClientRequestToken"),
            params.get("JobTag"),
            _topic_arn(params),
        )
        return {"JobId": job_id}

    def get_face_detection(self, params: Json) -> Json:
        page = self.jobs.get_face_detection(
            params["JobId"], params.get("MaxResults"), params.get("NextToken")
        )
        return out.get_face_detection_response(page)

    def start_face_search(self, params: Json) -> Json:
        job_id = self.jobs.start_face_search(
            _video(params),
            params["CollectionId"],
            params.get("FaceMatchThreshold"),
            params.get("ClientRequestToken"),
            params.get("JobTag"),
            _topic_arn(params),
        )
        return {"JobId": job_id}

    def get_face_search(self, params: Json) -> Json:
        page = self.jobs.get_face_search(
            params["JobId"],
            params.get("MaxResults"),
            params.get("NextToken"),
            params.get("SortBy", "TIMESTAMP"),
        )
        return out.get_face_search_response(page)
