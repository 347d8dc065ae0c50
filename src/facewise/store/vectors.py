"""The per-collection vector index: exact search while a collection is small, an HNSW graph
once it is large, switched automatically (AutoIndex). Backends: vectors_exact, vectors_hnsw;
snapshots on disk: vectors_snapshot."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.store.vectors_exact import ExactIndex
from facewise.store.vectors_hnsw import HnswIndex, HnswParams
from facewise.store.vectors_snapshot import IndexSnapshotError, read_snapshot

__all__ = [
    "DEFAULT_SWITCH_AT",
    "AutoIndex",
    "ExactIndex",
    "HnswIndex",
    "HnswParams",
    "IndexSnapshotError",
    "load_index",
]

# Where an HNSW search (at the default parameters) starts to beat an exact one on this
# project's 2-core VM: single-query p50 0.46 vs 0.42 ms at 15k faces, 0.63 vs 0.47 ms at 20k,
# 0.90 vs 0.61 ms at 30k. See bench/README.md, "Vector search".
DEFAULT_SWITCH_AT = 20_000


class AutoIndex:
    """Exact search up to ``switch_at`` faces, HNSW beyond; it never switches back.

    switch_at: the face count above which the index becomes an HNSW graph. Lower trades
        exact results for speed sooner; the switch itself builds the graph from every
        stored face in the add that crosses the line (~1 s at 20k faces on 2 cores), during
        which searches keep running on the exact index.
    hnsw: the graph's parameters (HnswParams' defaults otherwise).
    """

    def __init__(self, switch_at: int = DEFAULT_SWITCH_AT, hnsw: HnswParams | None = None):
        if isinstance(switch_at, bool) or not isinstance(switch_at, int) or switch_at < 0:
            raise InvalidParameterError(f"switch_at: expected an int >= 0, got {switch_at!r}")
        self.switch_at = switch_at
        self.hnsw_params = hnsw or HnswParams()
        self._inner: ExactIndex | HnswIndex = ExactIndex()
        self._write_lock = threading.Lock()

    @property
    def kind(self) -> str:
        """What answers searches now: "exact" or "hnsw"."""
        return "hnsw" if isinstance(self._inner, HnswIndex) else "exact"

    def __len__(self) -> int:
        return len(self._inner)

    def __contains__(self, key: object) -> bool:
        return key in self._inner

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: keys int64 (n,), vectors float32 (n, 128)."""
        with self._write_lock:
            self._inner.add(keys, vectors)
            if isinstance(self._inner, ExactIndex) and len(self._inner) > self.switch_at:
                graph = HnswIndex(self.hnsw_params)
                graph.add(*self._inner.items())
                self._inner = graph

    def remove(self, keys: np.ndarray) -> None:
        """Forget these keys; unknown keys are ignored."""
        with self._write_lock:
            self._inner.remove(keys)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest first.
        Rows with fewer than k neighbours are padded with key -1 and distance inf."""
        return self._inner.search(queries, k)

    def save(self, path: Path, watermark: int) -> None:
        """Write a snapshot atomically (a crash leaves the old snapshot or the new, never half)
        in the format of whichever index answers now."""
        with self._write_lock:
            self._inner.save(path, watermark)

    @classmethod
    def load(
        cls,
        path: Path,
        switch_at: int = DEFAULT_SWITCH_AT,
        hnsw: HnswParams | None = None,
        view: bool = False,
    ) -> tuple[AutoIndex, int]:
        """The index saved at ``path`` (exact or HNSW) and its watermark; IndexSnapshotError if
        the snapshot is missing, truncated or altered.

        hnsw: used if the index switches later; an HNSW snapshot keeps its own graph
            parameters except expansion_search, which comes from here when given.
        view: map an HNSW snapshot read-only until the first write (see HnswIndex)."""
        kind = read_snapshot(Path(path)).kind
        index = cls(switch_at, hnsw)
        if kind == "exact":
            index._inner, watermark = ExactIndex.load(path)
        elif kind == "hnsw":
            search_depth = hnsw.expansion_search if hnsw is not None else None
            index._inner, watermark = HnswIndex.load(path, view, search_depth)
        else:
            raise IndexSnapshotError(f"{path}: unknown index kind {kind!r}")
        return index, watermark


def load_index(path: Path, view: bool = False) -> tuple[AutoIndex, int]:
    """The index saved at ``path`` and its watermark, ready to switch to HNSW with the default
    parameters; IndexSnapshotError if the snapshot is missing, truncated or altered."""
    return AutoIndex.load(path, view=view)
