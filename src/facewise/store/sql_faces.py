"""The FaceStore in SQL: collections, faces, users and the change log, in SQLite or
PostgreSQL (sql_database.SqlDatabase).

Every face added or removed is also written to a change log in the same transaction: vector
indexes replay it to catch up, so a crash between the commit and an index update loses
nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facewise.errors import (
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    StoreError,
)
from facewise.store.records import (
    Change,
    CollectionRecord,
    NewFace,
    StoredFace,
    UserRecord,
    now_ms,
)
from facewise.store.sql_database import SqlConnection, SqlDatabase
from facewise.store.sql_users import (
    SqlTransaction,
    read_user,
    read_user_face_rows,
    read_users,
)
from facewise.store.sqlite_db import SqliteDatabase

_FACE_COLUMNS = (
    "row_id, face_id, image_id, external_image_id, box_left, box_top, box_width, box_height, "
    "confidence, user_id, created_at_ms"
)
_FaceRow = tuple[int, str, str, str | None, float, float, float, float, float, str | None, int]


def _face(row: _FaceRow) -> StoredFace:
    return StoredFace(
        row_id=row[0],
        face_id=row[1],
        image_id=row[2],
        external_image_id=row[3],
        box_ratio=(row[4], row[5], row[6], row[7]),
        confidence=row[8],
        user_id=row[9],
        created_at_ms=row[10],
    )


def checked_descriptor(vector: np.ndarray) -> np.ndarray:
    """The descriptor as (128,) float32; StoreError for any other shape or a NaN or inf."""
    checked = np.ascontiguousarray(vector, dtype=np.float32)
    if checked.shape != (128,) or not np.isfinite(checked).all():
        raise StoreError(f"refusing a descriptor of shape {checked.shape}")
    return checked


def _collection(row: tuple[int, str, str, str, int, str, int]) -> CollectionRecord:
    return CollectionRecord(
        row_id=row[0],
        account=row[1],
        name=row[2],
        face_model_version=row[3],
        created_at_ms=row[4],
        tags=json.loads(row[5]),
    )  # row[6] is compacted_seq, internal to the change log


class SqlFaceStore:
    """Collections, faces, users and the change log (store.protocols.FaceStore).

    ``database``: a SQLite file's path (the store opens and owns it) or an open database,
    shared with the other SQL stores (then its opener closes it unless ``owns_database``).
    """

    def __init__(self, database: SqlDatabase | Path | str, owns_database: bool = False) -> None:
        self._owns_database = owns_database or isinstance(database, Path | str)
        self.database: SqlDatabase = (
            SqliteDatabase(database) if isinstance(database, Path | str) else database
        )

    def _connection(self) -> SqlConnection:
        return self.database.connection()

    @contextmanager
    def write(self) -> Iterator[SqlTransaction]:
        """One write transaction: all of it commits, or none of it (also on a crash)."""
        with self.database.write() as db:
            yield SqlTransaction(db)

    def read(self) -> contextlib.AbstractContextManager[object]:
        """A consistent snapshot for several reads (nested calls share the outer one)."""
        return self.database.read()

    def close(self) -> None:
        if self._owns_database:
            self.database.close()

    # -- collections --------------------------------------------------------------------------

    def create_collection(
        self, account: str, name: str, face_model_version: str, tags: dict[str, str]
    ) -> CollectionRecord:
        try:
            with self.database.write() as db:
                row_id = int(
                    db.execute(
                        "INSERT INTO collections (account, name, face_model_version, "
                        "created_at_ms, tags) VALUES (?, ?, ?, ?, ?) RETURNING row_id",
                        (account, name, face_model_version, now_ms(), json.dumps(tags)),
                    ).fetchone()[0]
                )
                self.database.collection_created(db, row_id)
        except self.database.integrity_errors:
            raise ResourceAlreadyExistsError(f"collection {name!r} already exists") from None
        return self.collection_by_row(row_id)

    def collection_by_row(self, row_id: int) -> CollectionRecord:
        row = (
            self._connection()
            .execute("SELECT * FROM collections WHERE row_id = ?", (row_id,))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"collection #{row_id} not found")
        return _collection(row)

    def collection(self, account: str, name: str) -> CollectionRecord:
        row = (
            self._connection()
            .execute("SELECT * FROM collections WHERE account = ? AND name = ?", (account, name))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"collection {name!r} not found")
        return _collection(row)

    def collections(self, account: str, after: str | None, limit: int) -> list[CollectionRecord]:
        """Collections by name, starting after ``after``."""
        rows = (
            self._connection()
            .execute(
                "SELECT * FROM collections WHERE account = ? AND name > ? ORDER BY name LIMIT ?",
                (account, after or "", limit),
            )
            .fetchall()
        )
        return [_collection(row) for row in rows]

    def update_tags(
        self, account: str, name: str, change: Callable[[dict[str, str]], dict[str, str]]
    ) -> CollectionRecord:
        """Replace a collection's tags with ``change(current tags)``, in one transaction (an
        error raised by ``change`` leaves them as they were)."""
        with self.database.write() as db:
            record = self.collection(account, name)
            tags = change(dict(record.tags))
            db.execute(
                "UPDATE collections SET tags = ? WHERE row_id = ?",
                (json.dumps(tags), record.row_id),
            )
        return dataclasses.replace(record, tags=tags)

    def delete_collection(self, account: str, name: str) -> CollectionRecord:
        with self.database.write() as db:
            record = self.collection(account, name)
            db.execute("DELETE FROM faces WHERE collection_row_id = ?", (record.row_id,))
            db.execute("DELETE FROM users WHERE collection_row_id = ?", (record.row_id,))
            db.execute("DELETE FROM request_tokens WHERE collection_row_id = ?", (record.row_id,))
            db.execute("DELETE FROM changes WHERE collection_row_id = ?", (record.row_id,))
            db.execute("DELETE FROM collections WHERE row_id = ?", (record.row_id,))
            self.database.collection_deleted(db, record.row_id)
        return record

    def counts(self, collection: CollectionRecord) -> tuple[int, int]:
        """(faces, users) in the collection."""
        with self.database.read() as db:
            faces = db.execute(
                "SELECT count(*) FROM faces WHERE collection_row_id = ?", (collection.row_id,)
            ).fetchone()[0]
            users = db.execute(
                "SELECT count(*) FROM users WHERE collection_row_id = ?", (collection.row_id,)
            ).fetchone()[0]
        return faces, users

    # -- faces ----------------------------------------------------------------------------------

    def add_faces(self, collection: CollectionRecord, faces: Sequence[NewFace]) -> list[StoredFace]:
        """Store the faces of one image, all or none."""
        now = now_ms()
        stored = []
        with self.database.write() as db:
            self._require_collection(db, collection)
            for face in faces:
                embedding = checked_descriptor(face.embedding)
                face_id = str(uuid.uuid4())
                row = db.execute(
                    "INSERT INTO faces (collection_row_id, face_id, image_id, external_image_id, "
                    "box_left, box_top, box_width, box_height, confidence, user_id, "
                    "created_at_ms, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) "
                    "RETURNING row_id",
                    (
                        collection.row_id,
                        face_id,
                        face.image_id,
                        face.external_image_id,
                        *face.box_ratio,
                        face.confidence,
                        now,
                        self.database.encode_vector(embedding),
                    ),
                ).fetchone()
                row_id = int(row[0])
                db.execute(
                    "INSERT INTO changes (collection_row_id, face_row_id, added) VALUES (?, ?, 1)",
                    (collection.row_id, row_id),
                )
                stored.append(
                    StoredFace(
                        row_id,
                        face_id,
                        face.image_id,
                        face.external_image_id,
                        face.box_ratio,
                        face.confidence,
                        None,
                        now,
                    )
                )
        return stored

    @staticmethod
    def _require_collection(db: SqlConnection, collection: CollectionRecord) -> None:
        row = db.execute(
            "SELECT 1 FROM collections WHERE row_id = ?", (collection.row_id,)
        ).fetchone()
        if row is None:
            raise ResourceNotFoundError(f"collection {collection.name!r} not found")

    def faces(
        self,
        collection: CollectionRecord,
        after_face_id: str | None = None,
        limit: int = 1000,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[StoredFace]:
        """Faces by FaceId, after ``after_face_id``, optionally of one user or among face_ids."""
        sql = f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_row_id = ? AND face_id > ?"
        params: list[object] = [collection.row_id, after_face_id or ""]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        if face_ids is not None:
            sql += f" AND face_id IN ({','.join('?' * len(face_ids))})"
            params.extend(face_ids)
        sql += " ORDER BY face_id LIMIT ?"
        params.append(limit)
        return [_face(row) for row in self._connection().execute(sql, params).fetchall()]

    def has_external_image_id(self, collection: CollectionRecord, external_image_id: str) -> bool:
        """Whether any face in the collection came from an image with this ExternalImageId."""
        row = (
            self._connection()
            .execute(
                "SELECT 1 FROM faces WHERE collection_row_id = ? AND external_image_id = ? LIMIT 1",
                (collection.row_id, external_image_id),
            )
            .fetchone()
        )
        return row is not None

    def faces_by_row(
        self, collection: CollectionRecord, row_ids: Sequence[int]
    ) -> dict[int, StoredFace]:
        if not len(row_ids):
            return {}
        rows = (
            self._connection()
            .execute(
                f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_row_id = ? AND row_id IN "
                f"({','.join('?' * len(row_ids))})",
                [collection.row_id, *map(int, row_ids)],
            )
            .fetchall()
        )
        return {row[0]: _face(row) for row in rows}

    def face_with_embedding(
        self, collection: CollectionRecord, face_id: str
    ) -> tuple[StoredFace, np.ndarray]:
        row = (
            self._connection()
            .execute(
                f"SELECT {_FACE_COLUMNS}, embedding FROM faces WHERE collection_row_id = ? "
                "AND face_id = ?",
                (collection.row_id, face_id),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"face {face_id} not found in {collection.name!r}")
        return _face(row), self.database.decode_vectors([row[11]])[0]

    def embeddings(
        self, collection: CollectionRecord, row_ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, descriptors) of the given faces, or of every face in the collection."""
        sql = "SELECT row_id, embedding FROM faces WHERE collection_row_id = ?"
        params: list[object] = [collection.row_id]
        if row_ids is not None:
            if not len(row_ids):
                return np.zeros(0, np.int64), np.zeros((0, 128), np.float32)
            sql += f" AND row_id IN ({','.join('?' * len(row_ids))})"
            params.extend(map(int, row_ids))
        rows = self._connection().execute(sql, params).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return keys, self.database.decode_vectors([r[1] for r in rows])

    def delete_faces(
        self, collection: CollectionRecord, face_ids: Sequence[str]
    ) -> list[StoredFace]:
        """Delete these faces (vector, metadata, user association); returns those deleted."""
        with self.database.write() as db:
            self._require_collection(db, collection)
            found = self.faces(collection, face_ids=list(face_ids), limit=len(face_ids))
            for face in found:
                db.execute("DELETE FROM faces WHERE row_id = ?", (face.row_id,))
                db.execute(
                    "INSERT INTO changes (collection_row_id, face_row_id, added) VALUES (?, ?, 0)",
                    (collection.row_id, face.row_id),
                )
        return found

    def faces_created_before(
        self, collection: CollectionRecord, time_ms: int, limit: int
    ) -> list[StoredFace]:
        """Up to ``limit`` of the collection's faces stored before ``time_ms``, oldest first."""
        rows = (
            self._connection()
            .execute(
                f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_row_id = ? "
                "AND created_at_ms < ? ORDER BY created_at_ms, row_id LIMIT ?",
                (collection.row_id, time_ms, limit),
            )
            .fetchall()
        )
        return [_face(row) for row in rows]

    def scrub(self) -> bool:
        """Leave no copy of deleted rows in the files (deletes already zero them in place;
        this empties the write-ahead log). False if a reader kept it from finishing."""
        return self.database.scrub()

    # -- change log -------------------------------------------------------------------------------

    def changes_since(self, collection: CollectionRecord, seq: int) -> list[Change]:
        rows = (
            self._connection()
            .execute(
                "SELECT seq, face_row_id, added FROM changes "
                "WHERE collection_row_id = ? AND seq > ? "
                "ORDER BY seq",
                (collection.row_id, seq),
            )
            .fetchall()
        )
        return [Change(row[0], row[1], bool(row[2])) for row in rows]

    def forget_changes(self, collection: CollectionRecord, up_to_seq: int) -> None:
        """Drop log entries a durable index snapshot already includes. Indexes older than
        ``compacted_seq`` can no longer catch up from the log and must reload a snapshot."""
        with self.database.write() as db:
            db.execute(
                "DELETE FROM changes WHERE collection_row_id = ? AND seq <= ?",
                (collection.row_id, up_to_seq),
            )
            db.execute(
                "UPDATE collections SET compacted_seq = ? WHERE row_id = ? AND compacted_seq < ?",
                (up_to_seq, collection.row_id, up_to_seq),
            )

    def log_state(self, collection: CollectionRecord) -> tuple[int, int]:
        """(compacted_seq, last seq) of the collection's change log, read in one statement
        (one snapshot, one round trip: every search asks)."""
        row = (
            self._connection()
            .execute(
                "SELECT compacted_seq, (SELECT max(seq) FROM changes WHERE collection_row_id = ?) "
                "FROM collections WHERE row_id = ?",
                (collection.row_id, collection.row_id),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"collection {collection.name!r} not found")
        return int(row[0]), int(row[1] or row[0])

    # -- users (the writes are SqlTransaction's) ---------------------------------------------

    def user(self, collection: CollectionRecord, user_id: str) -> UserRecord:
        return read_user(self._connection(), collection, user_id)

    def users(
        self, collection: CollectionRecord, after: str | None, limit: int
    ) -> list[UserRecord]:
        return read_users(self._connection(), collection, after, limit)

    def user_face_rows(self, collection: CollectionRecord) -> dict[int, str]:
        return read_user_face_rows(self._connection(), collection)
