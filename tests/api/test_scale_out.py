"""A scale-out deployment: `facewise serve` on PostgreSQL queues video jobs in Celery on
Redis and `facewise worker` processes run them and the stream processors. A worker SIGKILLed
mid-job leaves the job to another, with nothing reported twice; Redis restarted with jobs
queued loses none; a dead worker's stream processor is taken over within 30 s; images and
multipart videos come by reference from SeaweedFS (an S3-compatible store)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api.cluster import WorkerProcess
from tests.api.server import ServerProcess, code_of
from tests.api.test_streams import ROLE, _camera_arn, _data_stream_arn, _records, _status, _until
from tests.api.test_video_restart import REF, _faces, _repeated_crossings
from tests.api.test_video_restart import _status as _job_status
from tests.conftest import postgres_database
from tests.live.engines import PostgresServer, RedisServer, SeaweedFS
from tests.live.services import free_port
from tests.video.scenes import CROSSING_MS, Cast, crossing_walks
from tests.video.synth import encode, scene, scene_frames

LONG_MS = 96000
pytestmark = pytest.mark.engines  # the fixtures skip (or, under `make test`, fail) without them


def _deployment(
    tmp_path: Path, models: Path, postgres: PostgresServer, redis: RedisServer, cast: Cast
) -> tuple[ServerProcess, dict[str, str]]:
    """A server on PostgreSQL and Redis whose bucket folder holds videos/long.mp4, and the
    environment its workers need."""
    env = {
        "FACEWISE_STORE_URL": postgres_database(postgres, str(tmp_path)),
        "FACEWISE_QUEUE_URL": redis.url,
    }
    video = encode(scene_frames(_repeated_crossings(cast, LONG_MS), LONG_MS), tmp_path / "l.mp4")
    server = ServerProcess(tmp_path / "api", extra_env=env)
    bucket = server.data_dir / "buckets" / "videos"
    bucket.mkdir(parents=True)
    (bucket / "long.mp4").write_bytes(video.read_bytes())
    return server.start(models_from=models), env


def _worker(tmp_path: Path, name: str, env: dict[str, str], models: Path) -> WorkerProcess:
    """A worker whose data directory holds the same bucket folder as the server's."""
    folder = tmp_path / name
    (folder / "buckets").mkdir(parents=True)
    (folder / "buckets" / "videos").symlink_to(tmp_path / "api" / "buckets" / "videos")
    return WorkerProcess(folder, env).start(models_from=models)


def _wait(client: Any, *job_ids: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while any(_job_status(client, job_id) == "IN_PROGRESS" for job_id in job_ids):
        assert time.monotonic() < deadline, "the jobs did not finish"
        time.sleep(0.5)


def test_a_worker_killed_mid_job_leaves_it_to_another(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    cast: Cast,
    postgres: PostgresServer,
    redis: RedisServer,
) -> None:
    server, env = _deployment(tmp_path, data_dir, postgres, redis, cast)
    first = _worker(tmp_path, "worker-1", env, data_dir)
    second: WorkerProcess | None = None
    try:
        client = server.client()
        job_id = client.start_face_detection(Video=REF)["JobId"]
        deadline = time.monotonic() + 60
        while not any("run_video_job" in line and "received" in line for line in first.log):
            assert time.monotonic() < deadline, first.output()
            time.sleep(0.1)
        time.sleep(2.0)  # well into the video
        assert _job_status(client, job_id) == "IN_PROGRESS"
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = time.monotonic()
        second = _worker(tmp_path, "worker-2", env, data_dir)
        _wait(client, job_id)
        assert _job_status(client, job_id) == "SUCCEEDED"
        assert "lost its worker; queued again" in second.output()
        taken_over_s = time.monotonic() - killed_at
        print(f"video job finished {taken_over_s:.1f} s after its worker was killed")
        reference = client.start_face_detection(Video=REF, JobTag="reference")["JobId"]
        _wait(client, reference)
        expected = _faces(client, reference)
        assert len(expected) > 100
        assert _faces(client, job_id) == expected, taken_over_s  # nothing twice, nothing lost
    finally:
        for process in (first, second):
            if process is not None:
                process.stop(signal.SIGKILL)
        server.stop()


def test_jobs_queued_while_redis_restarts_are_not_lost(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    cast: Cast,
    postgres: PostgresServer,
    redis: RedisServer,
) -> None:
    server, env = _deployment(tmp_path, data_dir, postgres, redis, cast)
    worker: WorkerProcess | None = None
    try:
        client = server.client()
        queued = [
            client.start_face_detection(Video=REF, JobTag=f"queued-{i}")["JobId"] for i in range(2)
        ]
        redis.stop()  # no worker has taken them: they wait in Redis, on disk
        redis.start()
        worker = _worker(tmp_path, "worker", env, data_dir)
        _wait(client, *queued)
        assert {_job_status(client, job_id) for job_id in queued} == {"SUCCEEDED"}
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def test_a_dead_workers_stream_processor_is_taken_over_within_30_s(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    cast: Cast,
    crossing_video: Path,
    astronaut_jpeg: bytes,
    postgres: PostgresServer,
    redis: RedisServer,
) -> None:
    server, env = _deployment(tmp_path, data_dir, postgres, redis, cast)
    workers = [_worker(tmp_path, f"worker-{i}", env, data_dir) for i in (1, 2)]
    try:
        rekognition, kinesis = server.client(), server.kinesis()
        rekognition.create_collection(CollectionId="hall")
        rekognition.index_faces(CollectionId="hall", Image={"Bytes": astronaut_jpeg})
        camera = _camera_arn(server, "hall", str(crossing_video), "--loop")
        rekognition.create_stream_processor(
            Name="hall-watch",
            Input={"KinesisVideoStream": {"Arn": camera}},
            Output={"KinesisDataStream": {"Arn": _data_stream_arn(kinesis, "hall-matches")}},
            Settings={"FaceSearch": {"CollectionId": "hall"}},
            RoleArn=ROLE,
        )
        rekognition.start_stream_processor(Name="hall-watch")
        _until(lambda: len(_records(kinesis, "hall-matches")) >= 1, 60, "a first record")
        (owner,) = [w for w in workers if "taking stream processor" in w.output()]
        (other,) = [w for w in workers if w is not owner]
        assert owner.stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = time.monotonic()
        _until(lambda: "taking stream processor" in other.output(), 30, "a takeover")
        taken_s = time.monotonic() - killed_at
        print(f"stream processor taken over {taken_s:.1f} s after its worker was killed")
        counted = len(_records(kinesis, "hall-matches"))
        _until(lambda: len(_records(kinesis, "hall-matches")) > counted, 30, "new records")
        assert _status(rekognition, "hall-watch")["Status"] == "RUNNING", taken_s
        rekognition.stop_stream_processor(Name="hall-watch")
        _until(lambda: _status(rekognition, "hall-watch")["Status"] == "STOPPED", 10, "STOPPED")
    finally:
        for worker in workers:
            worker.stop(signal.SIGKILL)
        server.stop()


def _noisy(frames: Iterator[np.ndarray], seed: int = 0) -> Iterator[np.ndarray]:
    """Frames with a little grain: the video no longer compresses to almost nothing."""
    rng = np.random.default_rng(seed)
    for frame in frames:
        grain = rng.integers(-3, 4, frame.shape, dtype=np.int16)
        yield np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def test_images_and_multipart_videos_by_reference_from_seaweedfs(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    cast: Cast,
    astronaut_jpeg: bytes,
    postgres: PostgresServer,
    redis: RedisServer,
    seaweedfs: SeaweedFS,
) -> None:
    """The server reads S3Object images and the worker S3Object videos from SeaweedFS; the
    server's credentials come from AWS_* variables, the worker's from a profile."""
    video = encode(_noisy(scene(crossing_walks(cast), CROSSING_MS)), tmp_path / "v.mp4", crf=8)
    assert video.stat().st_size > 16 * 1024 * 1024  # uploaded in several parts
    s3 = seaweedfs.client()
    s3.create_bucket(Bucket="lobby")
    s3.put_object(Bucket="lobby", Key="people/eileen.jpg", Body=astronaut_jpeg)
    parts = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.upload_file(str(video), "lobby", "door/2026-12-04.mp4", Config=parts)
    assert s3.head_object(Bucket="lobby", Key="door/2026-12-04.mp4")["ETag"].endswith('-3"')

    env = {
        "FACEWISE_STORE_URL": postgres_database(postgres, str(tmp_path)),
        "FACEWISE_QUEUE_URL": redis.url,
    }
    endpoint = ["--s3-endpoint-url", seaweedfs.url]
    keys = {"AWS_ACCESS_KEY_ID": seaweedfs.access_key_id}
    keys["AWS_SECRET_ACCESS_KEY"] = seaweedfs.secret
    server = ServerProcess(tmp_path / "api", endpoint, extra_env={**env, **keys})
    server.start(models_from=data_dir)
    profile = tmp_path / "credentials"
    profile.write_text(
        f"[lobby]\naws_access_key_id = {seaweedfs.access_key_id}\n"
        f"aws_secret_access_key = {seaweedfs.secret}\n"
    )
    worker_env = {**env, "AWS_SHARED_CREDENTIALS_FILE": str(profile), "AWS_PROFILE": "lobby"}
    worker = WorkerProcess(tmp_path / "worker", worker_env, args=endpoint)
    worker.start(models_from=data_dir)
    try:
        rekognition = server.client()
        rekognition.create_collection(CollectionId="lobby")
        indexed = rekognition.index_faces(
            CollectionId="lobby",
            Image={"S3Object": {"Bucket": "lobby", "Name": "people/eileen.jpg"}},
        )
        (record,) = indexed["FaceRecords"]
        door = {"S3Object": {"Bucket": "lobby", "Name": "door/2026-12-04.mp4"}}
        job_id = rekognition.start_face_search(Video=door, CollectionId="lobby")["JobId"]
        deadline = time.monotonic() + 300
        while (found := rekognition.get_face_search(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.5)
        assert found["JobStatus"] == "SUCCEEDED", found.get("StatusMessage")
        matched = {
            match["Face"]["FaceId"]
            for person in found["Persons"]
            for match in person.get("FaceMatches", [])
        }
        assert matched == {record["Face"]["FaceId"]}
        missing = {"S3Object": {"Bucket": "lobby", "Name": "door/none.mp4"}}
        with pytest.raises(ClientError) as caught:
            rekognition.start_face_detection(Video=missing)
        assert code_of(caught) == ("InvalidS3ObjectException", 400)
    finally:
        worker.stop()
        server.stop()


def _servers(tmp_path: Path, models: Path, env: dict[str, str], *args: list[str]) -> list[Any]:
    """`facewise serve` processes on one store, started one after another (the first makes
    the first key; the others get it)."""
    started: list[ServerProcess] = []
    for i, extra in enumerate(args):
        server = ServerProcess(tmp_path / f"api-{i}", extra, extra_env=env)
        server.start(models_from=models)
        if started:
            server.access_key_id, server.secret = started[0].access_key_id, started[0].secret
        started.append(server)
    return started


def test_several_servers_answer_for_one_store_at_once(
    tmp_path: Path,
    data_dir: Path,
    analyzer: FaceAnalyzer,
    postgres: PostgresServer,
    astronaut_jpeg: bytes,
    hopper_jpeg: bytes,
) -> None:
    """Two servers on their own ports, the second searching in-process (vectors=local): a
    face indexed through one is found through the other at once, and a face deleted through
    one is gone from the other's answers at once; one SIGKILLed in the middle of IndexFaces
    calls loses none it answered."""
    url = postgres_database(postgres, str(tmp_path))
    env = {"FACEWISE_STORE_URL": url}
    first, second = _servers(tmp_path, data_dir, env, [], ["--store-url", f"{url}?vectors=local"])
    try:
        one, other = first.client(), second.client()
        one.create_collection(CollectionId="staff")
        for image in (astronaut_jpeg, hopper_jpeg):
            (record,) = one.index_faces(CollectionId="staff", Image={"Bytes": image})["FaceRecords"]
            found = other.search_faces_by_image(CollectionId="staff", Image={"Bytes": image})
            assert found["FaceMatches"][0]["Face"]["FaceId"] == record["Face"]["FaceId"]
            assert found["FaceMatches"][0]["Similarity"] > 99
        one.delete_faces(CollectionId="staff", FaceIds=[record["Face"]["FaceId"]])
        found = other.search_faces_by_image(CollectionId="staff", Image={"Bytes": hopper_jpeg})
        assert record["Face"]["FaceId"] not in {m["Face"]["FaceId"] for m in found["FaceMatches"]}

        answered: list[str] = []
        stop = threading.Event()

        def index_until_killed(image: bytes) -> None:
            client = first.client()
            while not stop.is_set():
                try:
                    reply = client.index_faces(CollectionId="staff", Image={"Bytes": image})
                except Exception:  # the server died under this call: nothing was answered
                    return
                answered.extend(r["Face"]["FaceId"] for r in reply["FaceRecords"])

        threads = [
            threading.Thread(target=index_until_killed, args=(image,))
            for image in (astronaut_jpeg, hopper_jpeg, astronaut_jpeg)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3.0)
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        stop.set()
        for thread in threads:
            thread.join(60)
        assert len(answered) >= 3
        stored: set[str] = set()
        token: str | None = None
        while True:
            page = other.list_faces(CollectionId="staff", **({"NextToken": token} if token else {}))
            stored |= {face["FaceId"] for face in page["Faces"]}
            token = page.get("NextToken")
            if not token:
                break
        assert set(answered) <= stored
        print(f"{len(answered)} faces answered before SIGKILL; {len(stored)} stored")
        assert second.stop() == 0  # a graceful stop snapshots the in-process index
        assert list((tmp_path / "api-1" / "vectors").glob("*/collection-*/vectors"))
    finally:
        for server in (first, second):
            server.stop(signal.SIGKILL)


def test_servers_share_one_address(
    tmp_path: Path, data_dir: Path, analyzer: FaceAnalyzer, postgres: PostgresServer
) -> None:
    """Two servers with --reuse-port on one port: connections reach both, and both answer."""
    env = {"FACEWISE_STORE_URL": postgres_database(postgres, str(tmp_path))}
    port = str(free_port())
    shared = ["--port", port, "--reuse-port"]
    servers = _servers(tmp_path, data_dir, env, shared, shared)
    try:
        created = servers[0].client()
        created.create_collection(CollectionId="door")
        for _ in range(40):  # a new client, so a new connection, each time
            client = servers[1].client()
            assert client.describe_collection(CollectionId="door")["FaceCount"] == 0
            client.close()

        def served() -> list[int]:
            return [sum("DescribeCollection" in line for line in s.log) for s in servers]

        _until(lambda: sum(served()) == 40, 10, "every request in the access logs")
        assert min(served()) > 0, served()
    finally:
        for server in servers:
            server.stop()
