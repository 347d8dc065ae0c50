"""What the video job operations return: typed values, snake_case, no AWS names."""

from __future__ import annotations

from dataclasses import dataclass

from facewise.service.images import ObjectRef
from facewise.service.results import FaceSearchMatch
from facewise.types import FaceAnalysis
from facewise.video.decode import VideoMetadata


@dataclass(frozen=True)
class VideoFace:
    """A face at one moment of the video."""

    timestamp_ms: int
    face: FaceAnalysis
    frame_wh: tuple[int, int]


@dataclass(frozen=True)
class VideoPerson:
    """A person (one track) at one moment, and the collection faces the track matched."""

    timestamp_ms: int
    index: int
    face: FaceAnalysis
    frame_wh: tuple[int, int]
    matches: list[FaceSearchMatch]


@dataclass(frozen=True)
class VideoJobStatus:
    """Where a job stands: IN_PROGRESS, SUCCEEDED or FAILED, and why it failed."""

    job_id: str
    status: str
    status_message: str | None
    metadata: VideoMetadata | None
    video: ObjectRef | None
    job_tag: str | None


@dataclass(frozen=True)
class FaceDetectionPage:
    job: VideoJobStatus
    faces: list[VideoFace]
    next_token: str | None


@dataclass(frozen=True)
class FaceSearchPage:
    job: VideoJobStatus
    persons: list[VideoPerson]
    next_token: str | None
