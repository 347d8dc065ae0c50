"""The detector and embedder options the photo commands share, and the analyzer they make."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facewise.pipeline.analyzer import FaceAnalyzer


def add_analyzer_options(parser: argparse.ArgumentParser, landmarks_68: bool = True) -> None:
    """--min-confidence, --min-face, --max-side, --embedder (and --landmarks-68)."""
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=90.0,
        metavar="PCT",
        help="lowest detection confidence kept, 0-100 (lower finds more faces, and more false "
        "ones; default 90)",
    )
    parser.add_argument(
        "--min-face",
        type=int,
        default=40,
        metavar="PX",
        help="smallest face side worth finding, in the photo's pixels (smaller is slower on big "
        "photos; default 40)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=1024,
        metavar="PX",
        help="never detect on more than this many pixels along the longer side (larger finds "
        "smaller faces in big photos, slower; default 1024)",
    )
    if landmarks_68:
        parser.add_argument(
            "--landmarks-68",
            action="store_true",
            help="use dlib's 68-point model (not for commercial use) for the 30 Rekognition "
            "landmarks and EyesOpen/MouthOpen/Smile",
        )
    parser.add_argument(
        "--embedder",
        choices=["onnx", "dlib"],
        default="onnx",
        help="run dlib's ResNet converted to ONNX (default, ~25x faster) or in dlib (reference)",
    )


def analyzer_from_args(args: argparse.Namespace) -> FaceAnalyzer:
    """The analyzer the options describe (models cached in --data-dir)."""
    from facewise.models.retinaface import DetectorConfig
    from facewise.pipeline.analyzer import AnalyzerConfig, FaceAnalyzer

    detector = DetectorConfig(
        score_threshold=args.min_confidence / 100.0,
        min_face_px=args.min_face,
        max_side_px=args.max_side,
    )
    return FaceAnalyzer(
        AnalyzerConfig(
            detector=detector,
            landmarks_68=getattr(args, "landmarks_68", False),
            embedder=args.embedder,
            data_dir=args.data_dir,
        )
    )
