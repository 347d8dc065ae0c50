"""The one path every identification takes: a face compared with others or searched for.

CompareFaces, SearchFaces, SearchFacesByImage, SearchUsers, SearchUsersByImage and
AssociateFaces' match check (and later video face search and stream matches) all call
``identify``. It decides the threshold that applies (the caller's, or the named default
below when none was given), runs the search, and hands a record of what was asked and
found to the audit sink: the place where threshold floors and the audit trail belong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from facewise.service.caller import Caller
from facewise.service.options import parse_percentage
from facewise.store.records import now_ms

# Rekognition's defaults. 80 is its FaceMatchThreshold (and SimilarityThreshold and
# UserMatchThreshold); AssociateFaces checks a face against the user's faces at 75.
FACE_MATCH_THRESHOLD = 80.0
ASSOCIATE_THRESHOLD = 75.0


class Identification(StrEnum):
    """The kinds of identification (the operations that compare faces)."""

    COMPARE_FACES = "compare_faces"
    SEARCH_FACES = "search_faces"
    SEARCH_FACES_BY_IMAGE = "search_faces_by_image"
    SEARCH_USERS = "search_users"
    SEARCH_USERS_BY_IMAGE = "search_users_by_image"
    ASSOCIATE_FACES = "associate_faces"
    VIDEO_FACE_SEARCH = "video_face_search"
    STREAM_FACE_SEARCH = "stream_face_search"


DEFAULT_THRESHOLDS: dict[Identification, float] = {
    kind: ASSOCIATE_THRESHOLD if kind is Identification.ASSOCIATE_FACES else FACE_MATCH_THRESHOLD
    for kind in Identification
}


@dataclass(frozen=True)
class IdentificationRecord:
    """What one identification asked and found: never image bytes or descriptors."""

    time_ms: int
    caller: Caller
    kind: Identification
    collection: str | None
    requested_threshold: float | None
    applied_threshold: float
    faces_searched: int
    matched_ids: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """How many faces an identification searched with and the FaceIds/UserIds it matched."""

    faces_searched: int
    matched_ids: Sequence[str]


class AuditSink(Protocol):
    """Receives a record of every identification before its answer is returned."""

    def record(self, entry: IdentificationRecord) -> None: ...


class NoAudit:
    """Keeps no records (the library default; the audit trail is a later issue)."""

    def record(self, entry: IdentificationRecord) -> None:
        return None


class MemoryAudit:
    """Keeps records in a list (for tests and for callers that inspect them)."""

    def __init__(self) -> None:
        self.entries: list[IdentificationRecord] = []

    def record(self, entry: IdentificationRecord) -> None:
        self.entries.append(entry)


NO_AUDIT = NoAudit()


def applied_threshold(kind: Identification, requested: float | None, name: str) -> float:
    """The threshold an identification uses: the requested one (0-100), or the default."""
    if requested is None:
        return DEFAULT_THRESHOLDS[kind]
    return parse_percentage(name, requested)


Result = TypeVar("Result")


def identify(
    audit: AuditSink,
    caller: Caller,
    kind: Identification,
    collection: str | None,
    requested_threshold: float | None,
    search: Callable[[float], Result],
    outcome: Callable[[Result], Outcome],
    threshold_name: str = "face_match_threshold",
) -> Result:
    """Run ``search(threshold)`` and record it; the answer is returned only once recorded."""
    threshold = applied_threshold(kind, requested_threshold, threshold_name)
    result = search(threshold)
    summary = outcome(result)
    audit.record(
        IdentificationRecord(
            time_ms=now_ms(),
            caller=caller,
            kind=kind,
            collection=collection,
            requested_threshold=None if requested_threshold is None else float(requested_threshold),
            applied_threshold=threshold,
            faces_searched=summary.faces_searched,
            matched_ids=tuple(summary.matched_ids),
        )
    )
    return result
