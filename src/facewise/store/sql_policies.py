"""Collection policies, account threshold floors and the opt-out list in the SQL database
(store.protocols.PolicyStore and OptOutStore)."""

from __future__ import annotations

import uuid

import numpy as np

from facewise.store.records import CollectionPolicy, OptOut, now_ms
from facewise.store.sql_database import SqlDatabase
from facewise.store.sql_faces import checked_descriptor


class SqlPolicyStore:
    """Per-collection policies (deleted with their collection) and per-account floors."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def collection_policy(self, collection_row_id: int) -> CollectionPolicy | None:
        row = (
            self.database.connection()
            .execute(
                "SELECT min_threshold, max_results, search_keys, max_face_age_ms "
                "FROM collection_policies WHERE collection_row_id = ?",
                (collection_row_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return CollectionPolicy(row[0], row[1], bool(row[2]), row[3])

    def set_collection_policy(self, collection_row_id: int, policy: CollectionPolicy) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO collection_policies (collection_row_id, min_threshold, "
                "max_results, search_keys, max_face_age_ms) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (collection_row_id) DO UPDATE SET "
                "min_threshold = excluded.min_threshold, max_results = excluded.max_results, "
                "search_keys = excluded.search_keys, max_face_age_ms = excluded.max_face_age_ms",
                (
                    collection_row_id,
                    policy.min_threshold,
                    policy.max_results,
                    int(policy.search_keys),
                    policy.max_face_age_ms,
                ),
            )

    def retention(self) -> list[tuple[int, int]]:
        """(collection row id, max face age in ms) of every collection with a retention."""
        rows = self.database.connection().execute(
            "SELECT collection_row_id, max_face_age_ms FROM collection_policies "
            "WHERE max_face_age_ms IS NOT NULL ORDER BY collection_row_id"
        )
        return [(int(row[0]), int(row[1])) for row in rows]

    def account_floor(self, account: str) -> float | None:
        row = (
            self.database.connection()
            .execute("SELECT threshold_floor FROM account_policies WHERE account = ?", (account,))
            .fetchone()
        )
        return None if row is None else float(row[0])

    def set_account_floor(self, account: str, floor: float) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO account_policies (account, threshold_floor) VALUES (?, ?) "
                "ON CONFLICT (account) DO UPDATE SET threshold_floor = excluded.threshold_floor",
                (account, floor),
            )


class SqlOptOutStore:
    """The descriptors of people who asked never to be indexed, per account."""

    def __init__(self, database: SqlDatabase) -> None:
        self.database = database

    def add_optout(self, account: str, reason: str, embedding: np.ndarray) -> OptOut:
        vector = checked_descriptor(embedding)
        optout = OptOut(str(uuid.uuid4()), account, reason, now_ms())
        with self.database.write() as db:
            db.execute(
                "INSERT INTO optouts (optout_id, account, reason, created_at_ms, embedding) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    optout.optout_id,
                    account,
                    reason,
                    optout.created_at_ms,
                    self.database.encode_vector(vector),
                ),
            )
        return optout

    def optouts(self, account: str) -> list[OptOut]:
        rows = self.database.connection().execute(
            "SELECT optout_id, account, reason, created_at_ms FROM optouts WHERE account = ? "
            "ORDER BY row_id",
            (account,),
        )
        return [OptOut(*row) for row in rows]

    def optout_embeddings(self, account: str) -> np.ndarray:
        """The account's opt-out descriptors, (n, 128) float32."""
        rows = (
            self.database.connection()
            .execute("SELECT embedding FROM optouts WHERE account = ? ORDER BY row_id", (account,))
            .fetchall()
        )
        return self.database.decode_vectors([row[0] for row in rows])

    def optout_version(self, account: str) -> tuple[int, int]:
        """(count, newest row id) of the account's list: changes whenever the list does."""
        row = (
            self.database.connection()
            .execute(
                "SELECT count(*), coalesce(max(row_id), 0) FROM optouts WHERE account = ?",
                (account,),
            )
            .fetchone()
        )
        return int(row[0]), int(row[1])

    def remove_optout(self, account: str, optout_id: str) -> bool:
        with self.database.write() as db:
            cursor = db.execute(
                "DELETE FROM optouts WHERE account = ? AND optout_id = ?", (account, optout_id)
            )
            return cursor.rowcount == 1
