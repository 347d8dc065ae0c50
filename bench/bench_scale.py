"""Scale-out: face search in PostgreSQL (pgvector) next to the embedded index, API throughput
with 1, 2 and 4 `facewise serve` processes, and video jobs per hour with 1 and 2 workers.

    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part search \\
        --sizes 1000000 --collections 100x10000
    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part api
    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part video

search: one collection of N faces, and C collections of M faces each, loaded into a real
PostgreSQL 18 + pgvector (bulk COPY, then each collection's HNSW index built as facewise
builds it) and into the embedded index (store.vectors: exact below 20k faces, usearch HNSW
above). Single queries through each index's facewise search path, p50/p99 over --queries,
recall@10 against exact search of the same collection. The descriptors are the harder
synthetic set of bench_search.py. The partial-index design is measured against one HNSW
index over every face with a collection filter (pgvector's iterative scan).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from tests.live.engines import PostgresServer

from bench_search import K, face_set, markdown
from facewise.store.pgvector_index import PgvectorCollection
from facewise.store.postgres_db import PostgresDatabase, vector_index_name
from facewise.store.sql_faces import SqlFaceStore
from facewise.store.vectors import AutoIndex, ExactIndex

PG_SETTINGS = {
    "shared_buffers": "6GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "1",
    "effective_cache_size": "12GB",
}


def _percentiles(seconds: list[float]) -> tuple[str, str]:
    ms = np.asarray(seconds) * 1000
    return f"{np.percentile(ms, 50):.2f}", f"{np.percentile(ms, 99):.2f}"


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def _bulk_load(
    database: PostgresDatabase, store: SqlFaceStore, name: str, vectors: np.ndarray
) -> tuple[int, np.ndarray, float]:
    """A collection holding ``vectors``, loaded with COPY and indexed afterwards (how a
    large import should go: building the graph once beats growing it a face at a time).
    Returns its row id, the faces' row ids in order, and the index build seconds."""
    record = store.create_collection("bench", name, "bench", {})
    with database.write() as db:
        db.execute(f"DROP INDEX {vector_index_name(record.row_id)}")
    with (
        database.pooled() as connection,
        connection.transaction(),
        connection.cursor().copy(
            "COPY faces (collection_row_id, face_id, image_id, box_left, box_top, box_width, "
            "box_height, confidence, created_at_ms, embedding) FROM STDIN"
        ) as copy,
    ):
        for i, vector in enumerate(vectors):
            copy.write_row(
                (record.row_id, f"{name}-{i}", "bench", 0.1, 0.1, 0.2, 0.2, 99.0, 0, vector)
            )
    rows = database.connection().execute(
        f"SELECT row_id FROM faces WHERE collection_row_id = {record.row_id} ORDER BY row_id"
    )
    row_ids = np.asarray([row[0] for row in rows.fetchall()], dtype=np.int64)
    started = time.perf_counter()
    with database.write() as db:
        db.execute("SET LOCAL maintenance_work_mem = '4GB'")
        database.collection_created(db, record.row_id)
    build_s = time.perf_counter() - started
    with database.pooled() as connection:
        connection.execute("VACUUM ANALYZE faces")
        index_mb, table_mb = connection.execute(
            "SELECT pg_relation_size(%s) / 1e6, pg_total_relation_size('faces') / 1e6",
            (vector_index_name(record.row_id),),
        ).fetchone()
    print(
        f"{name}: {len(vectors):,} faces, HNSW index {index_mb:.0f} MB, faces table with "
        f"all its indexes {table_mb:.0f} MB, built in {build_s:.1f} s",
        flush=True,
    )
    return record.row_id, row_ids, build_s


def _timed(index: Any, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each query's top K keys through ``index.search``, one query at a time, and the
    seconds each took."""
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        keys, _ = index.search(query[None], K)
        seconds.append(time.perf_counter() - started)
        found.append(keys[0])
    return np.asarray(found), seconds


def _search_pg(
    database: PostgresDatabase, collection_row_id: int, queries: np.ndarray
) -> tuple[np.ndarray, list[float]]:
    return _timed(PgvectorCollection(database, collection_row_id), queries)


def _truth(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    exact = ExactIndex()
    exact.add(np.arange(len(vectors)), vectors)
    keys, _ = exact.search(queries, K)
    return keys


def search_part(args: argparse.Namespace) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    knobs = f"hnsw_m={args.hnsw_m}&ef_construction={args.ef_construction}"
    server = PostgresServer(settings=PG_SETTINGS).start()
    try:
        print(f"PostgreSQL on 127.0.0.1:{server.port}; {knobs}", flush=True)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            data = face_set(size, args.queries, None, 4, args.seed)
            truth = _truth(data.faces, data.queries)
            url = server.create_database(f"single_{size}")
            database = PostgresDatabase(f"{url}?{knobs}")
            store = SqlFaceStore(database)
            row_id, row_ids, build_s = _bulk_load(database, store, "single", data.faces)
            for ef in [int(e) for e in args.ef_search.split(",")]:
                database.close()
                database = PostgresDatabase(f"{url}?{knobs}&ef_search={ef}")
                found, seconds = _search_pg(database, row_id, data.queries)
                positions = np.searchsorted(row_ids, found)
                recall = _recall(np.where(found >= 0, positions, -1), truth)
                rows.append(_row("pgvector", f"1 × {size:,}", build_s, ef, seconds, recall))
                print(markdown(rows[-1:]).splitlines()[-1], flush=True)
            database.close()
            embedded = AutoIndex()
            started = time.perf_counter()
            embedded.add(np.arange(size), data.faces)
            build_embedded = time.perf_counter() - started
            found, seconds = _timed(embedded, data.queries)
            ef_embedded = 512 if size >= 20_000 else 0
            rows.append(
                _row(
                    "embedded",
                    f"1 × {size:,}",
                    build_embedded,
                    ef_embedded,
                    seconds,
                    _recall(found, truth),
                )
            )
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
            del embedded
        if args.collections:
            rows += _many_collections(server, args, knobs)
    finally:
        server.stop()
    return rows


def _many_collections(
    server: PostgresServer, args: argparse.Namespace, knobs: str
) -> list[dict[str, str]]:
    """C collections of M faces: a query goes to one collection; compared with the embedded
    per-collection indexes and with one pgvector graph over all faces plus a filter."""
    count, size = (int(n) for n in args.collections.split("x"))
    rows: list[dict[str, str]] = []
    url = server.create_database("many")
    database = PostgresDatabase(f"{url}?{knobs}")
    store = SqlFaceStore(database)
    per_query = max(1, args.queries // count)
    collections = []
    build_total = 0.0
    for c in range(count):
        data = face_set(size, per_query, None, 4, args.seed + c)
        row_id, row_ids, build_s = _bulk_load(database, store, f"c{c}", data.faces)
        build_total += build_s
        collections.append((row_id, row_ids, data, _truth(data.faces, data.queries)))
    label = f"{count} × {size:,}"
    for ef in [int(e) for e in args.ef_search.split(",")]:
        database.close()
        database = PostgresDatabase(f"{url}?{knobs}&ef_search={ef}")
        seconds, recalls = [], []
        for row_id, row_ids, data, truth in collections:
            found, took = _search_pg(database, row_id, data.queries)
            positions = np.searchsorted(row_ids, found)
            recalls.append(_recall(np.where(found >= 0, positions, -1), truth))
            seconds += took
        rows.append(_row("pgvector", label, build_total, ef, seconds, float(np.mean(recalls))))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    seconds, recalls = [], []
    for _, _, data, truth in collections:
        index = AutoIndex()
        index.add(np.arange(size), data.faces)
        found, took = _timed(index, data.queries)
        recalls.append(_recall(found, truth))
        seconds += took
    rows.append(_row("embedded", label, 0.0, 0, seconds, float(np.mean(recalls))))
    print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    rows += _one_graph(database, collections, label, args)
    database.close()
    return rows


def _one_graph(
    database: PostgresDatabase, collections: list, label: str, args: argparse.Namespace
) -> list[dict[str, str]]:
    """The alternative design: one HNSW graph over every face, filtered by collection."""
    with database.write() as db:
        for row_id, *_ in collections:
            db.execute(f"DROP INDEX {vector_index_name(row_id)}")
    started = time.perf_counter()
    with database.write() as db:
        db.execute("SET LOCAL maintenance_work_mem = '4GB'")
        db.execute(
            f"CREATE INDEX faces_all_vectors ON faces USING hnsw (embedding vector_l2_ops) "
            f"WITH (m = {args.hnsw_m}, ef_construction = {args.ef_construction})"
        )
    build_s = time.perf_counter() - started
    rows = []
    for ef in [int(e) for e in args.ef_search.split(",")]:
        seconds, recalls = [], []
        for row_id, row_ids, data, truth in collections:
            found, took = _search_pg(database, row_id, data.queries)
            positions = np.searchsorted(row_ids, found)
            recalls.append(_recall(np.where(found >= 0, positions, -1), truth))
            seconds += took
        rows.append(
            _row("pgvector, one graph", label, build_s, ef, seconds, float(np.mean(recalls)))
        )
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def _row(
    index: str, faces: str, build_s: float, ef: int, seconds: list[float], recall: float
) -> dict[str, str]:
    p50, p99 = _percentiles(seconds)
    return {
        "index": index,
        "faces": faces,
        "build s": f"{build_s:.1f}",
        "ef_search": str(ef) if ef else "exact",
        "p50 ms": p50,
        "p99 ms": p99,
        "recall@10": f"{recall:.4f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["search", "api", "video"], default="search")
    parser.add_argument("--sizes", default="1000000", help="faces in one collection")
    parser.add_argument("--collections", default="100x10000", help="COUNTxFACES, or ''")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--ef-search", default="200,400,800")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = search_part(args)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
