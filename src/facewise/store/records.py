"""Rows of the face store as typed values (no AWS names: the protocol layer renames them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


def now_ms() -> int:
    """Wall-clock time in milliseconds, as every ``*_ms`` time of the store is kept."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class CollectionRecord:
    """A collection: a named set of faces bound to one face model version."""

    row_id: int
    account: str
    name: str
    face_model_version: str
    created_at_ms: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewFace:
    """A face about to be stored: where it was, how sure the detector was, its descriptor."""

    image_id: str
    external_image_id: str | None
    box_ratio: tuple[float, float, float, float]  # left, top, width, height (0-1)
    confidence: float  # 0-1
    embedding: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class StoredFace:
    """A face in a collection."""

    row_id: int
    face_id: str
    image_id: str
    external_image_id: str | None
    box_ratio: tuple[float, float, float, float]
    confidence: float
    user_id: str | None
    created_at_ms: int


@dataclass(frozen=True)
class UserRecord:
    """A user of a collection: a person, to whom faces are associated."""

    user_id: str
    status: str  # "created" (no faces yet) or "active"
    face_count: int


@dataclass(frozen=True)
class Change:
    """One entry of a collection's change log: a face row added to or removed from it."""

    seq: int
    face_row_id: int
    added: bool


@dataclass(frozen=True)
class AccessKey:
    """An access key: the account it acts as, and when it was created or revoked."""

    access_key_id: str
    secret: str = field(repr=False)
    account: str
    created_at_ms: int
    revoked_at_ms: int | None = None
    role: str = "admin"  # admin, index, search or read (service/keys.py)

    @property
    def active(self) -> bool:
        return self.revoked_at_ms is None


@dataclass(frozen=True)
class VideoJob:
    """A stored-video job (face detection or face search) and where it stands.

    request: the job's parameters as the service wrote them (JSON text; no AWS names).
    metadata: the video's metadata once known (JSON text), else None.
    """

    job_id: str
    account: str
    kind: str  # "face_detection" or "face_search"
    status: str  # "IN_PROGRESS", "SUCCEEDED" or "FAILED"
    status_message: str | None
    request: str
    client_token: str | None
    fingerprint: str
    metadata: str | None
    attempts: int
    created_at_ms: int
    finished_at_ms: int | None = None


@dataclass(frozen=True)
class VideoResult:
    """One face at one moment of a job's video: its person (track) and its detail (JSON)."""

    seq: int
    timestamp_ms: int
    person: int
    detail: str


@dataclass(frozen=True)
class Topic:
    """Where a job's completion is announced: an SNS topic name mapped to a webhook."""

    account: str
    name: str
    url: str
    secret: str = field(repr=False)
    created_at_ms: int = 0


@dataclass(frozen=True)
class Camera:
    """A live source a stream processor reads: rtsp://, http(s):// (MJPEG or HLS), or a
    file (``loop``: start it again at its end, as a camera that never stops)."""

    account: str
    name: str
    url: str
    loop: bool
    created_at_ms: int


@dataclass(frozen=True)
class DataStream:
    """Where stream processors write their match records (one shard), and where else each
    record is forwarded (``sinks``: JSON text, see service/data_streams.py)."""

    row_id: int
    account: str
    name: str
    created_at_ms: int
    retention_ms: int
    sinks: str


@dataclass(frozen=True)
class StreamRecord:
    """One record of a data stream: its sequence number (from 1), arrival time and bytes."""

    seq: int
    arrival_ms: int
    partition_key: str
    data: bytes


@dataclass(frozen=True)
class StreamProcessorRecord:
    """A stream processor: which camera it watches, which collection it searches, where it
    writes, and where it stands. ``settings``: JSON text written by the service."""

    account: str
    name: str
    camera: str
    data_stream: str
    collection: str
    settings: str
    tags: str
    status: str  # STOPPED, STARTING, RUNNING, FAILED, STOPPING or UPDATING
    status_message: str | None
    created_at_ms: int
    updated_at_ms: int
    session_id: str | None = None
    started_by: str | None = None  # the access key that last started it (for the audit)


@dataclass(frozen=True)
class AuditEntry:
    """One audited action as it is written: an identification (who searched what, at which
    threshold, and what it matched) or an erasure (which faces or users were deleted).

    Never image bytes or descriptors. ``ids``: the FaceIds/UserIds matched (or deleted).
    """

    account: str
    time_ms: int
    operation: str
    access_key_id: str | None = None
    collection: str | None = None
    requested_threshold: float | None = None
    applied_threshold: float | None = None
    faces_searched: int = 0
    faces_matched: int = 0
    ids: tuple[str, ...] = ()
    request_id: str | None = None
    source_address: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """An audit entry as stored: its place in the account's chain (``seq`` from 1), the hash
    of the record before it, and its own hash (store/audit_chain.py)."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditQuery:
    """Which audit records to list: every field left None matches all."""

    account: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None  # exclusive
    operation: str | None = None
    collection: str | None = None
    access_key_id: str | None = None


@dataclass(frozen=True)
class CollectionPolicy:
    """What an admin allows on one collection.

    min_threshold: the lowest match threshold a search may use (a lower one is raised to it);
        None means the account's floor.
    max_results: the most faces or users one search returns (MaxFaces/MaxUsers above it are
        lowered to it); None means Rekognition's cap.
    search_keys: whether keys of the search role may search it (admin keys always may).
    max_face_age_ms: faces older than this are deleted by the retention sweeper; None keeps
        faces until they are deleted.
    """

    min_threshold: float | None = None
    max_results: int | None = None
    search_keys: bool = True
    max_face_age_ms: int | None = None


@dataclass(frozen=True)
class OptOut:
    """A person who asked never to be indexed: only a descriptor of their face (kept by the
    store, not here), the reason given and when."""

    optout_id: str
    account: str
    reason: str
    created_at_ms: int
