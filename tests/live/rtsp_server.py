"""A real RTSP server on loopback for the live stream tests: GStreamer's gst-rtsp-server
(Debian's gir1.2-gst-rtsp-server-1.0, run by the system python3 with python3-gi) serving an
H.264 MP4 file at rtsp://127.0.0.1:PORT/cam. Each client gets the file from its start, in
real time; when it ends the stream ends (a camera's pass).

    /usr/bin/python3 tests/live/rtsp_server.py PORT FILE.mp4
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print(f"rtsp://127.0.0.1:{port}/cam", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
