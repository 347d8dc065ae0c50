"""Vector indexes (interim: exact search only; the HNSW index replaces AutoIndex's switch)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from facewise.errors import FacewiseError


class IndexSnapshotError(FacewiseError, ValueError):
    """A saved index is missing, damaged or does not match its sidecar."""


class ExactIndex:
    """Brute-force Euclidean search in numpy: exact, O(n) per query."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, 128), dtype=np.float32)
        self._rows: dict[int, int] = {}
        self._size = 0
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: int) -> bool:
        return int(key) in self._rows

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(
                np.asarray(keys, np.int64), np.asarray(vectors, np.float32), strict=True
            ):
                row = self._rows.get(int(key))
                if row is None:
                    if self._size == len(self._keys):
                        capacity = max(16, 2 * len(self._keys))
                        self._keys = np.resize(self._keys, capacity)
                        grown = np.zeros((capacity, 128), dtype=np.float32)
                        grown[: self._size] = self._vectors[: self._size]
                        self._vectors = grown
                    row = self._size
                    self._size += 1
                    self._rows[int(key)] = row
                    self._keys[row] = key
                self._vectors[row] = vector

    def remove(self, keys: np.ndarray) -> None:
        with self._lock:
            for key in np.asarray(keys, np.int64):
                row = self._rows.pop(int(key), None)
                if row is None:
                    continue
                last = self._size - 1
                if row != last:
                    self._keys[row] = self._keys[last]
                    self._vectors[row] = self._vectors[last]
                    self._rows[int(self._keys[row])] = row
                self._size = last

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        keys = np.full((len(queries), k), -1, dtype=np.int64)
        distances = np.full((len(queries), k), np.inf, dtype=np.float32)
        with self._lock:
            n = self._size
            if n == 0 or k <= 0:
                return keys, distances
            vectors = self._vectors[:n]
            squared = (
                (queries**2).sum(1)[:, None] + (vectors**2).sum(1)[None] - 2 * queries @ vectors.T
            )
            take = min(k, n)
            nearest = np.argpartition(squared, take - 1, axis=1)[:, :take]
            for q in range(len(queries)):
                order = nearest[q][np.argsort(squared[q, nearest[q]])]
                keys[q, :take] = self._keys[order]
                distances[q, :take] = np.sqrt(np.clip(squared[q, order], 0, None))
        return keys, distances

    def save(self, path: Path, watermark: int) -> None:
        with self._lock:
            keys, vectors = self._keys[: self._size].copy(), self._vectors[: self._size].copy()
        temp = path.with_name(path.name + ".tmp")
        with open(temp, "wb") as out:
            np.save(out, keys)
            np.save(out, vectors)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        meta = path.with_name(path.name + ".json")
        meta_temp = meta.with_name(meta.name + ".tmp")
        meta_temp.write_text(
            json.dumps({"watermark": watermark, "count": len(keys), "bytes": path.stat().st_size})
        )
        os.replace(meta_temp, meta)


AutoIndex = ExactIndex


def load_index(path: Path) -> tuple[ExactIndex, int]:
    meta_path = path.with_name(path.name + ".json")
    try:
        meta = json.loads(meta_path.read_text())
        if path.stat().st_size != meta["bytes"]:
            raise IndexSnapshotError("snapshot and sidecar disagree")
        with open(path, "rb") as source:
            keys, vectors = np.load(source), np.load(source)
    except (OSError, ValueError, KeyError) as error:
        raise IndexSnapshotError(f"unusable index snapshot {path}: {error}") from error
    index = ExactIndex()
    if len(keys):
        index.add(keys, vectors)
    return index, int(meta["watermark"])
