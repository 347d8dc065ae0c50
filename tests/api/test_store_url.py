"""The store named by URL: `FACEWISE_STORE_URL=sqlite:///some/other.db facewise serve` serves
from that file, and a URL facewise cannot use stops the server with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from facewise.store import open_store
from tests.api.server import ServerProcess


def test_the_server_serves_the_store_the_url_names(server: ServerProcess, tmp_path: Path) -> None:
    models = server.data_dir  # the session server's converted models: no second conversion
    work = tmp_path / "work"
    work.mkdir()
    process = ServerProcess(
        tmp_path / "data", extra_env={"FACEWISE_STORE_URL": "sqlite:///some/other.db"}, cwd=work
    ).start(models_from=models)
    try:
        rekognition = process.client()
        rekognition.create_collection(CollectionId="elsewhere")
        assert [c for c in rekognition.list_collections()["CollectionIds"]] == ["elsewhere"]
    finally:
        assert process.stop() == 0
    database = work / "some" / "other.db"
    assert database.is_file()
    assert not (tmp_path / "data" / "facewise.sqlite3").exists()
    opened = open_store(f"sqlite:///{database}")
    try:
        assert [c.name for c in opened.faces.collections("default", None, 10)] == ["elsewhere"]
        stored_keys = opened.access_keys.keys()
        assert [k.access_key_id for k in stored_keys] == [process.access_key_id]
    finally:
        opened.close()


def _serve(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facewise.cli.main", "serve", "--port", "0", "--data-dir", "data"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "FACEWISE_STORE_URL": url},
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:1/faces",  # nothing listens on port 1
        "postgresql://127.0.0.1:1/faces?pool_size=lots",
        "mysql://db/faces",
        "facewise.sqlite3",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/file.db",
        "sqlite:///:memory:",
        "sqlite:///not-a-database.txt",
    ],
)
def test_a_url_facewise_cannot_use_is_one_clear_line(tmp_path: Path, url: str) -> None:
    (tmp_path / "not-a-database.txt").write_text("just some text, not SQLite\n" * 100)
    result = _serve(tmp_path, url)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facewise: "), result.stderr
    if url.startswith("postgresql:"):
        assert "PostgreSQL" in lines[0] or "pool_size" in lines[0]
    elif not url.startswith("sqlite:"):
        assert "sqlite://" in lines[0] and "supported" in lines[0]
    assert "Traceback" not in result.stderr
    assert (tmp_path / "not-a-database.txt").read_text().startswith("just some text")


def test_keys_and_collections_commands_take_the_same_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/keys.db"  # four slashes: an absolute path
    run = [sys.executable, "-m", "facewise.cli.main"]
    created = subprocess.run(
        [*run, "keys", "create", "--store-url", url], capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    listed = subprocess.run(
        [*run, "collections", "create", "door", "--store-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    opened = open_store(url)
    try:
        assert len(opened.access_keys.keys()) == 1
        assert [c.name for c in opened.faces.collections("default", None, 10)] == ["door"]
    finally:
        opened.close()
