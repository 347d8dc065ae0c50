"""RetinaFace MobileNet-0.25 face detector under onnxruntime, with our own pre/post-processing.

The network takes a BGR image of any size; we shrink large photos to a working resolution,
decode the anchor grid, apply non-maximum suppression and map boxes back to the original
pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from facewise.errors import InvalidParameterError, ModelError
from facewise.models import registry
from facewise.models.onnx import create_session
from facewise.types import FaceDetection

MODEL_NAME = "retinaface-mnet025"
# RetinaFace's smallest anchor is 16 px; faces from about 20 px up are found reliably.
RELIABLE_FACE_PX = 20
MIN_WORKING_SIDE_PX = 640


@dataclass(frozen=True)
class DetectorConfig:
    """Knobs of the detector.

    score_threshold: lowest confidence kept (0-1). Lower finds more blurred, tiny or partial
        faces and more false ones; 0.9 keeps only clear faces.
    nms_iou: overlap above which two boxes count as one face. Higher keeps more overlapping
        faces in crowds and more duplicates.
    min_face_px: the smallest face (box side, in the photo's pixels) worth finding. Large
        photos are shrunk until such a face is RELIABLE_FACE_PX at the working scale (but not
        below MIN_WORKING_SIDE_PX): larger values scan fewer pixels and miss smaller faces.
    max_side_px: the working image's longer side never exceeds this, whatever min_face_px
        asks, which bounds the time per photo; on big photos the smallest face found is then
        long_side * RELIABLE_FACE_PX / max_side_px.
    max_faces: at most this many faces, the largest ones, are returned.
    border_fraction: a black border of this fraction of the longer side is added around the
        image, so faces cut by the frame still look like faces to the network; it costs up to
        (1 + 2 * border_fraction)^2 more pixels to scan.
    """

    score_threshold: float = 0.9
    nms_iou: float = 0.4
    min_face_px: int = 40
    max_side_px: int = 1024
    max_faces: int = 100
    border_fraction: float = 0.1

    def __post_init__(self) -> None:
        checks = (
            ("score_threshold", self.score_threshold, 0.0, 1.0),
            ("nms_iou", self.nms_iou, 0.0, 1.0),
            ("min_face_px", self.min_face_px, RELIABLE_FACE_PX, 4096),
            ("max_side_px", self.max_side_px, 32, 8192),
            ("max_faces", self.max_faces, 1, 4096),
            ("border_fraction", self.border_fraction, 0.0, 1.0),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParameterError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise InvalidParameterError(f"{name} must be in [{low}, {high}], got {value}")


@lru_cache(maxsize=16)
def _anchor_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres and sizes (pixels) for an input of this size, in the network's order."""
    spec = registry.manifest(MODEL_NAME).anchors
    centres, sizes = [], []
    for stride, anchor_sizes in zip(spec["strides"], spec["sizes"], strict=True):
        cols, rows = math.ceil(width / stride), math.ceil(height / stride)
        xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
        grid = (np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) + 0.5) * stride
        centres.append(np.repeat(grid, len(anchor_sizes), axis=0))
        sizes.append(np.tile(np.asarray(anchor_sizes, np.float32), cols * rows)[:, None])
    return np.concatenate(centres), np.concatenate(sizes)


def non_max_suppression(boxes_xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        top_left = np.maximum(boxes_xyxy[best, :2], boxes_xyxy[rest, :2])
        bottom_right = np.minimum(boxes_xyxy[best, 2:], boxes_xyxy[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def working_scale(config: DetectorConfig, width: int, height: int) -> float:
    """How much a photo of this size is shrunk for detection (1.0 = not at all; never
    enlarged)."""
    long_side = max(width, height)
    for_min_face = RELIABLE_FACE_PX / config.min_face_px
    # Faces cut by the frame or turned away need more pixels than whole ones of the same
    # box size, so small photos are never shrunk below MIN_WORKING_SIDE_PX.
    floor = min(1.0, MIN_WORKING_SIDE_PX / long_side)
    return min(1.0, max(for_min_face, floor), config.max_side_px / long_side)


class RetinaFaceDetector:
    """Finds faces and their five landmarks in an RGB image."""

    def __init__(self, config: DetectorConfig | None = None, threads: int | None = None) -> None:
        self.config = config or DetectorConfig()
        spec = registry.manifest(MODEL_NAME)
        self._mean_bgr = tuple(float(v) for v in spec.input["mean"])
        self._variance_centre, self._variance_size = spec.anchors["variances"]
        self._session = create_session(registry.load_bytes(MODEL_NAME), threads)
        self._input_name = spec.input["name"]

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in the image, largest first, at most ``config.max_faces``."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InvalidParameterError(
                f"expected a uint8 RGB array (H, W, 3), got {rgb.dtype} {rgb.shape}"
            )
        height, width = rgb.shape[:2]
        scale = self.working_scale(width, height)
        working = rgb
        if scale < 1.0:
            size_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
            working = cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA)
        border = round(self.config.border_fraction * max(working.shape[:2]))
        framed = cv2.copyMakeBorder(working, border, border, border, border, cv2.BORDER_CONSTANT)
        boxes, scores, points = self._run(framed)
        boxes -= border
        points -= border
        # Map back to the original pixels (per-axis, as rounding changes the aspect slightly).
        sx, sy = width / working.shape[1], height / working.shape[0]
        boxes *= np.array([sx, sy, sx, sy], dtype=np.float32)
        points *= np.array([sx, sy], dtype=np.float32)
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        largest = np.argsort(-areas, kind="stable")[: self.config.max_faces]
        return [
            FaceDetection(
                box_xyxy=tuple(float(v) for v in boxes[i]),  # type: ignore[arg-type]
                score=float(scores[i]),
                landmarks_xy=tuple((float(x), float(y)) for x, y in points[i]),
            )
            for i in largest
        ]

    def working_scale(self, width: int, height: int) -> float:
        """How much the photo is shrunk for detection (1.0 = not at all; never enlarged)."""
        return working_scale(self.config, width, height)

    def _run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        height, width = rgb.shape[:2]
        # One pass: RGB to BGR, minus the per-channel means, HWC to NCHW float32.
        tensor = cv2.dnn.blobFromImage(rgb, 1.0, mean=self._mean_bgr, swapRB=True)
        loc, conf, landmarks = self._session.run(None, {self._input_name: tensor})
        centres, sizes = _anchor_grid(height, width)
        if loc.shape[1] != centres.shape[0]:
            raise ModelError(
                f"detector returned {loc.shape[1]} anchors for {width}x{height}, "
                f"expected {centres.shape[0]}"
            )
        scores = conf[0, :, 1]
        keep = scores >= self.config.score_threshold
        loc, scores, landmarks = loc[0][keep], scores[keep], landmarks[0][keep]
        centres, sizes = centres[keep], sizes[keep]
        box_centres = centres + loc[:, :2] * self._variance_centre * sizes
        box_sizes = sizes * np.exp(loc[:, 2:] * self._variance_size)
        boxes = np.concatenate([box_centres - box_sizes / 2, box_centres + box_sizes / 2], axis=1)
        points = centres[:, None, :] + landmarks.reshape(-1, 5, 2) * (
            self._variance_centre * sizes[:, :, None]
        )
        kept = non_max_suppression(boxes, scores, self.config.nms_iou)
        return boxes[kept], scores[kept], points[kept]
