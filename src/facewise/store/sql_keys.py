"""Access keys in the SQL database (store.protocols.KeyStore).

SigV4 needs the secret itself to recompute a signature, so secrets are stored as issued;
the data directory (or the database) is the trust boundary: keep it readable by the
service's user only.
"""

from __future__ import annotations

from facewise.store.records import AccessKey, now_ms
from facewise.store.sql_database import SqlDatabase

_COLUMNS = "access_key_id, secret, account, created_at_ms, revoked_at_ms, role"


def _key(row: tuple[str, str, str, int, int | None, str]) -> AccessKey:
    return AccessKey(*row)


class SqlKeyStore:
    """Add, find, list and revoke access keys."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def add_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey:
        key = AccessKey(access_key_id, secret, account, now_ms(), role=role)
        with self.database.write() as db:
            db.execute(
                f"INSERT INTO access_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, NULL, ?)",
                (key.access_key_id, key.secret, key.account, key.created_at_ms, key.role),
            )
        return key

    def add_first_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey | None:
        """Add the key only if no key was ever added (one statement under the write lock,
        so of processes starting at once on an empty store exactly one adds it)."""
        key = AccessKey(access_key_id, secret, account, now_ms(), role=role)
        with self.database.write() as db:
            cursor = db.execute(
                f"INSERT INTO access_keys ({_COLUMNS}) SELECT ?, ?, ?, ?, NULL, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM access_keys)",
                (key.access_key_id, key.secret, key.account, key.created_at_ms, key.role),
            )
            return key if cursor.rowcount == 1 else None

    def key(self, access_key_id: str) -> AccessKey | None:
        row = (
            self.database.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM access_keys WHERE access_key_id = ?", (access_key_id,)
            )
            .fetchone()
        )
        return _key(row) if row else None

    def keys(self) -> list[AccessKey]:
        rows = self.database.connection().execute(
            f"SELECT {_COLUMNS} FROM access_keys ORDER BY created_at_ms, access_key_id"
        )
        return [_key(row) for row in rows]

    def revoke_key(self, access_key_id: str) -> bool:
        """Revoke an active key; False if there is no such active key."""
        with self.database.write() as db:
            cursor = db.execute(
                "UPDATE access_keys SET revoked_at_ms = ? "
                "WHERE access_key_id = ? AND revoked_at_ms IS NULL",
                (now_ms(), access_key_id),
            )
            return cursor.rowcount == 1
