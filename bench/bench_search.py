"""Vector search: exact numpy search vs the usearch HNSW graph at 10k, 100k and 1M faces.

For each size and index: build time, top-10 search latency p50/p99 over single queries,
recall@10 against exact search, snapshot save time, reopen time (HNSW: read into memory,
and memory-mapped "view"; both verify the snapshot's SHA-256), snapshot size, and resident
memory per million faces (VmRSS before and after building). Prints one Markdown table.

Descriptors are face-like, not uniform: identities with a shared mean (norm ~1.4) plus
per-face noise, so same-person distances are ~0.3-0.5 and different-person ~0.7-1.1. With
--data DIR the 76 manifest photos are embedded and used as identity centres, and further
identities are drawn from a Gaussian fitted to them; without it every identity is synthetic
(offsets whose variance falls off as 1/rank). Queries are held-out noisy views of stored
identities: searching for a known person.

    .venv/bin/python bench/bench_search.py --sizes 10000,100000,1000000 \
        --data ../shared/data/faces
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewise.store.protocols import DESCRIPTOR_DIM
from facewise.store.vectors import DEFAULT_SWITCH_AT, ExactIndex, HnswIndex, HnswParams

K = 10


@dataclass(frozen=True)
class FaceSet:
    """Stored faces (n, 128) and held-out queries of stored identities."""

    faces: np.ndarray
    queries: np.ndarray


def embed_photos(folder: Path) -> np.ndarray:
    """The largest face of each manifest photo, embedded: (m, 128) float32."""
    from PIL import Image

    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

    with tempfile.TemporaryDirectory() as cache:
        analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=Path(cache)))
        descriptors = []
        with open(folder / "manifest.csv", newline="") as stream:
            for row in csv.DictReader(stream):
                rgb = np.asarray(Image.open(folder / row["path"]).convert("RGB"))
                faces = analyzer.analyze(rgb, analyzer.detect(rgb)[:1], with_embedding=True)
                descriptors += [face.embedding for face in faces]
    return np.asarray(descriptors, dtype=np.float32)


def face_set(
    n_faces: int, n_queries: int, real: np.ndarray | None, faces_per_identity: int, seed: int
) -> FaceSet:
    rng = np.random.default_rng(seed)
    n_identities = max(1, n_faces // faces_per_identity)
    sigma = 0.28 / np.sqrt(DESCRIPTOR_DIM)
    if real is None:
        mean = rng.standard_normal(DESCRIPTOR_DIM)
        mean *= 1.37 / np.linalg.norm(mean)
        spectrum = 1.0 / np.arange(1, DESCRIPTOR_DIM + 1)
        spectrum *= 0.55**2 / spectrum.sum()
        basis, _ = np.linalg.qr(rng.standard_normal((DESCRIPTOR_DIM, DESCRIPTOR_DIM)))
        offsets = rng.standard_normal((n_identities, DESCRIPTOR_DIM)) * np.sqrt(spectrum)
        centres = mean + offsets @ basis.T
    else:
        # A Gaussian fitted to the real descriptors, less the per-face noise they carry (plus
        # a small isotropic floor, as 76 photos span at most 75 directions); the real ones
        # are the first centres.
        mean = real.mean(0)
        _, singular, basis = np.linalg.svd(real - mean, full_matrices=False)
        scales = np.sqrt(np.maximum(singular**2 / (len(real) - 1) - sigma**2, 0.0))
        extra = max(0, n_identities - len(real))
        drawn = mean + (rng.standard_normal((extra, len(scales))) * scales) @ basis
        drawn += rng.standard_normal(drawn.shape) * 0.01
        centres = np.concatenate([real, drawn])[:n_identities]
    identity = np.concatenate(
        [np.arange(len(centres)), rng.integers(0, len(centres), n_faces - len(centres))]
    )[:n_faces]
    faces = centres[identity] + rng.standard_normal((n_faces, DESCRIPTOR_DIM)) * sigma
    who = rng.choice(identity, n_queries)
    queries = centres[who] + rng.standard_normal((n_queries, DESCRIPTOR_DIM)) * sigma
    return FaceSet(faces.astype(np.float32), queries.astype(np.float32))


def rss_mb() -> float:
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def snapshot_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.iterdir()) / 2**20


def measure(kind: str, data: FaceSet, truth: np.ndarray, folder: Path) -> dict[str, str]:
    n = len(data.faces)
    gc.collect()
    before = rss_mb()
    index: ExactIndex | HnswIndex = ExactIndex() if kind == "exact" else HnswIndex()
    started = time.perf_counter()
    index.add(np.arange(n), data.faces)
    build_s = time.perf_counter() - started
    memory_mb = (rss_mb() - before) * 1e6 / n

    latencies_ms, hits = [], 0
    for query, expected in zip(data.queries, truth, strict=True):
        started = time.perf_counter()
        found, _ = index.search(query[None, :], K)
        latencies_ms.append((time.perf_counter() - started) * 1e3)
        hits += len(set(found[0].tolist()) & set(expected.tolist()))

    path = folder / kind / "vectors"
    started = time.perf_counter()
    index.save(path, watermark=n)
    save_s = time.perf_counter() - started
    del index
    gc.collect()

    reopen = {}
    for mode in ("load", "view") if kind == "hnsw" else ("load",):
        started = time.perf_counter()
        if kind == "exact":
            loaded, _ = ExactIndex.load(path)
        else:
            loaded, _ = HnswIndex.load(path, view=mode == "view")
        reopen[mode] = time.perf_counter() - started
        assert len(loaded) == n
        del loaded
        gc.collect()

    return {
        "faces": f"{n:,}",
        "index": kind,
        "build s": f"{build_s:.1f}",
        "p50 ms": f"{np.percentile(latencies_ms, 50):.2f}",
        "p99 ms": f"{np.percentile(latencies_ms, 99):.2f}",
        "recall@10": f"{hits / (K * len(truth)):.4f}",
        "save s": f"{save_s:.2f}",
        "reopen s (load)": f"{reopen['load']:.2f}",
        "reopen s (view)": f"{reopen['view']:.2f}" if "view" in reopen else "—",
        "snapshot MB": f"{snapshot_mb(path):.0f}",
        "RSS MB per 1M faces": f"{memory_mb:.0f}",
    }


def markdown(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(row[name] for name in header) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="faces per run")
    parser.add_argument("--queries", type=int, default=1000, help="single queries timed")
    parser.add_argument("--kinds", default="exact,hnsw", help="indexes to measure")
    parser.add_argument("--faces-per-identity", type=int, default=4)
    parser.add_argument("--data", type=Path, help="labelled photos (manifest.csv) as seeds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    real = embed_photos(args.data) if args.data else None
    params = HnswParams()
    print(
        f"HNSW {params}; AutoIndex switches at {DEFAULT_SWITCH_AT:,}; {os.cpu_count()} cores; "
        f"load average {os.getloadavg()[0]:.2f}; "
        + (f"{len(real)} real descriptors as seeds" if real is not None else "synthetic only"),
        flush=True,
    )
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        data = face_set(size, args.queries, real, args.faces_per_identity, args.seed)
        truth_index = ExactIndex()
        truth_index.add(np.arange(size), data.faces)
        truth, _ = truth_index.search(data.queries, K)
        del truth_index
        with tempfile.TemporaryDirectory() as folder:
            for kind in args.kinds.split(","):
                rows.append(measure(kind, data, truth, Path(folder)))
                print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
