"""The HTTP service against the library in-process: requests/s and p50/p99 latency.

DetectFaces and SearchFacesByImage at 1, 4 and 16 concurrent clients: once through a real
`facewise serve` process on loopback (boto3, SigV4, one client per thread), once by calling
the library (`detect_faces`, `FaceCollections.search_faces_by_image`) from the same number
of threads sharing one FaceAnalyzer. Both paths send the same image bytes in the same order;
the ratio of the two is what the service adds (HTTP, JSON and base64, SigV4, the inference
queue, and the boto3 client, which runs on the same cores as the server). Each row's requests
run in two halves, library-service-service-library, so drift in the machine's load hits both
paths alike; latency is per call as the caller sees it, req/s is calls over wall time.

    cd bench && PYTHONPATH=../src ../.venv/bin/python bench_service.py \
        --data ../../shared/data/faces [--requests 150] [--concurrency 1,4,16] [--workers N]

Photos: every photo of --data's manifest.csv, as stored (the one WebP among them re-encoded
to JPEG q92, since Rekognition takes only JPEG and PNG); without --data, matplotlib's
grace_hopper.jpg. For SearchFacesByImage the same photos are first indexed into a collection
in the server's store and in a separate library store. The server and the library each get
a fresh temporary data directory; the converted model is copied from --models-from (default
./facewise-data) when it is there, else each converts it on first use.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPERATIONS = ("DetectFaces", "SearchFacesByImage")
COLLECTION = "bench"
URL_LINE = re.compile(r"serving Amazon Rekognition's API on (http://\S+)")
STARTUP_SECONDS = 180
WARM_UP_CALLS = 3

Call = Callable[[bytes], int]  # one request; returns how many times botocore retried it


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes


def load_photos(data: Path | None) -> list[Photo]:
    """The manifest's photos (or Grace Hopper) as the bytes a client would send."""
    from PIL import Image

    if data is None:
        import matplotlib.cbook

        grace = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        return [Photo("grace_hopper", grace.read_bytes())]
    with (data / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    photos = []
    for row in rows:
        raw = (data / row["path"]).read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ("JPEG", "PNG"):
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, "JPEG", quality=92)
                raw = buffer.getvalue()
        photos.append(Photo(re.sub(r"[^a-zA-Z0-9_.\-:]", "_", row["path"]), raw))
    return photos


# -- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    """`facewise serve --port 0` in a subprocess, stopped with SIGTERM."""

    data_dir: Path
    extra_args: list[str]
    url: str = ""
    access_key_id: str = ""
    secret: str = ""
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    process: subprocess.Popen[str] | None = None

    def start(self) -> Server:
        command = [sys.executable, "-m", "facewise.cli.main", "serve", "--port", "0"]
        command += ["--data-dir", str(self.data_dir), *self.extra_args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        for line in self.process.stdout:
            self.log.append(line)
            if found := URL_LINE.search(line):
                self.url = found[1]
            elif line.startswith("export AWS_ACCESS_KEY_ID="):
                self.access_key_id = line.split("=", 1)[1].strip()
            elif line.startswith("export AWS_SECRET_ACCESS_KEY="):
                self.secret = line.split("=", 1)[1].strip()
            if "Application startup complete" in line or time.monotonic() > deadline:
                break
        if not (self.url and self.access_key_id and self.secret) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("facewise serve did not start:\n" + "".join(self.log))
        # Keep reading: the access log goes to this pipe, and a full pipe would stall the server.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)

    def client(self):  # type: ignore[no-untyped-def]
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


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One (operation, clients, path) run."""

    operation: str
    clients: int
    path: str
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s else 0.0

    def percentile(self, q: float) -> float:
        """Nearest rank: the smallest latency at or above q percent of the requests."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def error_code(error: Exception) -> tuple[str, int]:
    """A short name for a failed call, and botocore's retries of it."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code") or type(error).__name__
        return code, int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
    return type(error).__name__, 0


def run_cell(
    cell: Cell, calls: Sequence[Call], photos: Sequence[Photo], first: int, count: int
) -> Cell:
    """Requests ``first`` to ``first + count`` (photos in order, cycling) by len(calls)
    threads at once, added to ``cell``."""
    lock = threading.Lock()
    next_index = iter(range(first, first + count))
    start = threading.Barrier(len(calls) + 1)

    def worker(call: Call) -> None:
        start.wait()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            data = photos[i % len(photos)].data
            began = time.perf_counter()
            try:
                retries = call(data)
            except Exception as error:
                code, retries = error_code(error)
                with lock:
                    cell.errors[code] += 1
                    cell.retries += retries
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                cell.latencies_ms.append(elapsed)
                cell.retries += retries

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(worker, call) for call in calls]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        cell.wall_s += time.perf_counter() - began
    return cell


def retried(response: dict[str, Any]) -> int:
    return int(response["ResponseMetadata"].get("RetryAttempts", 0))


def service_calls(clients: Sequence[Any], operation: str) -> list[Call]:
    def make(client: Any) -> Call:
        if operation == "DetectFaces":
            return lambda data: retried(client.detect_faces(Image={"Bytes": data}))
        return lambda data: retried(
            client.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": data})
        )

    return [make(client) for client in clients]


def library_call(analyzer: Any, collections: Any, operation: str) -> Call:
    from facewise.service.faces import detect_faces

    if operation == "DetectFaces":

        def detect(data: bytes) -> int:
            detect_faces(data, attributes="DEFAULT", analyzer=analyzer)
            return 0

        return detect

    def search(data: bytes) -> int:
        collections.search_faces_by_image(COLLECTION, data)
        return 0

    return search


# -- setting up ------------------------------------------------------------------------------


def copy_models(source: Path | None, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if source is not None and (source / "models").is_dir():
        shutil.copytree(source / "models", data_dir / "models", dirs_exist_ok=True)


def index_photos(index: Callable[[Photo], int], photos: Sequence[Photo]) -> tuple[int, float]:
    """Faces indexed from all the photos, and the seconds it took."""
    began = time.perf_counter()
    faces = sum(index(photo) for photo in photos)
    return faces, time.perf_counter() - began


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (Linux VmHWM), in MB; 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> str:
    import importlib.metadata

    names = ("facewise", "onnxruntime", "boto3", "uvicorn")
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} ?")
    return ", ".join(found)


# -- output ----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def table(cells: Sequence[Cell]) -> str:
    library = {(c.operation, c.clients): c for c in cells if c.path == "library"}
    lines = [
        "| operation | clients | path | requests | req/s | p50 ms | p99 ms "
        "| p50 service/library | req/s library/service | retries | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for cell in cells:
        p50_ratio = rate_ratio = ""
        peer = library.get((cell.operation, cell.clients))
        if cell.path == "service" and peer is not None and cell.latencies_ms:
            p50_ratio = f"{cell.percentile(50) / peer.percentile(50):.2f}x"
            rate_ratio = f"{peer.per_second / cell.per_second:.2f}x"
        errors = ", ".join(f"{code} {n}" for code, n in sorted(cell.errors.items())) or "0"
        lines.append(
            f"| {cell.operation} | {cell.clients} | {cell.path} | {cell.requests} "
            f"| {fmt(cell.per_second)} | {fmt(cell.percentile(50))} | {fmt(cell.percentile(99))} "
            f"| {p50_ratio} | {rate_ratio} | {cell.retries if cell.path == 'service' else ''} "
            f"| {errors} |"
        )
    return "\n".join(lines)


def parse_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("--concurrency takes positive integers, e.g. 1,4,16")
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the labelled photos (with manifest.csv)")
    parser.add_argument("--requests", type=int, default=150, help="requests per cell (default 150)")
    parser.add_argument(
        "--concurrency", type=parse_levels, default=[1, 4, 16], help="clients (default 1,4,16)"
    )
    parser.add_argument(
        "--workers", type=int, help="the server's --workers (default: its own, min(cores, 4))"
    )
    parser.add_argument(
        "--max-waiting", type=int, help="the server's --max-waiting (default: its own, 32)"
    )
    parser.add_argument(
        "--models-from",
        type=Path,
        default=Path("facewise-data"),
        help="a data directory whose models/ is copied instead of converting (default "
        "./facewise-data)",
    )
    args = parser.parse_args()

    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
    from facewise.service.collections import FaceCollections

    photos = load_photos(args.data)
    started, load_before = time.perf_counter(), load_average()
    server_args: list[str] = []
    if args.workers is not None:
        server_args += ["--workers", str(args.workers)]
    if args.max_waiting is not None:
        server_args += ["--max-waiting", str(args.max_waiting)]
    workers = args.workers if args.workers is not None else min(os.cpu_count() or 2, 4)
    max_waiting = args.max_waiting if args.max_waiting is not None else 32

    with tempfile.TemporaryDirectory(prefix="facewise-bench-service-") as temp:
        server_dir, library_dir = Path(temp) / "server", Path(temp) / "library"
        copy_models(args.models_from, server_dir)
        copy_models(args.models_from, library_dir)
        server = Server(server_dir, server_args).start()
        analyzer = FaceAnalyzer(AnalyzerConfig(data_dir=library_dir))
        collections = FaceCollections.open(library_dir, analyzer)
        try:
            clients = [server.client() for _ in range(max(args.concurrency))]
            clients[0].create_collection(CollectionId=COLLECTION)
            collections.create_collection(COLLECTION)
            service_faces, service_s = index_photos(
                lambda p: len(
                    clients[0].index_faces(
                        CollectionId=COLLECTION,
                        Image={"Bytes": p.data},
                        ExternalImageId=p.name,
                    )["FaceRecords"]
                ),
                photos,
            )
            library_faces, library_s = index_photos(
                lambda p: len(
                    collections.index_faces(COLLECTION, p.data, external_image_id=p.name).indexed
                ),
                photos,
            )
            probe = photos[0].data
            service_matches = len(
                clients[0].search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": probe})[
                    "FaceMatches"
                ]
            )
            library_matches = len(collections.search_faces_by_image(COLLECTION, probe).matches)

            # Warm up: every client opens its connection; both paths run each operation.
            for operation in OPERATIONS:
                for call in service_calls(clients, operation):
                    call(probe)
                lib = library_call(analyzer, collections, operation)
                for _ in range(WARM_UP_CALLS):
                    lib(probe)

            cells = []
            half = args.requests // 2
            for operation in OPERATIONS:
                for level in args.concurrency:
                    library = Cell(operation, level, "library")
                    service = Cell(operation, level, "service")
                    library_calls = [library_call(analyzer, collections, operation)] * level
                    calls = service_calls(clients[:level], operation)
                    # In halves, library-service-service-library: drift in the machine's
                    # load hits both paths alike, and both see the same photos.
                    run_cell(library, library_calls, photos, 0, half)
                    run_cell(service, calls, photos, 0, half)
                    run_cell(service, calls, photos, half, args.requests - half)
                    run_cell(library, library_calls, photos, half, args.requests - half)
                    cells += [library, service]
                    print(
                        f"  {operation} x{level}: library {library.per_second:.1f}/s, "
                        f"service {service.per_second:.1f}/s; load average {load_average()}",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            server_peak_mb = peak_rss_mb(server.process.pid) if server.process else 0.0
            status = server.stop()
            time.sleep(0.2)  # let the drain thread read the last lines
            clean = any("Application shutdown complete" in line for line in server.log)
            collections.close()

    mean_kb = statistics.mean(len(p.data) for p in photos) / 1024
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; {versions()}"
    )
    print(
        f"server: --workers {workers} --max-waiting {max_waiting}; "
        f"library: one FaceAnalyzer shared by the same number of threads"
    )
    print(
        f"photos: {len(photos)} ({'manifest of ' + str(args.data) if args.data else 'grace_hopper'}"
        f"), mean {mean_kb:.0f} KB; {args.requests} requests per row, photos in order"
    )
    print(
        f"collection '{COLLECTION}': service indexed {service_faces} faces in {service_s:.1f} s, "
        f"library {library_faces} in {library_s:.1f} s; matches for {photos[0].name}: "
        f"service {service_matches}, library {library_matches}"
    )
    print(
        f"peak memory (VmHWM): server process {server_peak_mb:.0f} MB, "
        f"this process (library path + boto3 clients) {peak_rss_mb(os.getpid()):.0f} MB"
    )
    print(
        f"load average (1/5/15 min) before {load_before}, after {load_average()}; "
        f"run {time.perf_counter() - started:.0f} s; server exit status {status}, "
        f"graceful shutdown {'yes' if clean else 'NO'}"
    )
    print()
    print(table(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
