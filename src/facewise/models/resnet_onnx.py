"""dlib's ResNet under onnxruntime: converted once from the shipped .dat, cached, verified.

The first use converts ``dlib_face_recognition_resnet_model_v1.dat`` (checked against its
manifest) into ``<cache>/dlib-resnet-v1.onnx`` and records the ONNX file's sha256, the
source's sha256 and the converter version next to it. Every later load re-hashes the ONNX
bytes it is about to run and converts again if anything disagrees.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewise.errors import ModelError
from facewise.models import registry
from facewise.models.dlib_models import EMBEDDER_NAME
from facewise.models.onnx import create_session

# Bump when the converter's output changes, so caches made by older versions are rebuilt.
CONVERTER_VERSION = 1
ONNX_FILE = "dlib-resnet-v1.onnx"
RECORD_FILE = "dlib-resnet-v1.onnx.json"
DEFAULT_MAX_BATCH = 32


def _record(cache_dir: Path) -> object:
    """The cache record's parsed JSON (any JSON value; only compared for equality), or None
    when it is missing or unreadable."""
    try:
        return json.loads((cache_dir / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _expected_record(onnx_sha256: str) -> dict[str, object]:
    return {
        "sha256": onnx_sha256,
        "source_sha256": registry.manifest(EMBEDDER_NAME).sha256,
        "converter_version": CONVERTER_VERSION,
    }


def _write_record(cache_dir: Path, record: dict[str, object]) -> None:
    handle, temp = tempfile.mkstemp(dir=cache_dir, prefix=".record-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(record, out, indent=2)
    os.chmod(temp, 0o644)
    os.replace(temp, cache_dir / RECORD_FILE)


@dataclass(frozen=True)
class CacheStatus:
    """Whether a verified conversion sits in the cache."""

    ok: bool
    detail: str
    sha256: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail, "sha256": self.sha256}


def cache_status(cache_dir: Path) -> CacheStatus:
    """Check the cached conversion without converting."""
    path = cache_dir / ONNX_FILE
    record = _record(cache_dir)
    if record is None or not path.is_file():
        return CacheStatus(False, "not converted yet (done on first use, or: models --prepare)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if record != _expected_record(digest):
        return CacheStatus(False, "stale or altered: converted again on next use")
    return CacheStatus(True, f"sha256 {digest[:16]}... ok", digest)


def prepare(cache_dir: Path) -> Path:
    """Convert the ResNet into ``cache_dir`` unless a verified conversion is already there."""
    verified_onnx_bytes(cache_dir)
    return cache_dir / ONNX_FILE


def verified_onnx_bytes(cache_dir: Path) -> bytes:
    """The converted graph's bytes, converting first if the cache is missing or stale."""
    path = cache_dir / ONNX_FILE
    record = _record(cache_dir)
    if record is not None and path.is_file():
        payload = path.read_bytes()
        if record == _expected_record(hashlib.sha256(payload).hexdigest()):
            return payload
    from facewise.models.dlib_convert import convert  # needs the `onnx` package

    cache_dir.mkdir(parents=True, exist_ok=True)
    convert(registry.verified_path(EMBEDDER_NAME), path)
    payload = path.read_bytes()
    _write_record(cache_dir, _expected_record(hashlib.sha256(payload).hexdigest()))
    return payload


class OnnxResNetEmbedder:
    """Aligned 150 px chips to 128-d descriptors, many faces per onnxruntime call.

    max_batch: chips per call. Larger batches amortise per-call overhead but hold more
    activations in memory (about 1.5 MB per chip).
    """

    def __init__(
        self, cache_dir: Path, threads: int | None = None, max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        spec = registry.manifest(EMBEDDER_NAME)
        self.chip_size_px: int = spec.input["chip_size_px"]
        self.chip_padding: float = spec.input["chip_padding"]
        self.max_batch = max_batch
        self._session = create_session(verified_onnx_bytes(cache_dir), threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].shape[1:] != [3, self.chip_size_px, self.chip_size_px]:
            raise ModelError(f"unexpected input of the converted ResNet: {inputs}")
        self._input_name = inputs[0].name

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Descriptors (n, 128) float32 for uint8 RGB chips (n, 150, 150, 3)."""
        if len(chips) == 0:
            return np.zeros((0, 128), dtype=np.float32)
        batch = np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2)
        parts = [
            self._session.run(None, {self._input_name: np.ascontiguousarray(part)})[0]
            for part in np.array_split(batch, range(self.max_batch, len(batch), self.max_batch))
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)
