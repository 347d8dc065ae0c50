"""Per-collection vector indexes kept in step with the store.

The store is the truth; an index is a cache of it. Opening a collection's index loads its
last snapshot and replays the store's change log from the snapshot's watermark (or rebuilds
from every face when there is no usable snapshot). Before each search the index catches up
with changes other threads or processes committed since. Snapshots are written atomically
every ``snapshot_every`` changes, and only then are the replayed log entries dropped.

On PostgreSQL with ``vectors=local`` every host keeps indexes and snapshots of its own from
one shared log (``keep_log``): no host may drop entries another has not replayed, and each
host rewrites its own snapshot when it replays a deletion.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewise.errors import FacewiseError, StoreError
from facewise.store.protocols import FaceStore, VectorIndex
from facewise.store.records import Change, CollectionRecord
from facewise.store.vectors import AutoIndex, load_index

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    index: VectorIndex
    watermark: int  # last change seq the index includes
    saved_watermark: int  # watermark of the newest snapshot on disk
    lock: threading.RLock


def _net_effect(changes: list[Change]) -> tuple[list[int], list[int]]:
    """Keys whose last change added them, and keys whose last change removed them."""
    last: dict[int, bool] = {}
    for change in changes:
        last[change.face_row_id] = change.added
    added = [key for key, is_added in last.items() if is_added]
    removed = [key for key, is_added in last.items() if not is_added]
    return added, removed


class CollectionIndexes:
    """Opens, updates, snapshots and drops the vector index of each collection.

    snapshot_every: changes between snapshots. Lower makes reopening faster (less log to
    replay) and costs more writes while indexing.
    keep_log: never drop replayed log entries (other hosts replay the same log into
        indexes of their own), rewrite a snapshot at once after replaying a deletion (no
        other process rewrites this host's), and remove on start the snapshots of
        collections deleted while this process was not running.
    """

    def __init__(
        self,
        store: FaceStore,
        folder: Path,
        snapshot_every: int = 5000,
        keep_log: bool = False,
    ) -> None:
        self.store = store
        self.folder = Path(folder)
        self.snapshot_every = snapshot_every
        self.keep_log = keep_log
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        if keep_log:
            self.forget_deleted()

    def _exists(self, row_id: int) -> bool:
        try:
            self.store.collection_by_row(row_id)
        except FacewiseError:
            return False
        return True

    def forget_deleted(self) -> None:
        """Drop the indexes and snapshots of collections another process deleted."""
        with self._lock:
            open_ids = list(self._entries)
        for row_id in open_ids:
            if not self._exists(row_id):
                with self._lock:
                    self._entries.pop(row_id, None)
        for folder in self.folder.glob("collection-*"):
            number = folder.name.removeprefix("collection-")
            if number.isdigit() and not self._exists(int(number)):
                shutil.rmtree(folder, ignore_errors=True)

    def _path(self, collection: CollectionRecord) -> Path:
        return self.folder / f"collection-{collection.row_id}" / "vectors"

    def synced(self, collection: CollectionRecord) -> VectorIndex:
        """The collection's index, including every change committed before this call."""
        with self._lock:
            entry = self._entries.get(collection.row_id)
            if entry is None:
                entry = self._open(collection)
                self._entries[collection.row_id] = entry
        with entry.lock:
            compacted, last = self.store.log_state(collection)  # usually all there is to do
            if entry.watermark < compacted or last > entry.watermark:
                self._catch_up(collection, entry)
            if entry.watermark - entry.saved_watermark >= self.snapshot_every:
                self._try_snapshot(collection, entry)
            return entry.index

    def _catch_up(self, collection: CollectionRecord, entry: _Entry) -> None:
        # One read transaction: the compaction point and the log entries read after it
        # belong to the same moment, so no entry can vanish between the two reads.
        with self.store.read():
            compacted, last = self.store.log_state(collection)
            if entry.watermark < compacted:  # another process dropped log we needed
                fresh = self._open(collection)
                entry.index, entry.watermark = fresh.index, fresh.watermark
                entry.saved_watermark = fresh.saved_watermark
            elif last > entry.watermark:
                self._replay(collection, entry)

    def _open(self, collection: CollectionRecord) -> _Entry:
        path = self._path(collection)
        with self.store.read():
            try:
                index, watermark = load_index(path)
                compacted, last = self.store.log_state(collection)
                if watermark < compacted or watermark > last:
                    raise FacewiseError("snapshot does not fit the change log")
            except (FacewiseError, OSError, ValueError):
                return self._rebuild(collection)
            entry = _Entry(index, watermark, watermark, threading.RLock())
            self._replay(collection, entry)
        return entry

    def _rebuild(self, collection: CollectionRecord) -> _Entry:
        with self.store.read():
            _, last = self.store.log_state(collection)
            keys, vectors = self.store.embeddings(collection)
        index = AutoIndex()
        if len(keys):
            index.add(keys, vectors)
        return _Entry(index, last, -1, threading.RLock())

    def _replay(self, collection: CollectionRecord, entry: _Entry) -> None:
        changes = self.store.changes_since(collection, entry.watermark)
        if not changes:
            return
        added, removed = _net_effect(changes)
        if removed:
            entry.index.remove(np.asarray(removed, dtype=np.int64))
        if added:
            keys, vectors = self.store.embeddings(collection, added)
            if len(keys):
                entry.index.add(keys, vectors)
        entry.watermark = changes[-1].seq
        if removed and self.keep_log and self._path(collection).exists():
            self._try_snapshot(collection, entry)  # no snapshot keeps an erased descriptor

    def _snapshot(self, collection: CollectionRecord, entry: _Entry) -> None:
        """Save the index and drop the log it includes, one process at a time per collection
        (a file lock); skipped when another process already saved a newer snapshot."""
        path = self._path(collection)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / "snapshot.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            compacted, _ = self.store.log_state(collection)
            if entry.watermark > compacted:
                entry.index.save(path, entry.watermark)
                if not self.keep_log:
                    self.store.forget_changes(collection, entry.watermark)
        entry.saved_watermark = entry.watermark

    def _try_snapshot(self, collection: CollectionRecord, entry: _Entry) -> None:
        """A snapshot only speeds up reopening: failing to write one must not fail a search."""
        try:
            self._snapshot(collection, entry)
        except (OSError, FacewiseError) as error:
            log.warning("could not snapshot the index of %r: %s", collection.name, error)

    def rewrite(self, collection: CollectionRecord) -> None:
        """After an erasure: catch the index up and, if a snapshot of it is on disk, write
        a new one at once, so no file keeps a deleted descriptor (the old snapshot's data
        files are deleted when the new manifest replaces it)."""
        if not self._path(collection).exists():
            return
        self.synced(collection)
        with self._lock:
            entry = self._entries[collection.row_id]
        with entry.lock:
            if entry.saved_watermark == entry.watermark:
                return  # the snapshot on disk was written after the erasure
            try:
                self._snapshot(collection, entry)
            except OSError as error:
                raise StoreError(
                    f"could not rewrite the vector snapshot of {collection.name!r}: {error}"
                ) from error

    def save_all(self) -> None:
        """Snapshot every open index that has unsaved changes (e.g. on shutdown)."""
        with self._lock:
            entries = list(self._entries.items())
        for row_id, entry in entries:
            with entry.lock:
                if entry.watermark != entry.saved_watermark:
                    try:
                        collection = self.store.collection_by_row(row_id)
                    except FacewiseError:
                        continue
                    self._try_snapshot(collection, entry)

    def drop(self, collection: CollectionRecord) -> None:
        """Forget a deleted collection's index, in memory and on disk."""
        with self._lock:
            self._entries.pop(collection.row_id, None)
        shutil.rmtree(self._path(collection).parent, ignore_errors=True)
