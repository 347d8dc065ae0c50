"""Shared fixtures: real photos that installed packages ship, one shared analyzer, and the
scale-out engines (PostgreSQL with pgvector) started once per session."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
from tests.live.engines import PostgresServer, RedisServer, SeaweedFS, missing_engines

# The stores every store-backed suite runs against: the embedded one and PostgreSQL.
STORE_BACKENDS = ("sqlite", "postgresql")


def grace_hopper_path() -> Path:
    """matplotlib's sample photo of Grace Hopper (512x600 JPEG)."""
    import matplotlib
    import matplotlib.cbook

    try:
        return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except (OSError, ValueError, TypeError):
        return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """Eileen Collins, 512x512 RGB (scikit-image)."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut())


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    return grace_hopper_path()


@pytest.fixture(scope="session")
def hopper(hopper_path: Path) -> np.ndarray:
    """Grace Hopper, 512x600 RGB (matplotlib's sample data)."""
    return np.asarray(Image.open(hopper_path).convert("RGB"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the session, so the ResNet is converted once."""
    return tmp_path_factory.mktemp("facewise-data")


@pytest.fixture(scope="session")
def analyzer(data_dir: Path) -> FaceAnalyzer:
    return FaceAnalyzer(AnalyzerConfig(data_dir=data_dir))


@pytest.fixture(scope="session")
def analyzer_68(data_dir: Path) -> FaceAnalyzer:
    return FaceAnalyzer(AnalyzerConfig(landmarks_68=True, data_dir=data_dir))


@pytest.fixture(scope="session")
def analyzer_dlib(data_dir: Path) -> FaceAnalyzer:
    """The reference path: dlib runs its own ResNet."""
    return FaceAnalyzer(AnalyzerConfig(embedder="dlib", data_dir=data_dir))


def encode(image: np.ndarray | Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    """The array (or Pillow image) as image file bytes."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def cast(analyzer: FaceAnalyzer, astronaut: np.ndarray, hopper: np.ndarray):  # type: ignore[no-untyped-def]
    """Eileen and Grace as face sprites for the test videos."""
    from tests.video.scenes import make_cast

    return make_cast(analyzer, astronaut, hopper)


@pytest.fixture(scope="session")
def crossing_video(tmp_path_factory: pytest.TempPathFactory, cast) -> Path:  # type: ignore[no-untyped-def]
    """Eileen crosses, Grace crosses the other way, Eileen comes back (H.264, 640x360)."""
    from tests.video.scenes import CROSSING_MS, crossing_walks
    from tests.video.synth import encode, scene

    frames = scene(crossing_walks(cast), CROSSING_MS)
    return encode(frames, tmp_path_factory.mktemp("videos") / "crossing.mp4")


def skip_without_engines() -> None:
    """Skip the calling test when the scale-out engines are missing, unless `make test`
    requires them (FACEWISE_REQUIRE_LIVE=1), when their absence fails it instead."""
    reason = missing_engines()
    if reason is not None and not os.environ.get("FACEWISE_REQUIRE_LIVE"):
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server (with pgvector) on loopback for the session."""
    skip_without_engines()
    server = PostgresServer().start()
    yield server
    server.stop()


def postgres_database(server: PostgresServer, key: str) -> str:
    """The URL of the database named after ``key``, created on first use (the same key
    reopens the same database)."""
    name = "t_" + hashlib.sha256(key.encode()).hexdigest()[:20]
    return server.create_database(name, exist_ok=True)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of the test's own, keeping its queue in an append-only file."""
    skip_without_engines()
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def seaweedfs(tmp_path: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 gateway of the test's own."""
    skip_without_engines()
    server = SeaweedFS(tmp_path / "seaweedfs").start()
    yield server
    server.stop()
