"""`facewise cameras`, `facewise data-streams` and `facewise streams`: live cameras watched
for a collection's faces. These work on the store; a running `facewise serve` runs the
processors (it notices a start or stop within half a second)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from facewise.service.caller import Caller
from facewise.service.context import ServiceContext


def _open(args: argparse.Namespace) -> ServiceContext:
    return ServiceContext.open(args.data_dir, store_url=args.store_url)


def _need(args: argparse.Namespace, command: str, *names: str) -> str | None:
    missing = [n for n in names if not getattr(args, n.replace("-", "_"), None)]
    if missing:
        return f"facewise {command} {args.action}: --{missing[0]} is required"
    return None


def _cameras(args: argparse.Namespace) -> int:
    from facewise.service.cameras import Cameras

    if args.action in ("add", "remove") and not args.name:
        print(f"facewise cameras {args.action}: name the camera", file=sys.stderr)
        return 2
    if args.action == "add" and (problem := _need(args, "cameras", "url")):
        print(problem, file=sys.stderr)
        return 2
    with _open(args) as context:
        cameras = Cameras(context, Caller(args.account))
        if args.action == "add":
            camera = cameras.add(args.name, args.url, args.loop)
            print(
                f"# camera {camera.name!r} reads {camera.url}{' (looped)' if camera.loop else ''}"
            )
            print(f"# Input.KinesisVideoStream.Arn: {cameras.arn(camera)}")
            print(cameras.arn(camera))
        elif args.action == "remove":
            cameras.remove(args.name)
            print(f"removed {args.name}")
        else:
            for camera in cameras.list():
                print(f"{camera.name:<24} {camera.url}{'  (loop)' if camera.loop else ''}")
    return 0


def _data_streams(args: argparse.Namespace) -> int:
    from facewise.service.data_streams import DataStreams

    if args.action in ("create", "delete", "describe") and not args.name:
        print(f"facewise data-streams {args.action}: name the data stream", file=sys.stderr)
        return 2
    with _open(args) as context:
        streams = DataStreams(context, Caller(args.account))
        if args.action == "create":
            stream = streams.create(
                args.name,
                args.retention_hours,
                args.webhook,
                args.mqtt,
                args.jsonl,
                redis=args.redis_stream,
            )
            info = streams.describe(stream.name)
            print(f"# data stream {stream.name!r}")
            if info.sinks.webhook_secret:
                print(f"# webhook signing secret (shown once): {info.sinks.webhook_secret}")
            print(f"# Output.KinesisDataStream.Arn: {streams.arn(stream)}")
            print(streams.arn(stream))
        elif args.action == "delete":
            streams.delete(args.name)
            print(f"deleted {args.name}")
        elif args.action == "describe":
            info = streams.describe(args.name)
            sinks = {k: v for k, v in info.sinks.__dict__.items() if v and k != "webhook_secret"}
            print(f"{info.stream.name}: records {info.oldest_seq}-{info.newest_seq}, sinks {sinks}")
        else:
            for stream in streams.list():
                print(f"{stream.name:<24} {streams.arn(stream)}")
    return 0


def _region_boxes(values: list[str] | None) -> list[Any] | None:
    from facewise.errors import InvalidParameterError
    from facewise.video.live import RegionOfInterest

    if not values:
        return None
    regions = []
    for value in values:
        try:
            left, top, width, height = (float(v) for v in value.split(","))
        except ValueError:
            raise InvalidParameterError(
                f"--region {value!r}: write LEFT,TOP,WIDTH,HEIGHT"
            ) from None
        regions.append(RegionOfInterest(box_ltwh=(left, top, width, height)))
    return regions


def _streams(args: argparse.Namespace) -> int:
    from facewise.service.cameras import Cameras
    from facewise.service.data_streams import DataStreams
    from facewise.service.stream_processors import StreamProcessors

    if args.action != "list" and not args.name:
        print(f"facewise streams {args.action}: name the stream processor", file=sys.stderr)
        return 2
    if args.action == "create" and (
        problem := _need(args, "streams", "camera", "data-stream", "collection")
    ):
        print(problem, file=sys.stderr)
        return 2
    with _open(args) as context:
        caller = Caller(args.account)
        processors = StreamProcessors(context, caller)
        if args.action == "create":
            cameras, streams = Cameras(context, caller), DataStreams(context, caller)
            processors.create(
                args.name,
                cameras.arn(cameras.get(args.camera)),
                streams.arn(streams.get(args.data_stream)),
                args.collection,
                args.threshold,
                _region_boxes(args.region),
            )
            print(f"created {args.name} (STOPPED): facewise streams start {args.name}")
        elif args.action == "start":
            session = processors.start(args.name, args.max_duration_s)
            print(f"starting {args.name} (session {session}); a running facewise serve runs it")
        elif args.action == "stop":
            processors.stop(args.name)
            print(f"stopping {args.name}")
        elif args.action == "delete":
            processors.delete(args.name)
            print(f"deleted {args.name}")
        elif args.action == "describe":
            info = processors.describe(args.name)
            record = info.record
            message = f" ({record.status_message})" if record.status_message else ""
            print(f"{record.name}: {record.status}{message}")
            print(f"  camera {record.camera} -> data stream {record.data_stream}")
            threshold = info.settings.threshold
            print(f"  collection {record.collection}, threshold {threshold or 'default (80)'}")
        elif args.action == "watch":
            return _watch(context, caller, args)
        else:
            for record in processors.list_processors().items:
                message = f"  {record.status_message}" if record.status_message else ""
                print(f"{record.name:<24} {record.status:<9} {record.camera}{message}")
    return 0


def _watch(context: ServiceContext, caller: Caller, args: argparse.Namespace) -> int:
    """Print the processor's match records as they arrive (Ctrl-C ends)."""
    from facewise.service.data_streams import SHARD_ID, DataStreams
    from facewise.service.stream_processors import StreamProcessors

    record = StreamProcessors(context, caller).describe(args.name).record
    streams = DataStreams(context, caller)
    kind = "TRIM_HORIZON" if args.from_start else "LATEST"
    iterator = streams.shard_iterator(record.data_stream, SHARD_ID, kind)
    shown = 0
    show: Callable[[dict[str, Any]], str] = (lambda r: json.dumps(r)) if args.json else _readable
    try:
        while args.count is None or shown < args.count:
            page = streams.records(iterator)
            iterator = page.next_iterator
            for item in page.records:
                print(show(json.loads(item.data)), flush=True)
                shown += 1
                if args.count is not None and shown >= args.count:
                    break
            if not page.records:
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    return 0


def _readable(record: dict[str, Any]) -> str:
    video = record["InputInformation"]["KinesisVideo"]
    when = datetime.fromtimestamp(video["ServerTimestamp"]).strftime("%H:%M:%S.%f")[:-3]
    lines = []
    for found in record["FaceSearchResponse"]:
        person = found.get("Person", {}).get("Index", "?")
        matches = found["MatchedFaces"]
        if matches:
            best = matches[0]
            face = best["Face"]
            name = face.get("UserId") or face.get("ExternalImageId") or face["FaceId"]
            who = f"{name} ({best['Similarity']:.1f}, {face['FaceId']})"
        else:
            who = "unknown face"
        lines.append(f"{when}  person {person:<4} {who}")
    return "\n".join(lines)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    store_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    def account(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--account", default="default", help="the account (default 'default')")
        store_options(parser)

    cameras = commands.add_parser("cameras", help="live sources stream processors read")
    cameras.add_argument("action", choices=["add", "list", "remove"])
    cameras.add_argument("name", nargs="?", help="camera name")
    cameras.add_argument("--url", help="rtsp://..., http(s)://... (MJPEG or HLS) or a file")
    cameras.add_argument("--loop", action="store_true", help="play a file again at its end")
    account(cameras)
    cameras.set_defaults(run=_cameras)

    streams = commands.add_parser(
        "data-streams", help="where stream processors write (read with boto3's kinesis client)"
    )
    streams.add_argument("action", choices=["create", "list", "describe", "delete"])
    streams.add_argument("name", nargs="?", help="data stream name")
    streams.add_argument("--webhook", help="also POST each record here (signed)")
    streams.add_argument("--mqtt", help="also publish each record to mqtt://host[:port]/topic")
    streams.add_argument("--jsonl", help="also append each record to this JSON lines file")
    streams.add_argument(
        "--redis-stream",
        help="also add each record to the Redis stream redis://host[:port]/DB/STREAM-KEY",
    )
    streams.add_argument(
        "--retention-hours", type=float, help="keep records this long (default 24)"
    )
    account(streams)
    streams.set_defaults(run=_data_streams)

    processors = commands.add_parser(
        "streams", help="stream processors: cameras watched for a collection's faces"
    )
    processors.add_argument(
        "action", choices=["create", "start", "stop", "list", "describe", "delete", "watch"]
    )
    processors.add_argument("name", nargs="?", help="stream processor name")
    processors.add_argument("--camera", help="camera to watch (create)")
    processors.add_argument("--data-stream", help="data stream to write to (create)")
    processors.add_argument("--collection", help="collection to search (create)")
    processors.add_argument("--threshold", type=float, help="similarity 0-100 (default 80)")
    processors.add_argument(
        "--region",
        action="append",
        metavar="L,T,W,H",
        help="only faces in this box (ratios of the frame; repeatable)",
    )
    processors.add_argument(
        "--max-duration-s", type=int, help="stop by itself after this long (start)"
    )
    processors.add_argument(
        "--from-start", action="store_true", help="watch: print the kept records first"
    )
    processors.add_argument("--count", type=int, help="watch: exit after this many records")
    processors.add_argument("--json", action="store_true", help="watch: print records as JSON")
    account(processors)
    processors.set_defaults(run=_streams)
