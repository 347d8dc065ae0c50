"""Users and idempotency tokens in the SQLite store (a mixin of SqliteFaceStore)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from facewise.errors import ResourceNotFoundError
from facewise.store.records import CollectionRecord, StoredFace, UserRecord
from facewise.store.sqlite_schema import now_ms

if TYPE_CHECKING:
    from facewise.store.sqlite_store import SqliteFaceStore


class SqliteUsers:
    """The user rows of a collection and the ClientRequestTokens already answered."""

    # -- users ----------------------------------------------------------------------------------

    def user(self: SqliteFaceStore, collection: CollectionRecord, user_id: str) -> UserRecord:
        row = (
            self._connection()
            .execute(
                "SELECT u.user_id, (SELECT count(*) FROM faces f WHERE f.collection_row_id = "
                "u.collection_row_id AND f.user_id = u.user_id) FROM users u "
                "WHERE u.collection_row_id = ? AND u.user_id = ?",
                (collection.row_id, user_id),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"user {user_id!r} not found in {collection.name!r}")
        return UserRecord(row[0], "active" if row[1] else "created", row[1])

    def users(
        self: SqliteFaceStore, collection: CollectionRecord, after: str | None, limit: int
    ) -> list[UserRecord]:
        rows = (
            self._connection()
            .execute(
                "SELECT u.user_id, (SELECT count(*) FROM faces f WHERE f.collection_row_id = "
                "u.collection_row_id AND f.user_id = u.user_id) FROM users u "
                "WHERE u.collection_row_id = ? AND u.user_id > ? ORDER BY u.user_id LIMIT ?",
                (collection.row_id, after or "", limit),
            )
            .fetchall()
        )
        return [UserRecord(r[0], "active" if r[1] else "created", r[1]) for r in rows]

    def create_user(
        self, db: sqlite3.Connection, collection: CollectionRecord, user_id: str
    ) -> bool:
        """Inside a write transaction: add the user; False if it already exists."""
        cursor = db.execute(
            "INSERT OR IGNORE INTO users (collection_row_id, user_id, created_at_ms) "
            "VALUES (?, ?, ?)",
            (collection.row_id, user_id, now_ms()),
        )
        return cursor.rowcount == 1

    def delete_user(
        self, db: sqlite3.Connection, collection: CollectionRecord, user_id: str
    ) -> bool:
        """Inside a write transaction: remove the user and unlink its faces."""
        db.execute(
            "UPDATE faces SET user_id = NULL WHERE collection_row_id = ? AND user_id = ?",
            (collection.row_id, user_id),
        )
        cursor = db.execute(
            "DELETE FROM users WHERE collection_row_id = ? AND user_id = ?",
            (collection.row_id, user_id),
        )
        return cursor.rowcount == 1

    def set_face_user(self, db: sqlite3.Connection, face: StoredFace, user_id: str | None) -> None:
        db.execute("UPDATE faces SET user_id = ? WHERE row_id = ?", (user_id, face.row_id))

    def user_face_rows(self: SqliteFaceStore, collection: CollectionRecord) -> dict[int, str]:
        """Row id to user id, for every face associated with a user."""
        rows = (
            self._connection()
            .execute(
                "SELECT row_id, user_id FROM faces "
                "WHERE collection_row_id = ? AND user_id IS NOT NULL",
                (collection.row_id,),
            )
            .fetchall()
        )
        return {row[0]: row[1] for row in rows}

    # -- idempotency tokens -------------------------------------------------------------------

    def token_result(
        self, db: sqlite3.Connection, collection: CollectionRecord, token: str
    ) -> tuple[str, str] | None:
        """(fingerprint, result JSON) stored for a ClientRequestToken, if any."""
        row = db.execute(
            "SELECT fingerprint, result FROM request_tokens WHERE collection_row_id = ? "
            "AND token = ?",
            (collection.row_id, token),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_token(
        self,
        db: sqlite3.Connection,
        collection: CollectionRecord,
        token: str,
        fingerprint: str,
        result: str,
    ) -> None:
        db.execute(
            "INSERT INTO request_tokens VALUES (?, ?, ?, ?, ?)",
            (collection.row_id, token, fingerprint, result, now_ms()),
        )
