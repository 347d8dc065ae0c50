"""The storage protocols every backend implements (DESIGN.md section 5).

A VectorIndex maps int64 keys (a face's row id in the FaceStore) to 128-d float32
descriptors and answers nearest-neighbour queries by Euclidean distance. It is a cache of
what the FaceStore holds: it can always be rebuilt from it, and a saved snapshot records the
store's change sequence number (``watermark``) it includes, so reopening only replays what
came after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from facewise.store.records import (
    AccessKey,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    Camera,
    Change,
    CollectionPolicy,
    CollectionRecord,
    DataStream,
    NewFace,
    OptOut,
    StoredFace,
    StreamProcessorRecord,
    StreamRecord,
    Topic,
    UserRecord,
    VideoJob,
    VideoResult,
)

DESCRIPTOR_DIM = 128


class VectorIndex(Protocol):
    """Nearest neighbours by Euclidean distance over (key, descriptor) pairs."""

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: keys int64 (n,), vectors float32 (n, 128)."""
        ...

    def remove(self, keys: np.ndarray) -> None:
        """Forget these keys; unknown keys are ignored."""
        ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For queries (q, 128): keys (q, k) int64 and distances (q, k) float32, nearest first.
        Rows with fewer than k neighbours are padded with key -1 and distance inf."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, key: int) -> bool: ...

    def save(self, path: Path, watermark: int) -> None:
        """Write a snapshot atomically (a crash leaves the old snapshot or the new, never half)."""
        ...


class SearchableIndex(Protocol):
    """What searching needs of a collection's index (a VectorIndex, or pgvector's)."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """As VectorIndex.search."""
        ...

    def __len__(self) -> int: ...


class CollectionVectors(Protocol):
    """The vector index of every collection, kept in step with the FaceStore.

    Implementations: CollectionIndexes (in-process indexes with snapshots, store/indexes.py)
    and PgvectorIndexes (inside PostgreSQL, store/pgvector_index.py).
    """

    def synced(self, collection: CollectionRecord) -> SearchableIndex:
        """The collection's index, including every change committed before this call."""
        ...

    def rewrite(self, collection: CollectionRecord) -> None:
        """After an erasure: leave no copy of deleted descriptors in saved indexes."""
        ...

    def drop(self, collection: CollectionRecord) -> None:
        """Forget a deleted collection's index."""
        ...

    def save_all(self) -> None:
        """Save what would otherwise be rebuilt on the next start (on shutdown)."""
        ...

    def forget_deleted(self) -> None:
        """Free what this process holds for collections other processes deleted."""
        ...


class Transaction(Protocol):
    """The writes made inside one ``FaceStore.write()`` transaction: all commit or none.

    Reads through the store from the same thread inside the transaction see its writes.
    """

    def create_user(self, collection: CollectionRecord, user_id: str) -> bool:
        """Add the user; False if it already exists."""
        ...

    def delete_user(self, collection: CollectionRecord, user_id: str) -> bool:
        """Remove the user and unlink its faces; False if there was no such user."""
        ...

    def set_face_user(self, face: StoredFace, user_id: str | None) -> None: ...

    def token_result(self, collection: CollectionRecord, token: str) -> tuple[str, str] | None:
        """(fingerprint, result JSON) remembered for a ClientRequestToken, if any."""
        ...

    def remember_token(
        self, collection: CollectionRecord, token: str, fingerprint: str, result: str
    ) -> None: ...


class FaceStore(Protocol):
    """Collections, faces, users and the change log: the source of truth.

    Implementations: SqlFaceStore (embedded), MemoryFaceStore (a fake for unit tests).
    Each write method is atomic on its own; ``write()`` groups user and token writes.
    """

    def write(self) -> AbstractContextManager[Transaction]:
        """One write transaction (one writer at a time across threads and processes)."""
        ...

    def read(self) -> AbstractContextManager[object]:
        """A consistent snapshot for several reads."""
        ...

    def close(self) -> None: ...

    def create_collection(
        self, account: str, name: str, face_model_version: str, tags: dict[str, str]
    ) -> CollectionRecord: ...

    def update_tags(
        self, account: str, name: str, change: Callable[[dict[str, str]], dict[str, str]]
    ) -> CollectionRecord: ...

    def collection(self, account: str, name: str) -> CollectionRecord: ...

    def collection_by_row(self, row_id: int) -> CollectionRecord: ...

    def collections(
        self, account: str, after: str | None, limit: int
    ) -> list[CollectionRecord]: ...

    def delete_collection(self, account: str, name: str) -> CollectionRecord: ...

    def counts(self, collection: CollectionRecord) -> tuple[int, int]: ...

    def add_faces(
        self, collection: CollectionRecord, faces: Sequence[NewFace]
    ) -> list[StoredFace]: ...

    def faces(
        self,
        collection: CollectionRecord,
        after_face_id: str | None = None,
        limit: int = 1000,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[StoredFace]: ...

    def faces_by_row(
        self, collection: CollectionRecord, row_ids: Sequence[int]
    ) -> dict[int, StoredFace]: ...

    def face_with_embedding(
        self, collection: CollectionRecord, face_id: str
    ) -> tuple[StoredFace, np.ndarray]: ...

    def embeddings(
        self, collection: CollectionRecord, row_ids: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def has_external_image_id(
        self, collection: CollectionRecord, external_image_id: str
    ) -> bool: ...

    def delete_faces(
        self, collection: CollectionRecord, face_ids: Sequence[str]
    ) -> list[StoredFace]: ...

    def faces_created_before(
        self, collection: CollectionRecord, time_ms: int, limit: int
    ) -> list[StoredFace]:
        """Up to ``limit`` faces stored before ``time_ms``, oldest first (for retention)."""
        ...

    def scrub(self) -> bool:
        """Make deleted rows unreadable from the store's files too (SQLite: empty the
        write-ahead log); False if it could not finish now (the next call finishes it)."""
        ...

    def changes_since(self, collection: CollectionRecord, seq: int) -> list[Change]: ...

    def log_state(self, collection: CollectionRecord) -> tuple[int, int]: ...

    def forget_changes(self, collection: CollectionRecord, up_to_seq: int) -> None: ...

    def user(self, collection: CollectionRecord, user_id: str) -> UserRecord: ...

    def users(
        self, collection: CollectionRecord, after: str | None, limit: int
    ) -> list[UserRecord]: ...

    def user_face_rows(self, collection: CollectionRecord) -> dict[int, str]: ...


class KeyStore(Protocol):
    """Access keys and the accounts they act as (SigV4 needs each key's secret)."""

    def add_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey: ...

    def add_first_key(
        self, access_key_id: str, secret: str, account: str, role: str = "admin"
    ) -> AccessKey | None:
        """Add the key only if the store has never had one (atomically: None otherwise)."""
        ...

    def key(self, access_key_id: str) -> AccessKey | None: ...

    def keys(self) -> list[AccessKey]: ...

    def revoke_key(self, access_key_id: str) -> bool: ...


class JobStore(Protocol):
    """Stored-video jobs, their results (streamed in as the video is analysed) and persons."""

    def create_job(self, job: VideoJob) -> tuple[VideoJob, bool]:
        """Store a new job; with a client token already used by the account for this kind
        of job, the existing job instead. Returns (job, created)."""
        ...

    def job(self, account: str, job_id: str) -> VideoJob:
        """ResourceNotFoundError unless the account has this job."""
        ...

    def find_job(self, job_id: str) -> VideoJob | None:
        """The job of any account (for the worker that runs it)."""
        ...

    def unfinished_jobs(self) -> list[VideoJob]:
        """Jobs IN_PROGRESS, oldest first (to run again after a restart)."""
        ...

    def start_attempt(self, job_id: str) -> int:
        """Count one more attempt at the job, dropping results of earlier attempts."""
        ...

    def finish_job(
        self, job_id: str, status: str, message: str | None, metadata: str | None
    ) -> None: ...

    def set_metadata(self, job_id: str, metadata: str) -> None: ...

    def delete_job(self, job_id: str) -> None:
        """Forget a job that never started (its token with it)."""
        ...

    def add_results(self, job_id: str, results: Sequence[VideoResult]) -> None: ...

    def results(
        self, job_id: str, after: int, limit: int, by_person: bool = False
    ) -> list[tuple[int, VideoResult]]:
        """Up to ``limit`` results after position ``after``, by time (or by person, then
        time), each with its position for the next page."""
        ...

    def set_persons(self, job_id: str, persons: dict[int, str]) -> None:
        """What each person (track) was matched to (JSON text per person)."""
        ...

    def persons(self, job_id: str) -> dict[int, str]: ...

    def delete_finished_before(self, time_ms: int) -> int:
        """Delete jobs that finished before this time, with their results; how many."""
        ...

    def add_topic(self, topic: Topic) -> Topic:
        """Create or replace the account's topic of that name."""
        ...

    def topic(self, account: str, name: str) -> Topic | None: ...

    def topics(self, account: str | None = None) -> list[Topic]: ...

    def delete_topic(self, account: str, name: str) -> bool: ...


class StreamStore(Protocol):
    """What live streams keep: accounts' 12-digit ids (every ARN carries one), cameras, data
    streams with their records, and stream processors."""

    def account_id(self, account: str) -> str:
        """The account's 12-digit id, given on first use and kept."""
        ...

    def account_named_by(self, account_id: str) -> str | None: ...

    def add_camera(self, camera: Camera) -> Camera:
        """Add or replace a camera."""
        ...

    def camera(self, account: str, name: str) -> Camera: ...

    def cameras(self, account: str) -> list[Camera]: ...

    def remove_camera(self, account: str, name: str) -> None:
        """ResourceInUseError while a stream processor reads it."""
        ...

    def create_data_stream(
        self, account: str, name: str, retention_ms: int, sinks: str
    ) -> DataStream: ...

    def data_stream(self, account: str, name: str) -> DataStream: ...

    def data_streams(self, account: str) -> list[DataStream]: ...

    def update_data_stream(self, stream: DataStream) -> None: ...

    def delete_data_stream(self, account: str, name: str) -> None:
        """ResourceInUseError while a stream processor writes to it."""
        ...

    def append_record(self, stream_row_id: int, partition_key: str, data: bytes) -> StreamRecord:
        """Append a record; its sequence number is one more than the newest."""
        ...

    def records(self, stream_row_id: int, from_seq: int, limit: int) -> list[StreamRecord]:
        """Up to ``limit`` records from sequence number ``from_seq`` on, oldest first."""
        ...

    def record_bounds(self, stream_row_id: int) -> tuple[int, int]: ...

    def first_seq_at(self, stream_row_id: int, time_ms: int) -> int | None: ...

    def trim_records(self, stream_row_id: int, before_ms: int) -> int: ...

    def create_processor(self, processor: StreamProcessorRecord) -> None:
        """ResourceInUseError when the name is taken."""
        ...

    def processor(self, account: str, name: str) -> StreamProcessorRecord: ...

    def processors(self, account: str | None = None) -> list[StreamProcessorRecord]: ...

    def save_processor(self, processor: StreamProcessorRecord) -> None: ...

    def update_processor(self, account: str, name: str, settings: str, tags: str) -> None:
        """Change only the settings and tags (the status is the runner's)."""
        ...

    def set_processor_status(
        self,
        account: str,
        name: str,
        status: str,
        message: str | None,
        only_if: tuple[str, ...] = (),
    ) -> bool: ...

    def delete_processor(self, account: str, name: str) -> None: ...


class AuditLog(Protocol):
    """The audit trail: per-account hash-chained records (store/audit_chain.py)."""

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Write the entry as the account's next record; raises StoreError if it cannot."""
        ...

    def records(
        self, query: AuditQuery, after: tuple[int, str, int] | None, limit: int
    ) -> list[AuditRecord]:
        """Up to ``limit`` matching records ordered by (time, account, seq), after that key."""
        ...

    def chain(self, account: str, after_seq: int, limit: int) -> list[AuditRecord]:
        """The account's records in chain order (seq) after ``after_seq``."""
        ...

    def accounts(self) -> list[str]: ...

    def head(self, account: str) -> tuple[int, str] | None:
        """(seq, hash) of the account's newest record, kept beside the chain."""
        ...


class PolicyStore(Protocol):
    """What admins allow: per-collection policies and each account's threshold floor."""

    def collection_policy(self, collection_row_id: int) -> CollectionPolicy | None: ...

    def set_collection_policy(self, collection_row_id: int, policy: CollectionPolicy) -> None: ...

    def retention(self) -> list[tuple[int, int]]:
        """(collection row id, max face age in ms) of every collection with a retention."""
        ...

    def account_floor(self, account: str) -> float | None: ...

    def set_account_floor(self, account: str, floor: float) -> None: ...


class OptOutStore(Protocol):
    """People who asked never to be indexed: a descriptor, a reason and a date each."""

    def add_optout(self, account: str, reason: str, embedding: np.ndarray) -> OptOut: ...

    def optouts(self, account: str) -> list[OptOut]: ...

    def optout_embeddings(self, account: str) -> np.ndarray:
        """(n, 128) float32, in the order of ``optouts``."""
        ...

    def optout_version(self, account: str) -> tuple[int, int]:
        """A value that changes whenever the account's list does (for caches)."""
        ...

    def remove_optout(self, account: str, optout_id: str) -> bool: ...


class LeaseStore(Protocol):
    """Which worker owns a piece of work (``kind``: "job", "processor"), until when.

    An owner renews its lease well before it runs out; a lease that ran out means its owner
    died, and another worker may take the work over.
    """

    def take_lease(self, kind: str, name: str, owner: str, ttl_ms: int) -> bool:
        """Take the lease (or renew it, for its owner) for ttl_ms from now; False while
        another owner holds it."""
        ...

    def release_lease(self, kind: str, name: str, owner: str) -> None: ...

    def lease_owner(self, kind: str, name: str) -> str | None:
        """The owner of a lease that has not run out."""
        ...

    def expired_leases(self, kind: str) -> list[str]:
        """Names of the leases of this kind that ran out (their owners died)."""
        ...

    def reap_lease(self, kind: str, name: str) -> bool:
        """Delete the lease if it ran out; True for the one caller that deleted it."""
        ...
