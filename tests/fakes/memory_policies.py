"""An in-memory PolicyStore: floors and collection policies without SQLite, for unit tests."""

from __future__ import annotations

from facewise.store.records import CollectionPolicy


class MemoryPolicyStore:
    def __init__(self) -> None:
        self.floors: dict[str, float] = {}
        self.policies: dict[int, CollectionPolicy] = {}

    def collection_policy(self, collection_row_id: int) -> CollectionPolicy | None:
        return self.policies.get(collection_row_id)

    def set_collection_policy(self, collection_row_id: int, policy: CollectionPolicy) -> None:
        self.policies[collection_row_id] = policy

    def retention(self) -> list[tuple[int, int]]:
        return [
            (row, p.max_face_age_ms)
            for row, p in sorted(self.policies.items())
            if p.max_face_age_ms is not None
        ]

    def account_floor(self, account: str) -> float | None:
        return self.floors.get(account)

    def set_account_floor(self, account: str, floor: float) -> None:
        self.floors[account] = floor
