"""Whether a face is on the account's opt-out list (service/optout.py keeps the list)."""

from __future__ import annotations

import threading

import numpy as np

from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.store.protocols import OptOutStore

# A face at least this similar to an opted-out one counts as that person's. Lower refuses
# more look-alikes too (a stranger may be refused indexing); higher lets more photos of
# the person through. 80 is the calibration's "same person" point (docs/similarity.md):
# 99.4% of same-person pairs reach it.
OPTOUT_SIMILARITY = 80.0


class OptOutList:
    """Answers "is this face on the account's list?" from a cache that follows the store."""

    def __init__(self, store: OptOutStore | None) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[int, int], np.ndarray]] = {}
        self._lock = threading.Lock()

    def embeddings(self, account: str) -> np.ndarray:
        if self.store is None:
            return np.zeros((0, 128), np.float32)
        version = self.store.optout_version(account)
        with self._lock:
            cached = self._cache.get(account)
        if cached is not None and cached[0] == version:
            return cached[1]
        vectors = self.store.optout_embeddings(account)
        with self._lock:
            self._cache[account] = (version, vectors)
        return vectors

    def matches(self, account: str, embedding: np.ndarray) -> bool:
        """Whether the face is at least OPTOUT_SIMILARITY like someone on the list."""
        vectors = self.embeddings(account)
        if not len(vectors):
            return False
        nearest = float(descriptor_distances(embedding, vectors).min())
        return float(similarity_pct(nearest)) >= OPTOUT_SIMILARITY
