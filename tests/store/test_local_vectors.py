"""PostgreSQL with ``vectors=local``: every process (here, two "hosts" with data directories
of their own) searches an in-memory index of its own, replayed from the shared change log.

Real PostgreSQL on loopback; each test has a database of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import InvalidParameterError
from facewise.store.backends import LOCAL_VECTORS_FOLDER, OpenedStore, open_store
from facewise.store.indexes import CollectionIndexes
from facewise.store.pgvector_index import PgvectorIndexes
from facewise.store.postgres_db import split_url
from tests.conftest import postgres_database
from tests.store.test_face_store_contract import new_faces

pytestmark = pytest.mark.engines


@pytest.fixture
def url(postgres, request) -> str:
    return postgres_database(postgres, request.node.nodeid) + "?vectors=local"


@pytest.fixture
def host(
    url: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[OpenedStore, CollectionIndexes]]]:
    """Opens a "host": the store and the local indexes of data directory tmp_path/NAME.
    Every store it opened is closed when the test ends."""
    opened_stores: list[OpenedStore] = []

    def open_host(name: str, snapshot_every: int = 5000) -> tuple[OpenedStore, CollectionIndexes]:
        opened = open_store(url)
        opened_stores.append(opened)
        indexes = opened.vectors(snapshot_every, tmp_path / name)
        assert isinstance(indexes, CollectionIndexes)
        return opened, indexes

    yield open_host
    for opened in opened_stores:
        opened.close()


def _nearest(indexes, collection, vector: np.ndarray) -> int:
    keys, _ = indexes.synced(collection).search(vector[None], 1)
    return int(keys[0, 0])


def test_the_vectors_knob_takes_pgvector_or_local(postgres, tmp_path):
    assert split_url("postgresql://h/db?vectors=local")[1].vectors == "local"
    assert split_url("postgresql://h/db")[1].vectors == "pgvector"
    with pytest.raises(InvalidParameterError, match="vectors must be one of pgvector, local"):
        split_url("postgresql://h/db?vectors=faiss")
    opened = open_store(postgres_database(postgres, "knob"))
    try:
        assert isinstance(opened.vectors(5000, tmp_path), PgvectorIndexes)
    finally:
        opened.close()


def test_a_face_indexed_on_one_host_is_found_by_another_at_once(host):
    a, a_indexes = host("a")
    _, b_indexes = host("b")
    collection = a.faces.create_collection("acct", "staff", "v1", {})
    b_indexes.synced(collection)  # b's index exists (empty) before the faces come
    faces = new_faces(50, seed=1)
    stored = a.faces.add_faces(collection, faces)
    for face, record in zip(faces, stored, strict=True):
        assert _nearest(b_indexes, collection, face.embedding) == record.row_id
        assert _nearest(a_indexes, collection, face.embedding) == record.row_id


def test_hosts_keep_the_log_and_snapshots_of_their_own(host, tmp_path):
    a, a_indexes = host("a", snapshot_every=10)
    b, b_indexes = host("b", snapshot_every=10)
    collection = a.faces.create_collection("acct", "staff", "v1", {})
    faces = new_faces(30, seed=2)
    stored = a.faces.add_faces(collection, faces)
    a_indexes.synced(collection)  # 30 changes: a snapshots ...
    compacted, last = a.faces.log_state(collection)
    assert compacted == 0 and last > 0  # ... and drops nothing b may still need
    assert _nearest(b_indexes, collection, faces[7].embedding) == stored[7].row_id
    for name in ("a", "b"):
        folder = tmp_path / name / LOCAL_VECTORS_FOLDER
        assert len(list(folder.glob("*/collection-*/vectors"))) == 1, name
    a.close()
    b.close()
    # A host restarted later loads its snapshot and replays what came since.
    a, _ = host("a")
    more = new_faces(5, seed=3)
    added = a.faces.add_faces(collection, more)
    _, b_indexes = host("b")
    assert _nearest(b_indexes, collection, more[4].embedding) == added[4].row_id
    assert _nearest(b_indexes, collection, faces[0].embedding) == stored[0].row_id


def test_a_deletion_on_one_host_rewrites_the_other_hosts_snapshot(host, tmp_path):
    a, a_indexes = host("a")
    b, b_indexes = host("b")
    collection = a.faces.create_collection("acct", "staff", "v1", {})
    faces = new_faces(20, seed=4)
    stored = a.faces.add_faces(collection, faces)
    b_indexes.synced(collection)
    b_indexes.save_all()  # b's snapshot; 5000 changes would pass before b's next one
    (b_snapshot,) = (tmp_path / "b").glob("*/*/collection-*/vectors")
    before = {p.name for p in b_snapshot.parent.iterdir()}
    a.faces.delete_faces(collection, [stored[3].face_id])
    a_indexes.rewrite(collection)
    assert _nearest(b_indexes, collection, faces[3].embedding) != stored[3].row_id
    after = {p.name for p in b_snapshot.parent.iterdir()}
    assert after - before  # b wrote a new snapshot (new data files) on the deletion
    # A snapshot of b's reopened holds every face but the deleted one.
    fresh = CollectionIndexes(b.faces, b_indexes.folder, keep_log=True)
    keys, _ = fresh.synced(collection).search(faces[3].embedding[None], 20)
    assert stored[3].row_id not in set(keys[0].tolist())


def test_a_running_host_frees_the_index_of_a_collection_deleted_elsewhere(host, tmp_path):
    a, _ = host("a")
    _, b_indexes = host("b")
    collection = a.faces.create_collection("acct", "staff", "v1", {})
    a.faces.add_faces(collection, new_faces(3, seed=6))
    b_indexes.synced(collection)
    b_indexes.save_all()
    b_indexes.forget_deleted()
    assert collection.row_id in b_indexes._entries  # still there: nothing to forget
    a.faces.delete_collection("acct", "staff")
    b_indexes.forget_deleted()
    assert collection.row_id not in b_indexes._entries
    assert not list((tmp_path / "b").glob("*/*/collection-*"))


def test_a_host_forgets_collections_deleted_while_it_was_down(host, tmp_path):
    a, _ = host("a")
    b, b_indexes = host("b", snapshot_every=1)
    collection = a.faces.create_collection("acct", "staff", "v1", {})
    a.faces.add_faces(collection, new_faces(3, seed=5))
    b_indexes.synced(collection)
    b.close()
    assert list((tmp_path / "b").glob("*/*/collection-*"))
    a.faces.delete_collection("acct", "staff")
    a.close()
    host("b")
    assert not list((tmp_path / "b").glob("*/*/collection-*"))
