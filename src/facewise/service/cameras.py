"""Cameras: the live sources stream processors read. A camera is named by the Kinesis
video stream ARN a CreateStreamProcessor request gives (``facewise cameras add`` prints it).

    rtsp://user:pass@host:554/stream      RTSP over TCP (add ?transport=udp for UDP)
    http(s)://host/video.mjpg             HTTP MJPEG
    http(s)://host/live/index.m3u8        HLS
    /path/to/file.mp4                     a file, played in real time (loop: again and again)
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from facewise.errors import InvalidParameterError
from facewise.service.arns import DEFAULT_REGION, camera_arn
from facewise.service.options import parse_name
from facewise.service.scope import AccountService
from facewise.store.records import Camera, now_ms

CAMERA_NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,256}")  # Kinesis video stream names
NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")


def parse_camera_url(url: object) -> str:
    """A camera URL, or a file path made absolute; InvalidParameterError otherwise."""
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        raise InvalidParameterError("a camera URL is rtsp://..., http(s)://... or a file path")
    scheme = urlsplit(url).scheme.lower()
    if scheme in NETWORK_SCHEMES:
        if not urlsplit(url).hostname:
            raise InvalidParameterError(f"camera URL {url[:300]!r} names no host")
        return url
    if scheme == "file":
        url = urlsplit(url).path
    elif scheme and len(scheme) > 1:  # (a one-letter scheme is a Windows drive)
        raise InvalidParameterError(
            f"unsupported camera URL scheme {scheme!r}: use rtsp, rtsps, http, https or a file"
        )
    path = Path(url).expanduser().absolute()
    if not path.is_file():
        raise InvalidParameterError(f"no video file {str(path)[:300]!r}")
    return str(path)


class Cameras(AccountService):
    """Add, list and remove the caller's cameras."""

    def add(self, name: str, url: str, loop: bool = False) -> Camera:
        """Register (or replace) a camera. loop: a file source starts again at its end."""
        name = parse_name("camera name", name, CAMERA_NAME)
        camera = Camera(self.account, name, parse_camera_url(url), bool(loop), now_ms())
        return self.context.stream_store().add_camera(camera)

    def get(self, name: str) -> Camera:
        return self.context.stream_store().camera(self.account, name)

    def list(self) -> list[Camera]:
        return self.context.stream_store().cameras(self.account)

    def remove(self, name: str) -> None:
        """ResourceInUseError while a stream processor reads it."""
        self.context.stream_store().remove_camera(self.account, name)

    def arn(self, camera: Camera, region: str = DEFAULT_REGION) -> str:
        """The Kinesis video stream ARN that names this camera in CreateStreamProcessor."""
        account_id = self.context.account_id(self.account)
        return camera_arn(region, account_id, camera.name, camera.created_at_ms)
