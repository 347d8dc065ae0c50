"""`facewise serve` and `facewise keys`: the HTTP service and its access keys."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facewise.service.live_settings import LiveSettings
    from facewise.store.records import AccessKey

PORT_ENV = "FACEWISE_PORT"


def _serve(args: argparse.Namespace) -> int:
    from facewise.api.app import ServerConfig
    from facewise.api.server import ServeOptions, serve

    config = ServerConfig(
        inference_workers=args.workers,
        max_waiting=args.max_waiting,
        max_body_bytes=args.max_body_mb * 1024 * 1024,
    )
    return serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            store_url=args.store_url,
            s3_endpoint_url=args.s3_endpoint_url,
            landmarks_68=args.landmarks_68,
            video_workers=args.video_workers,
            queue_url=args.queue_url,
            max_queued_jobs=args.max_queued_jobs,
            config=config,
            live=live_settings(args),
            retention_sweep_s=args.retention_sweep_s,
            reuse_port=args.reuse_port,
        )
    )


def _keys(args: argparse.Namespace) -> int:
    from facewise.service.keys import AccessKeys
    from facewise.store.backends import chosen_store_url, open_store

    store = open_store(chosen_store_url(args.store_url, args.data_dir))
    try:
        keys = AccessKeys(store.access_keys)
        if args.action == "create":
            created = keys.create(args.account, args.role)
            print(
                f"# {created.role} key for account {created.account!r}; "
                "the secret is shown only now"
            )
            print(created.exports())
        elif args.action == "revoke":
            if not args.key:
                print("facewise keys revoke: name the access key id to revoke", file=sys.stderr)
                return 2
            keys.revoke(args.key)
            print(f"revoked {args.key}")
        else:
            rows = [_key_row(key) for key in keys.list()]
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for row in rows:
                    print(
                        f"{row['access_key_id']}  {row['account']:<20} {row['role']:<6} "
                        f"{row['status']:<8} created {row['created']}"
                    )
        return 0
    finally:
        store.close()


def _key_row(key: AccessKey) -> dict[str, str]:
    created = datetime.fromtimestamp(key.created_at_ms / 1000, UTC).isoformat(timespec="seconds")
    return {
        "access_key_id": key.access_key_id,
        "account": key.account,
        "role": key.role,
        "status": "active" if key.active else "revoked",
        "created": created,
    }


def add_live_options(parser: argparse.ArgumentParser) -> None:
    """How cameras are read and analysed (by `facewise serve`, or by the workers of a
    scale-out deployment)."""
    parser.add_argument(
        "--camera-give-up-s",
        type=float,
        default=600.0,
        help="a stream processor whose camera dropped keeps retrying this long before it "
        "turns FAILED (default 600)",
    )
    parser.add_argument(
        "--no-motion-gating",
        action="store_true",
        help="analyse every sampled camera frame, also when nothing moved (costs CPU)",
    )


def live_settings(args: argparse.Namespace) -> LiveSettings:
    """The LiveSettings of add_live_options' arguments."""
    from facewise.service.live_settings import LiveSettings

    return LiveSettings(
        give_up_after_s=args.camera_give_up_s, motion_gating=not args.no_motion_gating
    )


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_data_dir: Callable[[argparse.ArgumentParser], None],
) -> None:
    serve = commands.add_parser(
        "serve", help="serve Amazon Rekognition's API (AWS JSON 1.1, SigV4) over HTTP"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(PORT_ENV, "8080")),
        help=f"port (default 8080 or ${PORT_ENV}; 0 picks a free one)",
    )
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        help="let several `facewise serve` processes on one store share --host and --port "
        "(SO_REUSEPORT; the kernel spreads connections over them)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 2, 4),
        help="image requests analysed at once (default: cores, at most 4)",
    )
    serve.add_argument(
        "--max-waiting",
        type=int,
        default=32,
        help="image requests that may wait for a worker before ThrottlingException (default 32)",
    )
    serve.add_argument(
        "--max-body-mb", type=int, default=16, help="largest request body in MiB (default 16)"
    )
    serve.add_argument(
        "--s3-endpoint-url",
        help="read S3Object images from this S3-compatible endpoint (default: the folder "
        "<data dir>/buckets/<bucket>/<key>)",
    )
    serve.add_argument(
        "--video-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="video jobs analysed at once (default: one per core)",
    )
    serve.add_argument(
        "--queue-url",
        help="send video jobs to `facewise worker` processes through this Redis broker, "
        "redis://HOST:6379/0 (default $FACEWISE_QUEUE_URL; none: they run in this process)",
    )
    serve.add_argument(
        "--max-queued-jobs",
        type=int,
        default=20,
        help="video jobs that may wait before Start... answers LimitExceededException (default 20)",
    )
    add_live_options(serve)
    serve.add_argument(
        "--retention-sweep-s",
        type=float,
        default=60.0,
        help="seconds between passes deleting faces past their collection's maximum age "
        "(default 60)",
    )
    serve.add_argument(
        "--landmarks-68",
        action="store_true",
        help="enable the 68-point model (Smile, EyesOpen, MouthOpen; non-commercial licence)",
    )
    add_data_dir(serve)
    serve.set_defaults(run=_serve)

    keys = commands.add_parser("keys", help="create, list or revoke access keys")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key", nargs="?", help="the access key id (for revoke)")
    keys.add_argument(
        "--account", default="default", help="the account a new key acts as (default 'default')"
    )
    keys.add_argument(
        "--role",
        choices=["admin", "index", "search", "read"],
        default="admin",
        help="what a new key may do: admin (everything), index (write faces and users), "
        "search (identify), read (describe and list); default admin",
    )
    keys.add_argument("--json", action="store_true", help="list as JSON")
    add_data_dir(keys)
    keys.set_defaults(run=_keys)
