"""DetectFaces and CompareFaces: the stateless face operations."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits, load_image
from facewise.pipeline.analyzer import FaceAnalyzer
from facewise.pipeline.quality import quality_problems
from facewise.pipeline.similarity import descriptor_distances, similarity_pct
from facewise.service.options import (
    AttributesArg,
    parse_attributes,
    parse_percentage,
    parse_quality_filter,
)
from facewise.types import (
    Attribute,
    CompareFacesResult,
    DetectFacesResult,
    FaceAnalysis,
    FaceMatch,
    QualityFilter,
)

ImageInput = str | bytes | np.ndarray

_default_lock = threading.Lock()
_default: FaceAnalyzer | None = None


def default_analyzer() -> FaceAnalyzer:
    """The process-wide analyzer with default settings, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = FaceAnalyzer()
        return _default


def _project(face: FaceAnalysis, wanted: frozenset[Attribute]) -> FaceAnalysis:
    """Keep only what the caller asked for (box and confidence are always kept)."""
    keep_defaults = bool(wanted & {Attribute.DEFAULT, Attribute.ALL})
    keep_all = Attribute.ALL in wanted
    return dataclasses.replace(
        face,
        landmarks=face.landmarks if keep_defaults else (),
        pose=face.pose if keep_defaults else None,
        quality=face.quality if keep_defaults else None,
        age_range=face.age_range if keep_all or Attribute.AGE_RANGE in wanted else None,
        gender=face.gender if keep_all or Attribute.GENDER in wanted else None,
        smile=face.smile if keep_all or Attribute.SMILE in wanted else None,
        eyes_open=face.eyes_open if keep_all or Attribute.EYES_OPEN in wanted else None,
        mouth_open=face.mouth_open if keep_all or Attribute.MOUTH_OPEN in wanted else None,
        embedding=None,
    )


def _estimates(wanted: frozenset[Attribute]) -> frozenset[Attribute]:
    return frozenset(Attribute) if Attribute.ALL in wanted else wanted


def detect_faces(
    image: ImageInput,
    attributes: AttributesArg = "DEFAULT",
    *,
    analyzer: FaceAnalyzer | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> DetectFacesResult:
    """Find the faces in an image (path, bytes or RGB array), largest first.

    attributes: "DEFAULT" (box, confidence, landmarks, pose, quality), "ALL" (adds age range,
    gender, and smile/eyes/mouth when the 68-point model is enabled), or a list of names.
    """
    wanted = parse_attributes(attributes)
    analyzer = analyzer or default_analyzer()
    rgb = load_image(image, limits)
    faces = analyzer.analyze(rgb, analyzer.detect(rgb), _estimates(wanted))
    return DetectFacesResult(
        faces=[_project(face, wanted) for face in faces],
        image_wh=(rgb.shape[1], rgb.shape[0]),
    )


def _usable_faces(
    analyzer: FaceAnalyzer, rgb: np.ndarray, level: QualityFilter
) -> list[FaceAnalysis]:
    faces = analyzer.analyze(rgb, analyzer.detect(rgb), with_embedding=True)
    return [face for face in faces if not quality_problems(face, level)]


def compare_faces(
    source: ImageInput,
    target: ImageInput,
    similarity_threshold: float = 80.0,
    quality_filter: str | QualityFilter = "NONE",
    *,
    analyzer: FaceAnalyzer | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> CompareFacesResult:
    """The largest face in ``source`` against every face in ``target``.

    similarity_threshold: 0-100; matches at or above it are returned in ``matches``, the rest in
    ``unmatched``. 80 is Rekognition's default; 99 trades missed matches for far fewer false
    ones (docs/similarity.md). quality_filter: NONE, AUTO, LOW, MEDIUM or HIGH; stricter levels
    drop blurred, dark, small or turned faces before comparing.
    """
    threshold = parse_percentage("similarity_threshold", similarity_threshold)
    level = parse_quality_filter(quality_filter)
    analyzer = analyzer or default_analyzer()
    source_rgb = load_image(source, limits)
    target_rgb = load_image(target, limits)
    source_faces = _usable_faces(analyzer, source_rgb, level)
    if not source_faces:
        raise InvalidParameterError("no face found in the source image")
    source_face = source_faces[0]
    target_faces = _usable_faces(analyzer, target_rgb, level)
    candidates = (
        np.stack([f.embedding for f in target_faces]) if target_faces else np.zeros((0, 128))
    )
    assert source_face.embedding is not None  # with_embedding=True guarantees it
    similarities = np.atleast_1d(
        similarity_pct(descriptor_distances(source_face.embedding, candidates))
    )
    matches, unmatched = [], []
    for face, similarity in zip(target_faces, similarities, strict=True):
        shown = _project(face, frozenset({Attribute.DEFAULT}))
        if similarity >= threshold:
            matches.append(FaceMatch(face=shown, similarity_pct=float(similarity)))
        else:
            unmatched.append(shown)
    matches.sort(key=lambda m: m.similarity_pct, reverse=True)
    return CompareFacesResult(
        source_face=_project(source_face, frozenset({Attribute.DEFAULT})),
        matches=matches,
        unmatched=unmatched,
        source_image_wh=(source_rgb.shape[1], source_rgb.shape[0]),
        target_image_wh=(target_rgb.shape[1], target_rgb.shape[0]),
    )
