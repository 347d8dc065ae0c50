"""Real servers the live stream tests talk to, on loopback, each stopped by its PID: an RTSP
server (gst-rtsp-server), an MQTT broker (mosquitto) and a webhook receiver."""

from __future__ import annotations

import ctypes
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-gi
RTSP_SCRIPT = Path(__file__).with_name("rtsp_server.py")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded now: a child may no longer read files
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child, before it runs: ``sig`` when the test process dies, so no server outlives
    a killed run."""
    _LIBC.prctl(PR_SET_PDEATHSIG, sig)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_live_services() -> str | None:
    """Why the live tests cannot run here (None when they can)."""
    probe = (
        subprocess.run(
            [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
            capture_output=True,
            check=False,
        )
        if os.path.exists(SYSTEM_PYTHON)
        else None
    )
    if probe is None or probe.returncode != 0:
        return "gst-rtsp-server for the system python3 is missing (make test installs it)"
    if not os.path.exists(MOSQUITTO):
        return "mosquitto is missing (make test installs it)"
    return None


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@dataclass
class RtspServer:
    """rtsp://127.0.0.1:PORT/cam serving a file, each client from its start."""

    video: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> RtspServer:
        command = [SYSTEM_PYTHON, str(RTSP_SCRIPT), str(self.port), str(self.video)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "the RTSP server")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Mosquitto:
    """An MQTT broker listening on 127.0.0.1 only, anonymous clients allowed."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        config = self.folder / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process, "mosquitto")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class WebhookReceiver:
    """An HTTP server on loopback keeping every POST's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
