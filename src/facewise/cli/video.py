"""`facewise video faces|search VIDEO`: Rekognition Video's face jobs on a local file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facewise.service.video_results import FaceDetectionPage, FaceSearchPage, VideoPerson


def _bar(quiet: bool) -> Callable[[int, int], None]:
    def show(done_ms: int, total_ms: int) -> None:
        if quiet:
            return
        from facewise.cli.render import progress_bar

        bar = progress_bar(done_ms, total_ms)
        print(f"\r{bar} {done_ms / 1000:7.1f} / {total_ms / 1000:.1f} s", end="", file=sys.stderr)

    return show


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}"


def spans(times: list[int], gap_ms: int) -> list[tuple[int, int]]:
    """Consecutive times (no more than gap_ms apart) as (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for t in sorted(times):
        if ranges and t - ranges[-1][1] <= gap_ms:
            ranges[-1] = (ranges[-1][0], t)
        else:
            ranges.append((t, t))
    return ranges


def _person_label(person: VideoPerson) -> str:
    if not person.matches:
        return f"#{person.index}"
    best = person.matches[0].face
    return f"#{person.index} {best.external_image_id or best.user_id or best.face_id[:8]}"


def search_table(page: FaceSearchPage, gap_ms: int) -> str:
    """Who appeared when: one line per person (track), with what they matched."""
    by_person: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for person in page.persons:
        by_person.setdefault(person.index, []).append(person.timestamp_ms)
        if person.matches and person.index not in names:
            best = person.matches[0]
            who = best.face.external_image_id or best.face.user_id or best.face.face_id
            names[person.index] = f"{who} ({best.similarity_pct:.1f}, {best.face.face_id})"
    lines = [f"{'person':>6}  {'seen (s)':<24} matched"]
    for index in sorted(by_person):
        seen = ", ".join(f"{_seconds(a)}-{_seconds(b)}" for a, b in spans(by_person[index], gap_ms))
        lines.append(f"{index:>6}  {seen:<24} {names.get(index, 'nobody in the collection')}")
    return "\n".join(lines)


def faces_table(page: FaceDetectionPage, gap_ms: int) -> str:
    """How many faces were in view, over time."""
    counts: dict[int, int] = {}
    for face in page.faces:
        counts[face.timestamp_ms] = counts.get(face.timestamp_ms, 0) + 1
    ranges = [
        (a, b, number)
        for number in sorted(set(counts.values()))
        for a, b in spans([t for t, n in counts.items() if n == number], gap_ms)
    ]
    lines = [f"{'seen (s)':<16} faces"]
    lines += [f"{_seconds(a) + '-' + _seconds(b):<16} {n}" for a, b, n in sorted(ranges)]
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from facewise.api.shapes_video import get_face_detection_response, get_face_search_response
    from facewise.cli.video_draw import Mark
    from facewise.service.collections import FaceCollections
    from facewise.service.video_runner import analysed_now

    if not args.video.is_file():
        print(f"facewise video: no such file {args.video}", file=sys.stderr)
        return 2
    with FaceCollections.open(args.data_dir, store_url=args.store_url) as faces:
        jobs = analysed_now(faces.context, faces.caller, _bar(args.quiet or args.json))
        gap_ms = int(1000 / faces.context.video.analysis.rate_fps * 1.5)
        if args.action == "search" and not args.collection:
            print("facewise video search: --collection is required", file=sys.stderr)
            return 2
        if args.action == "search":
            job_id = jobs.start_face_search(args.video, args.collection, args.threshold)
            search = jobs.all_face_search(job_id)
            status = search.job
            marks = [
                Mark(p.timestamp_ms, p.face, _person_label(p), bool(p.matches))
                for p in search.persons
            ]
            shown = (
                json.dumps(get_face_search_response(search), indent=2)
                if args.json
                else search_table(search, gap_ms)
            )
        else:
            job_id = jobs.start_face_detection(args.video, args.attributes)
            found = jobs.all_face_detection(job_id)
            status = found.job
            marks = [Mark(f.timestamp_ms, f.face, "face", True) for f in found.faces]
            shown = (
                json.dumps(get_face_detection_response(found), indent=2)
                if args.json
                else faces_table(found, gap_ms)
            )
    if not (args.quiet or args.json):
        print(file=sys.stderr)  # end the progress bar's line
    if status.status != "SUCCEEDED":
        print(f"facewise video: {status.status_message}", file=sys.stderr)
        return 1
    if args.draw:
        from facewise.cli.video_draw import draw_video

        draw_video(args.video, args.draw, marks)
        if not args.quiet:
            print(f"wrote {args.draw}", file=sys.stderr)
    print(shown)
    return 0


def _topics(args: argparse.Namespace) -> int:
    from facewise.service.caller import Caller
    from facewise.service.context import ServiceContext
    from facewise.service.notifications import Topics

    if args.action in ("create", "delete") and not args.name:
        print(f"facewise topics {args.action}: name the topic", file=sys.stderr)
        return 2
    if args.action == "create" and not args.url:
        print("facewise topics create: --url is required", file=sys.stderr)
        return 2
    with ServiceContext.open(args.data_dir, store_url=args.store_url) as context:
        topics = Topics(context, Caller(args.account))
        if args.action == "create":
            topic = topics.create(args.name, args.url)
            print(f"# topic {topic.name!r} posts to {topic.url}; its signing secret (shown once):")
            print(topic.secret)
            arn = f"arn:aws:sns:us-east-1:{context.account_id(args.account)}:{topic.name}"
            print(f"# NotificationChannel SNSTopicArn: {arn}")
        elif args.action == "delete":
            topics.delete(args.name)
            print(f"deleted {args.name}")
        else:
            for topic in topics.list():
                print(f"{topic.name:<30} {topic.url}")
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    store_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    video = commands.add_parser(
        "video", help="faces in a video file: who appears when (Rekognition Video's face jobs)"
    )
    video.add_argument("action", choices=["faces", "search"])
    video.add_argument("video", type=Path, help="a video file FFmpeg reads (MP4, MOV, MKV...)")
    video.add_argument("--collection", help="collection to search (search)")
    video.add_argument(
        "--threshold", type=float, default=None, help="similarity 0-100 (search; default 80)"
    )
    video.add_argument(
        "--attributes",
        default="DEFAULT",
        type=str.upper,
        choices=["DEFAULT", "ALL"],
        help="face attributes to report (faces; default DEFAULT)",
    )
    video.add_argument("--json", action="store_true", help="print the Get... response as JSON")
    video.add_argument(
        "--draw",
        type=Path,
        metavar="OUT.mp4",
        help="write the video with boxes, track numbers and matched names burnt in",
    )
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    store_options(video)
    video.set_defaults(run=_run)

    topics = commands.add_parser(
        "topics", help="webhooks that SNS topic ARNs name, called when a video job ends"
    )
    topics.add_argument("action", choices=["create", "list", "delete"])
    topics.add_argument("name", nargs="?", help="topic name (the last part of its ARN)")
    topics.add_argument("--url", help="webhook receiving the completion message (create)")
    topics.add_argument("--account", default="default", help="the account (default 'default')")
    store_options(topics)
    topics.set_defaults(run=_topics)
