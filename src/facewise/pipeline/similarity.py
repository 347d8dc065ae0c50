"""Embedding distance to Rekognition's 0-100 similarity scale: a fixed, monotone calibration.

Similarity is a logistic function of the Euclidean distance between two dlib descriptors,
pinned at two measured anchor points (docs/similarity.md shows how they were measured on
labelled real photos and the false/true match rates they give):

- distance 0.60, dlib's standard "same person" cut, maps to similarity 80 (Rekognition's
  default threshold);
- distance DISTANCE_AT_99 maps to 99, the point AWS advises for high-stakes use.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

DISTANCE_AT_80 = 0.60
DISTANCE_AT_99 = 0.42

_LOGIT_80 = math.log(80 / 20)
_LOGIT_99 = math.log(99 / 1)
SLOPE = (_LOGIT_99 - _LOGIT_80) / (DISTANCE_AT_80 - DISTANCE_AT_99)
MIDPOINT = DISTANCE_AT_80 + _LOGIT_80 / SLOPE


def similarity_pct(distance: float | np.ndarray) -> np.ndarray | float:
    """Similarity 0-100 for a descriptor distance (0 = identical). Monotone decreasing."""
    value = 100.0 / (1.0 + np.exp(SLOPE * (np.asarray(distance, dtype=np.float64) - MIDPOINT)))
    return float(value) if np.ndim(value) == 0 else value


def distance_for(similarity: float) -> float:
    """The distance at which similarity equals the given percentage (the inverse mapping)."""
    if not 0.0 < similarity < 100.0:
        raise ValueError(f"similarity must be strictly between 0 and 100, got {similarity}")
    return MIDPOINT - math.log(similarity / (100.0 - similarity)) / SLOPE


def descriptor_distances(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Euclidean distances from one descriptor (128,) to each row of (n, 128)."""
    if candidates.size == 0:
        return np.zeros((0,), dtype=np.float64)
    distances = np.linalg.norm(candidates.astype(np.float64) - query.astype(np.float64), axis=1)
    return cast(np.ndarray, distances)  # numpy types norm(..., axis=1) as Any
