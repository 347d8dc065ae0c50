"""ExactIndex: brute-force nearest neighbours in numpy, for small collections and as the
ground truth the approximate index is measured against."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

import numpy as np

from facewise.store.protocols import DESCRIPTOR_DIM
from facewise.store.vectors_base import (
    MAX_KEY,
    ReadWriteLock,
    as_k,
    as_keys,
    as_vectors,
    as_watermark,
    checked_batch,
    empty_results,
)
from facewise.store.vectors_snapshot import (
    IndexSnapshotError,
    read_snapshot,
    save_npy,
    write_snapshot,
)

KIND = "exact"
_MIN_CAPACITY = 1024
# Cap on the float32 scores one search step holds: 16M values, 64 MB.
_SCORE_BUDGET = 1 << 24
# Query batches at least this large go through BLAS (see _dot_products).
_BLAS_BATCH = 8
_BLAS_LOCK = threading.Lock()


class ExactIndex:
    """Every query is compared with every stored descriptor: results are exact, and the cost is
    linear in the collection (see bench/README.md, "Vector search").

    Descriptors live in one float32 matrix that doubles when full and halves when a quarter
    full; a removed key's row is overwritten by the last row, so removal is O(1) and the
    removed descriptor is gone from memory and from later snapshots. Single queries run in
    parallel, one core each (see _dot_products); adds and removes wait for searches and run
    alone.
    """

    def __init__(self) -> None:
        self._vectors = np.zeros((_MIN_CAPACITY, DESCRIPTOR_DIM), dtype=np.float32)
        self._squared_norms = np.zeros(_MIN_CAPACITY, dtype=np.float32)
        self._keys = np.zeros(_MIN_CAPACITY, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._size = 0
        self._lock = ReadWriteLock()
        self._save_lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: keys int64 (n,), vectors float32 (n, 128)."""
        keys, vectors = checked_batch(keys, vectors)
        with self._lock.write():
            rows = np.fromiter(
                (self._rows.get(key, -1) for key in keys.tolist()), np.int64, len(keys)
            )
            known = rows >= 0
            self._put(rows[known], vectors[known])
            new_keys, new_vectors = keys[~known], vectors[~known]
            start = self._size
            self._reserve(start + len(new_keys))
            new_rows = np.arange(start, start + len(new_keys))
            self._keys[new_rows] = new_keys
            self._put(new_rows, new_vectors)
            self._rows.update(zip(new_keys.tolist(), new_rows.tolist(), strict=True))
            self._size += len(new_keys)

    def remove(self, keys: np.ndarray) -> None:
        """Forget these keys; unknown keys are ignored."""
        keys = as_keys(keys)
        with self._lock.write():
            for key in keys.tolist():
                row = self._rows.pop(key, None)
                if row is None:
                    continue
                last = self._size - 1
                if row != last:
                    moved = int(self._keys[last])
                    self._keys[row] = moved
                    self._vectors[row] = self._vectors[last]
                    self._squared_norms[row] = self._squared_norms[last]
                    self._rows[moved] = row
                self._vectors[last] = 0.0
                self._size = last
            if self._size <= len(self._vectors) // 4 and len(self._vectors) > _MIN_CAPACITY:
                self._resize(max(_MIN_CAPACITY, len(self._vectors) // 2))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest first.
        Rows with fewer than k neighbours are padded with key -1 and distance inf."""
        queries = as_vectors(queries, "queries")
        k = as_k(k)
        keys, distances = empty_results(len(queries), k)
        with self._lock.read():
            n = self._size
            if n == 0 or len(queries) == 0:
                return keys, distances
            wanted = min(k, n)
            vectors, norms = self._vectors[:n], self._squared_norms[:n]
            step = max(1, min(_SCORE_BUDGET // n, _SCORE_BUDGET // (wanted * DESCRIPTOR_DIM)))
            for start in range(0, len(queries), step):
                chunk = queries[start : start + step]
                # ||q - v||^2 = ||q||^2 + ||v||^2 - 2 q.v; ||q||^2 does not change the order.
                scores = _dot_products(chunk, vectors)
                scores *= -2.0
                scores += norms
                if wanted < n:
                    rows = np.argpartition(scores, wanted - 1, axis=1)[:, :wanted]
                else:
                    rows = np.broadcast_to(np.arange(n), (len(chunk), n))
                # Exact distances of the candidates, free of the expansion's rounding.
                differences = vectors[rows] - chunk[:, None, :]
                found = np.sqrt(np.einsum("qkd,qkd->qk", differences, differences))
                order = np.argsort(found, axis=1, kind="stable")
                keys[start : start + step, :wanted] = self._keys[
                    np.take_along_axis(rows, order, axis=1)
                ]
                distances[start : start + step, :wanted] = np.take_along_axis(found, order, axis=1)
        return keys, distances

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the stored keys (n,) int64 and descriptors (n, 128) float32."""
        with self._lock.read():
            return self._keys[: self._size].copy(), self._vectors[: self._size].copy()

    def save(self, path: Path, watermark: int) -> None:
        """Write a snapshot atomically (a crash leaves the old snapshot or the new, never half):
        a manifest at ``path`` naming ``<path>.<id>.keys.npy`` and ``<path>.<id>.vectors.npy``.
        Searches go on while it writes; adds and removes wait."""
        watermark = as_watermark(watermark)
        with self._save_lock, self._lock.read():
            n = self._size
            keys, vectors = self._keys[:n], self._vectors[:n]
            write_snapshot(
                Path(path),
                KIND,
                watermark,
                n,
                params={},
                writers={
                    "keys.npy": lambda file: save_npy(file, keys),
                    "vectors.npy": lambda file: save_npy(file, vectors),
                },
            )

    @classmethod
    def load(cls, path: Path) -> tuple[ExactIndex, int]:
        """The index saved at ``path`` and its watermark; IndexSnapshotError if the snapshot is
        missing, truncated, altered or not an exact one."""
        snapshot = read_snapshot(Path(path), KIND)
        try:
            keys = np.load(snapshot.parts["keys.npy"], allow_pickle=False)
            vectors = np.load(snapshot.parts["vectors.npy"], allow_pickle=False)
        except (KeyError, OSError, ValueError) as error:
            raise IndexSnapshotError(f"{path}: unreadable exact snapshot: {error}") from None
        n = snapshot.count
        if (
            keys.shape != (n,)
            or keys.dtype != np.int64
            or vectors.shape != (n, DESCRIPTOR_DIM)
            or vectors.dtype != np.float32
        ):
            raise IndexSnapshotError(
                f"{path}: expected {n} int64 keys and ({n}, {DESCRIPTOR_DIM}) float32 vectors, "
                f"got {keys.dtype}{keys.shape} and {vectors.dtype}{vectors.shape}"
            )
        if n and (len(np.unique(keys)) != n or keys.min() < 0 or keys.max() > MAX_KEY):
            raise IndexSnapshotError(f"{path}: keys are repeated or out of range")
        index = cls()
        index._reserve(n)
        index._keys[:n] = keys
        index._put(np.arange(n), vectors)
        index._rows = dict(zip(keys.tolist(), range(n), strict=True))
        index._size = n
        return index, snapshot.watermark

    def _put(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        self._vectors[rows] = vectors
        self._squared_norms[rows] = np.einsum("nd,nd->n", vectors, vectors)

    def _reserve(self, size: int) -> None:
        capacity = len(self._vectors)
        if size > capacity:
            while capacity < size:
                capacity *= 2
            self._resize(capacity)

    def _resize(self, capacity: int) -> None:
        n = self._size
        vectors = np.zeros((capacity, DESCRIPTOR_DIM), dtype=np.float32)
        vectors[:n] = self._vectors[:n]
        squared_norms = np.zeros(capacity, dtype=np.float32)
        squared_norms[:n] = self._squared_norms[:n]
        keys = np.zeros(capacity, dtype=np.int64)
        keys[:n] = self._keys[:n]
        self._vectors, self._squared_norms, self._keys = vectors, squared_norms, keys


def _dot_products(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """queries @ vectors.T, (q, n) float32.

    OpenBLAS's own threads collapse when several threads call it at once (30k faces, single
    queries: 1,880/s from one thread, 380/s from four), so small batches use einsum, one core
    per call with the GIL released (1,150/s from one thread, 2,280/s from two), and larger
    batches take BLAS one at a time across the process."""
    if len(queries) < _BLAS_BATCH:
        return np.stack([np.einsum("nd,d->n", vectors, query) for query in queries])
    with _BLAS_LOCK:
        return cast(np.ndarray, queries @ vectors.T)  # numpy types ndarray @ ndarray as Any
