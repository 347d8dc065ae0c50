"""A video's faces, frame by frame and track by track: sample → detect → track → embed a few
of each track's best frames. Results are handed out as they are found, never all kept."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from facewise.models.retinaface import RELIABLE_FACE_PX, DetectorConfig, working_scale
from facewise.pipeline.analyzer import Analyzer
from facewise.types import Attribute, FaceAnalysis, FaceDetection
from facewise.video.decode import (
    DEFAULT_VIDEO_LIMITS,
    SampledFrame,
    VideoLimits,
    VideoMetadata,
    probe,
    sample_frames,
)
from facewise.video.identity import IdentityRule, frame_weight
from facewise.video.regions import Box, RegionConfig, face_regions, motion_boxes, motion_image
from facewise.video.tracking import FaceTracker, SceneCuts, TrackerConfig

# Frames are searched at most 640 px wide (detection cost grows with the area: faces from
# about 20 px at that size, so 40 px in a 1280x720 frame and 60 px in 1920x1080, at ~9 ms a
# frame on 2 cores; max_side_px=1280 finds faces half as large at four times the cost), and
# without the border photos get (a face cut by the frame edge is rarely worth naming, and
# the border costs 40% more pixels).
VIDEO_DETECTOR = DetectorConfig(max_side_px=640, border_fraction=0.0)

T = TypeVar("T")


@dataclass(frozen=True)
class VideoAnalysisConfig:
    """How a video is analysed.

    rate_fps: analysed frames per second (default 5). Higher catches briefer appearances
        and costs proportionally more. embeddings_per_track: best frames of each track that
        are embedded and searched; more makes a track's identity surer and costs an
        embedding (~5 ms) each. max_faces_per_frame: largest faces analysed per frame.
    detector: how frames are searched for faces (VIDEO_DETECTOR below); landmarks, quality
        and descriptors still come from the full frame. regions: which parts of each frame
        are searched (where it changed and where faces were; see regions.py).
    detection_lanes: frames searched for faces at once, each on one thread, while the
        previous ones are tracked and embedded (default 2, for 2 cores). 1 detects one
        frame at a time on every core: lower latency per frame, fewer frames a second.
    """

    rate_fps: float = 5.0
    detector: DetectorConfig = field(default_factory=lambda: VIDEO_DETECTOR)
    detection_lanes: int = 2
    embeddings_per_track: int = 3
    max_faces_per_frame: int = 100
    regions: RegionConfig = field(default_factory=RegionConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    identity: IdentityRule = field(default_factory=IdentityRule)


@dataclass(frozen=True)
class FrameFace:
    """A face in one analysed frame, and the track (person) it belongs to."""

    timestamp_ms: int
    track: int
    face: FaceAnalysis  # without its embedding
    frame_wh: tuple[int, int]


@dataclass(frozen=True)
class TrackSample:
    """One embedded frame of a track: its weight (size x sharpness) and descriptor."""

    timestamp_ms: int
    weight: float
    embedding: np.ndarray


@dataclass
class BestFrames:
    """A track's embedded frames so far, and how many embeddings it has cost."""

    samples: list[TrackSample] = field(default_factory=list)
    tries: int = 0


def analyse_video(
    path: Path | str,
    analyzer: Analyzer,
    config: VideoAnalysisConfig = VideoAnalysisConfig(),
    limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
    attributes: frozenset[Attribute] = frozenset(),
    embed: bool = False,
    on_face: Callable[[FrameFace], None] = lambda face: None,
    on_progress: Callable[[int, int], None] = lambda done_ms, total_ms: None,
) -> tuple[VideoMetadata, dict[int, list[TrackSample]]]:
    """Every face of every sampled frame (to ``on_face``) and, with ``embed``, the embedded
    best frames of each track. VideoError for a video that cannot be used."""
    metadata = probe(path, limits)
    tracker = FaceTracker(config.rate_fps, config.tracker)
    cuts = SceneCuts(config.tracker.scene_cut)
    best: dict[int, BestFrames] = {}
    for frame, faces in _analysed(path, analyzer, config, limits, attributes):
        rgb = frame.rgb
        if cuts.is_cut(rgb):
            tracker.reset()
        tracks = tracker.update([face.detection for face in faces])
        frame_wh = (rgb.shape[1], rgb.shape[0])
        for face, track in zip(faces, tracks, strict=True):
            on_face(FrameFace(frame.timestamp_ms, track, face, frame_wh))
            if embed:
                embed_if_among_best(analyzer, rgb, face, track, frame.timestamp_ms, best, config)
        on_progress(frame.timestamp_ms, metadata.duration_ms)
    return metadata, {track: kept.samples for track, kept in best.items() if kept.samples}


@dataclass(frozen=True)
class PreparedFrame:
    """A sampled frame with its working-size copy (what detection searches) and the small
    grey copy motion is looked for in."""

    frame: SampledFrame
    scale_xy: tuple[float, float]  # working pixels per frame pixel
    working: np.ndarray
    motion: np.ndarray


class FrameSearcher:
    """Finds the faces of sampled frames, searching each where it changed since a frame
    whose faces are known and where those faces were (see regions.py), or whole.

    threads: onnxruntime threads per detection (1 lets several frames be searched at once,
        one per core; None uses every core for one frame)."""

    def __init__(
        self,
        analyzer: Analyzer,
        config: VideoAnalysisConfig,
        attributes: frozenset[Attribute] = frozenset(),
        threads: int | None = None,
    ) -> None:
        self.analyzer, self.config, self.attributes, self.threads = (
            analyzer,
            config,
            attributes,
            threads,
        )
        # The working copy is already at the detector's scale: search it as it is.
        self._at_scale = replace(config.detector, min_face_px=RELIABLE_FACE_PX, max_side_px=8192)

    def prepare(self, frame: SampledFrame) -> PreparedFrame:
        height, width = frame.rgb.shape[:2]
        scale = working_scale(self.config.detector, width, height)
        working = frame.rgb
        if scale < 1.0:
            size_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
            working = cv2.resize(frame.rgb, size_wh, interpolation=cv2.INTER_AREA)
        scale_xy = (working.shape[1] / width, working.shape[0] / height)
        return PreparedFrame(frame, scale_xy, working, motion_image(working))

    def motion(self, item: PreparedFrame, reference: PreparedFrame) -> list[Box]:
        """Where the frame changed since the reference (in the small motion images' pixels)."""
        return motion_boxes(reference.motion, item.motion, self.config.regions.motion_threshold)

    def regions(
        self, item: PreparedFrame, reference: PreparedFrame, faces: list[FaceAnalysis]
    ) -> list[Box] | None:
        """Where to search the frame, given a reference frame and its faces; None: whole."""
        config = self.config.regions
        if not config.enabled or item.frame.number % config.full_frame_every == 0:
            return None
        sx, sy = item.scale_xy
        known = [
            (x1 * sx, y1 * sy, x2 * sx, y2 * sy) for x1, y1, x2, y2 in (f.box_xyxy for f in faces)
        ]
        size_wh = (item.working.shape[1], item.working.shape[0])
        moved = self.motion(item, reference)
        return face_regions(size_wh, moved, size_wh[0] / item.motion.shape[1], known, config)

    def faces(self, item: PreparedFrame, regions: list[Box] | None) -> list[FaceAnalysis]:
        """The frame's faces (landmarks, pose, quality), searched in ``regions`` or whole."""
        found: list[FaceDetection] = []
        whole = [(0, 0, item.working.shape[1], item.working.shape[0])]
        for x1, y1, x2, y2 in regions if regions is not None else whole:
            crop = item.working[y1:y2, x1:x2]
            detected = self.analyzer.detect(crop, self._at_scale, self.threads)
            found += [_moved(d, (x1, y1), item.scale_xy) for d in detected]
        found.sort(key=lambda d: -d.area_px)
        kept = found[: self.config.max_faces_per_frame]
        return self.analyzer.analyze(item.frame.rgb, kept, self.attributes)


def _analysed(
    path: Path | str,
    analyzer: Analyzer,
    config: VideoAnalysisConfig,
    limits: VideoLimits,
    attributes: frozenset[Attribute],
) -> Iterator[tuple[SampledFrame, list[FaceAnalysis]]]:
    """Sampled frames in order, each with its faces (detected, landmarks, pose, quality),
    ``detection_lanes`` frames at a time (a few ahead, never more: memory stays bounded).

    Frame n is searched where it differs from frame n - lanes, whose faces are known by
    then, and where those faces were (see regions.py); the whole frame when that is most of
    it, every ``regions.full_frame_every`` frames, and while no earlier frame is known."""
    lanes = max(1, config.detection_lanes)
    searcher = FrameSearcher(analyzer, config, attributes, 1 if lanes > 1 else None)
    ahead: deque[tuple[PreparedFrame, Future[list[FaceAnalysis]]]] = deque()
    with ThreadPoolExecutor(lanes, thread_name_prefix="detect") as pool:
        try:
            frames = sample_frames(path, config.rate_fps, limits)
            for item in _prefetched((searcher.prepare(f) for f in frames), 2 * lanes):
                regions = None
                if len(ahead) >= lanes:
                    reference, known = ahead[-lanes]
                    regions = searcher.regions(item, reference, known.result())
                ahead.append((item, pool.submit(searcher.faces, item, regions)))
                if len(ahead) > 2 * lanes:
                    done, future = ahead.popleft()
                    yield done.frame, future.result()
            while ahead:
                done, future = ahead.popleft()
                yield done.frame, future.result()
        finally:
            for _, future in ahead:
                future.cancel()


def _moved(
    detection: FaceDetection, offset_xy: tuple[int, int], scale_xy: tuple[float, float]
) -> FaceDetection:
    """A detection in a crop of the working copy, in the frame's own pixels."""
    (dx, dy), (sx, sy) = offset_xy, scale_xy
    x1, y1, x2, y2 = detection.box_xyxy
    return FaceDetection(
        box_xyxy=((x1 + dx) / sx, (y1 + dy) / sy, (x2 + dx) / sx, (y2 + dy) / sy),
        score=detection.score,
        landmarks_xy=tuple(((x + dx) / sx, (y + dy) / sy) for x, y in detection.landmarks_xy),
    )


def _prefetched(frames: Iterator[T], depth: int) -> Iterator[T]:
    """The frames, decoded by a thread of their own up to ``depth`` ahead (decoding then
    overlaps with analysis); an error while decoding is raised here, in order."""
    import queue
    import threading

    ready: queue.Queue[T | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: T | BaseException | None) -> bool:
        """Queue the item unless the reader has gone; False once it has."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(None)
        except BaseException as error:  # handed to the reader, raised there
            offer(error)

    thread = threading.Thread(target=decode, name="decode", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def embed_if_among_best(
    analyzer: Analyzer,
    rgb: np.ndarray,
    face: FaceAnalysis,
    track: int,
    timestamp_ms: int,
    best: dict[int, BestFrames],
    config: VideoAnalysisConfig,
) -> TrackSample | None:
    """Embed the face if it is among the track's best frames so far (at most
    3 x embeddings_per_track tries per track, so a face that keeps improving stays cheap)."""
    x1, y1, x2, y2 = face.box_xyxy
    sharpness = face.quality.sharpness if face.quality is not None else 50.0
    weight = frame_weight((x2 - x1) * (y2 - y1), sharpness)
    kept = best.setdefault(track, BestFrames())
    room = len(kept.samples) < config.embeddings_per_track
    worst = min(kept.samples, key=lambda s: s.weight) if kept.samples else None
    if not room and (worst is None or weight < worst.weight * 1.25):
        return None
    if kept.tries >= 3 * config.embeddings_per_track:
        return None
    kept.tries += 1
    embedded = analyzer.analyze(rgb, [face.detection], frozenset(), with_embedding=True)
    if not embedded or embedded[0].embedding is None:
        return None
    if not room and worst is not None:
        kept.samples.remove(worst)
    sample = TrackSample(timestamp_ms, weight, embedded[0].embedding)
    kept.samples.append(sample)
    return sample
