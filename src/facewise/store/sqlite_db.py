"""One SQLite database in WAL mode: a connection per thread, one writer at a time.

Writes take SQLite's write lock up front (BEGIN IMMEDIATE) and are serialised inside the
process too, so there is one writer at a time across processes; reads run in parallel, each
thread on its own connection. A thread's reads inside ``write()`` see that transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from facewise.errors import StoreError
from facewise.store.sql_database import SqlConnection
from facewise.store.sqlite_schema import ADDED_COLUMNS, BUSY_TIMEOUT_MS, SCHEMA, SCHEMA_VERSION


class SqliteDatabase:
    """The file, its per-thread connections and its transactions (sql_database.SqlDatabase)."""

    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create {self.path.parent}: {error.strerror}") from None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        connection = self.connection()
        try:
            connection.executescript(SCHEMA)
            version = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as error:
            self.close()
            raise StoreError(f"{self.path} is not a facewise database: {error}") from None
        if version is None or int(version[0]) < SCHEMA_VERSION:
            with self.write() as db:  # SCHEMA just created the tables older schemas lack
                for table, column, kind in ADDED_COLUMNS:
                    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                    if column not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
        elif int(version[0]) > SCHEMA_VERSION:
            self.close()
            raise StoreError(
                f"{self.path} has schema {version[0]}, newer than this facewise ({SCHEMA_VERSION})"
            )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = FULL")
                connection.execute("PRAGMA foreign_keys = ON")
                # Deleted rows are overwritten with zeros, in the file and its free pages:
                # an erased face's descriptor cannot be read back from the bytes.
                connection.execute("PRAGMA secure_delete = ON")
                connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            except sqlite3.DatabaseError as error:
                raise StoreError(f"cannot open {self.path}: {error}") from error
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it commits, or none of it (also on a crash)."""
        db = self.connection()
        with self._write_lock:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:  # locked past the busy timeout
                raise StoreError(f"cannot write to {self.path}: {error}") from error
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads (nested calls share the outer one)."""
        db = self.connection()
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def encode_vector(self, vector: np.ndarray) -> object:
        """Descriptors are BLOBs of 128 little-endian float32."""
        return np.ascontiguousarray(vector, dtype="<f4").tobytes()

    def decode_vectors(self, values: Sequence[Any]) -> np.ndarray:
        blob = b"".join(values)
        return np.frombuffer(blob, dtype="<f4").reshape(len(values), 128).astype(np.float32)

    def collection_created(self, db: SqlConnection, row_id: int) -> None:
        """Nothing: the embedded store's vector indexes live outside SQLite."""

    def collection_deleted(self, db: SqlConnection, row_id: int) -> None:
        """Nothing (see collection_created)."""

    def scrub(self) -> bool:
        """Copy the write-ahead log into the file and truncate it to nothing, so that rows
        deleted with secure_delete leave no copy in the log either. False when a reader kept
        it from finishing (the next scrub finishes the job)."""
        try:
            busy, _, _ = self.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot checkpoint {self.path}: {error}") from error
        return not busy

    def close(self) -> None:
        """Close every thread's connection; the next use opens new ones."""
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
