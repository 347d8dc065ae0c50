"""A local scale-out deployment on this machine (`make cluster`): PostgreSQL with pgvector,
Redis, SeaweedFS (S3), two `facewise serve` processes sharing one port and two
`facewise worker`s. Everything listens on 127.0.0.1 and keeps its data in one folder, so the
next start finds it again. Ctrl-C stops it all.

    .venv/bin/python deploy/cluster.py [--folder cluster-data] [--port 8080]

The engines are started with the same launchers the tests use (tests/live/engines.py); on
real hosts run your own PostgreSQL, Redis and S3 and only the facewise commands printed at
the start (docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live.engines import PostgresServer, RedisServer, SeaweedFS


def _facewise(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "facewise.cli.main", *args]
    return subprocess.Popen(
        command, env={**os.environ, **env}, stdout=open(log, "ab"), stderr=subprocess.STDOUT
    )


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            raise SystemExit(f"{log.name} stopped:\n{content[-2000:]}")
        time.sleep(0.3)
    raise SystemExit(f"{log.name} did not start in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("cluster-data"))
    parser.add_argument("--port", type=int, default=8080, help="the servers' shared port")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = args.folder.absolute()
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    postgres = PostgresServer(durable=True, folder=folder / "postgres", port=54329).start()
    redis = RedisServer(folder / "redis", port=63799).start()
    seaweed = SeaweedFS(folder / "seaweedfs", s3_port=8333).start()
    env = {
        "FACEWISE_STORE_URL": postgres.create_database("facewise", exist_ok=True),
        "FACEWISE_QUEUE_URL": redis.url,
        "AWS_ACCESS_KEY_ID": seaweed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": seaweed.secret,
    }
    s3 = ["--s3-endpoint-url", seaweed.url]
    processes: list[subprocess.Popen[bytes]] = []
    started: list[str] = []  # each server's output up to its start
    try:
        for i in range(args.servers):
            log = logs / f"serve-{i + 1}.log"
            serve = ["serve", "--port", str(args.port), "--reuse-port", *s3]
            processes.append(
                _facewise(*serve, "--data-dir", str(folder / "models"), env=env, log=log)
            )
            started.append(_wait_for(log, "Application startup complete", processes[-1]))
        for i in range(args.workers):
            log = logs / f"worker-{i + 1}.log"
            worker = ["worker", *s3, "--data-dir", str(folder / "models")]
            processes.append(_facewise(*worker, env=env, log=log))
            _wait_for(log, "is taking video jobs", processes[-1])
        keys = [line for line in started[0].splitlines() if line.startswith("export AWS_")]
        print(f"facewise cluster: {args.servers} servers on http://127.0.0.1:{args.port}, ")
        print(f"{args.workers} workers; logs in {logs}")
        print(f"  store  {env['FACEWISE_STORE_URL']}\n  queue  {redis.url}\n  s3     {seaweed.url}")
        print("  (the S3 key is in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of the processes:")
        print(f"   {seaweed.access_key_id} / {seaweed.secret})")
        if keys:
            print("\nThe first facewise key (shown only now):\n" + "\n".join(keys))
        else:
            print(f"\nKeys: FACEWISE_STORE_URL={env['FACEWISE_STORE_URL']} facewise keys create")
        print(f"\n  aws rekognition list-collections --endpoint-url http://127.0.0.1:{args.port}")
        print("\nCtrl-C stops everything.", flush=True)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(1.0):
            if any(process.poll() is not None for process in processes):
                print("a facewise process stopped; see its log", file=sys.stderr)
                break
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        seaweed.stop()
        redis.stop()
        postgres.stop()
        print("facewise cluster stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
