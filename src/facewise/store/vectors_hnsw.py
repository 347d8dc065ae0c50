"""HnswIndex: approximate nearest neighbours on a usearch HNSW graph, for large collections.

Erasure: usearch keeps a removed vector in its slot (a tombstone) until the slot is reused,
and saves tombstones with the index. HnswIndex therefore reuses every freed slot at once: a
removal inserts a placeholder (a far-away point under a reserved key >= 2**62, never
returned) into the slot it freed, and the next add takes placeholder slots back. A removed
descriptor is thus overwritten in memory before ``remove`` returns and is never in a later
snapshot. The price: links that pointed at the removed face now lead to a placeholder. At
100k faces recall@10 went from 0.9993 to 0.9988 with 20% of the faces removed and 0.9975
with 50%; rebuild from the FaceStore after heavier churn.

usearch 2.26.2 to 2.26.6 crash the process when imported before onnxruntime (their static
libstdc++); 2.26.1 does not, and the tests check both import orders.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from usearch.compiled import MetricKind
from usearch.index import Index, Matches

from facewise.errors import InvalidParameterError
from facewise.store.protocols import DESCRIPTOR_DIM
from facewise.store.vectors_base import (
    MAX_KEY,
    PAD_KEY,
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

KIND = "hnsw"
PLACEHOLDER_BASE = MAX_KEY + 1
# Placeholders sit this far from the origin; descriptors have norms near 1.4, so a
# placeholder is ~100 away from any face and can only fill rows that run out of faces.
_PLACEHOLDER_RADIUS = 100.0
# Batches at least this large are inserted on all cores; smaller ones on the calling thread.
_PARALLEL_BATCH = 256


@dataclass(frozen=True)
class HnswParams:
    """The HNSW graph's knobs, measured on 2 cores at 1M face-like descriptors (bench/README.md,
    "Vector search"): recall@10 0.9988 at p50 3.4 ms on descriptors seeded from real photos,
    0.9948 at 6.5 ms on harder purely synthetic ones.

    connectivity: links per node ("M"). More links keep recall up in big, crowded
        collections, at 4 bytes per link per face and slower adds; fixed at build. On the
        synthetic 1M set 16 (expansion_add 64) stalled at recall@10 0.980 (ef 768, 5.3 ms).
    expansion_add: candidates weighed when inserting ("efConstruction"). Higher builds a
        better graph (a little more recall per query) but makes every add slower: 100 builds
        1M faces in ~6 min on 2 cores, ~0.35 ms per face.
    expansion_search: candidates kept while searching ("ef"); the recall/latency knob. On the
        synthetic 1M set 256 gave recall@10 0.984 (p50 3.0 ms), 384 0.991 (4.8 ms), 512 0.994
        (6.1 ms), 768 0.997 (8.3 ms). Searches use at least k anyway.
    dtype: how descriptors are stored. "f16" halves their memory and, at 100k faces, made
        search 1.5x and building 2.4x faster for 0.0008 less recall@10; returned distances
        are then rounded to about 1e-3. "f32" stores them exactly. (usearch's "i8" is not
        offered: built for components in [-1, 1], it gave recall@10 0.79.)
    """

    connectivity: int = 32
    expansion_add: int = 100
    expansion_search: int = 512
    dtype: Literal["f32", "f16"] = "f16"

    def __post_init__(self) -> None:
        for name, low, high in (
            ("connectivity", 4, 128),
            ("expansion_add", 8, 4096),
            ("expansion_search", 8, 4096),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidParameterError(
                    f"{name}: expected an int in [{low}, {high}], got {value!r}"
                )
        if self.dtype not in ("f32", "f16"):
            raise InvalidParameterError(f"dtype: expected 'f32' or 'f16', got {self.dtype!r}")


class HnswIndex:
    """Nearest neighbours by Euclidean distance on a usearch HNSW graph (metric L2sq; the
    distances returned are square-rooted).

    Thread safety: searches share a read lock, adds, removes and the first write after a
    view take the write lock (usearch itself runs one call per index at a time and releases
    the GIL while it works). A search that starts after ``remove`` returned never sees the
    removed keys.

    A viewed index (``load(..., view=True)``) maps the snapshot file instead of reading it:
    it opens at once and shares the page cache, but is read-only, so the first add or remove
    copies it into memory (about as long as ``load``).
    """

    def __init__(self, params: HnswParams | None = None) -> None:
        self.params = params or HnswParams()
        self._index = _new_usearch(self.params)
        self._viewed = False
        self._placeholders: list[int] = []
        self._next_placeholder = PLACEHOLDER_BASE
        self._lock = ReadWriteLock()
        self._save_lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock.read():
            return len(self._index) - len(self._placeholders)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            return False
        if not 0 <= key <= MAX_KEY:
            return False
        with self._lock.read():
            return bool(self._index.contains(int(key)))

    @property
    def viewed(self) -> bool:
        """Whether the index still maps its snapshot file read-only."""
        return self._viewed

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: keys int64 (n,), vectors float32 (n, 128)."""
        keys, vectors = checked_batch(keys, vectors)
        if not len(keys):
            return
        with self._lock.write():
            self._make_writable()
            present = keys[self._contains_many(keys)]
            if len(present):
                self._index.remove(present.astype(np.uint64))
            # Freed slots are reused first, oldest first: hand back as many placeholder
            # slots as the new keys need, so every freed slot takes a new descriptor.
            reuse = min(len(keys) - len(present), len(self._placeholders))
            if reuse:
                taken = self._placeholders[-reuse:]
                del self._placeholders[-reuse:]
                self._index.remove(np.array(taken, dtype=np.uint64))
            self._index.add(keys.astype(np.uint64), vectors, threads=_threads_for(len(keys)))

    def remove(self, keys: np.ndarray) -> None:
        """Forget these keys; unknown keys are ignored. Their descriptors are overwritten."""
        keys = np.unique(as_keys(keys))
        if not len(keys):
            return
        with self._lock.write():
            self._make_writable()
            present = keys[self._contains_many(keys)]
            if not len(present):
                return
            self._index.remove(present.astype(np.uint64))
            start = self._next_placeholder
            filler = np.arange(start, start + len(present), dtype=np.uint64)
            self._next_placeholder += len(present)
            self._index.add(
                filler,
                _placeholder_vectors(start, len(present)),
                threads=_threads_for(len(present)),
            )
            self._placeholders.extend(filler.tolist())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest first.
        Rows with fewer than k neighbours are padded with key -1 and distance inf."""
        queries = as_vectors(queries, "queries")
        k = as_k(k)
        if not len(queries):
            return empty_results(0, k)
        with self._lock.read():
            if len(self._index) == 0:
                return empty_results(len(queries), k)
            matches = self._index.search(queries, k, threads=1 if len(queries) == 1 else 0)
        if isinstance(matches, Matches):  # usearch unwraps a batch of one
            found_keys, found_squared = matches.keys[None, :], matches.distances[None, :]
            counts = np.array([len(matches.keys)])
        else:
            found_keys, found_squared, counts = matches.keys, matches.distances, matches.counts
        width = found_keys.shape[1]
        valid = np.arange(width)[None, :] < counts[:, None]
        valid &= found_keys < PLACEHOLDER_BASE
        # Placeholders are the farthest points, but keep the order honest regardless.
        order = np.argsort(~valid, axis=1, kind="stable")
        valid = np.take_along_axis(valid, order, axis=1)
        squared = np.where(valid, np.take_along_axis(found_squared, order, axis=1), np.inf)
        keys, distances = empty_results(len(queries), k)
        keys[:, :width] = np.where(valid, np.take_along_axis(found_keys, order, axis=1), PAD_KEY)
        distances[:, :width] = np.sqrt(np.maximum(squared, 0.0))
        return keys, distances

    def save(self, path: Path, watermark: int) -> None:
        """Write a snapshot atomically (a crash leaves the old snapshot or the new, never half):
        a manifest at ``path`` naming ``<path>.<id>.usearch`` (the graph) and
        ``<path>.<id>.placeholders.npy``. Adds and removes wait while it writes."""
        watermark = as_watermark(watermark)
        with self._save_lock, self._lock.read():
            placeholders = np.array(self._placeholders, dtype=np.uint64)
            write_snapshot(
                Path(path),
                KIND,
                watermark,
                len(self._index) - len(placeholders),
                params={**asdict(self.params), "next_placeholder": self._next_placeholder},
                writers={
                    "usearch": lambda file: self._index.save(str(file)),
                    "placeholders.npy": lambda file: save_npy(file, placeholders),
                },
            )

    @classmethod
    def load(
        cls, path: Path, view: bool = False, expansion_search: int | None = None
    ) -> tuple[HnswIndex, int]:
        """The index saved at ``path`` and its watermark; IndexSnapshotError if the snapshot is
        missing, truncated, altered or not an HNSW one.

        view: map the file read-only instead of reading it (see the class docstring).
        expansion_search: override the saved search depth."""
        snapshot = read_snapshot(Path(path), KIND)
        try:
            saved = {
                name: snapshot.params[name]
                for name in ("connectivity", "expansion_add", "expansion_search", "dtype")
            }
            if expansion_search is not None:
                saved["expansion_search"] = expansion_search
            params = HnswParams(**saved)  # type: ignore[arg-type]
            next_placeholder = int(snapshot.params["next_placeholder"])  # type: ignore[call-overload]
            placeholders = np.load(snapshot.parts["placeholders.npy"], allow_pickle=False)
            graph = snapshot.parts["usearch"]
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise IndexSnapshotError(f"{path}: unreadable HNSW snapshot: {error}") from None
        index = cls(params)
        try:
            if view:
                index._index.view(str(graph))
            else:
                index._index.load(str(graph))
        except RuntimeError as error:
            raise IndexSnapshotError(f"{graph}: usearch refused it: {error}") from None
        # mypy reads these properties as read-only: usearch defines their setters apart from
        # the getters (index.py), which mypy does not pair up.
        index._index.expansion_search = params.expansion_search  # type: ignore[misc]
        index._index.expansion_add = params.expansion_add  # type: ignore[misc]
        index._viewed = view
        index._placeholders = placeholders.astype(np.uint64).tolist()
        index._next_placeholder = next_placeholder
        found = len(index._index) - len(index._placeholders)
        if index._index.ndim != DESCRIPTOR_DIM or found != snapshot.count:
            raise IndexSnapshotError(
                f"{path}: expected {snapshot.count} keys of {DESCRIPTOR_DIM} dimensions, got "
                f"{found} of {index._index.ndim}"
            )
        return index, snapshot.watermark

    def _contains_many(self, keys: np.ndarray) -> np.ndarray:
        return np.asarray(self._index.contains(keys.astype(np.uint64)), dtype=bool).reshape(-1)

    def _make_writable(self) -> None:
        if self._viewed:
            copy = self._index.copy()
            copy.expansion_search = self.params.expansion_search  # type: ignore[misc]  # as in load
            self._index = copy
            self._viewed = False


def _new_usearch(params: HnswParams) -> Index:
    return Index(
        ndim=DESCRIPTOR_DIM,
        metric=MetricKind.L2sq,
        dtype=params.dtype,
        connectivity=params.connectivity,
        expansion_add=params.expansion_add,
        expansion_search=params.expansion_search,
    )


def _threads_for(batch: int) -> int:
    return 0 if batch >= _PARALLEL_BATCH else 1


def _placeholder_vectors(seed: int, n: int) -> np.ndarray:
    directions = np.random.default_rng(seed).standard_normal((n, DESCRIPTOR_DIM))
    directions *= _PLACEHOLDER_RADIUS / np.linalg.norm(directions, axis=1, keepdims=True)
    return directions.astype(np.float32)
