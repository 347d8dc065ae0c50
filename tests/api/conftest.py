"""One facewise server for the API tests, started as a user would start it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api.cluster import WorkerProcess
from tests.api.server import ServerProcess
from tests.conftest import STORE_BACKENDS, encode, postgres_database
from tests.live.engines import RedisServer


@pytest.fixture(scope="session", params=STORE_BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    data_dir: Path,
    analyzer: FaceAnalyzer,
) -> Iterator[ServerProcess]:
    """The server on each deployment in turn (every test that uses it runs on both): the
    embedded one, and the scale-out one (PostgreSQL, video jobs through Redis to a `facewise
    worker` reading the same bucket folder), sharing the session's converted models."""
    from facewise.models.resnet_onnx import prepare
    from facewise.settings import model_cache_dir

    prepare(model_cache_dir(data_dir))
    folder = tmp_path_factory.mktemp(f"served-{request.param}")
    if request.param == "sqlite":
        process = ServerProcess(folder).start(models_from=data_dir)
        yield process
        process.stop()
        return
    redis = RedisServer(folder / "redis").start()
    env = {
        "FACEWISE_STORE_URL": postgres_database(request.getfixturevalue("postgres"), "api"),
        "FACEWISE_QUEUE_URL": redis.url,
    }
    (folder / "buckets").mkdir()
    (folder / "worker").mkdir()
    (folder / "worker" / "buckets").symlink_to(folder / "buckets")
    worker = WorkerProcess(folder / "worker", env, concurrency=2).start(models_from=data_dir)
    process = ServerProcess(folder, extra_env=env).start(models_from=data_dir)
    yield process
    process.stop()
    worker.stop()
    redis.stop()


@pytest.fixture(scope="session")
def rekognition(server: ServerProcess):  # type: ignore[no-untyped-def]
    """A boto3 client signed with the server's first key (account 'default')."""
    return server.client()


@pytest.fixture(scope="session")
def hopper_jpeg(hopper_path: Path) -> bytes:
    return hopper_path.read_bytes()


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut) -> bytes:  # type: ignore[no-untyped-def]
    return encode(astronaut)
