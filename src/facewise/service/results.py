"""What the collection operations return: typed values, snake_case, no AWS names."""

from __future__ import annotations

from dataclasses import dataclass

from facewise.store.records import CollectionRecord, StoredFace, UserRecord
from facewise.types import FaceAnalysis


@dataclass(frozen=True)
class CollectionInfo:
    """A collection with its counts."""

    record: CollectionRecord
    face_count: int
    user_count: int


@dataclass(frozen=True)
class IndexedFace:
    """A face IndexFaces stored, with what was detected about it."""

    face: StoredFace
    detail: FaceAnalysis


@dataclass(frozen=True)
class UnindexedFace:
    """A face IndexFaces found but did not store, and why (Rekognition's reason words)."""

    reasons: tuple[str, ...]
    detail: FaceAnalysis


@dataclass(frozen=True)
class IndexFacesResult:
    indexed: list[IndexedFace]
    unindexed: list[UnindexedFace]
    face_model_version: str
    image_wh: tuple[int, int]


@dataclass(frozen=True)
class FaceSearchMatch:
    """A stored face and its similarity to the searched one (0-100)."""

    face: StoredFace
    similarity_pct: float


@dataclass(frozen=True)
class SearchFacesResult:
    searched_face_id: str | None
    matches: list[FaceSearchMatch]
    face_model_version: str
    searched_face: FaceAnalysis | None = None  # for searches by image
    image_wh: tuple[int, int] | None = None


@dataclass(frozen=True)
class FailedFace:
    """A face an operation could not act on, and why."""

    face_id: str
    reasons: tuple[str, ...]
    user_id: str | None = None
    similarity_pct: float | None = None


@dataclass(frozen=True)
class DeleteFacesResult:
    deleted: list[str]
    failed: list[FailedFace]


@dataclass(frozen=True)
class AssociationResult:
    """Faces (dis)associated with a user, those that were not, and the user's status after."""

    changed: list[str]
    failed: list[FailedFace]
    user_status: str


@dataclass(frozen=True)
class UserSearchMatch:
    user: UserRecord
    similarity_pct: float


@dataclass(frozen=True)
class SearchUsersResult:
    matches: list[UserSearchMatch]
    face_model_version: str
    searched_face_id: str | None = None
    searched_user_id: str | None = None
    searched_face: FaceAnalysis | None = None
    unsearched: list[UnindexedFace] | None = None
    image_wh: tuple[int, int] | None = None
