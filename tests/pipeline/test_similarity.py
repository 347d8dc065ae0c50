"""The fixed distance-to-similarity calibration."""

from __future__ import annotations

import numpy as np
import pytest

from facewise.pipeline.similarity import (
    DISTANCE_AT_80,
    DISTANCE_AT_99,
    descriptor_distances,
    distance_for,
    similarity_pct,
)


def test_anchor_points():
    assert similarity_pct(DISTANCE_AT_80) == pytest.approx(80.0)
    assert similarity_pct(DISTANCE_AT_99) == pytest.approx(99.0)
    assert DISTANCE_AT_80 == 0.6  # dlib's documented operating point


def test_monotone_and_bounded():
    distances = np.linspace(0.0, 2.0, 500)
    values = similarity_pct(distances)
    assert np.all(np.diff(values) < 0)
    assert values[0] > 99.99 and values[-1] < 0.01
    assert np.all((values > 0) & (values < 100))


@pytest.mark.parametrize("similarity", [1.0, 50.0, 80.0, 90.0, 95.0, 99.0, 99.9])
def test_inverse(similarity):
    assert similarity_pct(distance_for(similarity)) == pytest.approx(similarity)


@pytest.mark.parametrize("bad", [0.0, 100.0, -3.0, 120.0])
def test_inverse_rejects_the_open_ends(bad):
    with pytest.raises(ValueError):
        distance_for(bad)


def test_descriptor_distances():
    query = np.zeros(128, dtype=np.float32)
    rows = np.eye(128, dtype=np.float32)[:3] * np.array([[1.0], [2.0], [0.5]], dtype=np.float32)
    assert descriptor_distances(query, rows).tolist() == [1.0, 2.0, 0.5]
    assert descriptor_distances(query, np.zeros((0, 128))).shape == (0,)
