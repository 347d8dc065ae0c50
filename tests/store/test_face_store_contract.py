"""The FaceStore contract: every backend (SQLite, PostgreSQL, the in-memory fake) must pass
these.

Add a backend by adding its factory to STORES; nothing else changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import (
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    StoreError,
)
from facewise.store.postgres_db import PostgresDatabase
from facewise.store.protocols import FaceStore, KeyStore
from facewise.store.records import AccessKey, NewFace
from facewise.store.sql_database import SqlDatabase
from facewise.store.sql_faces import SqlFaceStore
from facewise.store.sql_keys import SqlKeyStore
from facewise.store.sqlite_db import SqliteDatabase
from tests.conftest import postgres_database
from tests.fakes.memory_store import MemoryFaceStore

StoreFactory = Callable[[Path], FaceStore]
BACKENDS = ("sqlite", "postgresql", "memory")


def _database(kind: str, request: pytest.FixtureRequest) -> Callable[[Path], SqlDatabase]:
    """Opens the SQL database a test folder stands for (the same folder, the same data)."""
    if kind == "postgresql":
        server = request.getfixturevalue("postgres")
        return lambda folder: PostgresDatabase(postgres_database(server, str(folder)))
    return lambda folder: SqliteDatabase(folder / "facewise.sqlite3")


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "memory":
        return MemoryFaceStore.shared
    database = _database(request.param, request)
    return lambda folder: SqlFaceStore(database(folder), owns_database=True)


@pytest.fixture
def store(factory, tmp_path) -> Iterator[FaceStore]:
    opened = factory(tmp_path)
    yield opened
    opened.close()


def new_faces(count: int, seed: int = 0, image_id: str = "img", external: str | None = None):
    rng = np.random.default_rng(seed)
    return [
        NewFace(
            image_id, external, (0.1, 0.2, 0.3, 0.4), 0.99, rng.normal(size=128).astype(np.float32)
        )
        for _ in range(count)
    ]


def test_collections_are_scoped_by_account(store):
    a = store.create_collection("acct-a", "staff", "v1", {"k": "v"})
    store.create_collection("acct-b", "staff", "v1", {})
    assert store.collection("acct-a", "staff") == a and a.tags == {"k": "v"}
    with pytest.raises(ResourceAlreadyExistsError):
        store.create_collection("acct-a", "staff", "v1", {})
    with pytest.raises(ResourceNotFoundError):
        store.collection("acct-c", "staff")
    assert [c.name for c in store.collections("acct-a", None, 10)] == ["staff"]
    store.delete_collection("acct-b", "staff")
    assert store.collections("acct-b", None, 10) == []
    assert store.collection("acct-a", "staff").row_id == a.row_id


def test_collections_page_by_name(store):
    for name in ("b", "d", "a", "c"):
        store.create_collection("x", name, "v1", {})
    assert [c.name for c in store.collections("x", None, 2)] == ["a", "b"]
    assert [c.name for c in store.collections("x", "b", 10)] == ["c", "d"]


def test_faces_roundtrip_with_exact_descriptors(store):
    collection = store.create_collection("x", "c", "v1", {})
    batch = new_faces(3, external="photo.jpg")
    stored = store.add_faces(collection, batch)
    assert len({f.face_id for f in stored}) == 3
    assert store.counts(collection) == (3, 0)
    keys, vectors = store.embeddings(collection)
    by_key = dict(zip(keys.tolist(), vectors, strict=True))
    for face, new in zip(stored, batch, strict=True):
        assert np.array_equal(by_key[face.row_id], new.embedding)
        again, vector = store.face_with_embedding(collection, face.face_id)
        assert again == face and np.array_equal(vector, new.embedding)
    assert store.has_external_image_id(collection, "photo.jpg")
    assert not store.has_external_image_id(collection, "other.jpg")


def test_a_bad_face_stores_none_of_its_batch(store):
    collection = store.create_collection("x", "c", "v1", {})
    batch = new_faces(2)
    broken = NewFace("img", None, (0, 0, 1, 1), 0.9, np.full(128, np.nan, dtype=np.float32))
    with pytest.raises(StoreError):
        store.add_faces(collection, [*batch, broken])
    assert store.counts(collection) == (0, 0)
    assert store.changes_since(collection, 0) == []


def test_faces_page_and_filter(store):
    collection = store.create_collection("x", "c", "v1", {})
    stored = store.add_faces(collection, new_faces(5))
    ordered = sorted(f.face_id for f in stored)
    first = store.faces(collection, None, 2)
    rest = store.faces(collection, first[-1].face_id, 10)
    assert [f.face_id for f in first + rest] == ordered
    chosen = store.faces(collection, face_ids=[ordered[3], ordered[1]])
    assert [f.face_id for f in chosen] == [ordered[1], ordered[3]]
    assert store.faces_by_row(collection, [stored[0].row_id]) == {stored[0].row_id: stored[0]}


def test_deleting_faces_logs_the_change(store):
    collection = store.create_collection("x", "c", "v1", {})
    stored = store.add_faces(collection, new_faces(3))
    deleted = store.delete_faces(collection, [stored[1].face_id, "missing"])
    assert [f.face_id for f in deleted] == [stored[1].face_id]
    changes = store.changes_since(collection, 0)
    assert [(c.face_row_id, c.added) for c in changes] == [
        (stored[0].row_id, True),
        (stored[1].row_id, True),
        (stored[2].row_id, True),
        (stored[1].row_id, False),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    with pytest.raises(ResourceNotFoundError):
        store.face_with_embedding(collection, stored[1].face_id)


def test_change_log_compaction(store):
    collection = store.create_collection("x", "c", "v1", {})
    store.add_faces(collection, new_faces(3))
    _, last = store.log_state(collection)
    store.forget_changes(collection, last - 1)
    compacted, still_last = store.log_state(collection)
    assert compacted == last - 1 and still_last == last
    assert [c.seq for c in store.changes_since(collection, 0)] == [last]
    store.forget_changes(collection, last)
    assert store.log_state(collection) == (last, last)


def test_users_tokens_and_associations(store):
    collection = store.create_collection("x", "c", "v1", {})
    face = store.add_faces(collection, new_faces(1))[0]
    with store.write() as tx:
        assert tx.create_user(collection, "ann") is True
        assert tx.create_user(collection, "ann") is False
        tx.set_face_user(face, "ann")
        tx.remember_token(collection, "tok", "fp", '{"ok": 1}')
    with store.write() as tx:
        assert tx.token_result(collection, "tok") == ("fp", '{"ok": 1}')
        assert tx.token_result(collection, "other") is None
    assert store.user(collection, "ann").status == "active"
    assert store.user_face_rows(collection) == {face.row_id: "ann"}
    assert [u.user_id for u in store.users(collection, None, 10)] == ["ann"]
    with store.write() as tx:
        assert tx.delete_user(collection, "ann") is True
    assert store.faces(collection)[0].user_id is None
    with pytest.raises(ResourceNotFoundError):
        store.user(collection, "ann")


def test_failed_write_transaction_leaves_no_trace(store):
    collection = store.create_collection("x", "c", "v1", {})
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.create_user(collection, "ghost")
        raise RuntimeError("abort")
    with pytest.raises(ResourceNotFoundError):
        store.user(collection, "ghost")


def test_deleting_a_collection_deletes_everything_in_it(store):
    collection = store.create_collection("x", "c", "v1", {})
    store.add_faces(collection, new_faces(2))
    store.delete_collection("x", "c")
    again = store.create_collection("x", "c", "v1", {})
    assert store.counts(again) == (0, 0) and store.embeddings(again)[0].size == 0


def test_reopening_keeps_everything(factory, tmp_path):
    first = factory(tmp_path)
    collection = first.create_collection("x", "c", "v1", {})
    stored = first.add_faces(collection, new_faces(2))
    first.close()
    second = factory(tmp_path)
    try:
        assert [f.face_id for f in second.faces(second.collection("x", "c"))] == sorted(
            f.face_id for f in stored
        )
    finally:
        second.close()


def test_row_ids_are_never_reused(store):
    """A recreated collection (or a new face) never takes an old row id, so no vector index
    can mistake new rows for old ones."""
    first = store.create_collection("x", "c", "v1", {})
    old_face = store.add_faces(first, new_faces(1))[0]
    store.delete_faces(first, [old_face.face_id])
    new_face = store.add_faces(first, new_faces(1, seed=1))[0]
    assert new_face.row_id > old_face.row_id
    store.delete_collection("x", "c")
    second = store.create_collection("x", "c", "v1", {})
    assert second.row_id > first.row_id


@pytest.mark.parametrize("kind", BACKENDS)
def test_access_keys_are_added_listed_and_revoked(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    opener: Callable[[Path], KeyStore] = (
        MemoryFaceStore.shared
        if kind == "memory"
        else lambda folder: SqlKeyStore(_database(kind, request)(folder))
    )
    keys = opener(tmp_path)
    first = keys.add_key("FWAAA", "secret-a", "default")
    keys.add_key("FWBBB", "secret-b", "lobby")
    assert keys.key("FWAAA") == first and first.active and first.secret == "secret-a"
    listed = keys.keys()
    assert [k.access_key_id for k in listed] == ["FWAAA", "FWBBB"]
    assert keys.revoke_key("FWBBB") is True
    assert keys.revoke_key("FWBBB") is False and keys.revoke_key("FWNONE") is False
    revoked = keys.key("FWBBB")
    assert revoked is not None and not revoked.active and revoked.account == "lobby"
    assert keys.key("FWNONE") is None
    again = opener(tmp_path)  # reopened: the keys are kept
    relisted = again.keys()
    assert [(k.access_key_id, k.active) for k in relisted] == [
        ("FWAAA", True),
        ("FWBBB", False),
    ]


@pytest.mark.parametrize("kind", BACKENDS)
def test_of_stores_racing_for_the_first_key_exactly_one_adds_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Servers starting at once on an empty store: each with a store of its own (its own
    connections), all asking at the same moment."""
    opener: Callable[[Path], KeyStore] = (
        MemoryFaceStore.shared
        if kind == "memory"
        else lambda folder: SqlKeyStore(_database(kind, request)(folder))
    )
    stores = [opener(tmp_path) for _ in range(6)]
    start = threading.Barrier(len(stores))
    added: list[object] = []

    def race(index: int) -> None:
        start.wait()
        added.append(stores[index].add_first_key(f"FWFIRST{index}", "s", "default"))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [key for key in added if isinstance(key, AccessKey)]
    assert len(added) == len(stores) and len(winners) == 1
    listed = stores[0].keys()
    assert [key.access_key_id for key in listed] == [winners[0].access_key_id]
    assert stores[0].add_first_key("FWLATE", "s", "default") is None
