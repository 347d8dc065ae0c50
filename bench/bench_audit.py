"""The cost of the audit trail: SearchFacesByImage requests/s with and without audit records,
and how long `audit verify` takes per million records.

    cd bench && PYTHONPATH=../src ../.venv/bin/python bench_audit.py \
        --data ../../shared/data/faces [--seconds 20] [--concurrency 1,16] [--records 1000000]

Part 1 (service). Two servers run side by side on loopback, each on a fresh data directory
with the same photos indexed: one exactly as `facewise serve` builds it (every
identification appended to the hash-chained SQLite audit table, one write transaction per
record), one with the audit sink replaced by NO_AUDIT. facewise has deliberately no switch
for that; this script's own ``--serve DIR --no-audit`` entry builds the app with
``facewise.api.server.build_app`` and swaps the sink before serving. boto3 clients (SigV4,
standard retries, one client per thread) send the same image bytes to SearchFacesByImage for
a fixed time per row; each row runs in halves ordered without-with-with-without (the next
row with-without-without-with), so drift in the machine's load hits both alike. req/s is
successful calls over wall time; p50/p99 are nearest-rank latencies as the caller sees them.
After the servers stop, the audited server's store must hold one search_faces_by_image
record per successful call the clients made to it (and its chain must verify), the other
none.

Part 2 (verify). ``--records`` synthetic identification records in one account's chain in
a fresh SQLite store: all but the last ``--appends`` written in batches (the chain computed
with store/audit_chain.py's ``chained``, as SqlAuditLog.append does, but many records
per transaction: appending a million one transaction at a time would take hours of fsync),
the last ``--appends`` through ``SqlAuditLog.append`` itself (timed; this is also what
proves the batch rows are in the store's own format, since verify checks the whole chain).
Then ``AuditTrail.verify()`` is timed twice (page cache warm: the file was just written),
and ``facewise audit verify`` once as a whole process.

Photos: every photo of --data's manifest.csv indexed, the first one (or --probe) searched;
without --data, matplotlib's grace_hopper.jpg and skimage's astronaut indexed, Grace Hopper
searched. The audit costs about the same per request whatever the photo, so a small, fast
photo (Grace Hopper, 60 KB) shows it as a larger share than a 2 MB one. The collection's
policy sets its floor to --threshold (default 80, Rekognition's default; facewise's account
floor is 90) and every search asks for that threshold, so the searches match faces and each
audit record names them.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_service import (
    URL_LINE,
    Photo,
    copy_models,
    error_code,
    load_average,
    load_photos,
    peak_rss_mb,
    versions,
)

if TYPE_CHECKING:
    from facewise.service.context import ServiceContext
    from facewise.store.records import AuditEntry
    from facewise.store.sqlite_db import SqliteDatabase

HERE = Path(__file__).resolve().parent
COLLECTION = "bench"
ACCOUNT = "default"  # the account of the first key `facewise serve` creates
OPERATION = "search_faces_by_image"
STARTUP_SECONDS = 180
WARM_UP_CALLS = 3
TARGET_SLOWDOWN_PCT = 5.0
BATCH_RECORDS = 20_000

Call = Callable[[], int]  # one request; returns how many times botocore retried it


# -- the server entry (a subprocess of this script) ------------------------------------------


def disable_audit(context: ServiceContext) -> None:
    """Make the context keep no audit records (``context.rules`` follows ``context.audit``)."""
    from facewise.service.identify import NO_AUDIT

    context.audit = NO_AUDIT


def serve(data_dir: Path, audit: bool, workers: int, max_waiting: int) -> int:
    """What `facewise serve --port 0` does (api/server.py), with the audit sink chosen here."""
    import uvicorn

    from facewise.api.app import ServerConfig
    from facewise.api.server import (
        ServeOptions,
        build_app,
        listening_socket,
        usage,
        uvicorn_config,
        warm_up,
    )

    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sock = listening_socket("127.0.0.1", 0)
    config = ServerConfig(inference_workers=workers, max_waiting=max_waiting)
    app, first = build_app(ServeOptions(host="127.0.0.1", port=0, data_dir=data_dir, config=config))
    if not audit:
        disable_audit(app.context)
    print(f"bench audit sink: {type(app.context.rules.audit).__name__}", flush=True)
    warm_up(app)
    host, port = sock.getsockname()[:2]
    print(usage(f"http://{host}:{port}", first), flush=True)
    uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
    return 0


@dataclass
class Server:
    """This script's ``--serve`` entry in a subprocess, stopped with SIGTERM."""

    data_dir: Path
    audit: bool
    workers: int
    max_waiting: int
    url: str = ""
    access_key_id: str = ""
    secret: str = ""
    sink: str = ""
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    process: subprocess.Popen[str] | None = None
    searches: int = 0  # successful SearchFacesByImage calls the clients made to it
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return "with audit" if self.audit else "without audit"

    def launch(self) -> Server:
        command = [sys.executable, str(HERE / "bench_audit.py"), "--serve", str(self.data_dir)]
        command += ["--workers", str(self.workers), "--max-waiting", str(self.max_waiting)]
        if not self.audit:
            command.append("--no-audit")
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    def wait_ready(self) -> Server:
        if self.process is None or self.process.stdout is None:
            raise RuntimeError("launch() the server first")
        deadline = time.monotonic() + STARTUP_SECONDS
        for line in self.process.stdout:
            self.log.append(line)
            if found := URL_LINE.search(line):
                self.url = found[1]
            elif line.startswith("bench audit sink: "):
                self.sink = line.split(": ", 1)[1].strip()
            elif line.startswith("export AWS_ACCESS_KEY_ID="):
                self.access_key_id = line.split("=", 1)[1].strip()
            elif line.startswith("export AWS_SECRET_ACCESS_KEY="):
                self.secret = line.split("=", 1)[1].strip()
            if "Application startup complete" in line or time.monotonic() > deadline:
                break
        if not (self.url and self.access_key_id and self.secret) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the {self.name} server did not start:\n" + "".join(self.log))
        # Keep reading: a full pipe would stall the server.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            for line in self.process.stdout:
                self.log.append(line)

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "rekognition",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret,
            config=Config(
                retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=32
            ),
        )

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def shut_down_cleanly(self) -> bool:
        return any("Application shutdown complete" in line for line in self.log)


# -- measuring -------------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The smallest value at or above q percent of them (nan for none)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Cell:
    """One (server, clients) row's calls."""

    audit: bool
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def percentile(self, q: float) -> float:
        return nearest_rank(self.latencies_ms, q)


def search_calls(
    server: Server, clients: Sequence[Any], probe: bytes, threshold: float
) -> list[Call]:
    """One SearchFacesByImage call per client, counting successes on the server."""

    def make(client: Any) -> Call:
        def call() -> int:
            response = client.search_faces_by_image(
                CollectionId=COLLECTION, Image={"Bytes": probe}, FaceMatchThreshold=threshold
            )
            with server.lock:
                server.searches += 1
            return int(response["ResponseMetadata"].get("RetryAttempts", 0))

        return call

    return [make(client) for client in clients]


def run_for(cell: Cell, calls: Sequence[Call], seconds: float) -> Cell:
    """len(calls) threads calling for ``seconds`` (calls under way then are finished and
    counted, and the wall time includes them), added to ``cell``."""
    lock = threading.Lock()
    start = threading.Barrier(len(calls) + 1)

    def worker(call: Call) -> None:
        start.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                retries = call()
            except Exception as error:
                code, retries = error_code(error)
                with lock:
                    cell.errors[code] += 1
                    cell.retries += retries
                continue
            elapsed_ms = (time.perf_counter() - began) * 1000
            with lock:
                cell.latencies_ms.append(elapsed_ms)
                cell.retries += retries

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(worker, call) for call in calls]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        cell.wall_s += time.perf_counter() - began
    return cell


def set_collection_floor(data_dir: Path, threshold: float) -> None:
    """The collection's policy minimum, written to the server's store (it reads policies from
    the store on every search)."""
    from facewise.service.policy import Policies
    from facewise.store.backends import default_store_url, open_store

    opened = open_store(default_store_url(data_dir))
    try:
        collection = opened.faces.collection(ACCOUNT, COLLECTION)
        Policies(opened.policies, opened.faces).update(collection, min_threshold=threshold)
    finally:
        opened.close()


@dataclass(frozen=True)
class StoredAudit:
    searches: int  # search_faces_by_image records
    records: int  # records verify checked, every operation and account
    intact: bool


def stored_audit(data_dir: Path) -> StoredAudit:
    """What a (stopped) server's store holds in its audit trail."""
    from facewise.service.audit import AuditTrail
    from facewise.store.backends import default_store_url, open_store
    from facewise.store.records import AuditQuery

    opened = open_store(default_store_url(data_dir))
    try:
        trail = AuditTrail(opened.audit)
        searches = sum(1 for _ in trail.iterate(AuditQuery(operation=OPERATION)))
        report = trail.verify()
        return StoredAudit(searches, sum(c.records for c in report.chains), report.intact)
    finally:
        opened.close()


def index_all(server: Server, client: Any, photos: Sequence[Photo], threshold: float) -> int:
    """Create the collection, set its floor, index every photo; the faces indexed."""
    client.create_collection(CollectionId=COLLECTION)
    set_collection_floor(server.data_dir, threshold)
    faces = 0
    for photo in photos:
        response = client.index_faces(
            CollectionId=COLLECTION, Image={"Bytes": photo.data}, ExternalImageId=photo.name
        )
        faces += len(response["FaceRecords"])
    return faces


# -- part 2: a long chain and verify ---------------------------------------------------------


def bulk_append(
    database: SqliteDatabase, entries: Iterable[AuditEntry], batch: int = BATCH_RECORDS
) -> int:
    """Append entries to their accounts' chains as SqlAuditLog.append does (same hashes,
    rows and heads), ``batch`` records per transaction; the records written. For filling a
    benchmark's private file only: it reads the heads once, so no other writer may append
    meanwhile."""
    from facewise.store.audit_chain import GENESIS_HASH, chained
    from facewise.store.sql_audit import AUDIT_COLUMNS, audit_row

    heads: dict[str, tuple[int, str]] = {
        str(account): (int(seq), str(hash_))
        for account, seq, hash_ in database.connection().execute(
            "SELECT account, seq, hash FROM audit_heads"
        )
    }
    rows: list[tuple[object, ...]] = []
    written = 0

    def flush() -> None:
        with database.write() as db:
            db.executemany(
                f"INSERT INTO audit_records ({AUDIT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany(
                "INSERT OR REPLACE INTO audit_heads (account, seq, hash) VALUES (?, ?, ?)",
                [(account, seq, hash_) for account, (seq, hash_) in heads.items()],
            )
        rows.clear()

    for entry in entries:
        seq, prev_hash = heads.get(entry.account, (0, GENESIS_HASH))
        record = chained(seq + 1, entry, prev_hash)
        heads[entry.account] = (record.seq, record.hash)
        rows.append(audit_row(record))
        written += 1
        if len(rows) >= batch:
            flush()
    if rows:
        flush()
    return written


def synthetic_entries(count: int, first: int = 0, seed: int = 0) -> Iterator[AuditEntry]:
    """Identification records like the service writes: one account, a few keys and source
    addresses, a collection of 10,000 faces, 0-3 matched FaceIds, a request id, 50 ms apart."""
    from facewise.store.records import AuditEntry

    rng = random.Random(seed + first)
    keys = [f"FW{rng.getrandbits(72):018X}" for _ in range(4)]
    sources = [f"10.0.0.{i}" for i in range(1, 9)]
    start_ms = 1_796_083_200_000  # 2026-12-01T00:00:00Z

    def an_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for i in range(first, first + count):
        matched = rng.choice((0, 1, 1, 2, 3))
        yield AuditEntry(
            account=ACCOUNT,
            time_ms=start_ms + 50 * i,
            operation=OPERATION,
            access_key_id=rng.choice(keys),
            collection=COLLECTION,
            requested_threshold=80.0,
            applied_threshold=90.0,
            faces_searched=10_000,
            faces_matched=matched,
            ids=tuple(an_id() for _ in range(matched)),
            request_id=an_id(),
            source_address=rng.choice(sources),
        )


@dataclass
class VerifyResult:
    records: int
    bulk_s: float
    append_ms: list[float]
    verify_s: list[float]
    checked: int
    intact: bool
    cli_s: float
    cli_startup_s: float  # the same command on an empty store
    cli_status: int
    cli_output: str
    file_bytes: int


def _cli_verify(folder: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`facewise audit verify` on a data directory, timed as a whole process."""
    command = [sys.executable, "-m", "facewise.cli.main", "audit", "verify", "--data-dir"]
    began = time.perf_counter()
    done = subprocess.run([*command, str(folder)], capture_output=True, text=True, check=False)
    return time.perf_counter() - began, done


def measure_verify(folder: Path, records: int, appends: int) -> VerifyResult:
    """Write the chain into ``folder``'s store, then time verifying it."""
    from facewise.service.audit import AuditTrail
    from facewise.store.backends import DATABASE_FILE
    from facewise.store.sql_audit import SqlAuditLog
    from facewise.store.sqlite_db import SqliteDatabase

    appends = min(appends, records)
    bulk = records - appends
    path = folder / DATABASE_FILE
    database = SqliteDatabase(path)
    began = time.perf_counter()
    bulk_append(database, synthetic_entries(bulk))
    bulk_s = time.perf_counter() - began
    log = SqlAuditLog(database)
    append_ms = []
    for entry in synthetic_entries(appends, first=bulk):
        began = time.perf_counter()
        log.append(entry)
        append_ms.append((time.perf_counter() - began) * 1000)
    database.scrub()  # the write-ahead log into the file, so the file size is all of it
    database.close()

    verify_s = []
    checked, intact = 0, False
    for _ in range(2):
        database = SqliteDatabase(path)
        began = time.perf_counter()
        report = AuditTrail(SqlAuditLog(database)).verify()
        verify_s.append(time.perf_counter() - began)
        database.close()
        checked, intact = sum(c.records for c in report.chains), report.intact

    cli_s, cli = _cli_verify(folder)
    empty = folder.parent / "verify-empty"
    empty.mkdir()
    startup_s, _ = _cli_verify(empty)
    file_bytes = sum(p.stat().st_size for p in folder.glob(DATABASE_FILE + "*"))
    return VerifyResult(
        records,
        bulk_s,
        append_ms,
        verify_s,
        checked,
        intact,
        cli_s,
        startup_s,
        cli.returncode,
        (cli.stdout + cli.stderr).strip(),
        file_bytes,
    )


# -- output ----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def service_table(rows: Sequence[tuple[Cell, Cell]]) -> str:
    lines = [
        "| clients | without audit req/s | with audit req/s | change % "
        f"| within {TARGET_SLOWDOWN_PCT:g}% | p50 ms without | p50 ms with | p99 ms without "
        "| p99 ms with | calls without / with | retries | errors |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for off, on in rows:
        change = (on.per_second / off.per_second - 1) * 100 if off.per_second else float("nan")
        within = "" if math.isnan(change) else ("yes" if change > -TARGET_SLOWDOWN_PCT else "NO")
        errors = off.errors + on.errors
        shown = ", ".join(f"{code} {n}" for code, n in sorted(errors.items())) or "0"
        lines.append(
            f"| {off.clients} | {fmt(off.per_second)} | {fmt(on.per_second)} | {change:+.1f} "
            f"| {within} | {fmt(off.percentile(50))} | {fmt(on.percentile(50))} "
            f"| {fmt(off.percentile(99))} | {fmt(on.percentile(99))} "
            f"| {len(off.latencies_ms)} / {len(on.latencies_ms)} | {off.retries + on.retries} "
            f"| {shown} |"
        )
    return "\n".join(lines)


def exit_text(status: int | None) -> str:
    """uvicorn re-raises the SIGTERM it stopped on after its graceful shutdown."""
    return "by SIGTERM" if status == -signal.SIGTERM else f"status {status}"


def filesystem(path: Path) -> str:
    """The mount (and its type) that holds ``path``: fsync costs differ by the fs."""
    resolved = str(path.resolve()).rstrip("/") + "/"
    mount, kind = "?", "?"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown filesystem"
    for line in lines:
        point, fs_type = line.split()[1:3]
        inside = resolved.startswith(point.rstrip("/") + "/")
        if inside and (mount == "?" or len(point) > len(mount)):
            mount, kind = point, fs_type
    return f"{kind} ({mount})"


def parse_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("--concurrency takes positive integers, e.g. 1,16")
    return levels


def astronaut() -> Photo:
    """skimage's astronaut as a JPEG (q92)."""
    import skimage.data
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buffer, "JPEG", quality=92)
    return Photo("astronaut", buffer.getvalue())


# -- main ------------------------------------------------------------------------------------


def run_service(args: argparse.Namespace, temp: Path) -> None:
    photos = load_photos(args.data)
    if args.data is None:
        photos.append(astronaut())
    probe = photos[0]
    if args.probe is not None:
        wanted = re.sub(r"[^a-zA-Z0-9_.\-:]", "_", args.probe)  # as load_photos names them
        named = [p for p in photos if p.name in (args.probe, wanted)]
        if not named:
            raise SystemExit(f"--probe {args.probe!r}: no such photo among {len(photos)}")
        probe = named[0]
    servers = [
        Server(temp / name, audit, args.workers, args.max_waiting)
        for name, audit in (("without-audit", False), ("with-audit", True))
    ]
    for server in servers:
        copy_models(args.models_from, server.data_dir)
    for server in servers:
        server.launch()
    rows: list[tuple[Cell, Cell]] = []
    statuses: list[int | None] = []
    peaks_mb: list[float] = []
    try:
        for server in servers:
            server.wait_ready()
        clients = {id(s): [s.client() for _ in range(max(args.concurrency))] for s in servers}
        faces, matches = [], []
        for server in servers:
            first = clients[id(server)][0]
            faces.append(index_all(server, first, photos, args.threshold))
            found = first.search_faces_by_image(
                CollectionId=COLLECTION,
                Image={"Bytes": probe.data},
                FaceMatchThreshold=args.threshold,
            )["FaceMatches"]
            with server.lock:
                server.searches += 1
            matches.append(len(found))
            # Every client opens its connection; the server's first searches run.
            for call in search_calls(server, clients[id(server)], probe.data, args.threshold):
                for _ in range(WARM_UP_CALLS):
                    call()
        off_server, on_server = servers
        print(
            f"indexed {faces[0]} / {faces[1]} faces (without / with audit) from {len(photos)} "
            f"photos; {probe.name} ({len(probe.data) / 1024:.0f} KB) matches {matches[0]} / "
            f"{matches[1]} at {args.threshold:g}; sinks {off_server.sink} / {on_server.sink}",
            file=sys.stderr,
            flush=True,
        )
        half = args.seconds / 2
        for number, level in enumerate(args.concurrency):
            off, on = Cell(False, level), Cell(True, level)
            pairs = [(off_server, off), (on_server, on)]
            if number % 2:
                pairs.reverse()
            for server, cell in [*pairs, *reversed(pairs)]:
                calls = search_calls(
                    server, clients[id(server)][:level], probe.data, args.threshold
                )
                run_for(cell, calls, half)
            rows.append((off, on))
            print(
                f"  x{level}: without audit {off.per_second:.1f}/s, with {on.per_second:.1f}/s; "
                f"load average {load_average()}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for server in servers:
            peaks_mb.append(peak_rss_mb(server.process.pid) if server.process else 0.0)
            statuses.append(server.stop())
        time.sleep(0.2)  # let the drain threads read the last lines

    stored = [stored_audit(server.data_dir) for server in servers]
    source = f"manifest of {args.data}" if args.data else "grace_hopper + astronaut"
    print(
        f"servers: --workers {args.workers} --max-waiting {args.max_waiting}, data on "
        f"{filesystem(temp)}; peak memory {peaks_mb[0]:.0f} / {peaks_mb[1]:.0f} MB; exit "
        f"{exit_text(statuses[0])} / {exit_text(statuses[1])}, graceful shutdown "
        f"{'yes' if servers[0].shut_down_cleanly else 'NO'} / "
        f"{'yes' if servers[1].shut_down_cleanly else 'NO'} (without / with audit)"
    )
    print(
        f"photos: {len(photos)} indexed ({source}), searched with "
        f"{probe.name} ({len(probe.data) / 1024:.0f} KB) at FaceMatchThreshold {args.threshold:g} "
        f"(the collection's floor); {args.seconds:g} s per row and server, in halves"
    )
    for server, found in zip(servers, stored, strict=True):
        expected = server.searches if server.audit else 0
        verdict = "as expected" if found.searches == expected else "MISMATCH"
        print(
            f"audit records {server.name}: {found.searches:,} {OPERATION} records for "
            f"{server.searches:,} successful calls the clients made to it (expected "
            f"{expected:,}: {verdict}); chain {'intact' if found.intact else 'BROKEN'}, "
            f"{found.records:,} records checked"
        )
    print()
    print(service_table(rows))
    print()


def run_verify(args: argparse.Namespace, temp: Path) -> None:
    folder = temp / "verify"
    folder.mkdir()
    result = measure_verify(folder, args.records, args.appends)
    per_million = [s / result.records * 1_000_000 for s in result.verify_s]
    print(
        f"audit chain: {result.records:,} records in one account, on {filesystem(folder)}; "
        f"file {result.file_bytes / 1e6:.1f} MB ({result.file_bytes / result.records:.0f} bytes "
        f"per record)"
    )
    bulk = result.records - len(result.append_ms)
    print(
        f"written: {bulk:,} in batches of {BATCH_RECORDS:,} in {result.bulk_s:.1f} s; "
        f"{len(result.append_ms):,} through SqlAuditLog.append (one transaction each), "
        f"ms per append p50 {fmt(nearest_rank(result.append_ms, 50), 2)}, "
        f"p99 {fmt(nearest_rank(result.append_ms, 99), 2)}"
    )
    print(f"verify: {result.checked:,} records checked, {'intact' if result.intact else 'BROKEN'}")
    print()
    print("| verify | seconds | seconds per 1M records |")
    print("|---|---:|---:|")
    for number, (seconds, scaled) in enumerate(zip(result.verify_s, per_million, strict=True)):
        print(f"| AuditTrail.verify(), run {number + 1} | {seconds:.2f} | {scaled:.2f} |")
    walk_s = result.cli_s - result.cli_startup_s
    print(
        f"| facewise audit verify (whole process, exit {result.cli_status}) | {result.cli_s:.2f} "
        f"| {walk_s / result.records * 1_000_000:.2f} (less {result.cli_startup_s:.2f} s "
        "start-up on an empty store) |"
    )
    print()
    print(f"facewise audit verify said: {result.cli_output}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the labelled photos (with manifest.csv)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="seconds per row and server (default 20)"
    )
    parser.add_argument(
        "--concurrency", type=parse_levels, default=[1, 16], help="clients (default 1,16)"
    )
    parser.add_argument(
        "--probe",
        help="the photo searched, by its manifest path (e.g. deepface/img1.jpg; default the "
        "first photo, or grace_hopper without --data)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=80.0,
        help="FaceMatchThreshold and the collection's floor (default 80)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 2, 4),
        help="the servers' inference workers (default: as facewise serve, cores up to 4)",
    )
    parser.add_argument(
        "--max-waiting", type=int, default=32, help="the servers' --max-waiting (default 32)"
    )
    parser.add_argument(
        "--records",
        type=int,
        default=1_000_000,
        help="audit records to verify (default 1,000,000)",
    )
    parser.add_argument(
        "--appends",
        type=int,
        default=1000,
        help="of those, the last ones written (and timed) through SqlAuditLog.append "
        "(default 1000)",
    )
    parser.add_argument("--only", choices=["service", "verify"], help="run one part only")
    parser.add_argument(
        "--models-from",
        type=Path,
        default=HERE.parent / "facewise-data",
        help="a data directory whose models/ is copied instead of converting (default: the "
        "repository's facewise-data)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where the temporary data directories go (default: $TMPDIR)"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the server subprocess
    parser.add_argument("--no-audit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve, not args.no_audit, args.workers, args.max_waiting)
    if args.records < 1:
        parser.error("--records must be at least 1")

    started, load_before = time.perf_counter(), load_average()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; {versions()}"
    )
    with tempfile.TemporaryDirectory(prefix="facewise-bench-audit-", dir=args.workdir) as temp:
        if args.only in (None, "service"):
            run_service(args, Path(temp))
        if args.only in (None, "verify"):
            run_verify(args, Path(temp))
    print(
        f"load average (1/5/15 min) before {load_before}, after {load_average()}; "
        f"run {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
