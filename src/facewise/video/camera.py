"""Reading a live camera: one thread decodes it and keeps only the newest sampled frame, so
analysis that falls behind skips frames instead of building a backlog. A camera that drops
is reconnected with back-off; a file is played at its own pace (as a camera would send it)
and, with ``loop``, again from the start at its end.

    rtsp://host/stream        RTSP over TCP; rtsp://host/stream#udp for RTSP over UDP
    http://host/video.mjpg    HTTP MJPEG (FFmpeg's mpjpeg reader)
    http://host/index.m3u8    HLS
    /path/to/file.mp4         a file
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from facewise.video.decode import SampledFrame, displayed_rgb

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0


class SourceState(StrEnum):
    CONNECTED = "connected"
    RETRYING = "retrying"
    ENDED = "ended"  # a file without loop reached its end
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How a camera is reconnected (LiveSettings documents each knob)."""

    first_connect_tries: int = 3
    give_up_after_s: float = 600.0
    retry_first_s: float = 1.0
    retry_max_s: float = 30.0


@dataclass(frozen=True)
class LiveFrame:
    """A sampled frame of a live source and when it arrived (wall-clock ms)."""

    sampled: SampledFrame
    arrived_ms: int
    media_ms: int  # the frame's time in its source (a file's from its start, per pass)


@dataclass(frozen=True)
class _Opening:
    """What FFmpeg opens: the URL, its demuxer (None: guessed), options; a file is played
    at its own pace."""

    target: str
    format: str | None
    options: dict[str, str]
    is_file: bool


def _opening(url: str) -> _Opening:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        transport = "udp" if parts.fragment.lower() == "udp" else "tcp"
        return _Opening(url.split("#", 1)[0], None, {"rtsp_transport": transport}, False)
    if scheme in ("http", "https"):
        mjpeg = parts.path.lower().endswith((".mjpg", ".mjpeg", ".cgi"))
        return _Opening(url, "mpjpeg" if mjpeg else None, {}, False)
    return _Opening(url, None, {}, True)


class CameraSource:
    """Decodes a camera on a thread of its own at ``rate_fps`` sampled frames a second.

    on_state(state, message) is called from the reading thread when the camera connects,
    is being retried, has ended (a file without loop) or has failed for good.
    """

    def __init__(
        self,
        url: str,
        loop: bool,
        rate_fps: float,
        on_state: Callable[[SourceState, str | None], None],
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.url, self.loop, self.retry = url, loop, retry
        self.step_s = 1.0 / rate_fps
        self.on_state = on_state
        self.dropped = 0  # sampled frames replaced before analysis took them
        self._newest: LiveFrame | None = None
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._number = 0
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)

    def start(self) -> CameraSource:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def newest(self, timeout_s: float) -> LiveFrame | None:
        """The newest sampled frame not yet taken (waiting up to timeout_s), or None."""
        with self._ready:
            if self._newest is None:
                self._ready.wait(timeout_s)
            frame, self._newest = self._newest, None
            return frame

    # -- the reading thread ------------------------------------------------------------------

    def _offer(self, rgb: np.ndarray, offset_ms: int, media_ms: int) -> None:
        sampled = SampledFrame(self._number, offset_ms, rgb)
        frame = LiveFrame(sampled, int(time.time() * 1000), media_ms)
        self._number += 1
        with self._ready:
            if self._newest is not None:
                self.dropped += 1
            self._newest = frame
            self._ready.notify_all()

    def _run(self) -> None:
        ever_connected, tries, lost_since = False, 0, 0.0
        delay = self.retry.retry_first_s
        session_start = time.monotonic()
        while not self._stop.is_set():
            try:
                finished = self._play(session_start)
                ever_connected, tries, delay = True, 0, self.retry.retry_first_s
                if finished == "ended":
                    if not self.loop:
                        self.on_state(SourceState.ENDED, "the file has ended")
                        return
                    continue
                if self._stop.is_set():
                    return
                reason = "the camera ended its stream"
            except _CameraError as error:
                if error.connected:
                    ever_connected, tries, delay = True, 0, self.retry.retry_first_s
                reason = str(error)
            tries += 1
            if not ever_connected and tries >= self.retry.first_connect_tries:
                self.on_state(SourceState.FAILED, f"cannot read the camera: {reason}")
                return
            lost_since = lost_since or time.monotonic()
            if ever_connected and time.monotonic() - lost_since > self.retry.give_up_after_s:
                self.on_state(
                    SourceState.FAILED,
                    f"the camera has been unreachable for {self.retry.give_up_after_s:.0f} s: "
                    f"{reason}",
                )
                return
            self.on_state(SourceState.RETRYING, f"reconnecting in {delay:.0f} s: {reason}")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.retry.retry_max_s)

    def _play(self, session_start: float) -> str:
        """Read until the source ends ("ended" for a file) or drops, or until stopped."""
        import av

        opening = _opening(self.url)
        is_file = opening.is_file
        try:
            container = av.open(
                opening.target,
                mode="r",
                format=opening.format,
                options=opening.options,
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
            raise _CameraError(_reason(error), connected=False) from None
        connected = False
        try:
            if not container.streams.video:
                raise _CameraError("the source has no video", connected=False)
            stream = container.streams.video[0]
            # Slice threads, not frame threads: with a frame-threaded decoder per camera,
            # twelve cameras' analysis stalled (bench_streams: p99 latency 1.8 s, against
            # 0.5 s with slice threads); most likely each decode call waits on its
            # workers without letting other Python threads run.
            stream.thread_type = "SLICE"
            played_from = time.monotonic()
            first_pts: float | None = None
            next_sample = 0.0
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return "stopped"
                if not connected:
                    connected = True
                    self.on_state(SourceState.CONNECTED, None)
                when = _seconds(frame)
                if when is None:
                    continue
                first_pts = when if first_pts is None else first_pts
                media_s = when - first_pts
                if is_file:  # a file is read as fast as the disk goes: play it in real time
                    ahead = played_from + media_s - time.monotonic()
                    if ahead > 0 and self._stop.wait(ahead):
                        return "stopped"
                # Sampled by media time for a file, by arrival for a camera (whose clock may
                # jump when it reconnects).
                at = media_s if is_file else time.monotonic() - played_from
                if at + 1e-3 < next_sample:
                    continue
                next_sample = max(next_sample + self.step_s, at)
                rgb = displayed_rgb(frame)
                offset_ms = int((time.monotonic() - session_start) * 1000)
                self._offer(rgb, offset_ms, int(media_s * 1000))
            return "ended" if is_file else "dropped"
        except av.FFmpegError as error:
            raise _CameraError(_reason(error), connected=connected) from None
        finally:
            container.close()


class _CameraError(Exception):
    def __init__(self, message: str, connected: bool) -> None:
        super().__init__(message)
        self.connected = connected


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text[:300]


def _seconds(frame: Any) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)
