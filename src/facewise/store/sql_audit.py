"""The audit trail in the SQL database (store.protocols.AuditLog).

Appending reads the account's head and writes the record and the new head in one
transaction, under the database's single writer: two identifications never take the same
place in a chain.
"""

from __future__ import annotations

import json

from facewise.errors import StoreError
from facewise.store.audit_chain import GENESIS_HASH, chained
from facewise.store.records import AuditEntry, AuditQuery, AuditRecord
from facewise.store.sql_database import SqlDatabase

AUDIT_COLUMNS = (
    "account, seq, time_ms, operation, access_key_id, collection, requested_threshold, "
    "applied_threshold, faces_searched, faces_matched, ids, request_id, source_address, "
    "prev_hash, hash"
)


_Row = tuple[
    str,
    int,
    int,
    str,
    str | None,
    str | None,
    float | None,
    float | None,
    int,
    int,
    str,
    str | None,
    str | None,
    str,
    str,
]


def _record(row: _Row) -> AuditRecord:
    entry = AuditEntry(
        account=row[0],
        time_ms=row[2],
        operation=row[3],
        access_key_id=row[4],
        collection=row[5],
        requested_threshold=row[6],
        applied_threshold=row[7],
        faces_searched=row[8],
        faces_matched=row[9],
        ids=tuple(json.loads(row[10])),
        request_id=row[11],
        source_address=row[12],
    )
    return AuditRecord(row[1], entry, row[13], row[14])


class SqlAuditLog:
    """Append audit records to per-account hash chains; list and walk them."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def append(self, entry: AuditEntry) -> AuditRecord:
        try:
            return self._append(entry)
        except self.database.errors as error:  # a full disk, a read-only file, no server
            raise StoreError(f"cannot append to the audit trail: {error}") from error

    def _append(self, entry: AuditEntry) -> AuditRecord:
        with self.database.write() as db:
            head = db.execute(
                "SELECT seq, hash FROM audit_heads WHERE account = ?", (entry.account,)
            ).fetchone()
            seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS_HASH)
            record = chained(seq, entry, prev_hash)
            db.execute(
                f"INSERT INTO audit_records ({AUDIT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                audit_row(record),
            )
            db.execute(
                "INSERT INTO audit_heads (account, seq, hash) VALUES (?, ?, ?) "
                "ON CONFLICT (account) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (entry.account, seq, record.hash),
            )
        return record

    def records(
        self, query: AuditQuery, after: tuple[int, str, int] | None, limit: int
    ) -> list[AuditRecord]:
        """Records matching the query by (time, account, seq), after that position."""
        where, params = _where(query)
        if after is not None:
            where.append("(time_ms, account, seq) > (?, ?, ?)")
            params.extend(after)
        sql = f"SELECT {AUDIT_COLUMNS} FROM audit_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time_ms, account, seq LIMIT ?"
        params.append(limit)
        return [_record(row) for row in self.database.connection().execute(sql, params)]

    def chain(self, account: str, after_seq: int, limit: int) -> list[AuditRecord]:
        """The account's records in chain order (by seq) after ``after_seq``."""
        rows = self.database.connection().execute(
            f"SELECT {AUDIT_COLUMNS} FROM audit_records WHERE account = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (account, after_seq, limit),
        )
        return [_record(row) for row in rows]

    def accounts(self) -> list[str]:
        """Every account with an audit chain (records or a head)."""
        rows = self.database.connection().execute(
            "SELECT account FROM audit_heads UNION SELECT DISTINCT account FROM audit_records "
            "ORDER BY 1"
        )
        return [str(row[0]) for row in rows]

    def head(self, account: str) -> tuple[int, str] | None:
        row = (
            self.database.connection()
            .execute("SELECT seq, hash FROM audit_heads WHERE account = ?", (account,))
            .fetchone()
        )
        return (int(row[0]), str(row[1])) if row else None


def audit_row(record: AuditRecord) -> tuple[object, ...]:
    """A record as the audit_records table holds it, in AUDIT_COLUMNS order."""
    entry = record.entry
    return (
        entry.account,
        record.seq,
        entry.time_ms,
        entry.operation,
        entry.access_key_id,
        entry.collection,
        entry.requested_threshold,
        entry.applied_threshold,
        entry.faces_searched,
        entry.faces_matched,
        json.dumps(list(entry.ids)),
        entry.request_id,
        entry.source_address,
        record.prev_hash,
        record.hash,
    )


def _where(query: AuditQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("account", query.account),
        ("operation", query.operation),
        ("collection", query.collection),
        ("access_key_id", query.access_key_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.since_ms is not None:
        where.append("time_ms >= ?")
        params.append(query.since_ms)
    if query.until_ms is not None:
        where.append("time_ms < ?")
        params.append(query.until_ms)
    return where, params
