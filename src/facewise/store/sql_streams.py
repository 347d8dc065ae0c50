"""Accounts' 12-digit ids, cameras, data streams (and their records) and stream processors in
the SQL database (store.protocols.StreamStore)."""

from __future__ import annotations

import hashlib
from dataclasses import astuple

from facewise.errors import ResourceInUseError, ResourceNotFoundError
from facewise.store.records import (
    Camera,
    DataStream,
    StreamProcessorRecord,
    StreamRecord,
    now_ms,
)
from facewise.store.sql_database import SqlDatabase

_PROCESSOR_COLUMNS = (
    "account, name, camera, data_stream, collection, settings, tags, status, status_message, "
    "created_at_ms, updated_at_ms, session_id, started_by"
)
_STREAM_COLUMNS = "row_id, account, name, created_at_ms, retention_ms, sinks"


def _first_account_id(name: str) -> int:
    """Where an account's id is looked for first: a hash of its name, so the same name gets
    the same id in every fresh store (ids are kept once given)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 10**12


class SqlStreamStore:
    """Everything live streams keep; records are appended by processors and read by
    consumers concurrently (readers never wait for the writer)."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    # -- accounts ----------------------------------------------------------------------------

    def account_id(self, account: str) -> str:
        row = (
            self.database.connection()
            .execute("SELECT account_id FROM accounts WHERE name = ?", (account,))
            .fetchone()
        )
        if row is not None:
            return str(row[0])
        with self.database.write() as db:
            row = db.execute(
                "SELECT account_id FROM accounts WHERE name = ?", (account,)
            ).fetchone()
            if row is not None:
                return str(row[0])
            candidate = _first_account_id(account)
            while True:
                text = f"{candidate:012d}"
                taken = db.execute("SELECT 1 FROM accounts WHERE account_id = ?", (text,))
                if taken.fetchone() is None:
                    db.execute("INSERT INTO accounts VALUES (?, ?, ?)", (account, text, now_ms()))
                    return text
                candidate = (candidate + 1) % 10**12

    def account_named_by(self, account_id: str) -> str | None:
        row = (
            self.database.connection()
            .execute("SELECT name FROM accounts WHERE account_id = ?", (account_id,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    # -- cameras -----------------------------------------------------------------------------

    def add_camera(self, camera: Camera) -> Camera:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO cameras VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, name) DO UPDATE "
                "SET url = excluded.url, loop = excluded.loop, "
                "created_at_ms = excluded.created_at_ms",
                (camera.account, camera.name, camera.url, int(camera.loop), camera.created_at_ms),
            )
        return camera

    def camera(self, account: str, name: str) -> Camera:
        row = (
            self.database.connection()
            .execute("SELECT * FROM cameras WHERE account = ? AND name = ?", (account, name))
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"no camera {name!r}")
        return Camera(row[0], row[1], row[2], bool(row[3]), row[4])

    def cameras(self, account: str) -> list[Camera]:
        rows = self.database.connection().execute(
            "SELECT * FROM cameras WHERE account = ? ORDER BY name", (account,)
        )
        return [Camera(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def remove_camera(self, account: str, name: str) -> None:
        with self.database.write() as db:
            used = db.execute(
                "SELECT name FROM stream_processors WHERE account = ? AND camera = ?",
                (account, name),
            ).fetchone()
            if used is not None:
                raise ResourceInUseError(
                    f"camera {name!r} is the input of stream processor {used[0]!r}"
                )
            cursor = db.execute(
                "DELETE FROM cameras WHERE account = ? AND name = ?", (account, name)
            )
            if cursor.rowcount == 0:
                raise ResourceNotFoundError(f"no camera {name!r}")

    # -- data streams ------------------------------------------------------------------------

    def create_data_stream(
        self, account: str, name: str, retention_ms: int, sinks: str
    ) -> DataStream:
        created = now_ms()
        with self.database.write() as db:
            try:
                row = db.execute(
                    "INSERT INTO data_streams (account, name, created_at_ms, retention_ms, sinks) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING row_id",
                    (account, name, created, retention_ms, sinks),
                ).fetchone()
            except self.database.integrity_errors:
                raise ResourceInUseError(f"data stream {name!r} already exists") from None
            row_id = int(row[0])
        return DataStream(row_id, account, name, created, retention_ms, sinks)

    def data_stream(self, account: str, name: str) -> DataStream:
        row = (
            self.database.connection()
            .execute(
                f"SELECT {_STREAM_COLUMNS} FROM data_streams WHERE account = ? AND name = ?",
                (account, name),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"no data stream {name!r}")
        return DataStream(*row)

    def data_streams(self, account: str) -> list[DataStream]:
        rows = self.database.connection().execute(
            f"SELECT {_STREAM_COLUMNS} FROM data_streams WHERE account = ? ORDER BY name",
            (account,),
        )
        return [DataStream(*row) for row in rows]

    def update_data_stream(self, stream: DataStream) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE data_streams SET retention_ms = ?, sinks = ? WHERE row_id = ?",
                (stream.retention_ms, stream.sinks, stream.row_id),
            )

    def delete_data_stream(self, account: str, name: str) -> None:
        with self.database.write() as db:
            used = db.execute(
                "SELECT name FROM stream_processors WHERE account = ? AND data_stream = ?",
                (account, name),
            ).fetchone()
            if used is not None:
                raise ResourceInUseError(
                    f"data stream {name!r} is the output of stream processor {used[0]!r}"
                )
            cursor = db.execute(
                "DELETE FROM data_streams WHERE account = ? AND name = ?", (account, name)
            )
            if cursor.rowcount == 0:
                raise ResourceNotFoundError(f"no data stream {name!r}")

    def append_record(self, stream_row_id: int, partition_key: str, data: bytes) -> StreamRecord:
        arrival = now_ms()
        with self.database.write() as db:
            row = db.execute(
                "SELECT coalesce(max(seq), 0) FROM stream_records WHERE stream_row_id = ?",
                (stream_row_id,),
            ).fetchone()
            seq = int(row[0]) + 1
            db.execute(
                "INSERT INTO stream_records VALUES (?, ?, ?, ?, ?)",
                (stream_row_id, seq, arrival, partition_key, data),
            )
        return StreamRecord(seq, arrival, partition_key, data)

    def records(self, stream_row_id: int, from_seq: int, limit: int) -> list[StreamRecord]:
        rows = self.database.connection().execute(
            "SELECT seq, arrival_ms, partition_key, data FROM stream_records "
            "WHERE stream_row_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
            (stream_row_id, from_seq, limit),
        )
        return [StreamRecord(int(r[0]), int(r[1]), str(r[2]), bytes(r[3])) for r in rows]

    def record_bounds(self, stream_row_id: int) -> tuple[int, int]:
        """The oldest kept and the newest sequence numbers (0, 0 when there is none)."""
        row = (
            self.database.connection()
            .execute(
                "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM stream_records "
                "WHERE stream_row_id = ?",
                (stream_row_id,),
            )
            .fetchone()
        )
        return int(row[0]), int(row[1])

    def first_seq_at(self, stream_row_id: int, time_ms: int) -> int | None:
        row = (
            self.database.connection()
            .execute(
                "SELECT min(seq) FROM stream_records WHERE stream_row_id = ? AND arrival_ms >= ?",
                (stream_row_id, time_ms),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else int(row[0])

    def trim_records(self, stream_row_id: int, before_ms: int) -> int:
        """Delete records older than ``before_ms``, keeping the newest (its seq numbers
        the next one)."""
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM stream_records WHERE stream_row_id = ? AND arrival_ms < ? AND seq < "
                "(SELECT max(seq) FROM stream_records WHERE stream_row_id = ?)",
                (stream_row_id, before_ms, stream_row_id),
            )
            return cursor.rowcount

    # -- stream processors -------------------------------------------------------------------

    def create_processor(self, processor: StreamProcessorRecord) -> None:
        with self.database.write() as db:
            try:
                db.execute(
                    f"INSERT INTO stream_processors ({_PROCESSOR_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    astuple(processor),
                )
            except self.database.integrity_errors:
                raise ResourceInUseError(
                    f"stream processor {processor.name!r} already exists"
                ) from None

    def processor(self, account: str, name: str) -> StreamProcessorRecord:
        row = (
            self.database.connection()
            .execute(
                f"SELECT {_PROCESSOR_COLUMNS} FROM stream_processors "
                "WHERE account = ? AND name = ?",
                (account, name),
            )
            .fetchone()
        )
        if row is None:
            raise ResourceNotFoundError(f"no stream processor {name!r}")
        return StreamProcessorRecord(*row)

    def processors(self, account: str | None = None) -> list[StreamProcessorRecord]:
        sql = f"SELECT {_PROCESSOR_COLUMNS} FROM stream_processors"
        if account is None:
            rows = self.database.connection().execute(sql + " ORDER BY account, name")
        else:
            rows = self.database.connection().execute(
                sql + " WHERE account = ? ORDER BY name", (account,)
            )
        return [StreamProcessorRecord(*row) for row in rows]

    def save_processor(self, processor: StreamProcessorRecord) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE stream_processors SET settings = ?, tags = ?, status = ?, "
                "status_message = ?, updated_at_ms = ?, session_id = ?, started_by = ? "
                "WHERE account = ? AND name = ?",
                (
                    processor.settings,
                    processor.tags,
                    processor.status,
                    processor.status_message,
                    processor.updated_at_ms,
                    processor.session_id,
                    processor.started_by,
                    processor.account,
                    processor.name,
                ),
            )

    def update_processor(self, account: str, name: str, settings: str, tags: str) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE stream_processors SET settings = ?, tags = ?, updated_at_ms = ? "
                "WHERE account = ? AND name = ?",
                (settings, tags, now_ms(), account, name),
            )

    def set_processor_status(
        self,
        account: str,
        name: str,
        status: str,
        message: str | None,
        only_if: tuple[str, ...] = (),
    ) -> bool:
        """Set the status (only from one of ``only_if`` when given); False if not set."""
        condition = f" AND status IN ({', '.join('?' * len(only_if))})" if only_if else ""
        with self.database.write() as db:
            cursor = db.execute(
                "UPDATE stream_processors SET status = ?, status_message = ?, updated_at_ms = ? "
                f"WHERE account = ? AND name = ?{condition}",
                (status, message, now_ms(), account, name, *only_if),
            )
            return cursor.rowcount == 1

    def delete_processor(self, account: str, name: str) -> None:
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM stream_processors WHERE account = ? AND name = ?", (account, name)
            )
            if cursor.rowcount == 0:
                raise ResourceNotFoundError(f"no stream processor {name!r}")
