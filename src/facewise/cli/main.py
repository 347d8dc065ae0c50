"""`facewise` command line: detect-faces, compare-faces, models, and the collection commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from facewise import __version__
from facewise.cli.analyzer_options import add_analyzer_options, analyzer_from_args
from facewise.errors import FacewiseError

EXIT_USAGE = 2
EXIT_FAILED = 1


def _detect(args: argparse.Namespace) -> int:
    from facewise.api.shapes import detect_faces_response
    from facewise.cli import draw, render
    from facewise.imaging.decode import load_image
    from facewise.service.faces import detect_faces

    attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
    rgb = load_image(args.image)
    result = detect_faces(rgb, attributes=attributes, analyzer=analyzer_from_args(args))
    if args.json:
        print(json.dumps(detect_faces_response(result), indent=2))
    else:
        print(render.detect_table(result))
    if args.draw:
        labels = [render.face_label(i, face) for i, face in enumerate(result.faces)]
        draw.save(draw.annotate(rgb, result.faces, labels), args.draw)
        print(f"wrote {args.draw}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from facewise.api.shapes import compare_faces_response
    from facewise.cli import draw, render
    from facewise.imaging.decode import load_image
    from facewise.service.faces import compare_faces
    from facewise.service.identify import Identification, applied_threshold

    threshold = applied_threshold(Identification.COMPARE_FACES, args.threshold, "--threshold")
    source, target = load_image(args.source), load_image(args.target)
    result = compare_faces(
        source,
        target,
        similarity_threshold=threshold,
        quality_filter=args.quality_filter,
        analyzer=analyzer_from_args(args),
    )
    if args.json:
        print(json.dumps(compare_faces_response(result), indent=2))
    else:
        print(render.compare_table(result, threshold))
    if args.draw:
        left = draw.annotate(source, [result.source_face], ["source"], [draw.MATCH_RGB])
        faces = [m.face for m in result.matches] + result.unmatched
        labels = [f"{m.similarity_pct:.1f}" for m in result.matches] + ["no match"] * len(
            result.unmatched
        )
        colours = [draw.MATCH_RGB] * len(result.matches) + [draw.OTHER_RGB] * len(result.unmatched)
        right = draw.annotate(target, faces, labels, colours)
        draw.save(draw.side_by_side(left, right), args.draw)
        print(f"wrote {args.draw}", file=sys.stderr)
    return 0


def _models(args: argparse.Namespace) -> int:
    from facewise.models import resnet_onnx
    from facewise.models.registry import verify_all
    from facewise.settings import model_cache_dir

    statuses = verify_all()
    cache = model_cache_dir(args.data_dir)
    converted = resnet_onnx.cache_status(cache)
    if args.prepare and not converted.ok:
        resnet_onnx.prepare(cache)
        converted = resnet_onnx.cache_status(cache)
    if args.json:
        listing = [
            {
                "name": s.manifest.name,
                "role": s.manifest.role,
                "version": s.manifest.version,
                "license": s.manifest.license,
                "sha256": s.manifest.sha256,
                "optional": s.manifest.optional,
                "path": str(s.path) if s.path else None,
                "ok": s.ok,
                "detail": s.detail,
            }
            for s in statuses
        ]
        print(json.dumps({"models": listing, "converted": converted.as_dict()}, indent=2))
    else:
        for s in statuses:
            mark = "ok  " if s.ok else "FAIL"
            optional = " (optional)" if s.manifest.optional else ""
            print(f"{mark} {s.manifest.name}{optional}: {s.manifest.role}")
            print(f"     {s.manifest.version}; license: {s.manifest.license}")
            print(f"     sha256 {s.manifest.sha256[:16]}... {s.detail}")
        mark = "ok  " if converted.ok else "--  "
        print(f"{mark} {resnet_onnx.ONNX_FILE}: dlib-resnet-v1 converted to ONNX, in {cache}")
        print(f"     {converted.detail}")
    failed = [s for s in statuses if not s.ok and not s.manifest.optional]
    return EXIT_FAILED if failed else 0


DRAW_SUFFIXES = (".png", ".jpg", ".jpeg")


def _drawing_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in DRAW_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{value!r} must end in one of {', '.join(DRAW_SUFFIXES)}")
    return path


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="data directory (default: $FACEWISE_DATA_DIR or ./facewise-data); converted "
        "models are cached in DIR/models",
    )


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    _add_data_dir(parser)
    parser.add_argument(
        "--store-url",
        default=None,
        metavar="URL",
        help="the store: sqlite:///relative.db, sqlite:////absolute.db, or "
        "postgresql://user@host/database with knobs in its query such as ef_search=400 or "
        "vectors=local (docs/scale-out.md) (default: $FACEWISE_STORE_URL, else "
        "DIR/facewise.sqlite3 in the data directory)",
    )


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    add_analyzer_options(parser)
    _add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="print Rekognition's JSON response")
    parser.add_argument(
        "--draw",
        type=_drawing_path,
        metavar="OUT.png",
        help="write the photo with boxes and labels",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facewise",
        description="Self-hosted face detection, comparison and search "
        "(Amazon Rekognition compatible).",
    )
    parser.add_argument("--version", action="version", version=f"facewise {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    detect = commands.add_parser(
        "detect-faces", help="find faces and their attributes in a JPEG or PNG photo"
    )
    detect.add_argument("image", help="path of a JPEG or PNG file")
    detect.add_argument(
        "--attributes",
        default="DEFAULT",
        help="DEFAULT, ALL, or a comma-separated list such as AGE_RANGE,GENDER (default DEFAULT)",
    )
    _add_model_options(detect)
    detect.set_defaults(run=_detect)

    compare = commands.add_parser(
        "compare-faces", help="compare the largest face in SOURCE with every face in TARGET"
    )
    compare.add_argument("source", help="photo with the face to look for")
    compare.add_argument("target", help="photo to look in")
    compare.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="N",
        help="similarity 0-100 at which faces match (default 80; 99 for high-stakes use)",
    )
    compare.add_argument(
        "--quality-filter",
        default="NONE",
        choices=["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"],
        type=str.upper,
        help="drop low-quality faces before comparing (default NONE)",
    )
    _add_model_options(compare)
    compare.set_defaults(run=_compare)

    models = commands.add_parser("models", help="list the bundled models and verify checksums")
    models.add_argument("--json", action="store_true", help="print as JSON")
    models.add_argument(
        "--prepare",
        action="store_true",
        help="convert dlib's ResNet to ONNX now instead of on first use",
    )
    _add_data_dir(models)
    models.set_defaults(run=_models)

    from facewise.cli import accountability, collections, evaluate, server, streams, video, worker

    collections.add_commands(commands, _add_store_options)
    video.add_commands(commands, _add_store_options)
    streams.add_commands(commands, _add_store_options)
    server.add_commands(commands, _add_store_options)
    evaluate.add_commands(commands, _add_store_options)
    accountability.add_commands(commands, _add_store_options)
    worker.add_commands(commands, _add_store_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `facewise` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except FacewiseError as error:
        print(f"facewise: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # e.g. --draw into a folder that cannot be created
        print(f"facewise: cannot write: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
