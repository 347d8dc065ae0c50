"""Users and idempotency tokens in the SQL store: the reads, and the writes a transaction
makes (``SqlTransaction``, what ``SqlFaceStore.write()`` yields)."""

from __future__ import annotations

from facewise.errors import ResourceNotFoundError
from facewise.store.records import CollectionRecord, StoredFace, UserRecord, now_ms
from facewise.store.sql_database import SqlConnection

_USER_WITH_FACE_COUNT = (
    "SELECT u.user_id, (SELECT count(*) FROM faces f WHERE f.collection_row_id = "
    "u.collection_row_id AND f.user_id = u.user_id) FROM users u "
)


def _user(row: tuple[str, int]) -> UserRecord:
    return UserRecord(row[0], "active" if row[1] else "created", row[1])


def read_user(db: SqlConnection, collection: CollectionRecord, user_id: str) -> UserRecord:
    row = db.execute(
        _USER_WITH_FACE_COUNT + "WHERE u.collection_row_id = ? AND u.user_id = ?",
        (collection.row_id, user_id),
    ).fetchone()
    if row is None:
        raise ResourceNotFoundError(f"user {user_id!r} not found in {collection.name!r}")
    return _user(row)


def read_users(
    db: SqlConnection, collection: CollectionRecord, after: str | None, limit: int
) -> list[UserRecord]:
    rows = db.execute(
        _USER_WITH_FACE_COUNT
        + "WHERE u.collection_row_id = ? AND u.user_id > ? ORDER BY u.user_id LIMIT ?",
        (collection.row_id, after or "", limit),
    ).fetchall()
    return [_user(row) for row in rows]


def read_user_face_rows(db: SqlConnection, collection: CollectionRecord) -> dict[int, str]:
    """Row id to user id, for every face associated with a user."""
    rows = db.execute(
        "SELECT row_id, user_id FROM faces WHERE collection_row_id = ? AND user_id IS NOT NULL",
        (collection.row_id,),
    ).fetchall()
    return {int(row[0]): str(row[1]) for row in rows}


class SqlTransaction:
    """The writes of one open transaction (store.protocols.Transaction)."""

    def __init__(self, db: SqlConnection) -> None:
        self.db = db

    def create_user(self, collection: CollectionRecord, user_id: str) -> bool:
        """Add the user; False if it already exists."""
        cursor = self.db.execute(
            "INSERT INTO users (collection_row_id, user_id, created_at_ms) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (collection.row_id, user_id, now_ms()),
        )
        return cursor.rowcount == 1

    def delete_user(self, collection: CollectionRecord, user_id: str) -> bool:
        """Remove the user and unlink its faces."""
        self.db.execute(
            "UPDATE faces SET user_id = NULL WHERE collection_row_id = ? AND user_id = ?",
            (collection.row_id, user_id),
        )
        cursor = self.db.execute(
            "DELETE FROM users WHERE collection_row_id = ? AND user_id = ?",
            (collection.row_id, user_id),
        )
        return cursor.rowcount == 1

    def set_face_user(self, face: StoredFace, user_id: str | None) -> None:
        self.db.execute("UPDATE faces SET user_id = ? WHERE row_id = ?", (user_id, face.row_id))

    def token_result(self, collection: CollectionRecord, token: str) -> tuple[str, str] | None:
        """(fingerprint, result JSON) stored for a ClientRequestToken, if any."""
        row = self.db.execute(
            "SELECT fingerprint, result FROM request_tokens WHERE collection_row_id = ? "
            "AND token = ?",
            (collection.row_id, token),
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def remember_token(
        self, collection: CollectionRecord, token: str, fingerprint: str, result: str
    ) -> None:
        self.db.execute(
            "INSERT INTO request_tokens VALUES (?, ?, ?, ?, ?)",
            (collection.row_id, token, fingerprint, result, now_ms()),
        )
