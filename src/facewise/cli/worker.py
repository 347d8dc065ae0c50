"""`facewise worker`: run the video jobs `facewise serve` queues in Celery on Redis, and the
stream processors this worker holds the lease of."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from facewise.cli.server import add_live_options


def _worker(args: argparse.Namespace) -> int:
    from facewise.api.shapes_streams import stream_record
    from facewise.cli.server import live_settings
    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer
    from facewise.service.context import ServiceContext
    from facewise.service.worker import serve_jobs, worker_name
    from facewise.settings import data_dir, queue_url

    url = queue_url(args.queue_url)
    if url is None:
        print(
            "facewise: a worker needs a queue: --queue-url redis://HOST:6379/0 "
            "(or $FACEWISE_QUEUE_URL)",
            file=sys.stderr,
        )
        return 2
    folder = data_dir(args.data_dir)
    context = ServiceContext.open(
        folder,
        store_url=args.store_url,
        analyzer=FaceAnalyzer(AnalyzerConfig(data_dir=folder)),
        s3_endpoint_url=args.s3_endpoint_url,
    )
    context.live_settings = live_settings(args)
    owner = worker_name()

    def ready() -> None:
        print(f"facewise worker {owner} is taking video jobs from {url}", flush=True)

    try:
        serve_jobs(context, url, args.concurrency, owner, stream_record, args.max_processors, ready)
    finally:
        context.close()
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_data_dir: Callable[[argparse.ArgumentParser], None],
) -> None:
    worker = commands.add_parser(
        "worker",
        help="run the video jobs and stream processors of a scale-out deployment "
        "(`facewise serve --queue-url`)",
    )
    worker.add_argument(
        "--queue-url",
        help="the Redis broker, redis://HOST:6379/0 (default $FACEWISE_QUEUE_URL)",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="video jobs analysed at once (default: one per core)",
    )
    worker.add_argument(
        "--max-processors",
        type=int,
        default=4,
        help="stream processors this worker runs at most; the rest wait for a worker with "
        "room (default 4)",
    )
    add_live_options(worker)
    worker.add_argument(
        "--s3-endpoint-url",
        help="read S3Object videos from this S3-compatible endpoint (default: the folder "
        "<data dir>/buckets/<bucket>/<key>)",
    )
    add_data_dir(worker)
    worker.set_defaults(run=_worker)
