"""The test videos' cast and scenes (the fixtures that build them are in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facewise.pipeline.analyzer import FaceAnalyzer
from tests.video.synth import Walk, face_crop


@dataclass(frozen=True)
class Cast:
    """The two people of the test videos, as walking sprites."""

    eileen: np.ndarray
    grace: np.ndarray


def make_cast(analyzer: FaceAnalyzer, astronaut: np.ndarray, hopper: np.ndarray) -> Cast:
    def sprite(rgb: np.ndarray) -> np.ndarray:
        box = analyzer.detect(rgb)[0].box_xyxy
        return face_crop(rgb, (int(box[0]), int(box[1]), int(box[2]), int(box[3])), 150)

    return Cast(sprite(astronaut), sprite(hopper))


# Eileen crosses 0-4 s, Grace crosses the other way 1-5 s (they cross near 2.5 s), nobody
# 5-6 s, then Eileen again 6-8 s: a new track that must name the same collection face.
CROSSING = (
    ("eileen", 0, 4000, 30, True),
    ("grace", 1000, 5000, 190, False),
    ("eileen", 6000, 8000, 100, True),
)
CROSSING_MS = 8500


def crossing_walks(cast: Cast) -> list[Walk]:
    return [
        Walk(getattr(cast, who), start, end, top, rightwards)
        for who, start, end, top, rightwards in CROSSING
    ]
