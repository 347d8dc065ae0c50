"""`facewise collections|index|search|faces|users`: the collection operations from a shell."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facewise.errors import FacewiseError

if TYPE_CHECKING:
    from facewise.service.collections import FaceCollections

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _open(args: argparse.Namespace) -> FaceCollections:
    from facewise.service.collections import FaceCollections

    return FaceCollections.open(args.data_dir, store_url=args.store_url)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def external_id_for(relative: Path) -> str:
    """An ExternalImageId from a file's path relative to the folder named on the command line
    (folders joined by ':'), in Rekognition's allowed characters, at most 255."""
    joined = ":".join(relative.parts)
    return re.sub(r"[^a-zA-Z0-9_.\-:]", "_", joined)[-255:] or "image"


def image_files(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to what was named) for the JPEG and PNG files named and those
    inside the folders named (recursively)."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.suffix.lower() in IMAGE_SUFFIXES:
                    yield found, found.relative_to(path)
        else:
            yield path, Path(path.name)


def _progress(done: int, total: int, name: str, note: str) -> None:
    from facewise.cli.render import progress_bar

    bar = progress_bar(done, total)
    print(f"\r{bar} {done}/{total} {note:<12} {name[:40]:<40}", end="", file=sys.stderr)


def _collections(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.name:
        print(f"facewise collections {args.action}: a collection name is required", file=sys.stderr)
        return 2
    with _open(args) as faces:
        if args.action == "create":
            record = faces.create_collection(args.name)
            _print({"collection": record.name, "face_model_version": record.face_model_version})
        elif args.action == "list":
            names, token = [], None
            while True:
                page = faces.list_collections(next_token=token)
                names += [r.name for r in page.items]
                token = page.next_token
                if token is None:
                    break
            for name in names:
                print(name)
        elif args.action == "describe":
            info = faces.describe_collection(args.name)
            _print(
                {
                    "collection": info.record.name,
                    "faces": info.face_count,
                    "users": info.user_count,
                    "face_model_version": info.record.face_model_version,
                    "created_at_ms": info.record.created_at_ms,
                }
            )
        else:
            faces.delete_collection(args.name)
            print(f"deleted {args.name}")
    return 0


def _index(args: argparse.Namespace) -> int:
    files = list(image_files(args.paths))
    counts = {"indexed": 0, "skipped": 0, "no face": 0, "opted out": 0, "failed": 0}
    with _open(args) as faces:
        record = faces.describe_collection(args.collection).record
        for number, (path, relative) in enumerate(files, start=1):
            external_id = external_id_for(relative)
            if faces.context.store.has_external_image_id(record, external_id):
                note = "skipped"  # indexed by an earlier run: re-running is safe
            else:
                try:
                    result = faces.index_faces(
                        args.collection,
                        path,
                        external_image_id=external_id,
                        max_faces=args.max_faces,
                        quality_filter=args.quality_filter,
                    )
                    refused = any("opted_out" in u.reasons for u in result.unindexed)
                    note = "indexed" if result.indexed else "opted out" if refused else "no face"
                except FacewiseError as error:
                    note = "failed"
                    print(f"\n{path}: {type(error).__name__}: {error}", file=sys.stderr)
            counts[note] += 1
            if not args.quiet:
                _progress(number, len(files), path.name, note)
    if not args.quiet:
        print(file=sys.stderr)
    _print(counts)
    return 1 if counts["failed"] else 0


def _search(args: argparse.Namespace) -> int:
    if (args.image is None) == (args.face_id is None):
        print("facewise search: give a photo or --face-id, not both", file=sys.stderr)
        return 2
    with _open(args) as faces:
        options = {"max_faces": args.max_faces, "face_match_threshold": args.threshold}
        if args.face_id is not None:
            result = faces.search_faces(args.collection, args.face_id, **options)
        else:
            result = faces.search_faces_by_image(args.collection, args.image, **options)
        _print(
            [
                {
                    "similarity": round(m.similarity_pct, 2),
                    "face_id": m.face.face_id,
                    "external_image_id": m.face.external_image_id,
                    "user_id": m.face.user_id,
                }
                for m in result.matches
            ]
        )
    return 0


def _faces(args: argparse.Namespace) -> int:
    with _open(args) as faces:
        if args.action == "list":
            token, listed = None, []
            while True:
                page = faces.list_faces(
                    args.collection, next_token=token, user_id=args.user, face_ids=args.only
                )
                listed += page.items
                token = page.next_token
                if token is None:
                    break
            _print(
                [
                    {
                        "face_id": f.face_id,
                        "external_image_id": f.external_image_id,
                        "user_id": f.user_id,
                        "confidence": round(f.confidence * 100, 2),
                    }
                    for f in listed
                ]
            )
        else:
            result = faces.delete_faces(args.collection, args.face_ids)
            _print({"deleted": result.deleted, "not_found": [f.face_id for f in result.failed]})
    return 0


def _users(args: argparse.Namespace) -> int:
    if args.action in ("create", "delete", "associate", "disassociate") and not args.user:
        print(f"facewise users {args.action}: --user is required", file=sys.stderr)
        return 2
    if args.action == "search" and [args.image, args.user, args.face_id].count(None) != 2:
        print("facewise users search: give one of --image, --user, --face-id", file=sys.stderr)
        return 2
    with _open(args) as faces:
        if args.action == "create":
            faces.create_user(args.collection, args.user)
            print(f"created {args.user}")
        elif args.action == "delete":
            faces.delete_user(args.collection, args.user)
            print(f"deleted {args.user}")
        elif args.action == "list":
            token, users = None, []
            while True:
                page = faces.list_users(args.collection, next_token=token)
                users += page.items
                token = page.next_token
                if token is None:
                    break
            _print(
                [{"user_id": u.user_id, "status": u.status, "faces": u.face_count} for u in users]
            )
        elif args.action in ("associate", "disassociate"):
            operation = getattr(faces, f"{args.action}_faces")
            result = operation(args.collection, args.user, args.face_ids)
            _print(
                {
                    args.action + "d": result.changed,
                    "failed": [
                        {"face_id": f.face_id, "reasons": list(f.reasons)} for f in result.failed
                    ],
                    "user_status": result.user_status,
                }
            )
        else:
            if args.image is not None:
                result = faces.search_users_by_image(
                    args.collection, args.image, user_match_threshold=args.threshold
                )
            else:  # by a stored face or by a user
                result = faces.search_users(
                    args.collection,
                    user_id=args.user,
                    face_id=args.face_id,
                    user_match_threshold=args.threshold,
                )
            _print(
                [
                    {"user_id": m.user.user_id, "similarity": round(m.similarity_pct, 2)}
                    for m in result.matches
                ]
            )
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    data_dir_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register the collection commands on the main parser."""
    collections = commands.add_parser("collections", help="create, list, describe, delete")
    collections.add_argument("action", choices=["create", "list", "describe", "delete"])
    collections.add_argument("name", nargs="?", help="collection name (not for list)")
    data_dir_option(collections)
    collections.set_defaults(run=_collections)

    index = commands.add_parser("index", help="add the faces in photos or folders to a collection")
    index.add_argument("paths", nargs="+", type=Path, help="JPEG/PNG files or folders")
    index.add_argument("--collection", required=True)
    index.add_argument("--max-faces", type=int, default=None, help="largest faces per photo")
    index.add_argument(
        "--quality-filter",
        default="AUTO",
        type=str.upper,
        choices=["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"],
    )
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    data_dir_option(index)
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="who in a collection looks like this photo's face")
    search.add_argument("image", type=Path, nargs="?", help="photo whose largest face to find")
    search.add_argument("--face-id", help="find faces like this stored face instead")
    search.add_argument("--collection", required=True)
    search.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="similarity 0-100 (default 80, raised to the floor: 90 unless an admin set another)",
    )
    search.add_argument("--max-faces", type=int, default=10)
    data_dir_option(search)
    search.set_defaults(run=_search)

    faces = commands.add_parser("faces", help="list or delete the faces of a collection")
    faces.add_argument("action", choices=["list", "delete"])
    faces.add_argument("face_ids", nargs="*", help="FaceIds to delete")
    faces.add_argument("--collection", required=True)
    faces.add_argument("--user", default=None, help="only this user's faces (list)")
    faces.add_argument("--only", nargs="+", metavar="FACE_ID", help="only these faces (list)")
    data_dir_option(faces)
    faces.set_defaults(run=_faces)

    users = commands.add_parser("users", help="users: people made of several faces")
    users.add_argument(
        "action", choices=["create", "delete", "list", "associate", "disassociate", "search"]
    )
    users.add_argument("--collection", required=True)
    users.add_argument("--user", help="UserId (create, delete, associate, disassociate)")
    users.add_argument("--face-ids", nargs="+", default=[], help="FaceIds to (dis)associate")
    users.add_argument("--image", type=Path, help="photo to search users with (search)")
    users.add_argument("--face-id", help="stored face to search users with (search)")
    users.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="similarity 0-100 (default 80, raised to the floor: 90 unless an admin set another)",
    )
    data_dir_option(users)
    users.set_defaults(run=_users)
