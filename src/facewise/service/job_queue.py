"""The small queue interface video jobs run behind, and its embedded implementation.

A queue takes job ids and runs each once, later, on one of a bounded number of workers.
The embedded queue is threads inside the server process; the scale-out issue puts Celery on
Redis behind the same interface.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from facewise.errors import LimitExceededError

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    def submit(self, job_id: str, over_limit: bool = False) -> None:
        """Run the job later; LimitExceededError when the queue is full (unless over_limit:
        jobs accepted before a restart are queued whatever the limit)."""
        ...

    def close(self) -> None:
        """Stop taking jobs; let running ones finish."""
        ...


class EmbeddedQueue:
    """Worker threads in this process.

    workers: jobs analysed at once (default in the server: one per core); each already
        uses the models' threads, so more than the cores slows every job down.
    max_queued: jobs that may wait; past it submit raises LimitExceededError, as
        Rekognition does, rather than queueing without bound.
    """

    def __init__(
        self,
        run: Callable[[str], None],
        workers: int = 1,
        max_queued: int = 20,
        housekeeping: Callable[[], object] = lambda: None,
        housekeeping_every_s: float = 3600.0,
    ) -> None:
        self._run = run
        self._housekeeping = housekeeping
        self._housekeeping_every_s = housekeeping_every_s
        self._last_housekeeping = time.monotonic()
        self._housekeeping_lock = threading.Lock()
        self._stopping = threading.Event()
        self._max_queued = max_queued
        self._jobs: queue.Queue[str] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"video-job-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job_id: str, over_limit: bool = False) -> None:
        if not over_limit and self._jobs.qsize() >= self._max_queued:
            raise LimitExceededError(
                "too many video jobs are waiting; try again when some have finished"
            )
        self._jobs.put(job_id)

    def stopping(self) -> bool:
        """Whether close() was called (a running job should stop at its next frame)."""
        return self._stopping.is_set()

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job_id = self._jobs.get(timeout=0.2)
            except queue.Empty:
                self._maybe_housekeep()
                continue
            if self._stopping.is_set():
                return  # still IN_PROGRESS in the store: it runs after the next start
            try:
                self._run(job_id)
            except Exception:  # a job's failure is recorded by run; never kill the worker
                log.exception("video job %s failed unexpectedly", job_id)
            self._maybe_housekeep()  # also under steady load, not only when idle

    def _maybe_housekeep(self) -> None:
        """Run the housekeeping (e.g. deleting expired results) at most once per period."""
        with self._housekeeping_lock:
            if time.monotonic() - self._last_housekeeping < self._housekeeping_every_s:
                return
            self._last_housekeeping = time.monotonic()
        try:
            self._housekeeping()
        except Exception:
            log.exception("video job housekeeping failed")

    def close(self, timeout_s: float = 30.0) -> None:
        """Take no more jobs and wait up to timeout_s for the running ones; jobs still
        waiting stay IN_PROGRESS in the store and run after the next start."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
