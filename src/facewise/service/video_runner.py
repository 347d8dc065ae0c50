"""Running video jobs (in a queue's worker, or inline for the library and CLI): decode,
track, embed, search through ``identify``, and record the outcome; never raises for a bad
video. A job runs at most MAX_ATTEMPTS times (see video_jobs.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facewise.errors import FacewiseError
from facewise.service.analysis import SHOWN_BY_SEARCH, estimates, project
from facewise.service.caller import Caller
from facewise.service.context import ServiceContext
from facewise.service.face_json import face_to_json
from facewise.service.identify import Identification, Outcome, identify
from facewise.service.images import ObjectRef
from facewise.service.notifications import notify
from facewise.service.options import parse_attributes
from facewise.service.results import FaceSearchMatch
from facewise.service.search import nearest_faces
from facewise.service.video_codec import identity_key, match_json, metadata_json
from facewise.service.video_jobs import FACE_DETECTION, MAX_ATTEMPTS, VideoJobs
from facewise.store.protocols import JobStore
from facewise.store.records import CollectionRecord, VideoJob, VideoResult, now_ms
from facewise.video.analysis import FrameFace, TrackSample, analyse_video
from facewise.video.decode import VideoMetadata
from facewise.video.identity import Vote, decide

log = logging.getLogger(__name__)

RESULT_BATCH = 256  # results written per store transaction while a video is analysed
MATCHES_PER_FRAME = 10


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


class _Stopped(Exception):
    """The server is stopping: the job is left IN_PROGRESS, to run after the next start."""


def run_job(
    context: ServiceContext,
    job_id: str,
    on_progress: Callable[[int, int], None] = lambda done_ms, total_ms: None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Analyse one job's video and record the outcome; never raises for a bad video.

    on_progress(done_ms, total_ms) is called after each analysed frame; when ``stopping()``
    turns true the analysis ends there and the job stays IN_PROGRESS for the next start."""
    jobs = context.jobs
    if jobs is None:
        return

    def progress(done_ms: int, total_ms: int) -> None:
        if stopping():
            raise _Stopped
        on_progress(done_ms, total_ms)

    try:
        job = jobs.find_job(job_id)
        if job is None or job.status != "IN_PROGRESS":
            return
        attempt = jobs.start_attempt(job_id)
    except FacewiseError:  # the store is busy or gone: the job runs after the next start
        log.exception("could not start video job %s", job_id)
        return
    if attempt > MAX_ATTEMPTS:
        message = f"facewise stopped {MAX_ATTEMPTS} times while analysing this video"
        _finish(jobs, job, "FAILED", f"{message}; not retried", None)
        return
    request = json.loads(job.request)
    where = request["video"]
    try:
        if "path" in where:
            metadata = _analyse(context, jobs, job, request, Path(where["path"]), progress)
        else:
            ref = ObjectRef(where["bucket"], where["name"], where.get("version"))
            with context.images.objects.local_file(ref) as path:
                metadata = _analyse(context, jobs, job, request, path, progress)
    except _Stopped:
        return
    except FacewiseError as error:
        _finish(jobs, job, "FAILED", str(error)[:1000], None)
        return
    except Exception:  # our bug: the job fails, the worker lives
        if stopping():  # interpreter shutdown breaks the lanes: not the video's fault
            return
        log.exception("video job %s failed", job_id)
        _finish(jobs, job, "FAILED", "facewise failed on this video; see its log", None)
        return
    _finish(jobs, job, "SUCCEEDED", None, metadata_json(metadata))


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
    searching = job.kind != FACE_DETECTION
    # A search reports each face's DEFAULT attributes; its collection is checked first.
    record = context.store.collection(job.account, request["collection"]) if searching else None
    wanted = SHOWN_BY_SEARCH if searching else parse_attributes(request["attributes"])
    results = _Results(
        jobs, job.job_id, lambda f: face_to_json(project(f.face, wanted), f.frame_wh)
    )
    metadata, samples = analyse_video(
        path,
        context.analyzer,
        settings.analysis,
        settings.limits,
        estimates(wanted),
        embed=searching,
        on_face=results.add,
        on_progress=on_progress,
    )
    results.flush()
    if record is None:
        return metadata
    persons = identify(
        context.rules,
        Caller(job.account, *request.get("caller", [])),
        Identification.VIDEO_FACE_SEARCH,
        record,
        request.get("threshold"),
        lambda threshold: _decide_tracks(context, record, samples, threshold),
        lambda decided: Outcome(
            sum(len(s) for s in samples.values()),
            sorted({m.face.face_id for found in decided.values() for m in found}),
        ),
    )
    jobs.set_persons(
        job.job_id,
        {track: json.dumps([match_json(m) for m in found]) for track, found in persons.items()},
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
            queue.submit(job.job_id, over_limit=True)  # accepted before: not refused now
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

    def submit(self, job_id: str, over_limit: bool = False) -> None:
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
