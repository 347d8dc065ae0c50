"""DetectFaces and CompareFaces: the stateless face operations.

``detect_faces`` and ``compare_faces`` are the library's functions (no store needed);
``FaceAnalysisService`` runs the same over a ServiceContext, with its image sources, limits
and audit sink, for the HTTP service.
"""

from __future__ import annotations

import threading

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import Analyzer, FaceAnalyzer
from facewise.pipeline.quality import quality_problems
from facewise.service.analysis import (
    SHOWN_BY_SEARCH,
    EmbeddedFace,
    embedded_faces,
    estimates,
    project,
)
from facewise.service.caller import Caller
from facewise.service.identify import UNGUARDED, Identification, Outcome, Rules, identify
from facewise.service.images import DEFAULT_IMAGES, ImageInput, ImageSource
from facewise.service.options import AttributesArg, parse_attributes, parse_quality_filter
from facewise.service.scope import AccountService
from facewise.service.search import similarities
from facewise.types import (
    CompareFacesResult,
    DetectFacesResult,
    FaceMatch,
    QualityFilter,
)

_default_lock = threading.Lock()
_default: FaceAnalyzer | None = None


def default_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer with default settings, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = FaceAnalyzer()
        return _default


def detect_faces(
    image: ImageInput,
    attributes: AttributesArg = "DEFAULT",
    *,
    analyzer: Analyzer | None = None,
    images: ImageSource = DEFAULT_IMAGES,
) -> DetectFacesResult:
    """Find the faces in an image (path, bytes or RGB array), largest first.

    attributes: "DEFAULT" (box, confidence, landmarks, pose, quality), "ALL" (adds age range,
    gender, and smile/eyes/mouth when the 68-point model is enabled), or a list of names.
    images: where references are read from and the limits images must keep.
    """
    wanted = parse_attributes(attributes)
    analyzer = analyzer or default_analyzer()
    rgb = images.rgb(image)
    faces = analyzer.analyze(rgb, analyzer.detect(rgb), estimates(wanted))
    return DetectFacesResult(
        faces=[project(face, wanted) for face in faces],
        image_wh=(rgb.shape[1], rgb.shape[0]),
    )


def _usable_faces(analyzer: Analyzer, rgb: np.ndarray, level: QualityFilter) -> list[EmbeddedFace]:
    found = embedded_faces(analyzer, rgb, frozenset())
    return [f for f in found if not quality_problems(f.face, level)]


def compare_faces(
    source: ImageInput,
    target: ImageInput,
    similarity_threshold: float | None = None,
    quality_filter: str | QualityFilter = "NONE",
    *,
    analyzer: Analyzer | None = None,
    images: ImageSource = DEFAULT_IMAGES,
    rules: Rules = UNGUARDED,
    caller: Caller | None = None,
) -> CompareFacesResult:
    """The largest face in ``source`` against every face in ``target``.

    similarity_threshold: 0-100; matches at or above it are returned in ``matches``, the rest in
    ``unmatched``. Default 80, Rekognition's; 99 trades missed matches for far fewer false
    ones (docs/similarity.md). quality_filter: NONE, AUTO, LOW, MEDIUM or HIGH; stricter levels
    drop blurred, dark, small or turned faces before comparing.
    rules: the floor, opt-out list and audit trail to obey (the service passes its store's;
    the library alone has none). A face on the opt-out list never matches.
    """
    analyzer = analyzer or default_analyzer()
    caller = caller or Caller()

    def compare(threshold: float) -> CompareFacesResult:
        level = parse_quality_filter(quality_filter)
        source_rgb = images.rgb(source)
        target_rgb = images.rgb(target)
        source_faces = _usable_faces(analyzer, source_rgb, level)
        if not source_faces:
            raise InvalidParameterError("no face found in the source image")
        source_face = source_faces[0]
        target_faces = _usable_faces(analyzer, target_rgb, level)
        candidates = (
            np.stack([f.embedding for f in target_faces]) if target_faces else np.zeros((0, 128))
        )
        scores = similarities(source_face.embedding, candidates)
        source_opted_out = rules.optouts.matches(caller.account, source_face.embedding)
        matches, unmatched = [], []
        for found, similarity in zip(target_faces, scores, strict=True):
            shown = project(found.face, SHOWN_BY_SEARCH)
            opted_out = source_opted_out or rules.optouts.matches(caller.account, found.embedding)
            if similarity >= threshold and not opted_out:
                matches.append(FaceMatch(face=shown, similarity_pct=float(similarity)))
            else:
                unmatched.append(shown)
        matches.sort(key=lambda m: m.similarity_pct, reverse=True)
        return CompareFacesResult(
            source_face=project(source_face.face, SHOWN_BY_SEARCH),
            matches=matches,
            unmatched=unmatched,
            source_image_wh=(source_rgb.shape[1], source_rgb.shape[0]),
            target_image_wh=(target_rgb.shape[1], target_rgb.shape[0]),
        )

    return identify(
        rules,
        caller,
        Identification.COMPARE_FACES,
        None,
        similarity_threshold,
        compare,
        lambda result: Outcome(
            1 + len(result.matches) + len(result.unmatched), [], len(result.matches)
        ),
        threshold_name="similarity_threshold",
    )


class FaceAnalysisService(AccountService):
    """DetectFaces and CompareFaces over the context's analyzer, images and audit sink."""

    def detect_faces(
        self, image: ImageInput, attributes: AttributesArg = "DEFAULT"
    ) -> DetectFacesResult:
        return detect_faces(
            image, attributes, analyzer=self.context.analyzer, images=self.context.images
        )

    def compare_faces(
        self,
        source: ImageInput,
        target: ImageInput,
        similarity_threshold: float | None = None,
        quality_filter: str | QualityFilter = "NONE",
    ) -> CompareFacesResult:
        return compare_faces(
            source,
            target,
            similarity_threshold,
            quality_filter,
            analyzer=self.context.analyzer,
            images=self.context.images,
            rules=self.context.rules,
            caller=self.caller,
        )
