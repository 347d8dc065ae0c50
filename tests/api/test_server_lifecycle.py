"""A server of its own: saturation (ThrottlingException), graceful shutdown, first start."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.api import raw
from tests.api.server import ServerProcess
from tests.conftest import encode


@pytest.fixture(scope="module")
def big_photo(hopper: np.ndarray) -> bytes:
    """Grace Hopper tiled into a 1920x1200 photo: slow enough to keep a worker busy."""
    tile = np.asarray(Image.fromarray(hopper).resize((480, 600)))
    return encode(np.tile(tile, (2, 4, 1)), quality=90)


@pytest.fixture
def small_server(tmp_path: Path, data_dir: Path, analyzer: FaceAnalyzer) -> Iterator[ServerProcess]:
    """One inference worker and no waiting room: the second image request is refused."""
    analyzer.detect(np.zeros((100, 100, 3), np.uint8))
    process = ServerProcess(tmp_path / "small", ["--workers", "1", "--max-waiting", "0"])
    process.start(models_from=data_dir)
    yield process
    process.stop()


def test_saturated_server_answers_throttling(small_server: ServerProcess, big_photo: bytes) -> None:
    client = small_server.client()  # no retries: every refusal is visible

    def detect(_: int) -> str:
        try:
            client.detect_faces(Image={"Bytes": big_photo})
            return "ok"
        except ClientError as error:
            response = error.response
            return f"{response['Error']['Code']} {response['ResponseMetadata']['HTTPStatusCode']}"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(detect, range(16)))
    assert "ok" in outcomes
    assert "ThrottlingException 503" in outcomes
    assert set(outcomes) <= {"ok", "ThrottlingException 503"}
    # Store operations are not starved by a busy inference pool.
    assert "CollectionIds" in client.list_collections()
    # With botocore's retries, callers get through in the end.
    patient = small_server.client(retries=20)
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(lambda _: patient.detect_faces(Image={"Bytes": big_photo}), range(3))
        )
    assert all(len(a["FaceDetails"]) == 8 for a in answers)


def test_graceful_shutdown_finishes_running_requests(
    small_server: ServerProcess, big_photo: bytes
) -> None:
    client = small_server.client()
    client.create_collection(CollectionId="kept")
    client.index_faces(CollectionId="kept", Image={"Bytes": big_photo}, MaxFaces=3)
    finished: list[float] = []
    errors: list[str] = []

    def slow_call() -> None:
        try:
            client.search_faces_by_image(CollectionId="kept", Image={"Bytes": big_photo})
            finished.append(time.monotonic())
        except Exception as error:  # recorded and asserted below
            errors.append(repr(error))

    worker = threading.Thread(target=slow_call)
    worker.start()
    deadline = time.monotonic() + 30
    while "facewise_requests_in_flight 1" not in _metrics(small_server):
        assert time.monotonic() < deadline, "the request never arrived"
        time.sleep(0.005)
    signalled = time.monotonic()
    assert small_server.stop(signal.SIGTERM) == 0
    worker.join(30)
    assert errors == [] and finished and finished[0] >= signalled
    assert "facewise stopped" in small_server.output()

    # The data is all there for the next start, and the key still works.
    again = ServerProcess(small_server.data_dir).start()
    try:
        assert "Created the first access key" not in again.output()
        restarted = again.client(small_server.access_key_id, small_server.secret)
        assert restarted.describe_collection(CollectionId="kept")["FaceCount"] == 3
    finally:
        again.stop()


def _metrics(server: ServerProcess) -> str:
    return raw.send(server.url, method="GET", path="/metrics").body.decode()


def test_first_start_prints_the_key_exports(small_server: ServerProcess) -> None:
    output = small_server.output()
    assert "Created the first access key (account 'default')" in output
    assert f"export AWS_ACCESS_KEY_ID={small_server.access_key_id}" in output
    assert f"export AWS_SECRET_ACCESS_KEY={small_server.secret}" in output
    assert f"--endpoint-url {small_server.url}" in output


def test_a_taken_port_is_a_clear_error(server: ServerProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "facewise.cli.main",
            "serve",
            "--port",
            port,
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
