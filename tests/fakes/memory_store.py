"""An in-memory FaceStore and KeyStore: the store contract without SQLite, for unit tests.

One lock serialises writes; a write transaction works on the live state and restores a
copy taken at its start if it fails, so it is all or nothing like the real store.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facewise.errors import ResourceAlreadyExistsError, ResourceNotFoundError, StoreError
from facewise.store.records import (
    AccessKey,
    Change,
    CollectionRecord,
    NewFace,
    StoredFace,
    UserRecord,
    now_ms,
)


@dataclass
class _State:
    next_row: int = 1
    next_seq: int = 1
    collections: dict[int, CollectionRecord] = field(default_factory=dict)
    compacted: dict[int, int] = field(default_factory=dict)
    faces: dict[int, tuple[int, StoredFace, np.ndarray]] = field(default_factory=dict)
    users: dict[tuple[int, str], int] = field(default_factory=dict)
    tokens: dict[tuple[int, str], tuple[str, str]] = field(default_factory=dict)
    changes: list[tuple[int, Change]] = field(default_factory=list)
    keys: dict[str, AccessKey] = field(default_factory=dict)

    def row(self) -> int:
        self.next_row += 1
        return self.next_row - 1


class _Transaction:
    def __init__(self, state: _State) -> None:
        self.state = state

    def create_user(self, collection: CollectionRecord, user_id: str) -> bool:
        if (collection.row_id, user_id) in self.state.users:
            return False
        self.state.users[(collection.row_id, user_id)] = now_ms()
        return True

    def delete_user(self, collection: CollectionRecord, user_id: str) -> bool:
        if self.state.users.pop((collection.row_id, user_id), None) is None:
            return False
        for row, (owner, face, vector) in list(self.state.faces.items()):
            if owner == collection.row_id and face.user_id == user_id:
                self.state.faces[row] = (owner, dataclasses.replace(face, user_id=None), vector)
        return True

    def set_face_user(self, face: StoredFace, user_id: str | None) -> None:
        owner, stored, vector = self.state.faces[face.row_id]
        self.state.faces[face.row_id] = (
            owner,
            dataclasses.replace(stored, user_id=user_id),
            vector,
        )

    def token_result(self, collection: CollectionRecord, token: str) -> tuple[str, str] | None:
        return self.state.tokens.get((collection.row_id, token))

    def remember_token(
        self, collection: CollectionRecord, token: str, fingerprint: str, result: str
    ) -> None:
        self.state.tokens[(collection.row_id, token)] = (fingerprint, result)


_SHARED: dict[Path, _State] = {}


class MemoryFaceStore:
    """FaceStore and KeyStore over dictionaries. ``shared(folder)`` gives stores that see
    one state per folder, so "close and reopen" keeps everything as a file would."""

    def __init__(self, state: _State | None = None) -> None:
        self._state = state or _State()
        self._lock = threading.RLock()

    @classmethod
    def shared(cls, folder: Path) -> MemoryFaceStore:
        return cls(_SHARED.setdefault(Path(folder), _State()))

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[_Transaction]:
        with self._lock:
            saved = copy.deepcopy(self._state)
            try:
                yield _Transaction(self._state)
            except BaseException:
                self._state.__dict__.update(saved.__dict__)
                raise

    @contextmanager
    def read(self) -> Iterator[object]:
        with self._lock:
            yield self._state

    def close(self) -> None:
        return None

    # -- collections ------------------------------------------------------------------------

    def create_collection(
        self, account: str, name: str, face_model_version: str, tags: dict[str, str]
    ) -> CollectionRecord:
        with self.write():
            if any(c.account == account and c.name == name for c in self._collections()):
                raise ResourceAlreadyExistsError(f"collection {name!r} already exists")
            record = CollectionRecord(
                self._state.row(), account, name, face_model_version, now_ms(), dict(tags)
            )
            self._state.collections[record.row_id] = record
            self._state.compacted[record.row_id] = 0
        return record

    def _collections(self) -> list[CollectionRecord]:
        return list(self._state.collections.values())

    def update_tags(
        self, account: str, name: str, change: Callable[[dict[str, str]], dict[str, str]]
    ) -> CollectionRecord:
        with self.write():
            record = self.collection(account, name)
            updated = dataclasses.replace(record, tags=change(dict(record.tags)))
            self._state.collections[record.row_id] = updated
        return updated

    def collection(self, account: str, name: str) -> CollectionRecord:
        with self.read():
            for record in self._collections():
                if record.account == account and record.name == name:
                    return record
        raise ResourceNotFoundError(f"collection {name!r} not found")

    def collection_by_row(self, row_id: int) -> CollectionRecord:
        with self.read():
            record = self._state.collections.get(row_id)
        if record is None:
            raise ResourceNotFoundError(f"collection #{row_id} not found")
        return record

    def collections(self, account: str, after: str | None, limit: int) -> list[CollectionRecord]:
        with self.read():
            mine = sorted(
                (c for c in self._collections() if c.account == account and c.name > (after or "")),
                key=lambda c: c.name,
            )
        return mine[:limit]

    def delete_collection(self, account: str, name: str) -> CollectionRecord:
        with self.write():
            record = self.collection(account, name)
            row = record.row_id
            del self._state.collections[row]
            self._state.faces = {k: v for k, v in self._state.faces.items() if v[0] != row}
            self._state.users = {k: v for k, v in self._state.users.items() if k[0] != row}
            self._state.tokens = {k: v for k, v in self._state.tokens.items() if k[0] != row}
            self._state.changes = [c for c in self._state.changes if c[0] != row]
        return record

    def counts(self, collection: CollectionRecord) -> tuple[int, int]:
        with self.read():
            faces = sum(1 for v in self._state.faces.values() if v[0] == collection.row_id)
            users = sum(1 for k in self._state.users if k[0] == collection.row_id)
        return faces, users

    # -- faces --------------------------------------------------------------------------------

    def _require(self, collection: CollectionRecord) -> None:
        if collection.row_id not in self._state.collections:
            raise ResourceNotFoundError(f"collection {collection.name!r} not found")

    def _log(self, collection: CollectionRecord, face_row: int, added: bool) -> None:
        self._state.changes.append(
            (collection.row_id, Change(self._state.next_seq, face_row, added))
        )
        self._state.next_seq += 1

    def add_faces(self, collection: CollectionRecord, faces: Sequence[NewFace]) -> list[StoredFace]:
        stored = []
        with self.write():
            self._require(collection)
            for face in faces:
                vector = np.asarray(face.embedding, dtype=np.float32)
                if vector.shape != (128,) or not np.isfinite(vector).all():
                    raise StoreError(f"refusing a descriptor of shape {vector.shape}")
                record = StoredFace(
                    self._state.row(),
                    str(uuid.uuid4()),
                    face.image_id,
                    face.external_image_id,
                    face.box_ratio,
                    face.confidence,
                    None,
                    now_ms(),
                )
                self._state.faces[record.row_id] = (collection.row_id, record, vector.copy())
                self._log(collection, record.row_id, True)
                stored.append(record)
        return stored

    def _faces_of(self, collection: CollectionRecord) -> list[StoredFace]:
        return sorted(
            (f for owner, f, _ in self._state.faces.values() if owner == collection.row_id),
            key=lambda f: f.face_id,
        )

    def faces(
        self,
        collection: CollectionRecord,
        after_face_id: str | None = None,
        limit: int = 1000,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[StoredFace]:
        with self.read():
            found = [
                f
                for f in self._faces_of(collection)
                if f.face_id > (after_face_id or "")
                and (user_id is None or f.user_id == user_id)
                and (face_ids is None or f.face_id in face_ids)
            ]
        return found[:limit]

    def faces_by_row(
        self, collection: CollectionRecord, row_ids: Sequence[int]
    ) -> dict[int, StoredFace]:
        with self.read():
            return {
                int(r): self._state.faces[int(r)][1]
                for r in row_ids
                if int(r) in self._state.faces and self._state.faces[int(r)][0] == collection.row_id
            }

    def face_with_embedding(
        self, collection: CollectionRecord, face_id: str
    ) -> tuple[StoredFace, np.ndarray]:
        with self.read():
            for owner, face, vector in self._state.faces.values():
                if owner == collection.row_id and face.face_id == face_id:
                    return face, vector.copy()
        raise ResourceNotFoundError(f"face {face_id} not found in {collection.name!r}")

    def embeddings(
        self, collection: CollectionRecord, row_ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with self.read():
            wanted = None if row_ids is None else {int(r) for r in row_ids}
            rows = [
                (row, vector)
                for row, (owner, _, vector) in self._state.faces.items()
                if owner == collection.row_id and (wanted is None or row in wanted)
            ]
        keys = np.array([r for r, _ in rows], dtype=np.int64)
        vectors = np.stack([v for _, v in rows]) if rows else np.zeros((0, 128), np.float32)
        return keys, vectors.astype(np.float32)

    def has_external_image_id(self, collection: CollectionRecord, external_image_id: str) -> bool:
        with self.read():
            return any(f.external_image_id == external_image_id for f in self._faces_of(collection))

    def delete_faces(
        self, collection: CollectionRecord, face_ids: Sequence[str]
    ) -> list[StoredFace]:
        with self.write():
            self._require(collection)
            found = self.faces(collection, face_ids=list(face_ids), limit=len(face_ids))
            for face in found:
                del self._state.faces[face.row_id]
                self._log(collection, face.row_id, False)
        return found

    def faces_created_before(
        self, collection: CollectionRecord, time_ms: int, limit: int
    ) -> list[StoredFace]:
        with self.read():
            old = [f for f in self._faces_of(collection) if f.created_at_ms < time_ms]
        return sorted(old, key=lambda f: (f.created_at_ms, f.row_id))[:limit]

    def scrub(self) -> bool:
        return True

    # -- change log -------------------------------------------------------------------------

    def changes_since(self, collection: CollectionRecord, seq: int) -> list[Change]:
        with self.read():
            return [
                c for owner, c in self._state.changes if owner == collection.row_id and c.seq > seq
            ]

    def log_state(self, collection: CollectionRecord) -> tuple[int, int]:
        with self.read():
            if collection.row_id not in self._state.collections:
                raise ResourceNotFoundError(f"collection {collection.name!r} not found")
            compacted = self._state.compacted[collection.row_id]
            seqs = [c.seq for owner, c in self._state.changes if owner == collection.row_id]
        return compacted, max(seqs, default=compacted)

    def forget_changes(self, collection: CollectionRecord, up_to_seq: int) -> None:
        with self.write():
            self._state.changes = [
                (owner, c)
                for owner, c in self._state.changes
                if not (owner == collection.row_id and c.seq <= up_to_seq)
            ]
            old = self._state.compacted.get(collection.row_id, 0)
            self._state.compacted[collection.row_id] = max(old, up_to_seq)

    # -- users --------------------------------------------------------------------------------

    def _user(self, collection: CollectionRecord, user_id: str) -> UserRecord:
        count = sum(1 for f in self._faces_of(collection) if f.user_id == user_id)
        return UserRecord(user_id, "active" if count else "created", count)

    def user(self, collection: CollectionRecord, user_id: str) -> UserRecord:
        with self.read():
            if (collection.row_id, user_id) not in self._state.users:
                raise ResourceNotFoundError(f"user {user_id!r} not found in {collection.name!r}")
            return self._user(collection, user_id)

    def users(
        self, collection: CollectionRecord, after: str | None, limit: int
    ) -> list[UserRecord]:
        with self.read():
            names = sorted(
                u for row, u in self._state.users if row == collection.row_id and u > (after or "")
            )
            return [self._user(collection, u) for u in names[:limit]]

    def user_face_rows(self, collection: CollectionRecord) -> dict[int, str]:
        with self.read():
            return {
                f.row_id: f.user_id for f in self._faces_of(collection) if f.user_id is not None
            }

    # -- access keys (KeyStore) ---------------------------------------------------------------

    def add_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey:
        key = AccessKey(access_key_id, secret, account, now_ms(), role=role)
        with self.write():
            self._state.keys[access_key_id] = key
        return key

    def add_first_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey | None:
        with self.write():
            if self._state.keys:
                return None
            return self.add_key(access_key_id, secret, account, role)

    def key(self, access_key_id: str) -> AccessKey | None:
        with self.read():
            return self._state.keys.get(access_key_id)

    def keys(self) -> list[AccessKey]:
        with self.read():
            return sorted(
                self._state.keys.values(), key=lambda k: (k.created_at_ms, k.access_key_id)
            )

    def revoke_key(self, access_key_id: str) -> bool:
        with self.write():
            key = self._state.keys.get(access_key_id)
            if key is None or not key.active:
                return False
            self._state.keys[access_key_id] = dataclasses.replace(key, revoked_at_ms=now_ms())
            return True
