"""Vector index snapshots on disk: a small JSON manifest at the given path names the data
files beside it, with their sizes and SHA-256, the store's watermark and the key count.

Saving writes the data files under names no other snapshot uses (``<name>.<id>.<part>``),
fsyncs them, then replaces the manifest atomically: the manifest is the commit point, so a
crash leaves the old snapshot or the new one, never a mix. Data files no manifest names any
more are deleted after the switch. Loading refuses, with IndexSnapshotError, a missing or
unreadable manifest, a missing, truncated or altered data file, and a data file from another
snapshot. One process saves a given path at a time (the store's single writer).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

import numpy as np

from facewise.errors import FacewiseError

SNAPSHOT_FORMAT = "facewise.vector-index"
SNAPSHOT_VERSION = 1
_HASH_CHUNK_BYTES = 8 << 20


class IndexSnapshotError(FacewiseError, ValueError):
    """A vector index snapshot is missing, truncated, altered or from another snapshot; the
    index must be rebuilt from the FaceStore."""


@dataclass(frozen=True)
class Snapshot:
    """A checked snapshot: its kind ("exact" or "hnsw"), the store's watermark, the number of
    keys, backend parameters, and the path of each data file by part name."""

    kind: str
    watermark: int
    count: int
    params: Mapping[str, object] = field(default_factory=dict)
    parts: Mapping[str, Path] = field(default_factory=dict)


def write_snapshot(
    path: Path,
    kind: str,
    watermark: int,
    count: int,
    params: Mapping[str, object],
    writers: Mapping[str, Callable[[Path], object]],
) -> None:
    """Write one data file per part (``writers[part](file_path)`` writes it), then the manifest.

    Part names are short lowercase words (``usearch``, ``keys.npy``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot_id = secrets.token_hex(8)
    parts: dict[str, dict[str, object]] = {}
    written: list[Path] = []
    try:
        for part, write in writers.items():
            final = path.with_name(f"{path.name}.{snapshot_id}.{part}")
            temporary = final.with_name(final.name + ".tmp")
            written.append(temporary)
            write(temporary)
            _fsync_file(temporary)
            parts[part] = {
                "file": final.name,
                "size_bytes": temporary.stat().st_size,
                "sha256": _sha256(temporary),
            }
            os.replace(temporary, final)
            written.append(final)
        manifest = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "kind": kind,
            "watermark": watermark,
            "count": count,
            "params": dict(params),
            "parts": parts,
        }
        temporary = path.with_name(f"{path.name}.{snapshot_id}.manifest.tmp")
        written.append(temporary)
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        for leftover in written:
            leftover.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    keep = {str(entry["file"]) for entry in parts.values()}
    _delete_stale_parts(path, keep)


def read_snapshot(path: Path, kind: str | None = None) -> Snapshot:
    """The manifest at ``path`` with every data file checked against its size and SHA-256.

    kind: refuse a snapshot of another kind; None accepts any."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexSnapshotError(f"no vector index snapshot at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexSnapshotError(f"unreadable snapshot manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
        raise IndexSnapshotError(f"{path}: expected a {SNAPSHOT_FORMAT} manifest")
    if manifest.get("version") != SNAPSHOT_VERSION:
        raise IndexSnapshotError(
            f"{path}: expected snapshot version {SNAPSHOT_VERSION}, got {manifest.get('version')!r}"
        )
    if kind is not None and manifest.get("kind") != kind:
        raise IndexSnapshotError(
            f"{path}: expected a {kind!r} snapshot, got {manifest.get('kind')!r}"
        )
    watermark, count = manifest.get("watermark"), manifest.get("count")
    if not _is_count(watermark) or not _is_count(count):
        raise IndexSnapshotError(f"{path}: watermark and count must be ints >= 0")
    params, entries = manifest.get("params"), manifest.get("parts")
    if not isinstance(params, dict) or not isinstance(entries, dict):
        raise IndexSnapshotError(f"{path}: params and parts must be objects")
    parts = {part: _checked_part(path, part, entry) for part, entry in entries.items()}
    return Snapshot(
        kind=str(manifest["kind"]), watermark=watermark, count=count, params=params, parts=parts
    )


def _checked_part(manifest_path: Path, part: str, entry: object) -> Path:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise IndexSnapshotError(f"{manifest_path}: part {part!r} has no file name")
    name = entry["file"]
    if Path(name).name != name or not name.startswith(manifest_path.name + "."):
        raise IndexSnapshotError(f"{manifest_path}: part {part!r} names a foreign file {name!r}")
    file = manifest_path.with_name(name)
    try:
        size_bytes = file.stat().st_size
    except FileNotFoundError:
        raise IndexSnapshotError(f"{manifest_path}: data file {name} is missing") from None
    if size_bytes != entry.get("size_bytes"):
        raise IndexSnapshotError(
            f"{file}: expected {entry.get('size_bytes')} bytes, got {size_bytes} (truncated?)"
        )
    if _sha256(file) != entry.get("sha256"):
        raise IndexSnapshotError(f"{file}: SHA-256 differs from the manifest's (altered?)")
    return file


def save_npy(file: Path, array: np.ndarray) -> None:
    """``np.save`` to exactly this file name (``np.save`` on a path may append ``.npy``)."""
    with open(file, "wb") as stream:
        np.save(stream, array, allow_pickle=False)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(file: Path) -> None:
    with open(file, "rb+") as stream:
        os.fsync(stream.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _delete_stale_parts(path: Path, keep: set[str]) -> None:
    """Remove data files (and temporaries) of earlier snapshots of this path."""
    pattern = re.compile(re.escape(path.name) + r"\.[0-9a-f]{16}\.[a-z0-9.]+")
    for entry in path.parent.iterdir():
        if entry.name not in keep and pattern.fullmatch(entry.name):
            entry.unlink(missing_ok=True)
