"""`facewise serve`: open the store, make sure a key exists, and serve on loopback.

Stops gracefully on SIGINT or SIGTERM: no new connections, running requests finish (up to
``GRACE_SECONDS``), then indexes are snapshotted and the store closed.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from facewise.api.app import RekognitionApp, ServerConfig

if TYPE_CHECKING:
    import uvicorn
from facewise.api.model import service_model
from facewise.api.shapes_streams import stream_record
from facewise.errors import FacewiseError
from facewise.service.context import ServiceContext
from facewise.service.job_queue import EmbeddedQueue
from facewise.service.keys import AccessKeys, NewKey
from facewise.service.live_settings import LiveSettings
from facewise.service.retention import RetentionSweeper
from facewise.service.stream_runner import EmbeddedRunner
from facewise.service.video_runner import delete_expired, resume_jobs, run_job
from facewise.settings import data_dir as resolve_data_dir
from facewise.settings import queue_url

GRACE_SECONDS = 30


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen, what to serve, and where S3Object references are read from.

    store_url: the store (else $FACEWISE_STORE_URL, else the SQLite file in the data dir).
    video_workers: video jobs analysed at once in this process. max_queued_jobs: jobs that
        may wait before Start... answers LimitExceededException.
    queue_url: send video jobs to `facewise worker` processes through this Redis broker
        (else $FACEWISE_QUEUE_URL; else they run in this process, on video_workers threads).
    s3_endpoint_url: read S3Object images from this S3-compatible endpoint instead of the
        folder of buckets ``<data dir>/buckets``.
    live: how cameras are read and analysed (service/live_settings.py).
    retention_sweep_s: seconds between retention passes (service/retention.py).
    reuse_port: let several `facewise serve` processes on one store listen on the same
        host and port (SO_REUSEPORT): the kernel spreads connections over them, one address
        with no load balancer in front; a process that dies drops only its own connections.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path | None = None
    store_url: str | None = None
    s3_endpoint_url: str | None = None
    landmarks_68: bool = False
    video_workers: int = 1
    queue_url: str | None = None
    max_queued_jobs: int = 20
    config: ServerConfig = ServerConfig()  # noqa: RUF009 - frozen
    live: LiveSettings = LiveSettings()  # noqa: RUF009 - frozen
    retention_sweep_s: float = 60.0
    reuse_port: bool = False


def build_app(options: ServeOptions) -> tuple[RekognitionApp, NewKey | None]:
    """The app over the data directory, and the first key if this start created it."""
    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

    folder = resolve_data_dir(options.data_dir)
    analyzer = FaceAnalyzer(AnalyzerConfig(landmarks_68=options.landmarks_68, data_dir=folder))
    context = ServiceContext.open(
        folder,
        store_url=options.store_url,
        analyzer=analyzer,
        s3_endpoint_url=options.s3_endpoint_url,
    )
    broker = queue_url(options.queue_url)
    context.live_settings = options.live
    context.background.append(RetentionSweeper(context, options.retention_sweep_s).start())
    if broker is not None:
        from facewise.service.celery_queue import CeleryQueue

        # The workers run jobs and stream processors; what a dead worker held comes back
        # through its leases.
        context.queue = CeleryQueue(broker, options.max_queued_jobs)
    else:
        context.live = EmbeddedRunner(context, stream_record).begin()
        queue = EmbeddedQueue(
            lambda job_id: run_job(context, job_id, stopping=queue.stopping),
            options.video_workers,
            options.max_queued_jobs,
            housekeeping=lambda: delete_expired(context),
        )
        context.queue = queue
        resumed = resume_jobs(context)
        if resumed:
            logging.getLogger("facewise.server").info("resumed %d unfinished video jobs", resumed)
    keys = AccessKeys(context.access_keys)
    first = keys.create_first()
    return RekognitionApp(context, keys, options.config), first


def warm_up(app: RekognitionApp) -> None:
    """Load every model and the service model now, so the first request is not slow."""
    import numpy as np

    from facewise.types import Attribute, FaceDetection

    analyzer = app.context.analyzer
    analyzer.load_all()
    # Each model's first run allocates its buffers: run all of them once on a made-up face.
    grey = np.full((200, 200, 3), 128, dtype=np.uint8)
    analyzer.detect(grey)
    eyes_nose_mouth = ((80.0, 90.0), (120.0, 90.0), (100.0, 110.0), (85.0, 130.0), (115.0, 130.0))
    face = FaceDetection((60.0, 50.0, 140.0, 150.0), 1.0, eyes_nose_mouth)
    analyzer.analyze(grey, [face], frozenset(Attribute), with_embedding=True)
    service_model()  # botocore's Rekognition model takes ~50 ms to load


def usage(url: str, first: NewKey | None) -> str:
    """What a new user needs to call the service."""
    lines = [f"facewise is serving Amazon Rekognition's API on {url}"]
    if first is not None:
        lines += [
            "",
            "Created the first access key (account 'default'). Its secret is shown only now:",
            "",
            first.exports(),
            "export AWS_DEFAULT_REGION=us-east-1",
        ]
    else:
        lines += ["", "Sign requests with a key from `facewise keys create` (or the first one)."]
    lines += [
        "",
        f"  aws rekognition list-collections --endpoint-url {url}",
        f'  boto3.client("rekognition", endpoint_url="{url}")',
    ]
    return "\n".join(lines)


def listening_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A bound, listening TCP socket (port 0 picks a free port); with reuse_port, other
    processes may listen on the same address too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit this. Without it a response's header and body writes
    # meet the client's delayed ACK: 40 ms added to every call on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: RekognitionApp) -> uvicorn.Config:
    """How uvicorn serves the app: lifespan on, facewise's own access log, graceful stops."""
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        server_header=False,
    )


def _graceful_server(config: uvicorn.Config) -> uvicorn.Server:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, returning normally after a signalled graceful stop (uvicorn
        would re-raise the signal, so the process died by it after a clean shutdown)."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    return GracefulServer(config)


def serve(options: ServeOptions) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""

    logging.basicConfig(
        level=os.environ.get("FACEWISE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:  # first, so a taken port fails at once; connections wait in the backlog meanwhile
        sock = listening_socket(options.host, options.port, options.reuse_port)
    except OSError as error:
        print(
            f"facewise: cannot listen on {options.host}:{options.port}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    try:
        app, first = build_app(options)
    except FacewiseError as error:  # a bad store URL, an unusable database
        sock.close()
        print(f"facewise: {error}", file=sys.stderr)
        return 2
    warm_up(app)
    host, port = sock.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    print(usage(url, first), flush=True)
    _graceful_server(uvicorn_config(app)).run(sockets=[sock])
    print("facewise stopped", file=sys.stderr, flush=True)
    return 0
