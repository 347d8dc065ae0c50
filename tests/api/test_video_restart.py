"""Video jobs survive the server: SIGKILL in the middle of one job (with another waiting),
and after a restart both finish, with the same results as an uninterrupted job."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api.server import ServerProcess, code_of
from tests.video.scenes import Cast, crossing_walks
from tests.video.synth import Walk, encode, scene_frames


def _repeated_crossings(cast: Cast, duration_ms: int) -> list[Walk]:
    """The crossing scene again every 8 s."""
    return [
        Walk(w.face, w.start_ms + offset, w.end_ms + offset, w.top, w.rightwards)
        for offset in range(0, duration_ms, 8000)
        for w in crossing_walks(cast)
    ]


def _faces(client: Any, job_id: str) -> list[tuple[int, float]]:
    items, token = [], None
    while True:
        page = client.get_face_detection(JobId=job_id, **({"NextToken": token} if token else {}))
        items += [
            (f["Timestamp"], round(f["Face"]["BoundingBox"]["Left"], 3)) for f in page["Faces"]
        ]
        token = page.get("NextToken")
        if not token:
            return items


REF = {"S3Object": {"Bucket": "videos", "Name": "long.mp4"}}


def _serving(folder: Path, models: Path, walks: list[Walk], ms: int, *args: str) -> ServerProcess:
    """A server of its own whose bucket folder holds the walks as videos/long.mp4."""
    video = encode(scene_frames(walks, ms), folder / "long.mp4")
    server = ServerProcess(folder / "data", ["--video-workers", "1", *args])
    bucket = server.data_dir / "buckets" / "videos"
    bucket.mkdir(parents=True)
    (bucket / "long.mp4").write_bytes(video.read_bytes())
    return server.start(models_from=models)


def _status(client: Any, job_id: str) -> str:
    return str(client.get_face_detection(JobId=job_id, MaxResults=1)["JobStatus"])


def test_jobs_killed_mid_run_finish_after_a_restart(
    tmp_path: Path, data_dir: Path, analyzer: FaceAnalyzer, cast: Cast
) -> None:
    # 96 s of people walking: several seconds of analysis, long enough to be killed midway.
    server = _serving(tmp_path, data_dir, _repeated_crossings(cast, 96000), 96000)
    client = server.client()
    ref = REF
    running = client.start_face_detection(Video=ref)["JobId"]
    waiting = client.start_face_detection(Video=ref, JobTag="second")["JobId"]
    time.sleep(1.0)
    assert _status(client, running) == "IN_PROGRESS"
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL

    again = ServerProcess(server.data_dir).start()
    try:
        restarted = again.client(server.access_key_id, server.secret)
        deadline = time.monotonic() + 300
        while {_status(restarted, j) for j in (running, waiting)} != {"SUCCEEDED"}:
            assert time.monotonic() < deadline, "the resumed jobs did not finish"
            time.sleep(0.5)
        assert "resumed 2 unfinished video jobs" in again.output()
        reference = restarted.start_face_detection(Video=ref, JobTag="reference")["JobId"]
        while _status(restarted, reference) == "IN_PROGRESS":
            assert time.monotonic() < deadline, "the reference job did not finish"
            time.sleep(0.5)
        expected = _faces(restarted, reference)
        assert len(expected) > 100
        assert _faces(restarted, running) == expected  # nothing duplicated, nothing lost
        assert _faces(restarted, waiting) == expected
    finally:
        again.stop()


def test_past_the_queue_start_answers_limit_exceeded(
    tmp_path: Path, data_dir: Path, cast: Cast
) -> None:
    server = _serving(tmp_path, data_dir, crossing_walks(cast), 60000, "--max-queued-jobs", "1")
    try:
        client = server.client()
        ref = REF
        running = client.start_face_detection(Video=ref)["JobId"]
        time.sleep(0.5)  # the worker polls every 0.2 s: it has taken the first job
        waiting = client.start_face_detection(Video=ref, JobTag="waits")["JobId"]
        with pytest.raises(ClientError) as caught:
            client.start_face_detection(Video=ref, JobTag="one-too-many")
        assert code_of(caught) == ("LimitExceededException", 400)
        assert {_status(client, running), _status(client, waiting)} == {"IN_PROGRESS"}
    finally:
        server.stop()


def test_a_graceful_stop_leaves_a_running_job_to_the_next_start(
    tmp_path: Path, data_dir: Path, cast: Cast
) -> None:
    """SIGTERM mid-job: the server stops at the job's next frame (it does not wait for the
    video or fail the job), and the next start finishes it."""
    server = _serving(tmp_path, data_dir, _repeated_crossings(cast, 96000), 96000)
    client = server.client()
    job_id = client.start_face_detection(Video=REF)["JobId"]
    time.sleep(1.0)
    assert _status(client, job_id) == "IN_PROGRESS"
    stopped_at = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - stopped_at < 10
    again = ServerProcess(server.data_dir).start()
    try:
        restarted = again.client(server.access_key_id, server.secret)
        deadline = time.monotonic() + 120
        while (status := _status(restarted, job_id)) == "IN_PROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert status == "SUCCEEDED"
        assert "resumed 1 unfinished video jobs" in again.output()
    finally:
        again.stop()
