"""Scale-out: face search in PostgreSQL (pgvector) next to the embedded index, API throughput
with 1, 2 and 4 `facewise serve` processes, and video jobs per hour with 1 and 2 workers.

    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part search \\
        --sizes 1000000 --collections 100x10000
    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part api
    cd bench && PYTHONPATH=..:../src ../.venv/bin/python bench_scale.py --part video

search: one collection of N faces, and C collections of M faces each, loaded into a real
PostgreSQL 18 + pgvector (bulk COPY, then each collection's HNSW index built as facewise
builds it) and into the embedded index (store.vectors: exact below 20k faces, usearch HNSW
above), which is also measured as a PostgreSQL deployment with vectors=local searches it
(built from the database's descriptors, the change log checked before each search).
Single queries through each index's facewise search path, p50/p99 over --queries,
recall@10 against exact search of the same collection. The descriptors are the harder
synthetic set of bench_search.py. The partial-index design is measured against one HNSW
index over every face with a collection filter (pgvector's iterative scan).

api: --clients boto3 threads in this process call IndexFaces, then SearchFacesByImage, for
--seconds each, against 1, 2 and 4 `facewise serve` processes sharing one port on PostgreSQL
(and one embedded server for comparison); calls per second over wall time.

video: --jobs StartFaceDetection jobs of a --video-s video (people crossing every 8 s), run
by 1 and 2 `facewise worker`s on PostgreSQL + Redis, and by one embedded server with 1 and 2
video workers; wall time from the first Start to the last SUCCEEDED.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.live.engines import PostgresServer

from bench_search import K, face_set, markdown
from facewise.store.indexes import CollectionIndexes
from facewise.store.pgvector_index import PgvectorCollection
from facewise.store.postgres_db import PostgresDatabase, vector_index_name
from facewise.store.records import CollectionRecord
from facewise.store.sql_faces import SqlFaceStore
from facewise.store.vectors import AutoIndex, ExactIndex

PG_SETTINGS = {
    "shared_buffers": "6GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "1",
    "effective_cache_size": "12GB",
    # Huge pages when the OS has them reserved (sysctl vm.nr_hugepages): HNSW searches are
    # random reads of shared buffers, and 2 MB pages spare most TLB misses.
    "huge_pages": "try",
}


def _print_last(rows: list[dict[str, str]]) -> None:
    """The newest row as a table line, at once (long runs show progress)."""
    print(markdown(rows[-1:]).splitlines()[-1], flush=True)


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
        print(f"PostgreSQL on 127.0.0.1:{server.port}; {knobs}; {_huge_pages(server)}", flush=True)
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
                _print_last(rows)
            local_store = SqlFaceStore(database)
            rows += _local_and_embedded(local_store, row_id, row_ids, data.queries, truth, size)
            database.close()
        if args.collections:
            rows += _many_collections(server, args, knobs)
    finally:
        server.stop()
    return rows


class _SyncedSearch:
    """Searches as a facewise process with vectors=local does: catch up with the database's
    change log, then search the in-process index."""

    def __init__(self, indexes: CollectionIndexes, collection: CollectionRecord) -> None:
        self.indexes, self.collection = indexes, collection

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.indexes.synced(self.collection).search(queries, k)


def _local_and_embedded(
    store: SqlFaceStore,
    row_id: int,
    row_ids: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    size: int,
) -> list[dict[str, str]]:
    """PostgreSQL with vectors=local (first open: every descriptor read from the database
    and the embedded index built from them; each search checks the change log first), and
    the same in-process index searched directly, as the embedded store does."""
    rows: list[dict[str, str]] = []
    ef_embedded = 512 if size >= 20_000 else 0
    with tempfile.TemporaryDirectory(prefix="facewise-bench-vectors-") as folder:
        local = CollectionIndexes(store, Path(folder), keep_log=True)
        collection = store.collection_by_row(row_id)
        started = time.perf_counter()
        index = local.synced(collection)
        build_s = time.perf_counter() - started
        for label, searched in (
            ("PostgreSQL, vectors=local", _SyncedSearch(local, collection)),
            ("embedded", index),
        ):
            found, seconds = _timed(searched, queries)
            positions = np.searchsorted(row_ids, found)
            recall = _recall(np.where(found >= 0, positions, -1), truth)
            rows.append(_row(label, f"1 × {size:,}", build_s, ef_embedded, seconds, recall))
            _print_last(rows)
    return rows


def _huge_pages(server: PostgresServer) -> str:
    import psycopg

    with psycopg.connect(server.url()) as connection:
        status = connection.execute("SHOW huge_pages_status").fetchone()
    return f"huge pages {status[0] if status else 'unknown'}"


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
        _print_last(rows)
    seconds, recalls = [], []
    for _, _, data, truth in collections:
        index = AutoIndex()
        index.add(np.arange(size), data.faces)
        found, took = _timed(index, data.queries)
        recalls.append(_recall(found, truth))
        seconds += took
    rows.append(_row("embedded", label, 0.0, 0, seconds, float(np.mean(recalls))))
    _print_last(rows)
    if args.one_graph:
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
        _print_last(rows)
    return rows


def _photos() -> list[bytes]:
    """Grace Hopper (matplotlib) and Eileen Collins (scikit-image) as JPEG."""
    import io

    import skimage.data
    from PIL import Image
    from tests.conftest import grace_hopper_path

    buffer = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buffer, format="JPEG", quality=92)
    return [grace_hopper_path().read_bytes(), buffer.getvalue()]


def _hammer(clients: list[Any], call: Callable[[Any, int], object], seconds: float) -> float:
    """Calls per second from one thread per client, each calling until ``seconds`` pass."""
    done = [0] * len(clients)
    deadline = time.monotonic() + seconds

    def run(slot: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            call(clients[slot], i)
            done[slot] += 1
            i += 1

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def api_part(args: argparse.Namespace) -> list[dict[str, str]]:
    """IndexFaces/s and SearchFacesByImage/s from --clients threads against 1, 2 and 4
    servers sharing one port (--reuse-port) on PostgreSQL, and against one embedded server."""
    from tests.api.server import ServerProcess
    from tests.live.services import free_port

    photos = _photos()
    rows: list[dict[str, str]] = []
    server = PostgresServer(settings=PG_SETTINGS).start()
    models = Path(args.models_from).absolute()
    try:
        plans = [("embedded", 1)] + [("postgresql", n) for n in args.processes]
        for store, count in plans:
            with tempfile.TemporaryDirectory() as folder:
                env = {}
                if store == "postgresql":
                    env["FACEWISE_STORE_URL"] = server.create_database(f"api_{count}")
                port = str(free_port())
                servers: list[ServerProcess] = []
                for i in range(count):
                    extra = ["--port", port, "--reuse-port"]
                    process = ServerProcess(Path(folder) / f"api-{i}", extra, extra_env=env)
                    servers.append(process.start(models_from=models))
                key = (servers[0].access_key_id, servers[0].secret)
                try:
                    clients = [servers[0].client(*key) for _ in range(args.clients)]
                    clients[0].create_collection(CollectionId="bench")

                    def index(client: Any, i: int) -> object:
                        image = {"Bytes": photos[i % len(photos)]}
                        return client.index_faces(CollectionId="bench", Image=image)

                    def search(client: Any, i: int) -> object:
                        image = {"Bytes": photos[i % len(photos)]}
                        return client.search_faces_by_image(CollectionId="bench", Image=image)

                    indexed = _hammer(clients, index, args.seconds)
                    searched = _hammer(clients, search, args.seconds)
                finally:
                    for process in servers:
                        process.stop()
                rows.append(
                    {
                        "store": store,
                        "servers": str(count),
                        "clients": str(args.clients),
                        "IndexFaces/s": f"{indexed:.1f}",
                        "SearchFacesByImage/s": f"{searched:.1f}",
                        "load average": f"{os.getloadavg()[0]:.1f}",
                    }
                )
                _print_last(rows)
    finally:
        server.stop()
    return rows


def video_part(args: argparse.Namespace) -> list[dict[str, str]]:
    """Video jobs per hour: --jobs StartFaceDetection jobs of one --video-s video, run by 1
    and 2 `facewise worker`s (each --concurrency 1) on PostgreSQL and Redis, and by one
    embedded server with 1 and 2 video workers."""
    import skimage.data
    from PIL import Image
    from tests.api.cluster import WorkerProcess
    from tests.api.server import ServerProcess
    from tests.api.test_video_restart import _repeated_crossings
    from tests.conftest import grace_hopper_path
    from tests.live.engines import RedisServer
    from tests.video.scenes import make_cast
    from tests.video.synth import encode, scene_frames

    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

    models = Path(args.models_from).absolute()
    analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=models))
    hopper = np.asarray(Image.open(grace_hopper_path()).convert("RGB"))
    cast = make_cast(analyzer, np.ascontiguousarray(skimage.data.astronaut()), hopper)
    rows: list[dict[str, str]] = []
    server = PostgresServer(settings=PG_SETTINGS).start()
    try:
        for store, workers in [("embedded", 1), ("embedded", 2), ("redis", 1), ("redis", 2)]:
            with tempfile.TemporaryDirectory() as name:
                folder = Path(name)
                bucket = folder / "api" / "buckets" / "videos"
                bucket.mkdir(parents=True)
                video_ms = int(args.video_s * 1000)
                walks = _repeated_crossings(cast, video_ms)
                encode(scene_frames(walks, video_ms), bucket / "crossing.mp4")
                env: dict[str, str] = {}
                extra = ["--video-workers", str(workers)]
                redis = None
                if store == "redis":
                    redis = RedisServer(folder / "redis").start()
                    env["FACEWISE_STORE_URL"] = server.create_database(f"video_{workers}")
                    env["FACEWISE_QUEUE_URL"] = redis.url
                    extra = ["--max-queued-jobs", str(args.jobs)]
                else:
                    extra += ["--max-queued-jobs", str(args.jobs)]
                api = ServerProcess(folder / "api", extra, extra_env=env).start(models)
                started: list[WorkerProcess] = []
                for i in range(workers if redis is not None else 0):
                    data = folder / f"worker-{i}"
                    (data / "buckets").mkdir(parents=True)
                    (data / "buckets" / "videos").symlink_to(bucket)
                    started.append(WorkerProcess(data, env).start(models_from=models))
                try:
                    client = api.client()
                    video = {"S3Object": {"Bucket": "videos", "Name": "crossing.mp4"}}
                    began = time.monotonic()
                    jobs = [
                        client.start_face_detection(Video=video, JobTag=f"j{i}")["JobId"]
                        for i in range(args.jobs)
                    ]
                    for job_id in jobs:
                        while (
                            client.get_face_detection(JobId=job_id, MaxResults=1)["JobStatus"]
                            == "IN_PROGRESS"
                        ):
                            time.sleep(0.2)
                    took = time.monotonic() - began
                finally:
                    for worker in started:
                        worker.stop()
                    api.stop()
                    if redis is not None:
                        redis.stop()
                rows.append(
                    {
                        "jobs run by": (
                            f"{workers} worker(s), PostgreSQL + Redis"
                            if redis is not None
                            else f"facewise serve, {workers} video worker(s)"
                        ),
                        "jobs": str(args.jobs),
                        "video s each": f"{args.video_s:.0f}",
                        "wall s": f"{took:.1f}",
                        "jobs/hour": f"{args.jobs * 3600 / took:.0f}",
                        "video s analysed per s": f"{args.jobs * args.video_s / took:.2f}",
                    }
                )
                _print_last(rows)
    finally:
        server.stop()
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
    parser.add_argument(
        "--one-graph",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure one HNSW graph over every collection's faces, filtered (search)",
    )
    parser.add_argument("--processes", default="1,2,4", help="servers sharing the port (api)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (api)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per measurement (api)")
    parser.add_argument("--jobs", type=int, default=6, help="video jobs per row (video)")
    parser.add_argument(
        "--video-s", type=float, default=64.0, help="each job's video: the crossing, repeated"
    )
    parser.add_argument(
        "--models-from", default="../facewise-data", help="a data dir with converted models"
    )
    args = parser.parse_args()
    args.processes = [int(n) for n in str(args.processes).split(",")]
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}", flush=True)
    parts = {"search": search_part, "api": api_part, "video": video_part}
    rows = parts[args.part](args)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
