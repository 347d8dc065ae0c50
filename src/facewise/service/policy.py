"""What admins allow: each account's threshold floor and each collection's policy.

The floor is the lowest match threshold any identification may use; a request below it is
raised to it (the audit record shows both numbers). The default, 90, is where facewise's
calibration measured a false-match rate of 0.074% on labelled real photos while keeping
98.1% of true matches (docs/similarity.md); Rekognition's own default of 80 let three times
as many different people match. A collection may set its own minimum (higher for a watch
list, lower where a miss costs more than a false match), a cap on results, whether keys of
the search role may search it, and a maximum face age (service/retention.py).
"""

from __future__ import annotations

from dataclasses import replace

from facewise.errors import AccessDeniedError, InvalidParameterError
from facewise.service.caller import Caller
from facewise.service.options import parse_count, parse_percentage
from facewise.store.protocols import FaceStore, PolicyStore
from facewise.store.records import CollectionPolicy, CollectionRecord

DEFAULT_FLOOR = 90.0
DAY_MS = 24 * 3600 * 1000
_UNSET = object()


class Policies:
    """Reads and sets floors and collection policies. Without a policy store (the in-memory
    fakes), every account has the default floor and every collection the default policy."""

    def __init__(self, store: PolicyStore | None, faces: FaceStore) -> None:
        self.store = store
        self.faces = faces

    def account_floor(self, account: str) -> float:
        """The account's floor: set by an admin, else DEFAULT_FLOOR."""
        found = self.store.account_floor(account) if self.store is not None else None
        return DEFAULT_FLOOR if found is None else found

    def set_account_floor(self, account: str, floor: float) -> float:
        value = parse_percentage("floor", floor)
        self._writable().set_account_floor(account, value)
        return value

    def policy(self, collection: CollectionRecord) -> CollectionPolicy:
        found = self.store.collection_policy(collection.row_id) if self.store else None
        return found or CollectionPolicy()

    def floor(self, account: str, collection: CollectionRecord | None) -> float:
        """The collection's minimum if it sets one, else the account's floor."""
        if collection is not None:
            minimum = self.policy(collection).min_threshold
            if minimum is not None:
                return minimum
        return self.account_floor(account)

    def max_results(self, collection: CollectionRecord, requested: int) -> int:
        """The requested MaxFaces/MaxUsers, lowered to the collection's cap."""
        cap = self.policy(collection).max_results
        return requested if cap is None else min(requested, cap)

    def check_search(self, caller: Caller, collection: CollectionRecord) -> None:
        """AccessDeniedError when a search key searches a collection closed to search keys."""
        if caller.role == "search" and not self.policy(collection).search_keys:
            raise AccessDeniedError(
                f"collection {collection.name!r} may not be searched with keys of the search "
                "role (its policy allows admin keys only)"
            )

    def update(
        self,
        collection: CollectionRecord,
        *,
        min_threshold: float | object | None = _UNSET,
        max_results: int | object | None = _UNSET,
        search_keys: bool | object = _UNSET,
        max_face_age_days: float | object | None = _UNSET,
    ) -> CollectionPolicy:
        """Change the named fields of a collection's policy (None clears a limit)."""
        policy = self.policy(collection)
        if min_threshold is not _UNSET:
            value = (
                None if min_threshold is None else parse_percentage("min_threshold", min_threshold)
            )
            policy = replace(policy, min_threshold=value)
        if max_results is not _UNSET:
            cap = None if max_results is None else parse_count("max_results", max_results, 1, 4096)
            policy = replace(policy, max_results=cap)
        if search_keys is not _UNSET:
            if not isinstance(search_keys, bool):
                raise InvalidParameterError("search_keys must be true or false")
            policy = replace(policy, search_keys=search_keys)
        if max_face_age_days is not _UNSET:
            policy = replace(policy, max_face_age_ms=_age_ms(max_face_age_days))
        self._writable().set_collection_policy(collection.row_id, policy)
        return policy

    def _writable(self) -> PolicyStore:
        if self.store is None:
            raise InvalidParameterError("this store keeps no policies")
        return self.store


def _age_ms(days: object) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0:
        raise InvalidParameterError(f"max_face_age_days must be a number above 0, got {days!r}")
    if days > 100 * 365:
        raise InvalidParameterError("max_face_age_days must be at most 36500 (100 years)")
    return int(days * DAY_MS)
