"""Stored-video jobs (Rekognition Video's StartFaceDetection/GetFaceDetection and
StartFaceSearch/GetFaceSearch): started at once, analysed later by a queue's worker, read
a page at a time.

A job runs at most MAX_ATTEMPTS times: a server stopped mid-job runs it again after it
restarts, and a job that stopped the server twice fails instead of looping.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facewise.errors import (
    FacewiseError,
    IdempotentParameterMismatchError,
    InvalidParameterError,
    ResourceNotFoundError,
    VideoTooLargeError,
)
from facewise.service.analysis import estimates, project
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.face_json import face_from_json, face_to_json
from facewise.service.identify import Identification, Outcome, applied_threshold, identify
from facewise.service.images import ObjectRef
from facewise.service.notifications import Topics, notify
from facewise.service.options import REQUEST_TOKEN, parse_attributes, parse_limit, parse_name
from facewise.service.pagination import decode_token, encode_token
from facewise.service.results import FaceSearchMatch
from facewise.service.scope import AccountService
from facewise.service.search import nearest_faces
from facewise.service.video_results import (
    FaceDetectionPage,
    FaceSearchPage,
    VideoFace,
    VideoJobStatus,
    VideoPerson,
)
from facewise.store.protocols import JobStore
from facewise.store.records import CollectionRecord, StoredFace, VideoJob, VideoResult
from facewise.store.sqlite_schema import now_ms
from facewise.video.analysis import FrameFace, TrackSample, analyse_video
from facewise.video.decode import VideoMetadata
from facewise.video.identity import Vote, decide

log = logging.getLogger(__name__)

FACE_DETECTION = "face_detection"
FACE_SEARCH = "face_search"
MAX_ATTEMPTS = 2
MAX_RESULTS = 1000  # Rekognition's largest page of a Get... operation
RESULT_BATCH = 256  # results written per store transaction while a video is analysed
MATCHES_PER_FRAME = 10
JOB_TAG = re.compile(r"[a-zA-Z0-9_.\-:+=/]{1,1024}")


def _metadata_json(metadata: VideoMetadata) -> str:
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


def _metadata_from(text: str | None) -> VideoMetadata | None:
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


def _match_json(match: FaceSearchMatch) -> dict[str, Any]:
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


def _match_from(data: dict[str, Any]) -> FaceSearchMatch:
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

        face_match_threshold: 0-100, default 80; checked now, applied when the job runs."""
        record = self.searchable_collection(collection_id)
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
        request = json.dumps({"video": where, "job_tag": job_tag, **params}, sort_keys=True)
        fingerprint = hashlib.sha256(request.encode()).hexdigest()
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
        except FacewiseError as error:
            self.jobs.finish_job(job.job_id, "FAILED", f"not started: {error}", None)
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
            _metadata_from(job.metadata),
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
        limit = parse_limit("max_results", max_results, 1, MAX_RESULTS, MAX_RESULTS)
        after_text = decode_token(listing, next_token)
        after = int(after_text) if after_text is not None and after_text.isdigit() else 0
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
            person: [_match_from(m) for m in json.loads(text)]
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


# -- running (in a queue worker) -----------------------------------------------------------


class _Results:
    """Results written to the store in batches as they are found."""

    def __init__(self, jobs: JobStore, job_id: str, detail: Callable[[FrameFace], str]) -> None:
        self.jobs, self.job_id, self.detail = jobs, job_id, detail
        self.batch: list[VideoResult] = []
        self.seq = 0

    def add(self, found: FrameFace) -> None:
        self.batch.append(
            VideoResult(self.seq, found.timestamp_ms, found.track, self.detail(found))
        )
        self.seq += 1
        if len(self.batch) >= RESULT_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.jobs.add_results(self.job_id, self.batch)
            self.batch = []


def run_job(
    context: ServiceContext,
    job_id: str,
    on_progress: Callable[[int, int], None] = lambda done_ms, total_ms: None,
) -> None:
    """Analyse one job's video and record the outcome; never raises for a bad video.

    on_progress(done_ms, total_ms) is called after each analysed frame."""
    jobs = context.jobs
    if jobs is None:
        return
    job = jobs.find_job(job_id)
    if job is None or job.status != "IN_PROGRESS":
        return
    attempt = jobs.start_attempt(job_id)
    if attempt > MAX_ATTEMPTS:
        jobs.finish_job(
            job_id,
            "FAILED",
            f"facewise stopped {MAX_ATTEMPTS} times while analysing this video; not retried",
            None,
        )
        return
    request = json.loads(job.request)
    where = request["video"]
    try:
        if "path" in where:
            metadata = _analyse(context, jobs, job, request, Path(where["path"]), on_progress)
        else:
            ref = ObjectRef(where["bucket"], where["name"], where.get("version"))
            with context.images.objects.local_file(ref) as path:
                metadata = _analyse(context, jobs, job, request, path, on_progress)
    except FacewiseError as error:
        _finish(jobs, job, "FAILED", str(error)[:1000], None)
        return
    except Exception:  # our bug: the job fails, the worker lives
        log.exception("video job %s failed", job_id)
        _finish(jobs, job, "FAILED", "facewise failed on this video; see its log", None)
        return
    _finish(jobs, job, "SUCCEEDED", None, _metadata_json(metadata))


def _finish(
    jobs: JobStore, job: VideoJob, status: str, message: str | None, metadata: str | None
) -> None:
    jobs.finish_job(job.job_id, status, message, metadata)
    notify(jobs, job, status)


def _analyse(
    context: ServiceContext,
    jobs: JobStore,
    job: VideoJob,
    request: dict[str, Any],
    path: Path,
    on_progress: Callable[[int, int], None],
) -> VideoMetadata:
    settings = context.video
    if job.kind == FACE_DETECTION:
        wanted = parse_attributes(request["attributes"])
        results = _Results(
            jobs, job.job_id, lambda f: face_to_json(project(f.face, wanted), f.frame_wh)
        )
        metadata, _ = analyse_video(
            path,
            context.analyzer,
            settings.analysis,
            settings.limits,
            estimates(wanted),
            on_face=results.add,
            on_progress=on_progress,
        )
        results.flush()
        return metadata
    record = context.store.collection(job.account, request["collection"])
    shown = frozenset(parse_attributes("DEFAULT"))
    results = _Results(jobs, job.job_id, lambda f: face_to_json(project(f.face, shown), f.frame_wh))
    metadata, samples = analyse_video(
        path,
        context.analyzer,
        settings.analysis,
        settings.limits,
        embed=True,
        on_face=results.add,
        on_progress=on_progress,
    )
    results.flush()
    persons = identify(
        context.audit,
        Caller(job.account),
        Identification.VIDEO_FACE_SEARCH,
        record.name,
        request.get("threshold"),
        lambda threshold: _decide_tracks(context, record, samples, threshold),
        lambda decided: Outcome(
            sum(len(s) for s in samples.values()),
            sorted({m.face.face_id for found in decided.values() for m in found}),
        ),
    )
    jobs.set_persons(
        job.job_id,
        {track: json.dumps([_match_json(m) for m in found]) for track, found in persons.items()},
    )
    return metadata


def _decide_tracks(
    context: ServiceContext,
    record: CollectionRecord,
    samples: dict[int, list[TrackSample]],
    threshold: float,
) -> dict[int, list[FaceSearchMatch]]:
    """Each track's matched faces, by the identity rule over its embedded frames."""
    decided: dict[int, list[FaceSearchMatch]] = {}
    rule = context.video.analysis.identity
    for track, kept in samples.items():
        votes, faces = [], {}
        for sample in kept:
            found = nearest_faces(context, record, sample.embedding, MATCHES_PER_FRAME, threshold)
            for match in found:
                faces[match.face.face_id] = match.face
            votes.append(
                Vote(
                    sample.weight,
                    [(identity_key(m.face), m.face.face_id, m.similarity_pct) for m in found],
                )
            )
        decision = decide(votes, rule)
        if decision is not None:
            ranked = sorted(decision.faces.items(), key=lambda item: -item[1])
            decided[track] = [FaceSearchMatch(faces[face_id], s) for face_id, s in ranked]
    return decided


def delete_expired(context: ServiceContext) -> int:
    """Delete the jobs (and results) that finished longer ago than the retention period."""
    if context.jobs is None:
        return 0
    return context.jobs.delete_finished_before(now_ms() - context.video.retention_ms)


def resume_jobs(context: ServiceContext) -> int:
    """Queue again the jobs a stopped server left IN_PROGRESS; drop expired results."""
    jobs, queue = context.jobs, context.queue
    if jobs is None or queue is None:
        return 0
    delete_expired(context)
    resumed = 0
    for job in jobs.unfinished_jobs():
        try:
            queue.submit(job.job_id)
            resumed += 1
        except FacewiseError:
            jobs.finish_job(
                job.job_id, "FAILED", "facewise restarted with too many jobs waiting", None
            )
    return resumed


class InlineQueue:
    """Runs each job at once, in the caller's thread (the library and the CLI)."""

    def __init__(self, run: Callable[[str], None]) -> None:
        self._run = run

    def submit(self, job_id: str) -> None:
        self._run(job_id)

    def close(self) -> None:
        return None


def analysed_now(
    context: ServiceContext,
    caller: Caller,
    on_progress: Callable[[int, int], None] = lambda done_ms, total_ms: None,
) -> VideoJobs:
    """Video jobs over the same store that run as they are started (start returns when the
    job has finished); the jobs are kept in the store like any other."""
    inline = dataclasses.replace(context)
    inline.queue = InlineQueue(lambda job_id: run_job(inline, job_id, on_progress))
    return VideoJobs(inline, caller)
