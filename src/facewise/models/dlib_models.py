"""dlib's shape predictors (5 and 68 points) and its 128-d ResNet face embedding."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import dlib
import numpy as np

from facewise.models import registry

EMBEDDER_NAME = "dlib-resnet-v1"
SHAPE_5_NAME = "dlib-shape-predictor-5"
SHAPE_68_NAME = "dlib-shape-predictor-68"


def _rectangle(box_xyxy: Sequence[float]) -> dlib.rectangle:
    x1, y1, x2, y2 = (round(v) for v in box_xyxy)
    return dlib.rectangle(x1, y1, x2, y2)


class ShapePredictor:
    """Places dlib landmarks inside a face box (5 points for alignment, or 68)."""

    def __init__(self, model_name: str = SHAPE_5_NAME) -> None:
        self._predictor = dlib.shape_predictor(str(registry.verified_path(model_name)))

    def shape(self, rgb: np.ndarray, box_xyxy: Sequence[float]) -> dlib.full_object_detection:
        """dlib's shape object, which chip extraction takes as is."""
        return self._predictor(rgb, _rectangle(box_xyxy))

    @staticmethod
    def points(shape: dlib.full_object_detection) -> np.ndarray:
        """The shape's points as a float array (n, 2) of pixel x, y."""
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def face_chip(
    rgb: np.ndarray, shape: dlib.full_object_detection, size_px: int, padding: float
) -> np.ndarray:
    """An aligned, square RGB crop of the face (dlib's chip geometry)."""
    return np.asarray(dlib.get_face_chip(rgb, shape, size=size_px, padding=padding))


class DlibEmbedder:
    """dlib's ResNet run by dlib itself: the reference path (slow: ~75-110 ms per face here).

    Aligned 150 px chips to 128-d descriptors (distance 0.6 = same person). Calls are
    serialised, as the network keeps its activations in itself.
    """

    def __init__(self) -> None:
        spec = registry.manifest(EMBEDDER_NAME)
        self.chip_size_px: int = spec.input["chip_size_px"]
        self.chip_padding: float = spec.input["chip_padding"]
        self._net = dlib.face_recognition_model_v1(str(registry.verified_path(EMBEDDER_NAME)))
        self._lock = threading.Lock()

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Descriptors (n, 128) float32 for chips made by :func:`face_chip` at this size."""
        if not chips:
            return np.zeros((0, 128), dtype=np.float32)
        with self._lock:
            descriptors = self._net.compute_face_descriptor(list(chips))
        return np.asarray([np.asarray(d) for d in descriptors], dtype=np.float32)
