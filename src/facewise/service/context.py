"""What every service shares: one store, its vector indexes, the analyzer, where images come
from (and their limits), and the audit sink. Collections, faces and users are sibling
services over one context; video jobs, stream processors and audit will be more.

    context = ServiceContext.open("facewise-data")        # or store_url="sqlite:///x.db"
    collections = Collections(context, Caller("default"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from facewise.errors import StoreError
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits
from facewise.pipeline.analyzer import Analyzer, AnalyzerConfig, FaceAnalyzer
from facewise.service.audit import StoreAudit
from facewise.service.identify import NO_AUDIT, AuditSink, Rules
from facewise.service.images import FolderBuckets, ImageSource, ObjectSource, S3Buckets
from facewise.service.job_queue import JobQueue
from facewise.service.live_settings import LiveSettings, ProcessorRunner
from facewise.service.optout_list import OptOutList
from facewise.service.policy import Policies
from facewise.settings import data_dir as resolve_data_dir
from facewise.store.backends import chosen_store_url, open_store
from facewise.store.protocols import (
    AuditLog,
    CollectionVectors,
    FaceStore,
    JobStore,
    KeyStore,
    LeaseStore,
    OptOutStore,
    PolicyStore,
    StreamStore,
)
from facewise.video.analysis import VideoAnalysisConfig
from facewise.video.decode import DEFAULT_VIDEO_LIMITS, VideoLimits

BUCKETS_FOLDER = "buckets"
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class VideoSettings:
    """How stored videos are analysed and how long job results are kept.

    retention_ms: a finished job and its results are deleted this long after it ended
        (Rekognition keeps them 7 days). Longer costs store space.
    """

    analysis: VideoAnalysisConfig = field(default_factory=VideoAnalysisConfig)
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS
    retention_ms: int = 7 * DAY_MS


def _nothing() -> None:
    return None


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class ServiceContext:
    """The shared parts of the services. Thread-safe: share one between threads."""

    store: FaceStore
    access_keys: KeyStore
    indexes: CollectionVectors
    analyzer: Analyzer
    images: ImageSource = field(default_factory=ImageSource)
    audit: AuditSink = NO_AUDIT
    jobs: JobStore | None = None  # stored-video jobs; None where no job runs
    queue: JobQueue | None = None  # where video jobs are run (set by the server)
    video: VideoSettings = field(default_factory=VideoSettings)
    streams: StreamStore | None = None  # cameras, data streams, stream processors
    live: ProcessorRunner | None = None  # where stream processors run (set by the server)
    live_settings: LiveSettings = field(default_factory=LiveSettings)
    audit_log: AuditLog | None = None  # the trail ``audit`` writes to, for reading it back
    policy_store: PolicyStore | None = None  # floors and collection policies
    optout_store: OptOutStore | None = None
    lease_store: LeaseStore | None = None  # which worker owns a job or a stream processor
    background: list[Closable] = field(default_factory=list)  # threads closed first
    scrub_pending: bool = False  # an erasure's WAL scrub was delayed (service/erasure.py)
    closer: Callable[[], None] = _nothing
    policies: Policies = field(init=False)
    optouts: OptOutList = field(init=False)

    def __post_init__(self) -> None:
        self.policies = Policies(self.policy_store, self.store)
        self.optouts = OptOutList(self.optout_store)

    @property
    def rules(self) -> Rules:
        """What every identification obeys (service/identify.py), from the current audit
        sink, policies and opt-out list."""
        return Rules(self.audit, self.policies, self.optouts)

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        store_url: str | None = None,
        analyzer: Analyzer | None = None,
        objects: ObjectSource | None = None,
        s3_endpoint_url: str | None = None,
        limits: ImageLimits = DEFAULT_LIMITS,
        snapshot_every: int = 5000,
    ) -> ServiceContext:
        """Open (creating if needed) the store and everything around it.

        data_dir: converted models, the folder of buckets, and the default store.
        store_url: the store (else $FACEWISE_STORE_URL, else the SQLite file in data_dir).
        objects: where S3Object references are read; else the S3-compatible endpoint
            s3_endpoint_url (credentials from the usual AWS variables or profile); else the
            folder ``<data_dir>/buckets``.
        snapshot_every: index changes between snapshots (store.indexes.CollectionIndexes).
        """
        folder = resolve_data_dir(data_dir)
        if objects is None:
            objects = (
                S3Buckets(s3_endpoint_url)
                if s3_endpoint_url
                else FolderBuckets(folder / BUCKETS_FOLDER)
            )
        opened = open_store(chosen_store_url(store_url, folder))
        return cls(
            store=opened.faces,
            access_keys=opened.access_keys,
            indexes=opened.vectors(snapshot_every, folder),
            analyzer=analyzer or FaceAnalyzer(AnalyzerConfig(data_dir=folder)),
            images=ImageSource(objects, limits),
            jobs=opened.jobs,
            streams=opened.streams,
            audit=StoreAudit(opened.audit),
            audit_log=opened.audit,
            policy_store=opened.policies,
            optout_store=opened.optouts,
            lease_store=opened.leases,
            closer=opened.close,
        )

    def stream_store(self) -> StreamStore:
        """The store of cameras, data streams and stream processors."""
        if self.streams is None:
            raise StoreError("this store keeps no streams")
        return self.streams

    def account_id(self, account: str) -> str:
        """The account's 12-digit id (as ARNs show it); 000000000000 with no stream store."""
        return self.streams.account_id(account) if self.streams is not None else "0" * 12

    def close(self) -> None:
        """Stop background work, stream processors and the job queue, snapshot open indexes,
        close the store."""
        for worker in self.background:
            worker.close()
        if self.live is not None:
            self.live.close()
        if self.queue is not None:
            self.queue.close()
        self.indexes.save_all()
        self.closer()

    def __enter__(self) -> ServiceContext:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
