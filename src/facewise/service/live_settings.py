"""How live streams are read and analysed, and the small interface stream processors run
behind (threads in the server today; workers holding a lease when scaled out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from facewise.video.analysis import VideoAnalysisConfig

HOUR_MS = 3600 * 1000


@dataclass(frozen=True)
class LiveSettings:
    """Live stream knobs.

    analysis: sampling rate (default 5 analysed frames a second), tracker, identity rule
        and the motion regions searched, as for stored video; one detection lane per
        camera (several cameras share the cores instead).
    motion_gating: skip frames in which nothing moved while no face is being tracked (a
        still camera then costs only its decoding); False analyses every sampled frame.
    first_connect_tries: a camera that has never answered in this run is tried this many
        times (with back-off) before the processor turns FAILED: a wrong URL fails fast.
    give_up_after_s: a camera that worked and dropped is retried, with back-off from
        ``retry_first_s`` doubling to ``retry_max_s``, for this long before the processor
        turns FAILED (it stays RUNNING, saying so in its StatusMessage, meanwhile).
    record_retention_ms: data stream records are kept this long by default (Kinesis: 24 h).
    iterator_lifetime_s: how long a shard iterator may be used (Kinesis: 5 minutes).
    """

    analysis: VideoAnalysisConfig = field(
        default_factory=lambda: VideoAnalysisConfig(detection_lanes=1)
    )
    motion_gating: bool = True
    first_connect_tries: int = 3
    give_up_after_s: float = 600.0
    retry_first_s: float = 1.0
    retry_max_s: float = 30.0
    record_retention_ms: int = 24 * HOUR_MS
    iterator_lifetime_s: float = 300.0


class ProcessorRunner(Protocol):
    """Runs stream processors: each RUNNING one reads its camera until stopped."""

    def start(self, account: str, name: str) -> None:
        """Begin reading and analysing (the processor is STARTING in the store)."""
        ...

    def stop(self, account: str, name: str) -> None:
        """Stop within a couple of seconds and mark the processor STOPPED."""
        ...

    def close(self) -> None:
        """Stop every processor, leaving each RUNNING in the store (they restart with the
        server)."""
        ...
