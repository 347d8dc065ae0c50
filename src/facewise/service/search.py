"""Nearest stored faces and users to a descriptor, over a collection's vector index.

These are the search primitives; callers reach them through ``identify`` (identify.py),
which decides the threshold and records the identification.
"""

from __future__ import annotations

import numpy as np

from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.service.context import ServiceContext
from facewise.service.results import FaceSearchMatch, UserSearchMatch
from facewise.store.records import CollectionRecord

# Faces searched to find users; more finds users whose faces rank lower, at some cost.
USER_SEARCH_FACES = 4096


def nearest_faces(
    context: ServiceContext,
    record: CollectionRecord,
    query: np.ndarray,
    max_faces: int,
    threshold: float,
    exclude_row: int | None = None,
) -> list[FaceSearchMatch]:
    """Up to max_faces stored faces at or above threshold (0-100), most similar first; none
    for a face on the account's opt-out list."""
    if context.optouts.matches(record.account, query):
        return []
    store, index = context.store, context.indexes.synced(record)
    # No min() with len(index): an index pads what it lacks with key -1, and counting
    # costs PostgreSQL a scan of the collection on every search.
    k = max_faces + (1 if exclude_row is not None else 0)
    keys, distances = index.search(query[None].astype(np.float32), k)
    hits = [
        (int(key), float(similarity_pct(float(d))))
        for key, d in zip(keys[0], distances[0], strict=True)
        if key >= 0 and key != exclude_row
    ]
    hits = [(key, s) for key, s in hits if s >= threshold][:max_faces]
    stored = store.faces_by_row(record, [key for key, _ in hits])
    # A face deleted between the search and this lookup is simply left out.
    return [FaceSearchMatch(stored[key], s) for key, s in hits if key in stored]


def nearest_users(
    context: ServiceContext,
    record: CollectionRecord,
    query: np.ndarray,
    threshold: float,
    max_users: int,
    exclude_user: str | None = None,
    exclude_row: int | None = None,
) -> list[UserSearchMatch]:
    """Users whose best face is at or above threshold, best first (a user's score is its
    most similar face among the USER_SEARCH_FACES nearest); none for a face on the
    account's opt-out list."""
    store = context.store
    owners = store.user_face_rows(record)
    if not owners or context.optouts.matches(record.account, query):
        return []
    index = context.indexes.synced(record)
    keys, distances = index.search(query[None].astype(np.float32), USER_SEARCH_FACES)
    best: dict[str, float] = {}
    for key, distance in zip(keys[0], distances[0], strict=True):
        owner = owners.get(int(key))
        if owner is None or owner == exclude_user or int(key) == exclude_row:
            continue
        best[owner] = max(best.get(owner, 0.0), float(similarity_pct(float(distance))))
    ranked = sorted(((u, s) for u, s in best.items() if s >= threshold), key=lambda p: -p[1])
    return [UserSearchMatch(store.user(record, u), s) for u, s in ranked[:max_users]]


def similarities(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Similarity (0-100) of the query to each candidate descriptor, shape (n,)."""
    if not len(candidates):
        return np.zeros(0, dtype=np.float64)
    return np.atleast_1d(np.asarray(similarity_pct(descriptor_distances(query, candidates))))


def best_similarity(query: np.ndarray, candidates: np.ndarray) -> float:
    """Highest similarity (0-100) of the query to any candidate descriptor (0 if none)."""
    scores = similarities(query, candidates)
    return float(scores.max()) if len(scores) else 0.0
