"""One PostgreSQL database shared by every facewise process: a connection pool, the write
lock, and pgvector descriptors (sql_database.SqlDatabase).

Writes hold a transaction-level advisory lock, so there is one writer at a time across all
processes, as in the embedded store: a store may read and then write in one transaction
(the audit chain's next record, a data stream's next sequence number) and nobody writes in
between. Writes are short (descriptors are computed before the transaction), so the lock
costs little next to the analysis. Reads never wait for it. Statements outside a
transaction take a pooled connection in autocommit mode for as long as they run.

Statements are never prepared (``prepare_threshold=None``): a prepared statement's generic
plan cannot use a collection's partial vector index, and would scan every face instead.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from facewise.errors import InvalidParameterError, StoreError
from facewise.store.sql_database import SqlConnection

WRITE_LOCK = 0x66616365  # "face": the advisory lock every write transaction holds
POOL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PostgresSettings:
    """What facewise reads from the store URL's query besides libpq's own parameters.

    pool_size: connections each process keeps at most. More lets more threads run
        statements at once; each costs PostgreSQL a backend (about 10 MB), and every process
        has its own pool (max_connections must cover them all).
    ef_search: candidates the HNSW search keeps (pgvector's hnsw.ef_search). Higher finds
        the true nearest faces more often and costs time per search.
    hnsw_m, ef_construction: the graph of each collection's index (pgvector's m and
        ef_construction). Higher gives better recall at a given ef_search and costs memory
        and indexing time; they apply to collections created afterwards.
    vectors: where faces are searched. ``pgvector`` (the default): in the database, so a
        process holds nothing and starts at once. ``local``: each process keeps an
        in-memory index of each collection it searches, caught up from the database's
        change log before every search and snapshotted under its data directory. More
        than twice as fast at a million faces in a collection, for memory in every process
        (about 600 MB per million faces) and a first search that loads or builds the index.
    """

    pool_size: int = 10
    ef_search: int = 400
    hnsw_m: int = 32
    ef_construction: int = 100
    vectors: str = "pgvector"


_KNOBS = {
    "pool_size": (1, 1000),
    "ef_search": (1, 1000),
    "hnsw_m": (2, 100),
    "ef_construction": (4, 1000),
}
_CHOICES = {"vectors": ("pgvector", "local")}


def split_url(url: str) -> tuple[str, PostgresSettings]:
    """The libpq connection URL and facewise's own settings taken out of its query."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidParameterError(f"not a PostgreSQL URL: {url[:200]!r}")
    kept: list[tuple[str, str]] = []
    knobs: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _CHOICES:
            if value not in _CHOICES[name]:
                raise InvalidParameterError(
                    f"store URL: {name} must be one of {', '.join(_CHOICES[name])}"
                )
            knobs[name] = value
            continue
        if name not in _KNOBS:
            kept.append((name, value))
            continue
        low, high = _KNOBS[name]
        if not value.isdigit() or not low <= int(value) <= high:
            raise InvalidParameterError(f"store URL: {name} must be a whole number {low}-{high}")
        knobs[name] = int(value)
    libpq = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    return libpq, PostgresSettings(**knobs)


@functools.lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    """The stores' ``?`` placeholders as psycopg's ``%s`` (their SQL has no other ``?``
    and no ``%``)."""
    return sql.replace("?", "%s")


class _Result:
    """A statement's rows, fetched before its connection went back to the pool."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _run(connection: Any, sql: str, parameters: Any) -> _Result:
    cursor = connection.execute(_placeholders(sql), parameters)
    rows = cursor.fetchall() if cursor.description is not None else []
    return _Result(rows, cursor.rowcount)


class _Transaction:
    """Statements inside one open transaction, on its connection."""

    def __init__(self, connection: Any) -> None:
        self.raw = connection

    def execute(self, sql: str, parameters: Any = (), /) -> _Result:
        return _run(self.raw, sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> object:
        with self.raw.cursor() as cursor:
            cursor.executemany(_placeholders(sql), list(parameters))
        return None


class _Autocommit:
    """Each statement on a pooled connection of its own, committed when it ends."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def execute(self, sql: str, parameters: Any = (), /) -> _Result:
        with self.database.pooled() as connection:
            return _run(connection, sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> object:
        with self.database.write() as db:
            return db.executemany(sql, parameters)


class PostgresDatabase:
    """A pool of connections to one database, migrated to the newest schema on open."""

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        from facewise.store.postgres_schema import migrate

        self.url, self.settings = split_url(url)
        self.integrity_errors: tuple[type[Exception], ...] = (psycopg.IntegrityError,)
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self._local = threading.local()
        self._autocommit = _Autocommit(self)
        try:
            migrate(self.url)
            self.pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self.settings.pool_size,
                kwargs={"autocommit": True, "prepare_threshold": None},
                configure=self._configure,
                timeout=POOL_TIMEOUT_S,
                open=False,
            )
            self.pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        except (psycopg.Error, OSError, PoolTimeout) as error:
            raise StoreError(f"cannot open the PostgreSQL store: {one_line(error)}") from None

    def _configure(self, connection: Any) -> None:
        from pgvector.psycopg import register_vector

        register_vector(connection)
        connection.execute(
            "SELECT set_config('hnsw.ef_search', %s, false), "
            "set_config('hnsw.iterative_scan', 'strict_order', false)",
            (str(self.settings.ef_search),),
        )

    @contextmanager
    def pooled(self) -> Iterator[Any]:
        """A connection of the pool for the caller alone (autocommit unless it begins a
        transaction)."""
        with self.pool.connection() as connection:
            yield connection

    def connection(self) -> SqlConnection:
        current: _Transaction | None = getattr(self._local, "transaction", None)
        return current if current is not None else self._autocommit

    @contextmanager
    def write(self) -> Iterator[SqlConnection]:
        """One write transaction, holding the write lock until it commits or rolls back."""
        if getattr(self._local, "transaction", None) is not None:
            raise StoreError("a write transaction cannot begin inside another transaction")
        with self.pooled() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            self._local.transaction = _Transaction(connection)
            try:
                yield self._local.transaction
            finally:
                self._local.transaction = None

    @contextmanager
    def read(self) -> Iterator[SqlConnection]:
        """A repeatable-read snapshot (nested calls, and reads inside a write, share the
        outer transaction)."""
        current: _Transaction | None = getattr(self._local, "transaction", None)
        if current is not None:
            yield current
            return
        with self.pooled() as connection:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.transaction = _Transaction(connection)
            try:
                yield self._local.transaction
            finally:
                self._local.transaction = None
                connection.execute("COMMIT")

    def encode_vector(self, vector: np.ndarray) -> object:
        """Descriptors are pgvector ``vector(128)`` values."""
        return np.ascontiguousarray(vector, dtype=np.float32)

    def decode_vectors(self, values: Sequence[Any]) -> np.ndarray:
        if not len(values):
            return np.zeros((0, 128), np.float32)
        # pgvector's text loader gives its Vector type, the binary one a numpy array.
        return np.stack(
            [
                np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)
                for value in values
            ]
        )

    def folder_name(self) -> str:
        """A name for this database on this host (its folder of local vector snapshots):
        the database's name and a digest of where it is, so two databases never share."""
        parts = urlsplit(self.url)
        name = parts.path.lstrip("/") or "postgres"
        where = f"{parts.hostname}:{parts.port or 5432}/{name}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
        return f"{safe}-{digest}"

    def collection_created(self, db: SqlConnection, row_id: int) -> None:
        """Give the collection an HNSW index of its own (a partial index over its rows), so
        a search filtered to it walks a graph of its faces only and keeps its recall."""
        settings = self.settings
        db.execute(
            f"CREATE INDEX {vector_index_name(row_id)} ON faces USING hnsw "
            f"(embedding vector_l2_ops) WITH (m = {settings.hnsw_m}, "
            f"ef_construction = {settings.ef_construction}) "
            f"WHERE collection_row_id = {int(row_id)}"
        )

    def collection_deleted(self, db: SqlConnection, row_id: int) -> None:
        db.execute(f"DROP INDEX IF EXISTS {vector_index_name(row_id)}")

    def scrub(self) -> bool:
        """Nothing PostgreSQL can be asked to do at once: deleted rows are invisible at
        once and their space is reused after autovacuum (docs/scale-out.md)."""
        return True

    def close(self) -> None:
        self.pool.close()


def one_line(error: BaseException) -> str:
    """An error's message on one line (libpq's span several)."""
    return " ".join(str(error).split())


def vector_index_name(collection_row_id: int) -> str:
    return f"faces_vectors_{int(collection_row_id)}"
