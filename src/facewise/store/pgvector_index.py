"""Face search inside PostgreSQL with pgvector (store.protocols.CollectionVectors).

Each collection has its own HNSW index, a partial index over its faces (made with the
collection, postgres_db.collection_created), so a search filtered to one collection walks a
graph of that collection only: the filter costs no recall, unlike one graph over every face
whose nearest candidates may belong to other collections. There is nothing to keep in step:
a face committed by any process is searchable by every other at once.
"""

from __future__ import annotations

import numpy as np

from facewise.store.postgres_db import PostgresDatabase
from facewise.store.records import CollectionRecord


class PgvectorCollection:
    """One collection's faces, searched by Euclidean distance in the database."""

    def __init__(self, database: PostgresDatabase, collection_row_id: int) -> None:
        self.database = database
        self.row_id = int(collection_row_id)
        # The row id is written into the text (not bound) so the planner sees it and picks
        # the collection's partial index.
        self._search_sql = (
            "SELECT row_id, embedding <-> ? AS distance FROM faces "
            f"WHERE collection_row_id = {self.row_id} ORDER BY distance LIMIT ?"
        )

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest
        first; rows with fewer than k neighbours are padded with key -1 and distance inf."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, 128)
        keys = np.full((len(queries), k), -1, dtype=np.int64)
        distances = np.full((len(queries), k), np.inf, dtype=np.float32)
        db = self.database.connection()
        for row, query in enumerate(queries):
            found = db.execute(self._search_sql, (query, k)).fetchall()
            for column, (key, distance) in enumerate(found):
                keys[row, column] = key
                distances[row, column] = distance
        return keys, distances

    def __len__(self) -> int:
        row = (
            self.database.connection()
            .execute(f"SELECT count(*) FROM faces WHERE collection_row_id = {self.row_id}")
            .fetchone()
        )
        return int(row[0])


class PgvectorIndexes:
    """The collections' vector indexes, which PostgreSQL keeps: nothing to open, replay,
    snapshot or drop here (dropping a collection drops its index in the same transaction)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def synced(self, collection: CollectionRecord) -> PgvectorCollection:
        return PgvectorCollection(self.database, collection.row_id)

    def rewrite(self, collection: CollectionRecord) -> None:
        """Nothing: a deleted face leaves the index when its row is deleted."""

    def drop(self, collection: CollectionRecord) -> None:
        """Nothing: DeleteCollection dropped the index with the collection."""

    def save_all(self) -> None:
        """Nothing to save: the index is in the database."""

    def forget_deleted(self) -> None:
        """Nothing: this process holds nothing per collection."""
