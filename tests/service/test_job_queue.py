"""The embedded job queue: bounded, never killed by a failing job, housekeeping when idle;
and the job store's retention."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from facewise.errors import LimitExceededError
from facewise.service.job_queue import EmbeddedQueue
from facewise.store.records import VideoJob
from facewise.store.sql_jobs import SqlJobStore
from facewise.store.sqlite_db import SqliteDatabase


def _wait_for(condition, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_full_queue_refuses_and_a_failing_job_does_not_stop_the_worker() -> None:
    release = threading.Event()
    done: list[str] = []

    def run(job_id: str) -> None:
        if job_id == "boom":
            raise RuntimeError("a bug in one job")
        release.wait(10)
        done.append(job_id)

    jobs = EmbeddedQueue(run, workers=1, max_queued=2)
    jobs.submit("boom")
    jobs.submit("a")
    _wait_for(lambda: jobs._jobs.qsize() == 0)  # "a" is running, nothing waits
    jobs.submit("b")
    jobs.submit("c")
    with pytest.raises(LimitExceededError):
        jobs.submit("d")
    release.set()
    _wait_for(lambda: done == ["a", "b", "c"])
    jobs.close()


def test_housekeeping_runs_when_idle_at_most_once_a_period() -> None:
    calls: list[float] = []
    jobs = EmbeddedQueue(
        lambda job_id: None, housekeeping=lambda: calls.append(1.0), housekeeping_every_s=0.3
    )
    time.sleep(1.0)
    jobs.close()
    assert 2 <= len(calls) <= 4


def test_finished_jobs_expire_with_their_results(tmp_path: Path) -> None:
    store = SqlJobStore(SqliteDatabase(tmp_path / "jobs.db"))

    def job(job_id: str) -> VideoJob:
        return VideoJob(
            job_id, "acct", "face_detection", "IN_PROGRESS", None, "{}", None, "fp", None, 0, 1
        )

    for job_id in ("old", "running"):
        store.create_job(job(job_id))
    store.finish_job("old", "SUCCEEDED", None, None)
    assert store.delete_finished_before(0) == 0
    assert store.delete_finished_before(int(time.time() * 1000) + 1000) == 1
    assert store.find_job("old") is None and store.find_job("running") is not None


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=", "t=²,v1=" + "0" * 64, "t=" + "9" * 5000 + ",v1=x", "t=1,v1=é" + "0" * 63],
)
def test_a_malformed_signature_is_false_not_an_error(header: str) -> None:
    from facewise.service.notifications import verify

    assert verify("secret", header, b"{}") is False


def test_a_signature_verifies_only_for_its_body_and_secret() -> None:
    from facewise.service.notifications import sign, verify

    header = sign("secret", int(time.time() * 1000), b'{"JobId": "x"}')
    assert verify("secret", header, b'{"JobId": "x"}')
    assert not verify("other", header, b'{"JobId": "x"}')
    assert not verify("secret", header, b'{"JobId": "y"}')
    stale = sign("secret", int(time.time() * 1000) - 600_000, b"{}")
    assert not verify("secret", stale, b"{}")


def test_jobs_accepted_before_a_restart_are_queued_past_the_limit() -> None:
    ran: list[str] = []
    jobs = EmbeddedQueue(ran.append, workers=1, max_queued=1)
    jobs.close()  # no worker takes anything: the queue only fills
    jobs.submit("a")
    with pytest.raises(LimitExceededError):
        jobs.submit("b")
    jobs.submit("b", over_limit=True)
    assert jobs._jobs.qsize() == 2 and ran == []
