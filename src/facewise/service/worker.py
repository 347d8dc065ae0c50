"""`facewise worker`: runs the video jobs that `facewise serve` processes queue in Celery,
and stream processors (service/stream_leases.py).

Each job runs under a lease in the store (``job``/JobId), renewed every few seconds while
it runs. A second delivery of the same task finds the lease held and leaves the job to its
owner. A worker that dies stops renewing; once its lease has run out, the next reaper pass
of any live worker puts the job back on the queue, and whoever takes it starts a new attempt
(dropping the dead attempt's partial results, so nothing is reported twice). Attempts are
bounded (video_runner.MAX_ATTEMPTS): a video that kills every worker fails instead of
circling forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import ClassVar

from facewise.errors import FacewiseError
from facewise.service.context import ServiceContext
from facewise.service.stream_leases import LeasedRunner
from facewise.service.stream_runner import RecordEncoder
from facewise.service.video_runner import run_job
from facewise.store.protocols import LeaseStore

log = logging.getLogger(__name__)

JOB_LEASE = "job"
LEASE_MS = 15_000  # a dead worker's work is taken over this long after its last renewal
RENEW_S = 5.0  # renewals per lease: three, so one slow store write does not lose it
REAP_S = 5.0  # how often each worker looks for work whose owner died


def worker_name() -> str:
    """This process's name as lease owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeasedJobs:
    """Runs video jobs, each only while this worker holds its lease."""

    def __init__(self, context: ServiceContext, owner: str) -> None:
        if context.lease_store is None or context.jobs is None:
            raise FacewiseError("this store keeps no jobs or leases")
        self.context = context
        self.leases: LeaseStore = context.lease_store
        self.owner = owner
        self.closing = threading.Event()

    def run(self, job_id: str) -> None:
        """Run the job if nobody else does; never raises for the job's own failures."""
        if not self.leases.take_lease(JOB_LEASE, job_id, self.owner, LEASE_MS):
            log.info("video job %s is already running on another worker", job_id)
            return
        lost = threading.Event()
        done = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(job_id, done, lost), name=f"lease-{job_id}", daemon=True
        )
        renewer.start()
        try:
            run_job(self.context, job_id, stopping=lambda: lost.is_set() or self.closing.is_set())
        finally:
            done.set()
            renewer.join()
            self._hand_back(job_id, lost.is_set())

    def _renew(self, job_id: str, done: threading.Event, lost: threading.Event) -> None:
        while not done.wait(RENEW_S):
            try:
                held = self.leases.take_lease(JOB_LEASE, job_id, self.owner, LEASE_MS)
            except FacewiseError:
                log.warning("could not renew the lease of video job %s", job_id, exc_info=True)
                continue  # the lease lasts three renewals: try again
            if not held:
                log.warning("video job %s was taken over by another worker", job_id)
                lost.set()
                return

    def _hand_back(self, job_id: str, lost: bool) -> None:
        """After a run: release the lease; a job left unfinished by this worker's shutdown
        goes back on the queue for another worker."""
        if lost:
            return
        job = self.context.jobs.find_job(job_id) if self.context.jobs is not None else None
        self.leases.release_lease(JOB_LEASE, job_id, self.owner)
        if job is not None and job.status == "IN_PROGRESS" and self.context.queue is not None:
            self.context.queue.submit(job_id, over_limit=True)


class Reaper:
    """Puts back on the queue the jobs whose worker died (their lease ran out)."""

    def __init__(self, context: ServiceContext, every_s: float = REAP_S) -> None:
        self.context = context
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def reap(self) -> list[str]:
        """One pass; the job ids put back."""
        leases, jobs, queue = self.context.lease_store, self.context.jobs, self.context.queue
        if leases is None or jobs is None or queue is None:
            return []
        requeued = []
        for job_id in leases.expired_leases(JOB_LEASE):
            if not leases.reap_lease(JOB_LEASE, job_id):
                continue  # another worker's reaper took this one
            job = jobs.find_job(job_id)
            if job is not None and job.status == "IN_PROGRESS":
                queue.submit(job_id, over_limit=True)
                requeued.append(job_id)
                log.warning("video job %s lost its worker; queued again", job_id)
        return requeued

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.reap()
            except Exception:  # the store or the queue is away: try at the next pass
                log.exception("reaping video jobs")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def serve_jobs(
    context: ServiceContext,
    queue_url: str,
    concurrency: int,
    owner: str,
    encode: RecordEncoder,
    max_processors: int = 4,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Run Celery's worker on the video queue, and the stream processors this worker holds
    the lease of, until SIGTERM or SIGINT (a warm shutdown: running jobs stop at their next
    frame and go back on the queue; processors are left to the other workers)."""
    from celery import bootsteps

    from facewise.service.celery_queue import RUN_VIDEO_JOB, VIDEO_QUEUE, CeleryQueue

    queue = CeleryQueue(queue_url)
    context.queue = queue
    jobs = LeasedJobs(context, owner)
    app = queue.app

    @app.task(name=RUN_VIDEO_JOB)  # type: ignore[untyped-decorator]
    def run_video_job(job_id: str) -> None:
        jobs.run(job_id)

    class Ready(bootsteps.StartStopStep):  # type: ignore[misc]
        """Tells the caller once the worker consumes (and stops jobs when it shuts down)."""

        requires: ClassVar = {"celery.worker.consumer:Tasks"}

        def start(self, parent: object) -> None:
            ready()

        def shutdown(self, parent: object) -> None:
            jobs.closing.set()

    app.steps["consumer"].add(Ready)
    reaper = Reaper(context).start()
    context.background.append(reaper)
    context.live = LeasedRunner(context, encode, owner, max_processors).begin()
    worker = app.Worker(
        hostname=owner.replace(":", "-"),
        concurrency=concurrency,
        pool="threads",
        queues=[VIDEO_QUEUE],
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    worker.start()
