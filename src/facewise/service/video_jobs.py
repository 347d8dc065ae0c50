"""Stored-video jobs (Rekognition Video's StartFaceDetection/GetFaceDetection and
StartFaceSearch/GetFaceSearch): started at once, analysed later by a queue's worker, read
a page at a time.

A job runs at most MAX_ATTEMPTS times: a server stopped mid-job runs it again after it
restarts, and a job that stopped the server twice fails instead of looping.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

from facewise.errors import (
    FacewiseError,
    IdempotentParameterMismatchError,
    InvalidPaginationTokenError,
    InvalidParameterError,
    ResourceNotFoundError,
    VideoTooLargeError,
)
from facewise.service.face_json import face_from_json
from facewise.service.identify import Identification, applied_threshold
from facewise.service.images import ObjectRef
from facewise.service.notifications import Topics
from facewise.service.options import REQUEST_TOKEN, parse_attributes, parse_limit, parse_name
from facewise.service.pagination import decode_token, encode_token
from facewise.service.scope import AccountService
from facewise.service.video_codec import match_from, metadata_from
from facewise.service.video_results import (
    FaceDetectionPage,
    FaceSearchPage,
    VideoFace,
    VideoJobStatus,
    VideoPerson,
)
from facewise.store.protocols import JobStore
from facewise.store.records import VideoJob, VideoResult, now_ms

FACE_DETECTION = "face_detection"
FACE_SEARCH = "face_search"
MAX_ATTEMPTS = 2
MAX_RESULTS = 1000  # Rekognition's largest page of a Get... operation
JOB_TAG = re.compile(r"[a-zA-Z0-9_.\-:+=/]{1,1024}")


class VideoJobs(AccountService):
    """Start and read the caller's video jobs."""

    @property
    def jobs(self) -> JobStore:
        if self.context.jobs is None:
            raise InvalidParameterError("this store keeps no video jobs")
        return self.context.jobs

    def start_face_detection(
        self,
        video: ObjectRef | Path | str,
        face_attributes: str = "DEFAULT",
        client_request_token: str | None = None,
        job_tag: str | None = None,
        notification_topic_arn: str | None = None,
    ) -> str:
        """A job finding every face at 5 analysed frames a second; returns its JobId.

        notification_topic_arn: an SNS topic ARN naming a facewise topic (its webhook is
        called when the job ends; service/notifications.py)."""
        attributes = sorted(a.value for a in parse_attributes(face_attributes))
        params = {"attributes": attributes, "topic": self._topic(notification_topic_arn)}
        return self._start(FACE_DETECTION, video, params, client_request_token, job_tag)

    def _topic(self, arn: str | None) -> str | None:
        return None if arn is None else Topics(self.context, self.caller).by_arn(arn)

    def start_face_search(
        self,
        video: ObjectRef | Path | str,
        collection_id: str,
        face_match_threshold: float | None = None,
        client_request_token: str | None = None,
        job_tag: str | None = None,
        notification_topic_arn: str | None = None,
    ) -> str:
        """A job naming, for each person in the video, the collection faces they match.

        face_match_threshold: 0-100, default 80; checked now, applied (raised to the floor)
        when the job runs."""
        record = self.searchable_collection(collection_id)
        self.context.policies.check_search(self.caller, record)
        if face_match_threshold is not None:
            applied_threshold(
                Identification.VIDEO_FACE_SEARCH, face_match_threshold, "face_match_threshold"
            )
        params = {
            "collection": record.name,
            "threshold": face_match_threshold,
            "topic": self._topic(notification_topic_arn),
        }
        return self._start(FACE_SEARCH, video, params, client_request_token, job_tag)

    def _start(
        self,
        kind: str,
        video: ObjectRef | Path | str,
        params: dict[str, Any],
        token: str | None,
        job_tag: str | None,
    ) -> str:
        if token is not None:
            parse_name("client_request_token", token, REQUEST_TOKEN)
        if job_tag is not None:
            parse_name("job_tag", job_tag, JOB_TAG)
        limits = self.context.video.limits
        if isinstance(video, ObjectRef):
            size = self.context.images.objects.size(video)
            where: dict[str, Any] = {"bucket": video.bucket, "name": video.name}
            if video.version:
                where["version"] = video.version
        else:
            path = Path(video)
            if not path.is_file():
                raise InvalidParameterError(f"video file not found: {path}")
            size, where = path.stat().st_size, {"path": str(path.absolute())}
        if size > limits.max_bytes:
            raise VideoTooLargeError(
                f"the video is {size:,} bytes; the limit is {limits.max_bytes:,}"
            )
        asked = {"video": where, "job_tag": job_tag, **params}
        fingerprint = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()
        caller = self.caller  # who started it, for the audit record of its search
        started_by = [caller.access_key_id, caller.request_id, caller.source_address, caller.role]
        request = json.dumps({**asked, "caller": started_by}, sort_keys=True)
        job = VideoJob(
            job_id=uuid.uuid4().hex,
            account=self.account,
            kind=kind,
            status="IN_PROGRESS",
            status_message=None,
            request=request,
            client_token=token,
            fingerprint=fingerprint,
            metadata=None,
            attempts=0,
            created_at_ms=now_ms(),
        )
        stored, created = self.jobs.create_job(job)
        if not created:
            if stored.fingerprint != fingerprint:
                raise IdempotentParameterMismatchError(
                    f"client request token {token!r} was used with other parameters"
                )
            return stored.job_id
        queue = self.context.queue
        if queue is None:
            raise InvalidParameterError("no job queue runs here")
        try:
            queue.submit(job.job_id)
        except FacewiseError:
            self.jobs.delete_job(job.job_id)  # never started: a retry with its token may run
            raise
        return job.job_id

    # -- reading ---------------------------------------------------------------------------

    def _job(self, job_id: str, kind: str) -> VideoJob:
        if not isinstance(job_id, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", job_id):
            raise InvalidParameterError("job_id must be 1-64 letters, digits, '-' or '_'")
        job = self.jobs.job(self.account, job_id)
        if job.kind != kind:
            raise ResourceNotFoundError(f"no {kind.replace('_', ' ')} job {job_id!r}")
        return job

    @staticmethod
    def _status(job: VideoJob) -> VideoJobStatus:
        request = json.loads(job.request)
        where = request["video"]
        video = (
            ObjectRef(where["bucket"], where["name"], where.get("version"))
            if "bucket" in where
            else None
        )
        return VideoJobStatus(
            job.job_id,
            job.status,
            job.status_message,
            metadata_from(job.metadata),
            video,
            request.get("job_tag"),
        )

    def _page(
        self,
        job: VideoJob,
        listing: str,
        max_results: int | None,
        next_token: str | None,
        by_person: bool = False,
    ) -> tuple[list[VideoResult], str | None]:
        # As Rekognition: more than 1000 asks for 1000.
        wanted = parse_limit("max_results", max_results, 1, 2**31, MAX_RESULTS)
        limit = min(wanted, MAX_RESULTS)
        after_text = decode_token(listing, next_token)
        if after_text is not None and not re.fullmatch(r"[0-9]{1,12}", after_text):
            raise InvalidPaginationTokenError("the pagination token is not valid")
        after = int(after_text) if after_text is not None else 0
        if job.status != "SUCCEEDED":
            return [], None
        rows = self.jobs.results(job.job_id, after, limit + 1, by_person)
        more = len(rows) > limit
        rows = rows[:limit]
        token = encode_token(listing, str(rows[-1][0])) if more and rows else None
        return [row for _, row in rows], token

    def get_face_detection(
        self, job_id: str, max_results: int | None = None, next_token: str | None = None
    ) -> FaceDetectionPage:
        """The job's status and, once it SUCCEEDED, its faces by time, a page at a time."""
        job = self._job(job_id, FACE_DETECTION)
        rows, token = self._page(job, f"video:{job.job_id}", max_results, next_token)
        faces = []
        for row in rows:
            face, frame_wh = face_from_json(row.detail)
            faces.append(VideoFace(row.timestamp_ms, face, frame_wh))
        return FaceDetectionPage(self._status(job), faces, token)

    def get_face_search(
        self,
        job_id: str,
        max_results: int | None = None,
        next_token: str | None = None,
        sort_by: str = "TIMESTAMP",
    ) -> FaceSearchPage:
        """Each person at each analysed moment, with what their track matched; sorted by
        TIMESTAMP or by INDEX (person, then time)."""
        if sort_by not in ("TIMESTAMP", "INDEX"):
            raise InvalidParameterError(f"sort_by must be TIMESTAMP or INDEX, got {sort_by!r}")
        job = self._job(job_id, FACE_SEARCH)
        listing = f"video:{job.job_id}:{sort_by}"
        rows, token = self._page(job, listing, max_results, next_token, sort_by == "INDEX")
        matches = {
            person: [match_from(m) for m in json.loads(text)]
            for person, text in self.jobs.persons(job.job_id).items()
        }
        persons = []
        for row in rows:
            face, frame_wh = face_from_json(row.detail)
            persons.append(
                VideoPerson(
                    row.timestamp_ms, row.person, face, frame_wh, matches.get(row.person, [])
                )
            )
        return FaceSearchPage(self._status(job), persons, token)

    def all_face_detection(self, job_id: str) -> FaceDetectionPage:
        """Every page of get_face_detection as one."""
        first = self.get_face_detection(job_id)
        faces, token = list(first.faces), first.next_token
        while token is not None:
            page = self.get_face_detection(job_id, next_token=token)
            faces, token = faces + page.faces, page.next_token
        return FaceDetectionPage(first.job, faces, None)

    def all_face_search(self, job_id: str, sort_by: str = "TIMESTAMP") -> FaceSearchPage:
        """Every page of get_face_search as one."""
        first = self.get_face_search(job_id, sort_by=sort_by)
        persons, token = list(first.persons), first.next_token
        while token is not None:
            page = self.get_face_search(job_id, next_token=token, sort_by=sort_by)
            persons, token = persons + page.persons, page.next_token
        return FaceSearchPage(first.job, persons, None)
