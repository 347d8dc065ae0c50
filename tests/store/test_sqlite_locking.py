"""SQLite specifics: a writer locked out past the busy timeout gets a StoreError, not a crash."""

from __future__ import annotations

import sqlite3

import pytest

from facewise.errors import StoreError
from facewise.store import sqlite_db
from facewise.store.sql_faces import SqlFaceStore


def test_write_lock_timeout_is_a_store_error(tmp_path, monkeypatch):
    path = tmp_path / "facewise.sqlite3"
    SqlFaceStore(path).close()
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_MS", 200)
    store = SqlFaceStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StoreError, match="cannot write"):
            store.create_collection("x", "c", "v1", {})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.create_collection("x", "c", "v1", {}).name == "c"  # and then it works
    store.close()
