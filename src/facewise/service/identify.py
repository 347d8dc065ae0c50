"""The one path every identification takes: a face compared with others or searched for.

CompareFaces, SearchFaces, SearchFacesByImage, SearchUsers, SearchUsersByImage and
AssociateFaces' match check, video face search and stream matches all call ``identify``. It
decides the threshold that applies (the caller's, or the named default below when none was
given, raised to the account's or collection's floor), runs the search, and hands a record of
what was asked and found to the audit sink; an identification that cannot be recorded is not
answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import numpy as np

from facewise.service.caller import Caller
from facewise.service.options import parse_percentage
from facewise.store.records import AuditEntry, CollectionRecord, now_ms

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


class Erasure(StrEnum):
    """The deletions the audit trail records beside identifications."""

    DELETE_FACES = "delete_faces"
    DELETE_USER = "delete_user"
    DELETE_COLLECTION = "delete_collection"
    EXPIRE_FACES = "expire_faces"  # the retention sweeper
    OPT_OUT = "opt_out"  # faces of a person added to the opt-out list


@dataclass(frozen=True)
class Outcome:
    """How many faces an identification compared, how many matched, and the stored
    FaceIds/UserIds it matched (CompareFaces matches faces of its images, not stored ones)."""

    faces_searched: int
    matched_ids: Sequence[str]
    faces_matched: int | None = None  # None: len(matched_ids)


class AuditSink(Protocol):
    """Receives a record of every identification and erasure before its answer is returned;
    raises (StoreError) when it cannot keep it, and then no answer is given."""

    def record(self, entry: AuditEntry) -> None: ...


class NoAudit:
    """Keeps no records: for the library's storeless functions (compare_faces)."""

    def record(self, entry: AuditEntry) -> None:
        return None


class MemoryAudit:
    """Keeps records in a list (for tests and for callers that inspect them)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


NO_AUDIT = NoAudit()


class Floors(Protocol):
    """The lowest threshold an identification in an account (and collection) may use."""

    def floor(self, account: str, collection: CollectionRecord | None) -> float: ...


@dataclass(frozen=True)
class FixedFloor:
    """The same floor everywhere (0: none, as the storeless library functions have)."""

    value: float = 0.0

    def floor(self, account: str, collection: CollectionRecord | None) -> float:
        return self.value


class OptOutCheck(Protocol):
    """Whether a face is of someone on the account's opt-out list (service/optout.py)."""

    def matches(self, account: str, embedding: np.ndarray) -> bool: ...


class NoOptOuts:
    def matches(self, account: str, embedding: np.ndarray) -> bool:
        return False


NO_OPTOUTS = NoOptOuts()


@dataclass(frozen=True)
class Rules:
    """What every identification obeys: its account's threshold floor, the opt-out list
    (nobody on it is ever matched), and the audit trail that must keep a record of it before
    it is answered."""

    audit: AuditSink = NO_AUDIT
    floors: Floors = FixedFloor()
    optouts: OptOutCheck = NO_OPTOUTS


UNGUARDED = Rules()  # the library's storeless functions: no store to audit to or read floors


def applied_threshold(
    kind: Identification, requested: float | None, name: str, floor: float = 0.0
) -> float:
    """The threshold an identification uses: the requested one (0-100) or the default,
    raised to the floor."""
    if requested is None:
        return max(DEFAULT_THRESHOLDS[kind], floor)
    return max(parse_percentage(name, requested), floor)


def audit_entry(
    caller: Caller,
    operation: str,
    collection: str | None,
    ids: Sequence[str] = (),
    *,
    requested_threshold: float | None = None,
    applied_threshold: float | None = None,
    faces_searched: int = 0,
    faces_matched: int = 0,
) -> AuditEntry:
    """An audit entry for the caller's action, stamped now."""
    return AuditEntry(
        account=caller.account,
        time_ms=now_ms(),
        operation=operation,
        access_key_id=caller.access_key_id,
        collection=collection,
        requested_threshold=requested_threshold,
        applied_threshold=applied_threshold,
        faces_searched=faces_searched,
        faces_matched=faces_matched,
        ids=tuple(ids),
        request_id=caller.request_id,
        source_address=caller.source_address,
    )


Result = TypeVar("Result")


def identify(
    rules: Rules,
    caller: Caller,
    kind: Identification,
    collection: CollectionRecord | None,
    requested_threshold: float | None,
    search: Callable[[float], Result],
    outcome: Callable[[Result], Outcome],
    threshold_name: str = "face_match_threshold",
) -> Result:
    """Run ``search(threshold)`` at the requested threshold raised to the floor, and record
    it; the answer is returned only once the record is kept."""
    floor = rules.floors.floor(caller.account, collection)
    threshold = applied_threshold(kind, requested_threshold, threshold_name, floor)
    result = search(threshold)
    summary = outcome(result)
    matched = len(summary.matched_ids) if summary.faces_matched is None else summary.faces_matched
    rules.audit.record(
        audit_entry(
            caller,
            kind.value,
            None if collection is None else collection.name,
            summary.matched_ids,
            requested_threshold=None if requested_threshold is None else float(requested_threshold),
            applied_threshold=threshold,
            faces_searched=summary.faces_searched,
            faces_matched=matched,
        )
    )
    return result
