"""Camera inputs other than RTSP and files, served on loopback: HTTP MJPEG (a multipart
stream of JPEGs, as IP cameras send) and HLS (a playlist of H.264 segments)."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facewise.video.camera import CameraSource, LiveFrame, SourceState
from tests.conftest import encode as jpeg


def _served(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _frames_from(
    url: str, wanted: int, timeout_s: float = 20.0
) -> tuple[list[LiveFrame], list[SourceState]]:
    states: list[SourceState] = []
    source = CameraSource(url, False, 5.0, lambda state, message: states.append(state)).start()
    frames: list[LiveFrame] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(frames) < wanted and time.monotonic() < deadline:
            if (frame := source.newest(0.5)) is not None:
                frames.append(frame)
    finally:
        source.close()
    return frames, states


@pytest.fixture
def mjpeg_url(astronaut: np.ndarray) -> Iterator[str]:
    picture = jpeg(astronaut[:256, :320])

    class Mjpeg(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for _ in range(40):  # 4 s at 10 frames a second
                part = b"--frame\r\nContent-Type: image/jpeg\r\n"
                part += f"Content-Length: {len(picture)}\r\n\r\n".encode() + picture + b"\r\n"
                try:
                    self.wfile.write(part)
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

        def log_message(self, *args: object) -> None:
            return None

    server = _served(Mjpeg)
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()


def test_http_mjpeg(mjpeg_url: str) -> None:
    frames, states = _frames_from(mjpeg_url, 5)
    assert len(frames) == 5, states
    assert states[0] is SourceState.CONNECTED
    assert frames[0].sampled.rgb.shape == (256, 320, 3)


@pytest.fixture
def hls_url(tmp_path: Path, crossing_video: Path) -> Iterator[str]:
    import av

    folder = tmp_path / "hls"
    folder.mkdir()
    with (
        av.open(str(crossing_video)) as source,
        av.open(
            str(folder / "index.m3u8"),
            "w",
            format="hls",
            options={"hls_time": "1", "hls_playlist_type": "vod"},
        ) as target,
    ):
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            target.mux(packet)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = _served(handler)  # type: ignore[arg-type]
    yield f"http://127.0.0.1:{server.server_address[1]}/index.m3u8"
    server.shutdown()


def test_hls(hls_url: str) -> None:
    frames, states = _frames_from(hls_url, 5)
    assert len(frames) == 5, states
    assert states[0] is SourceState.CONNECTED
    assert frames[0].sampled.rgb.shape == (360, 640, 3)
