"""Leases in the SQL database (store.protocols.LeaseStore): a row per owned piece of work,
taken and renewed inside one write transaction, so two workers never both own it."""

from __future__ import annotations

from facewise.store.records import now_ms
from facewise.store.sql_database import SqlDatabase


class SqlLeaseStore:
    """Take, renew, release and reap leases."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def take_lease(self, kind: str, name: str, owner: str, ttl_ms: int) -> bool:
        now = now_ms()
        with self.database.write() as db:
            row = db.execute(
                "SELECT owner, until_ms FROM leases WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is not None and row[0] != owner and int(row[1]) >= now:
                return False
            db.execute(
                "INSERT INTO leases (kind, name, owner, until_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE SET owner = excluded.owner, "
                "until_ms = excluded.until_ms",
                (kind, name, owner, now + ttl_ms),
            )
        return True

    def release_lease(self, kind: str, name: str, owner: str) -> None:
        with self.database.write() as db:
            db.execute(
                "DELETE FROM leases WHERE kind = ? AND name = ? AND owner = ?",
                (kind, name, owner),
            )

    def lease_owner(self, kind: str, name: str) -> str | None:
        row = (
            self.database.connection()
            .execute(
                "SELECT owner FROM leases WHERE kind = ? AND name = ? AND until_ms >= ?",
                (kind, name, now_ms()),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def expired_leases(self, kind: str) -> list[str]:
        rows = self.database.connection().execute(
            "SELECT name FROM leases WHERE kind = ? AND until_ms < ? ORDER BY until_ms",
            (kind, now_ms()),
        )
        return [str(row[0]) for row in rows]

    def reap_lease(self, kind: str, name: str) -> bool:
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM leases WHERE kind = ? AND name = ? AND until_ms < ?",
                (kind, name, now_ms()),
            )
            return cursor.rowcount == 1
