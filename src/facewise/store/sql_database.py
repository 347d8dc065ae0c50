"""What the SQL stores (sql_*.py) need of a database, whichever engine runs it.

The stores write one SQL text for both engines: ``?`` placeholders, ``INSERT ... ON
CONFLICT``, ``RETURNING``. SqliteDatabase runs it as it is; PostgresDatabase rewrites the
placeholders. Writes are serialised across processes by the database (SQLite's write lock,
a PostgreSQL advisory lock), so a store may read and then write in one ``write()`` and know
nobody wrote in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np


class Rows(Protocol):
    """The result of one statement (sqlite3.Cursor has this shape)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    """Runs statements: inside the thread's open transaction if there is one, else each on
    its own (sqlite3.Connection has this shape)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Rows: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> object: ...


class SqlDatabase(Protocol):
    """Connections, transactions and what differs between engines."""

    integrity_errors: tuple[type[Exception], ...]
    """Raised by a statement that breaks a unique or foreign key constraint."""

    errors: tuple[type[Exception], ...]
    """Every error the engine raises (a full disk, a lost connection)."""

    def connection(self) -> SqlConnection:
        """This thread's way to the database (its open transaction, if any)."""
        ...

    def write(self) -> AbstractContextManager[SqlConnection]:
        """One write transaction, the only writer across processes while it lasts."""
        ...

    def read(self) -> AbstractContextManager[SqlConnection]:
        """A consistent snapshot for several reads (nested calls share the outer one)."""
        ...

    def encode_vector(self, vector: np.ndarray) -> object:
        """A (128,) float32 descriptor as a statement parameter."""
        ...

    def decode_vectors(self, values: Sequence[Any]) -> np.ndarray:
        """Descriptors as the engine returns them, as one (n, 128) float32 array."""
        ...

    def collection_created(self, db: SqlConnection, row_id: int) -> None:
        """Inside the transaction that created a collection (PostgreSQL adds its vector
        index here)."""
        ...

    def collection_deleted(self, db: SqlConnection, row_id: int) -> None: ...

    def scrub(self) -> bool:
        """Leave no copy of deleted rows where the engine can clean it; False if it could not
        finish now."""
        ...

    def close(self) -> None: ...
