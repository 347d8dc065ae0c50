"""Open a store by URL: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
``postgresql://user:password@host:port/database`` (the scale-out store, with pgvector).

The URL follows SQLAlchemy's form, so it reads as PostgreSQL users expect; a PostgreSQL URL
takes libpq's parameters and facewise's own (postgres_db.PostgresSettings) in its query. The
default is the SQLite file ``facewise.sqlite3`` in the data directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from facewise.errors import InvalidParameterError
from facewise.settings import data_dir as resolve_data_dir
from facewise.settings import store_url
from facewise.store.indexes import CollectionIndexes
from facewise.store.protocols import (
    AuditLog,
    CollectionVectors,
    FaceStore,
    JobStore,
    KeyStore,
    LeaseStore,
    OptOutStore,
    PolicyStore,
    StreamStore,
)
from facewise.store.sql_audit import SqlAuditLog
from facewise.store.sql_database import SqlDatabase
from facewise.store.sql_faces import SqlFaceStore
from facewise.store.sql_jobs import SqlJobStore
from facewise.store.sql_keys import SqlKeyStore
from facewise.store.sql_leases import SqlLeaseStore
from facewise.store.sql_policies import SqlOptOutStore, SqlPolicyStore
from facewise.store.sql_streams import SqlStreamStore
from facewise.store.sqlite_db import SqliteDatabase

DATABASE_FILE = "facewise.sqlite3"
INDEX_FOLDER = "indexes"
LOCAL_VECTORS_FOLDER = "vectors"  # PostgreSQL with vectors=local, per database
SCHEMES = ("sqlite", "postgresql")


@dataclass
class OpenedStore:
    """Everything one backend holds, by family, and its collections' vector indexes.

    vectors: makes the vector indexes, given how many changes go between snapshots and the
        data directory, where the backend keeps snapshots (the embedded store's are in
        ``<data dir>/indexes``, PostgreSQL's with ``vectors=local`` in
        ``<data dir>/vectors/<database>``: a cache of the store that makes reopening fast;
        deleting it costs one rebuild).
    """

    url: str
    faces: FaceStore
    access_keys: KeyStore
    jobs: JobStore
    streams: StreamStore
    audit: AuditLog
    policies: PolicyStore
    optouts: OptOutStore
    leases: LeaseStore
    vectors: Callable[[int, Path], CollectionVectors]
    closer: Callable[[], None]

    def close(self) -> None:
        self.closer()


def sqlite_url(path: Path | str) -> str:
    """The store URL of a SQLite file."""
    resolved = Path(path).absolute()
    return f"sqlite:///{resolved}"


def default_store_url(data_dir: Path) -> str:
    """The embedded default: ``facewise.sqlite3`` in the data directory."""
    return sqlite_url(data_dir / DATABASE_FILE)


def chosen_store_url(explicit: str | None = None, data_dir: Path | str | None = None) -> str:
    """The store to open: ``explicit``, else $FACEWISE_STORE_URL, else the default SQLite
    file in the data directory (``data_dir``, else $FACEWISE_DATA_DIR, else ./facewise-data)."""
    return store_url(explicit) or default_store_url(resolve_data_dir(data_dir))


def _sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc or parts.query or parts.fragment or not parts.path.startswith("/"):
        raise InvalidParameterError(
            f"store URL {url!r}: write sqlite:///relative/file.db or sqlite:////absolute/file.db"
        )
    path = unquote(parts.path[1:])  # sqlite:///a.db is the relative path a.db
    if not path or path.endswith("/") or path == ":memory:":
        raise InvalidParameterError(f"store URL {url!r} names no database file")
    return Path(path)


def _index_folder(database: Path) -> Path:
    """``indexes/`` beside the default file (as data directories have always had it); for
    any other file ``<file>.indexes/``, so two databases in one folder never share one."""
    if database.name == DATABASE_FILE:
        return database.parent / INDEX_FOLDER
    return database.with_name(database.name + ".indexes")


def open_store(url: str) -> OpenedStore:
    """Open (creating if needed) the store a URL names.

    InvalidParameterError for a URL of no supported scheme; StoreError when the database
    cannot be opened or is not facewise's.
    """
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        path = _sqlite_path(url)
        sqlite = SqliteDatabase(path)
        folder = _index_folder(path)
        return _sql_store(
            url, sqlite, lambda every, _: CollectionIndexes(SqlFaceStore(sqlite), folder, every)
        )
    if scheme in ("postgresql", "postgres"):
        from facewise.store.pgvector_index import PgvectorIndexes
        from facewise.store.postgres_db import PostgresDatabase

        postgres = PostgresDatabase(url)
        if postgres.settings.vectors == "local":
            return _sql_store(
                url,
                postgres,
                lambda every, data_dir: CollectionIndexes(
                    SqlFaceStore(postgres),
                    data_dir / LOCAL_VECTORS_FOLDER / postgres.folder_name(),
                    every,
                    keep_log=True,
                ),
            )
        return _sql_store(url, postgres, lambda *_: PgvectorIndexes(postgres))
    supported = ", ".join(f"{s}://" for s in SCHEMES)
    raise InvalidParameterError(
        f"unsupported store URL {url[:200]!r}: supported schemes are {supported} "
        "(e.g. sqlite:///facewise-data/facewise.sqlite3)"
    )


def _sql_store(
    url: str, database: SqlDatabase, vectors: Callable[[int, Path], CollectionVectors]
) -> OpenedStore:
    return OpenedStore(
        url=url,
        faces=SqlFaceStore(database),
        access_keys=SqlKeyStore(database),
        jobs=SqlJobStore(database),
        streams=SqlStreamStore(database),
        audit=SqlAuditLog(database),
        policies=SqlPolicyStore(database),
        optouts=SqlOptOutStore(database),
        leases=SqlLeaseStore(database),
        vectors=vectors,
        closer=database.close,
    )
