"""A video's faces, frame by frame and track by track: sample → detect → track → embed a few
of each track's best frames. Results are handed out as they are found, never all kept."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facewise.models.retinaface import DetectorConfig
from facewise.pipeline.analyzer import Analyzer
from facewise.types import Attribute, FaceAnalysis
from facewise.video.decode import (
    DEFAULT_VIDEO_LIMITS,
    SampledFrame,
    VideoLimits,
    VideoMetadata,
    probe,
    sample_frames,
)
from facewise.video.identity import IdentityRule, frame_weight
from facewise.video.tracking import FaceTracker, SceneCuts, TrackerConfig

# Frames are searched at most 640 px wide (detection cost grows with the area: faces from
# about 20 px at that size, so 40 px in a 1280x720 frame and 60 px in 1920x1080, at ~9 ms a
# frame on 2 cores; max_side_px=1280 finds faces half as large at four times the cost), and
# without the border photos get (a face cut by the frame edge is rarely worth naming, and
# the border costs 40% more pixels).
VIDEO_DETECTOR = DetectorConfig(max_side_px=640, border_fraction=0.0)


@dataclass(frozen=True)
class VideoAnalysisConfig:
    """How a video is analysed.

    rate_fps: analysed frames per second (default 5). Higher catches briefer appearances
        and costs proportionally more. embeddings_per_track: best frames of each track that
        are embedded and searched; more makes a track's identity surer and costs an
        embedding (~5 ms) each. max_faces_per_frame: largest faces analysed per frame.
    detector: how frames are searched for faces (VIDEO_DETECTOR below); landmarks, quality
        and descriptors still come from the full frame.
    detection_lanes: frames searched for faces at once, each on one thread, while the
        previous ones are tracked and embedded (default 2, for 2 cores). 1 detects one
        frame at a time on every core: lower latency per frame, fewer frames a second.
    """

    rate_fps: float = 5.0
    detector: DetectorConfig = field(default_factory=lambda: VIDEO_DETECTOR)
    detection_lanes: int = 2
    embeddings_per_track: int = 3
    max_faces_per_frame: int = 100
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
class _Best:
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
    best: dict[int, _Best] = {}
    for frame, faces in _analysed(path, analyzer, config, limits, attributes):
        rgb = frame.rgb
        if cuts.is_cut(rgb):
            tracker.reset()
        tracks = tracker.update([face.detection for face in faces])
        frame_wh = (rgb.shape[1], rgb.shape[0])
        for face, track in zip(faces, tracks, strict=True):
            on_face(FrameFace(frame.timestamp_ms, track, face, frame_wh))
            if embed:
                _maybe_embed(analyzer, rgb, face, track, frame.timestamp_ms, best, config)
        on_progress(frame.timestamp_ms, metadata.duration_ms)
    return metadata, {track: kept.samples for track, kept in best.items() if kept.samples}


def _analysed(
    path: Path | str,
    analyzer: Analyzer,
    config: VideoAnalysisConfig,
    limits: VideoLimits,
    attributes: frozenset[Attribute],
) -> Iterator[tuple[SampledFrame, list[FaceAnalysis]]]:
    """Sampled frames in order, each with its faces (detected, landmarks, pose, quality),
    ``detection_lanes`` frames at a time (a few ahead, never more: memory stays bounded)."""
    lanes = max(1, config.detection_lanes)
    threads = 1 if lanes > 1 else None

    def faces_of(rgb: np.ndarray) -> list[FaceAnalysis]:
        found = analyzer.detect(rgb, config.detector, threads)[: config.max_faces_per_frame]
        return analyzer.analyze(rgb, found, attributes)

    ahead: deque[tuple[SampledFrame, Future[list[FaceAnalysis]]]] = deque()
    with ThreadPoolExecutor(lanes, thread_name_prefix="detect") as pool:
        try:
            for frame in _prefetched(sample_frames(path, config.rate_fps, limits), 2 * lanes):
                ahead.append((frame, pool.submit(faces_of, frame.rgb)))
                if len(ahead) > 2 * lanes:
                    done, future = ahead.popleft()
                    yield done, future.result()
            while ahead:
                done, future = ahead.popleft()
                yield done, future.result()
        finally:
            for _, future in ahead:
                future.cancel()


def _prefetched(frames: Iterator[SampledFrame], depth: int) -> Iterator[SampledFrame]:
    """The frames, decoded by a thread of their own up to ``depth`` ahead (decoding then
    overlaps with analysis); an error while decoding is raised here, in order."""
    import queue
    import threading

    ready: queue.Queue[SampledFrame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: SampledFrame | BaseException | None) -> bool:
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


def _maybe_embed(
    analyzer: Analyzer,
    rgb: np.ndarray,
    face: FaceAnalysis,
    track: int,
    timestamp_ms: int,
    best: dict[int, _Best],
    config: VideoAnalysisConfig,
) -> None:
    """Embed the face if it is among the track's best frames so far (at most
    3 x embeddings_per_track tries per track, so a face that keeps improving stays cheap)."""
    x1, y1, x2, y2 = face.box_xyxy
    sharpness = face.quality.sharpness if face.quality is not None else 50.0
    weight = frame_weight((x2 - x1) * (y2 - y1), sharpness)
    kept = best.setdefault(track, _Best())
    room = len(kept.samples) < config.embeddings_per_track
    worst = min(kept.samples, key=lambda s: s.weight) if kept.samples else None
    if not room and (worst is None or weight < worst.weight * 1.25):
        return
    if kept.tries >= 3 * config.embeddings_per_track:
        return
    kept.tries += 1
    embedded = analyzer.analyze(rgb, [face.detection], frozenset(), with_embedding=True)
    if not embedded or embedded[0].embedding is None:
        return
    if not room and worst is not None:
        kept.samples.remove(worst)
    kept.samples.append(TrackSample(timestamp_ms, weight, embedded[0].embedding))
