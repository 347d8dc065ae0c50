"""What every vector index shares: checking keys, descriptors and queries at the boundary,
padding short result rows, and a lock that lets searches run side by side."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.store.protocols import DESCRIPTOR_DIM

# Keys are FaceStore row ids. Keys from 2**62 up are the indexes' own (HNSW placeholders), and
# -1 pads short result rows, so stored keys must lie in [0, MAX_KEY].
MAX_KEY = 2**62 - 1
PAD_KEY = -1


def as_keys(keys: object) -> np.ndarray:
    """Keys as a 1-d int64 array, each in [0, MAX_KEY]."""
    array = np.asarray(keys)
    if array.ndim != 1:
        raise InvalidParameterError(f"keys: expected shape (n,), got {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise InvalidParameterError(f"keys: expected integers, got dtype {array.dtype}")
    if array.size and (int(array.min()) < 0 or int(array.max()) > MAX_KEY):
        raise InvalidParameterError(
            f"keys: expected each in [0, {MAX_KEY}], got min {int(array.min())}, "
            f"max {int(array.max())}"
        )
    return array.astype(np.int64, copy=False)


def as_vectors(vectors: object, name: str = "vectors") -> np.ndarray:
    """Descriptors as a C-contiguous float32 (n, 128) array of finite values."""
    array = np.asarray(vectors)
    if array.ndim != 2 or array.shape[1] != DESCRIPTOR_DIM:
        raise InvalidParameterError(
            f"{name}: expected shape (n, {DESCRIPTOR_DIM}), got {array.shape}"
        )
    if array.dtype.kind not in "fiu":
        raise InvalidParameterError(f"{name}: expected floats, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise InvalidParameterError(f"{name}: expected finite values, got NaN or inf")
    return array


def as_k(k: object) -> int:
    """The neighbour count: an int of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidParameterError(f"k: expected an int >= 1, got {k!r}")
    return int(k)


def as_watermark(watermark: object) -> int:
    """The store's change sequence number: an int of at least 0."""
    if isinstance(watermark, bool) or not isinstance(watermark, int | np.integer):
        raise InvalidParameterError(f"watermark: expected an int >= 0, got {watermark!r}")
    if watermark < 0:
        raise InvalidParameterError(f"watermark: expected an int >= 0, got {watermark}")
    return int(watermark)


def checked_batch(keys: object, vectors: object) -> tuple[np.ndarray, np.ndarray]:
    """Keys and descriptors of one add, checked; a key given twice keeps its last vector."""
    keys = as_keys(keys)
    vectors = as_vectors(vectors)
    if len(keys) != len(vectors):
        raise InvalidParameterError(
            f"add: expected as many keys as vectors, got {len(keys)} keys and "
            f"{len(vectors)} vectors"
        )
    unique, first_in_reversed = np.unique(keys[::-1], return_index=True)
    if len(unique) != len(keys):
        last = len(keys) - 1 - first_in_reversed
        last.sort()
        keys, vectors = keys[last], vectors[last]
    return keys, vectors


def empty_results(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Result arrays with every slot padded: key -1, distance inf."""
    return (
        np.full((n_queries, k), PAD_KEY, dtype=np.int64),
        np.full((n_queries, k), np.inf, dtype=np.float32),
    )


class ReadWriteLock:
    """Many readers at once, or one writer alone. A waiting writer holds off new readers, so a
    steady stream of searches cannot starve adds and removes. Not reentrant."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()
