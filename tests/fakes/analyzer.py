"""A fake analyzer: faces are solid squares of known colours on a black image, and each
colour's descriptor is chosen by the test, so similarities are exactly what it asks for.

    people = People.at_similarities(ann=100, ann_twin=95, bob=40)   # similarity to "ann"
    analyzer = FakeAnalyzer(people)
    photo = people.photo("ann", "bob")        # two faces, ann's the larger
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facewise.pipeline.similarity import distance_for
from facewise.types import Attribute, FaceAnalysis, FaceDetection, ImageQuality, Pose

Colour = tuple[int, int, int]


@dataclass
class People:
    """Names to (colour, descriptor)."""

    colours: dict[str, Colour] = field(default_factory=dict)
    descriptors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def at_similarities(cls, **similarity_to_first: float) -> People:
        """The first person at the origin of a 128-d space; each other one at the distance
        whose similarity to the first is the given percentage (100 means identical)."""
        people = cls()
        base = np.full(128, 0.05, dtype=np.float32)
        for number, (name, similarity) in enumerate(similarity_to_first.items()):
            vector = base.copy()
            if similarity < 100:
                vector[number] += distance_for(similarity)  # one axis each: independent
            people.colours[name] = (40 + 20 * number, 200 - 15 * number, 90 + 7 * number)
            people.descriptors[name] = vector
        return people

    def photo(self, *names: str, size: int = 480) -> np.ndarray:
        """A black photo with one square face per name, the first the largest."""
        rgb = np.zeros((size, size, 3), dtype=np.uint8)
        side = size // 3
        for i, name in enumerate(names):
            top, left, width = (i // 2) * (size // 2), (i % 2) * (size // 2), side - 12 * i
            rgb[top + 10 : top + 10 + width, left + 10 : left + 10 + width] = self.colours[name]
        return rgb


class FakeAnalyzer:
    """Finds the squares of known colours (largest first) and gives each its descriptor."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.detect_calls = 0

    def load_all(self) -> None:
        return None

    def detect(
        self, rgb: np.ndarray, config: object = None, threads: int | None = None
    ) -> list[FaceDetection]:
        self.detect_calls += 1
        found = []
        for colour in self.people.colours.values():
            ys, xs = np.nonzero(np.all(rgb == np.array(colour, dtype=np.uint8), axis=2))
            if len(ys):
                x1, y1 = float(xs.min()), float(ys.min())
                x2, y2 = float(xs.max()) + 1.0, float(ys.max()) + 1.0
                w, h = x2 - x1, y2 - y1
                marks = (
                    (x1 + 0.3 * w, y1 + 0.4 * h),
                    (x1 + 0.7 * w, y1 + 0.4 * h),
                    (x1 + 0.5 * w, y1 + 0.6 * h),
                    (x1 + 0.35 * w, y1 + 0.8 * h),
                    (x1 + 0.65 * w, y1 + 0.8 * h),
                )
                found.append(FaceDetection((x1, y1, x2, y2), 0.999, marks))
        return sorted(found, key=lambda d: -d.area_px)

    def analyze(
        self,
        rgb: np.ndarray,
        detections: Sequence[FaceDetection],
        attributes: frozenset[Attribute] = frozenset(),
        with_embedding: bool = False,
    ) -> list[FaceAnalysis]:
        by_colour = {c: n for n, c in self.people.colours.items()}
        faces = []
        for detection in detections:
            x1, y1, _, _ = (int(v) for v in detection.box_xyxy)
            name = by_colour[tuple(int(v) for v in rgb[y1, x1])]  # type: ignore[index]
            faces.append(
                FaceAnalysis(
                    detection,
                    pose=Pose(0.0, 0.0, 0.0),
                    quality=ImageQuality(brightness=50.0, sharpness=80.0),
                    embedding=self.people.descriptors[name].copy() if with_embedding else None,
                )
            )
        return faces
