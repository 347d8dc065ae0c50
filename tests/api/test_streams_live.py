"""A stream processor on a real RTSP camera (gst-rtsp-server on loopback, playing a video of
real photos walking through): each indexed person reported once per pass with the right
FaceId, read through boto3's kinesis client, a signed webhook, an MQTT broker (mosquitto)
and a JSON lines file; the camera killed and restarted mid-pass is reconnected."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facewise.service.notifications import SIGNATURE_HEADER, verify
from tests.api.server import ServerProcess
from tests.api.test_streams import ROLE, _records, _status, _until
from tests.live.services import Mosquitto, RtspServer, WebhookReceiver, missing_live_services

pytestmark = pytest.mark.skipif(
    missing_live_services() is not None and not os.environ.get("FACEWISE_REQUIRE_LIVE"),
    reason=str(missing_live_services()),
)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path).start()
    yield broker
    broker.stop()


def _subscribe(broker: Mosquitto, topic: str) -> tuple[list[bytes], Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[bytes] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, message: got.append(bytes(message.payload))
    client.on_subscribe = lambda *args: ready.set()
    client.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert ready.wait(10), "no MQTT subscription"
    return got, client


def _named(records: list[dict[str, Any]]) -> list[str]:
    faces = [r["FaceSearchResponse"][0]["MatchedFaces"] for r in records]
    return [m[0]["Face"]["FaceId"] if m else "unknown" for m in faces]


def test_an_rtsp_camera_reported_everywhere_and_reconnected(
    server: ServerProcess,
    rekognition,  # type: ignore[no-untyped-def]
    crossing_video: Path,
    astronaut_jpeg: bytes,
    mosquitto: Mosquitto,
    tmp_path: Path,
) -> None:
    rekognition.create_collection(CollectionId="gate")
    eileen = rekognition.index_faces(
        CollectionId="gate", Image={"Bytes": astronaut_jpeg}, ExternalImageId="eileen"
    )["FaceRecords"][0]["Face"]["FaceId"]
    camera = RtspServer(crossing_video).start()
    hook = WebhookReceiver()
    got_mqtt, subscriber = _subscribe(mosquitto, "facewise/gate")
    kinesis = server.kinesis()
    try:
        arn = server.cli("cameras", "add", "gate", "--url", camera.url).strip().splitlines()[-1]
        created = server.cli(
            "data-streams",
            "create",
            "gate-matches",
            "--webhook",
            hook.url,
            "--mqtt",
            f"mqtt://127.0.0.1:{mosquitto.port}/facewise/gate",
            "--jsonl",
            str(tmp_path / "gate.jsonl"),
        )
        secret = created.split("(shown once): ", 1)[1].splitlines()[0].strip()
        output = kinesis.describe_stream_summary(StreamName="gate-matches")[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        rekognition.create_stream_processor(
            Name="gate-watch",
            Input={"KinesisVideoStream": {"Arn": arn}},
            Output={"KinesisDataStream": {"Arn": output}},
            Settings={"FaceSearch": {"CollectionId": "gate", "FaceMatchThreshold": 90.0}},
            RoleArn=ROLE,
        )
        rekognition.start_stream_processor(Name="gate-watch")
        # Pass 1 (8.5 s): Eileen 0-4 s, Grace 1-5 s, Eileen again 6-8 s.
        first = _until(lambda: len(r := _records(kinesis, "gate-matches")) >= 3 and r, 40, "pass 1")
        assert sorted(_named(first)) == sorted([eileen, eileen, "unknown"])
        # The camera dies mid-pass 2: the processor keeps RUNNING and says it is retrying.
        time.sleep(1.5)
        camera.kill()
        retrying = _until(
            lambda: (
                "reconnecting" in (_status(rekognition, "gate-watch").get("StatusMessage") or "")
            ),
            20,
            "a retry message",
        )
        assert retrying
        assert _status(rekognition, "gate-watch")["Status"] == "RUNNING"
        before = len(_records(kinesis, "gate-matches"))
        camera = RtspServer(crossing_video, port=camera.port).start()
        # The next full pass after the restart is reported: Eileen twice, Grace once.
        _until(
            lambda: _named(_records(kinesis, "gate-matches")[before:]).count(eileen) >= 2,
            60,
            "the pass after the restart",
        )
        assert _status(rekognition, "gate-watch")["Status"] == "RUNNING"
        asked = time.monotonic()
        rekognition.stop_stream_processor(Name="gate-watch")
        _until(lambda: _status(rekognition, "gate-watch")["Status"] == "STOPPED", 5, "STOPPED")
        assert time.monotonic() - asked < 2.0
        records = _records(kinesis, "gate-matches")
        wire = [json.dumps(r, sort_keys=True) for r in records]
        _until(
            lambda: len(hook.received) >= len(records) and len(got_mqtt) >= len(records),
            15,
            "sinks",
        )
        for headers, body in hook.received:
            assert verify(secret, headers[SIGNATURE_HEADER], body)
        assert [json.dumps(json.loads(b), sort_keys=True) for _, b in hook.received] == wire
        assert [json.dumps(json.loads(b), sort_keys=True) for b in got_mqtt] == wire
        lines = (tmp_path / "gate.jsonl").read_text().splitlines()
        assert [json.dumps(json.loads(line), sort_keys=True) for line in lines] == wire
    finally:
        camera.kill()
        hook.close()
        subscriber.loop_stop()
        subscriber.disconnect()
