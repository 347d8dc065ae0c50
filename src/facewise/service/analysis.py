"""Faces found in an image, trimmed to what the caller asked for: shared by the stateless
operations (detect, compare) and the collection ones (index, search by image)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from facewise.errors import InvalidParameterError
from facewise.pipeline.analyzer import Analyzer
from facewise.pipeline.quality import quality_problems
from facewise.service.results import UnindexedFace
from facewise.types import Attribute, FaceAnalysis, QualityFilter

MAX_FACES_PER_IMAGE = 100  # Rekognition's: the largest 100 faces of an image
SHOWN_BY_SEARCH = frozenset({Attribute.DEFAULT})


def project(face: FaceAnalysis, wanted: frozenset[Attribute]) -> FaceAnalysis:
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


def estimates(wanted: frozenset[Attribute]) -> frozenset[Attribute]:
    """The attributes to estimate for what the caller asked ("ALL" means every one)."""
    return frozenset(Attribute) if Attribute.ALL in wanted else wanted


def box_ratio(face: FaceAnalysis, image_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    """Left, top, width, height as ratios of the image."""
    width, height = image_wh
    x1, y1, x2, y2 = face.box_xyxy
    return (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)


@dataclass(frozen=True)
class EmbeddedFace:
    """A face with its descriptor (always present, unlike FaceAnalysis.embedding)."""

    face: FaceAnalysis
    embedding: np.ndarray


def embedded_faces(
    analyzer: Analyzer, rgb: np.ndarray, attributes: frozenset[Attribute]
) -> list[EmbeddedFace]:
    """The largest faces of an image (at most MAX_FACES_PER_IMAGE), with descriptors."""
    detections = analyzer.detect(rgb)[:MAX_FACES_PER_IMAGE]
    faces = analyzer.analyze(rgb, detections, estimates(attributes), with_embedding=True)
    embedded = []
    for face in faces:
        if face.embedding is None:  # with_embedding=True always sets it
            raise InvalidParameterError("the analyzer returned a face without a descriptor")
        embedded.append(EmbeddedFace(face, face.embedding))
    return embedded


@dataclass(frozen=True)
class SearchedFace:
    """The face a search by image uses, and the faces of the image it leaves aside."""

    face: FaceAnalysis
    embedding: np.ndarray
    others: list[UnindexedFace]
    image_wh: tuple[int, int]


def searched_face(analyzer: Analyzer, rgb: np.ndarray, level: QualityFilter) -> SearchedFace:
    """The largest face passing the quality filter, and the image's other faces with why
    they were not searched; InvalidParameterError when there is no usable face."""
    faces = embedded_faces(analyzer, rgb, SHOWN_BY_SEARCH)
    usable = [f for f in faces if not quality_problems(f.face, level)]
    if not usable:
        raise InvalidParameterError("no face found in the image")
    chosen = usable[0]
    others = [
        UnindexedFace(
            tuple(quality_problems(f.face, level)) or ("face_not_largest",),
            project(f.face, SHOWN_BY_SEARCH),
        )
        for f in faces
        if f is not chosen
    ]
    return SearchedFace(
        project(chosen.face, SHOWN_BY_SEARCH),
        chosen.embedding,
        others,
        (rgb.shape[1], rgb.shape[0]),
    )
