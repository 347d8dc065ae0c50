"""The face pipeline: detect, then per face align, embed and estimate attributes.

A FaceAnalyzer owns its models, creates each on first use and shares it afterwards; one
analyzer serves many threads (onnxruntime sessions and dlib's shape predictors are
thread-safe; the dlib reference embedder serialises its own calls).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import numpy as np

from facewise.models.age_gender import (
    AGE_NAME,
    GENDER_LABELS,
    GENDER_NAME,
    ChipClassifier,
    age_range_from,
)
from facewise.models.dlib_models import (
    SHAPE_68_NAME,
    DlibEmbedder,
    ShapePredictor,
    face_chip,
)
from facewise.models.resnet_onnx import OnnxResNetEmbedder
from facewise.models.retinaface import DetectorConfig, RetinaFaceDetector
from facewise.pipeline import geometry
from facewise.pipeline.quality import face_quality
from facewise.settings import model_cache_dir
from facewise.types import AgeRange, Attribute, FaceAnalysis, FaceDetection, Gender

if TYPE_CHECKING:
    import dlib

ModelT = TypeVar("ModelT")

# Attributes the bundled models can estimate beyond the defaults; 68-point ones need that model.
ESTIMATED_ATTRIBUTES = frozenset(
    {
        Attribute.AGE_RANGE,
        Attribute.GENDER,
        Attribute.SMILE,
        Attribute.EYES_OPEN,
        Attribute.MOUTH_OPEN,
    }
)
NEEDS_68_POINTS = frozenset({Attribute.SMILE, Attribute.EYES_OPEN, Attribute.MOUTH_OPEN})


@dataclass(frozen=True)
class AnalyzerConfig:
    """Knobs of the whole pipeline.

    landmarks_68: run dlib's 68-point model (not for commercial use, see `facewise models`) to
        report Rekognition's 30 landmark types and EyesOpen/MouthOpen/Smile; costs ~100 MB of
        memory and a few ms per face.
    threads: threads per onnxruntime inference; None uses every core.
    embedder: "onnx" runs dlib's ResNet converted to ONNX (about 25x faster, same descriptors
        to 1e-6); "dlib" runs it in dlib itself, the reference.
    data_dir: where the converted model is cached (``<data_dir>/models``); None uses
        $FACEWISE_DATA_DIR or ./facewise-data.
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    landmarks_68: bool = False
    threads: int | None = None
    embedder: Literal["onnx", "dlib"] = "onnx"
    data_dir: Path | None = None


class Analyzer(Protocol):
    """What the services need of an analyzer (FaceAnalyzer; a fake in the unit tests)."""

    def load_all(self) -> None: ...

    def detect(
        self, rgb: np.ndarray, config: DetectorConfig | None = None, threads: int | None = None
    ) -> list[FaceDetection]: ...

    def analyze(
        self,
        rgb: np.ndarray,
        detections: Sequence[FaceDetection],
        attributes: frozenset[Attribute] = frozenset(),
        with_embedding: bool = False,
    ) -> list[FaceAnalysis]: ...


class FaceAnalyzer:
    """Runs the models over one decoded RGB image at a time."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()
        self._models: dict[str, object] = {}
        self._model_lock = threading.Lock()  # two threads must not both build a model

    def _model(self, name: str, build: Callable[[], ModelT]) -> ModelT:
        with self._model_lock:
            if name not in self._models:
                self._models[name] = build()
            return self._models[name]  # type: ignore[return-value]

    @property
    def detector(self) -> RetinaFaceDetector:
        return self._model(
            "detector", lambda: RetinaFaceDetector(self.config.detector, self.config.threads)
        )

    @property
    def shape_5(self) -> ShapePredictor:
        return self._model("shape_5", ShapePredictor)

    @property
    def shape_68(self) -> ShapePredictor:
        return self._model("shape_68", lambda: ShapePredictor(SHAPE_68_NAME))

    @property
    def embedder(self) -> DlibEmbedder | OnnxResNetEmbedder:
        def build() -> DlibEmbedder | OnnxResNetEmbedder:
            if self.config.embedder == "dlib":
                return DlibEmbedder()
            return OnnxResNetEmbedder(model_cache_dir(self.config.data_dir), self.config.threads)

        return self._model("embedder", build)

    @property
    def age(self) -> ChipClassifier:
        return self._model("age", lambda: ChipClassifier(AGE_NAME, self.config.threads))

    @property
    def gender(self) -> ChipClassifier:
        return self._model("gender", lambda: ChipClassifier(GENDER_NAME, self.config.threads))

    def load_all(self) -> None:
        """Load every model this configuration uses now instead of on first use (a server
        does this before accepting requests, so no caller pays for it)."""
        _ = (self.detector, self.shape_5, self.embedder, self.age, self.gender)
        if self.config.landmarks_68:
            _ = self.shape_68

    def detect(
        self, rgb: np.ndarray, config: DetectorConfig | None = None, threads: int | None = None
    ) -> list[FaceDetection]:
        """Faces in the image, largest first. ``config`` overrides the analyzer's detector
        settings (video uses a smaller working size) and ``threads`` its threads per call
        (1 lets several threads detect at once, each on its own core); one cached detector
        per combination."""
        if (config is None or config == self.config.detector) and threads is None:
            return self.detector.detect(rgb)
        chosen = config or self.config.detector
        detector = self._model(
            f"detector:{chosen}:{threads}",
            lambda: RetinaFaceDetector(chosen, threads or self.config.threads),
        )
        return detector.detect(rgb)

    def analyze(
        self,
        rgb: np.ndarray,
        detections: Sequence[FaceDetection],
        attributes: frozenset[Attribute] = frozenset(),
        with_embedding: bool = False,
    ) -> list[FaceAnalysis]:
        """Landmarks, pose and quality for every detection, plus what ``attributes`` asks for.

        attributes: extra estimates wanted (AGE_RANGE, GENDER, SMILE, EYES_OPEN, MOUTH_OPEN);
            others are ignored. with_embedding: also compute the 128-d descriptor.
        """
        wanted = attributes & ESTIMATED_ATTRIBUTES
        use_68 = self.config.landmarks_68
        # dlib's 5 points align the chips and give a truer eye line than the detector's.
        shapes = [self.shape_5.shape(rgb, d.box_xyxy) for d in detections]
        points_68 = (
            [ShapePredictor.points(self.shape_68.shape(rgb, d.box_xyxy)) for d in detections]
            if use_68
            else []
        )
        embeddings = self._embed(rgb, shapes) if with_embedding else None
        ages = self._ages(rgb, shapes) if Attribute.AGE_RANGE in wanted else None
        genders = self._genders(rgb, shapes) if Attribute.GENDER in wanted else None

        faces = []
        for i, detection in enumerate(detections):
            five = np.asarray(detection.landmarks_xy, dtype=np.float32)
            eye_corners = ShapePredictor.points(shapes[i])
            points = points_68[i] if use_68 else None
            faces.append(
                FaceAnalysis(
                    detection=detection,
                    landmarks=(
                        geometry.landmarks_from_68(points)
                        if points is not None
                        else geometry.five_landmarks(five)
                    ),
                    pose=geometry.pose_from_five(
                        five, geometry.eye_centres_from_dlib5(eye_corners)
                    ),
                    quality=face_quality(rgb, detection.box_xyxy),
                    age_range=ages[i] if ages is not None else None,
                    gender=genders[i] if genders is not None else None,
                    smile=_if(points, Attribute.SMILE in wanted, geometry.smile),
                    eyes_open=_if(points, Attribute.EYES_OPEN in wanted, geometry.eyes_open),
                    mouth_open=_if(points, Attribute.MOUTH_OPEN in wanted, geometry.mouth_open),
                    embedding=embeddings[i] if embeddings is not None else None,
                )
            )
        return faces

    def _embed(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> np.ndarray:
        size, padding = self.embedder.chip_size_px, self.embedder.chip_padding
        chips = [face_chip(rgb, shape, size, padding) for shape in shapes]
        return self.embedder.embed_chips(chips)

    def _chips(
        self, rgb: np.ndarray, shapes: list[dlib.full_object_detection], model: ChipClassifier
    ) -> list[np.ndarray]:
        return [face_chip(rgb, s, model.chip_size_px, model.chip_padding) for s in shapes]

    def _ages(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> list[AgeRange]:
        probabilities = self.age.probabilities(self._chips(rgb, shapes, self.age))
        return [AgeRange(*age_range_from(row)) for row in probabilities]

    def _genders(self, rgb: np.ndarray, shapes: list[dlib.full_object_detection]) -> list[Gender]:
        probabilities = self.gender.probabilities(self._chips(rgb, shapes, self.gender))
        return [
            Gender(value=GENDER_LABELS[int(row.argmax())], score=float(row.max()))
            for row in probabilities
        ]


def _if(points: np.ndarray | None, wanted: bool, estimate):  # type: ignore[no-untyped-def]
    return estimate(points) if wanted and points is not None else None
