"""The storage protocols every backend implements (DESIGN.md section 5).

A VectorIndex maps int64 keys (a face's row id in the FaceStore) to 128-d float32
descriptors and answers nearest-neighbour queries by Euclidean distance. It is a cache of
what the FaceStore holds: it can always be rebuilt from it, and a saved snapshot records the
store's change sequence number (``watermark``) it includes, so reopening only replays what
came after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

DESCRIPTOR_DIM = 128


class VectorIndex(Protocol):
    """Nearest neighbours by Euclidean distance over (key, descriptor) pairs."""

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: keys int64 (n,), vectors float32 (n, 128)."""
        ...

    def remove(self, keys: np.ndarray) -> None:
        """Forget these keys; unknown keys are ignored."""
        ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest first.
        Rows with fewer than k neighbours are padded with key -1 and distance inf."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, key: int) -> bool: ...

    def save(self, path: Path, watermark: int) -> None:
        """Write a snapshot atomically (a crash leaves the old snapshot or the new, never half)."""
        ...
