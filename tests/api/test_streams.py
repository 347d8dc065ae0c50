"""Stream processors through boto3 on a real server: a camera (a file of real photos walking
through, played in real time) watched for a collection's faces, the records read back with
boto3's kinesis client; stopping, failing cameras and the protocol's errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.server import ServerProcess, code_of

ROLE = "arn:aws:iam::123456789012:role/unused"


def _until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _camera_arn(server: ServerProcess, name: str, url: str, *flags: str) -> str:
    return server.cli("cameras", "add", name, "--url", url, *flags).strip().splitlines()[-1]


def _data_stream_arn(kinesis, name: str) -> str:  # type: ignore[no-untyped-def]
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    )


def _create_processor(  # type: ignore[no-untyped-def]
    rekognition, name: str, camera: str, output: str, collection: str, **extra: Any
) -> dict[str, Any]:
    """CreateStreamProcessor: the camera's faces searched in the collection, to output."""
    return dict(
        rekognition.create_stream_processor(
            Name=name,
            Input={"KinesisVideoStream": {"Arn": camera}},
            Output={"KinesisDataStream": {"Arn": output}},
            Settings={"FaceSearch": {"CollectionId": collection}},
            RoleArn=ROLE,
            **extra,
        )
    )


def _status(rekognition, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return dict(rekognition.describe_stream_processor(Name=name))


def _records(kinesis, stream: str, iterator_type: str = "TRIM_HORIZON") -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType=iterator_type
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator, Limit=100)
        found += [json.loads(r["Data"]) for r in page["Records"]]
        iterator = page["NextShardIterator"]
        if not page["Records"]:
            return found


@pytest.fixture(scope="module")
def eileen_face(rekognition, astronaut_jpeg: bytes) -> str:  # type: ignore[no-untyped-def]
    rekognition.create_collection(CollectionId="lobby")
    indexed = rekognition.index_faces(
        CollectionId="lobby", Image={"Bytes": astronaut_jpeg}, ExternalImageId="eileen", MaxFaces=1
    )
    return str(indexed["FaceRecords"][0]["Face"]["FaceId"])


def test_a_camera_is_watched_and_each_person_reported_once_per_pass(
    server: ServerProcess,
    rekognition,
    crossing_video: Path,
    eileen_face: str,  # type: ignore[no-untyped-def]
) -> None:
    kinesis = server.kinesis()
    camera = _camera_arn(server, "door", str(crossing_video))
    output = _data_stream_arn(kinesis, "door-matches")
    created = rekognition.create_stream_processor(
        Name="door-watch",
        Input={"KinesisVideoStream": {"Arn": camera}},
        Output={"KinesisDataStream": {"Arn": output}},
        Settings={"FaceSearch": {"CollectionId": "lobby", "FaceMatchThreshold": 80.0}},
        RoleArn=ROLE,
        Tags={"site": "hq"},
    )
    assert created["StreamProcessorArn"].endswith(":streamprocessor/door-watch")
    assert _status(rekognition, "door-watch")["Status"] == "STOPPED"
    started_ms = int(time.time() * 1000)
    assert rekognition.start_stream_processor(Name="door-watch")["SessionId"]
    _until(lambda: _status(rekognition, "door-watch")["Status"] == "RUNNING", 20, "RUNNING")
    # The file plays in real time (8.5 s) and the processor stops when it ends.
    final = _until(
        lambda: (s := _status(rekognition, "door-watch"))["Status"] == "STOPPED" and s, 60, "end"
    )
    assert final["StatusMessage"] == "the camera's file has ended"
    records = _records(kinesis, "door-matches")
    responses = [r["FaceSearchResponse"][0] for r in records]
    named = [r for r in responses if r["MatchedFaces"]]
    unknown = [r for r in responses if not r["MatchedFaces"]]
    # Eileen crosses twice (two tracks), Grace once and matches nobody.
    assert len(named) == 2, responses
    assert {m["Face"]["FaceId"] for r in named for m in r["MatchedFaces"]} == {eileen_face}
    assert all(r["MatchedFaces"][0]["Similarity"] >= 80 for r in named)
    assert len(unknown) == 1
    # Each record is an audited identification: the key that started the processor, the
    # requested 80 raised to the floor (90), the FaceIds it matched.
    audited = [
        r
        for r in server.audit_records(operation="stream_face_search", collection="lobby")
        if r["time_ms"] >= started_ms
    ]
    assert len(audited) == len(records)
    assert sorted(r["ids"] for r in audited) == [[], [eileen_face], [eileen_face]]
    assert {(r["requested_threshold"], r["applied_threshold"]) for r in audited} == {(80, 90)}
    assert {r["access_key_id"] for r in audited} == {server.access_key_id}
    offsets = sorted(r["InputInformation"]["KinesisVideo"]["FrameOffsetInSeconds"] for r in records)
    assert offsets[0] < 1.5 and offsets[-1] > 6.0, offsets  # the second pass starts at 6 s
    assert records[0]["InputInformation"]["KinesisVideo"]["StreamArn"] == camera
    assert rekognition.list_tags_for_resource(ResourceArn=created["StreamProcessorArn"])[
        "Tags"
    ] == {"site": "hq"}
    listed = rekognition.list_stream_processors()["StreamProcessors"]
    assert {"Name": "door-watch", "Status": "STOPPED"} in listed
    rekognition.delete_stream_processor(Name="door-watch")


def test_stop_within_two_seconds_and_a_running_processor_cannot_be_deleted(
    server: ServerProcess,
    rekognition,
    crossing_video: Path,
    eileen_face: str,  # type: ignore[no-untyped-def]
) -> None:
    kinesis = server.kinesis()
    camera = _camera_arn(server, "loop", str(crossing_video), "--loop")
    output = _data_stream_arn(kinesis, "loop-matches")
    _create_processor(rekognition, "loop-watch", camera, output, "lobby")
    rekognition.start_stream_processor(Name="loop-watch")
    _until(lambda: _status(rekognition, "loop-watch")["Status"] == "RUNNING", 20, "RUNNING")
    with pytest.raises(ClientError) as running:
        rekognition.delete_stream_processor(Name="loop-watch")
    assert code_of(running)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as again:
        rekognition.start_stream_processor(Name="loop-watch")
    assert code_of(again)[0] == "ResourceInUseException"
    asked = time.monotonic()
    rekognition.stop_stream_processor(Name="loop-watch")
    _until(lambda: _status(rekognition, "loop-watch")["Status"] == "STOPPED", 5, "STOPPED")
    assert time.monotonic() - asked < 2.0
    rekognition.delete_stream_processor(Name="loop-watch")
    kinesis.delete_stream(StreamName="loop-matches")
    server.cli("cameras", "remove", "loop")


def test_a_camera_that_never_answers_ends_failed_with_a_message(
    server: ServerProcess,
    rekognition,  # type: ignore[no-untyped-def]
    eileen_face: str,
) -> None:
    from facewise.service.notifications import SIGNATURE_HEADER, verify
    from tests.live.services import WebhookReceiver

    kinesis = server.kinesis()
    camera = _camera_arn(server, "nowhere", "rtsp://127.0.0.1:9/nothing-listens-here")
    output = _data_stream_arn(kinesis, "nowhere-matches")
    hook = WebhookReceiver()
    try:
        created = server.cli("topics", "create", "nowhere-status", "--url", hook.url)
        secret = created.splitlines()[1].strip()
        topic = created.split("SNSTopicArn: ", 1)[1].strip()
        _create_processor(
            rekognition,
            "nowhere-watch",
            camera,
            output,
            "lobby",
            NotificationChannel={"SNSTopicArn": topic},
        )
        rekognition.start_stream_processor(Name="nowhere-watch")
        final = _until(
            lambda: (s := _status(rekognition, "nowhere-watch"))["Status"] == "FAILED" and s,
            30,
            "FAILED",
        )
        assert final["StatusMessage"].startswith("cannot read the camera: "), final
        _until(lambda: hook.received, 10, "the status notice")
        headers, body = hook.received[0]
        assert verify(secret, headers[SIGNATURE_HEADER], body)
        notice = json.loads(body)
        assert (notice["StreamProcessorName"], notice["Status"]) == ("nowhere-watch", "FAILED")
        rekognition.delete_stream_processor(Name="nowhere-watch")
    finally:
        hook.close()


def test_protocol_errors(
    server: ServerProcess, rekognition, crossing_video: Path, eileen_face: str
) -> None:  # type: ignore[no-untyped-def]
    kinesis = server.kinesis()
    camera = _camera_arn(server, "errors", str(crossing_video))
    output = _data_stream_arn(kinesis, "errors-matches")
    base = {
        "Input": {"KinesisVideoStream": {"Arn": camera}},
        "Output": {"KinesisDataStream": {"Arn": output}},
        "RoleArn": ROLE,
    }
    cases = [
        (
            {"Name": "a", "Settings": {"ConnectedHome": {"Labels": ["PERSON"]}}},
            "InvalidParameterException",
        ),
        (
            {"Name": "b", "Settings": {"FaceSearch": {"CollectionId": "no-such"}}},
            "ResourceNotFoundException",
        ),
        (
            {
                "Name": "c",
                "Settings": {"FaceSearch": {"CollectionId": "lobby"}},
                "Input": {"KinesisVideoStream": {"Arn": camera.replace("/errors/", "/absent/")}},
            },
            "InvalidParameterException",
        ),
        (
            {
                "Name": "d",
                "Settings": {"FaceSearch": {"CollectionId": "lobby"}},
                "Input": {
                    "KinesisVideoStream": {
                        "Arn": camera.replace(camera.split(":")[4], "123456789012")
                    }
                },
            },
            "ResourceNotFoundException",
        ),
    ]
    for change, code in cases:
        with pytest.raises(ClientError) as refused:
            rekognition.create_stream_processor(**(base | change))
        assert code_of(refused)[0] == code, change
    rekognition.create_stream_processor(
        Name="e", Settings={"FaceSearch": {"CollectionId": "lobby"}}, **base
    )
    with pytest.raises(ClientError) as taken:
        rekognition.create_stream_processor(
            Name="e", Settings={"FaceSearch": {"CollectionId": "lobby"}}, **base
        )
    assert code_of(taken)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as stopped:
        rekognition.stop_stream_processor(Name="e")
    assert code_of(stopped)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as absent:
        rekognition.describe_stream_processor(Name="absent")
    assert code_of(absent)[0] == "ResourceNotFoundException"
    rekognition.update_stream_processor(
        Name="e",
        RegionsOfInterestForUpdate=[
            {"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.5, "Height": 0.5}}
        ],
    )
    regions = _status(rekognition, "e")["RegionsOfInterest"]
    assert regions == [{"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.5, "Height": 0.5}}]
    other_key = server.create_key("mallory")
    mallory, mallory_kinesis = server.client(*other_key), server.kinesis(*other_key)
    for call in (
        lambda: mallory.describe_stream_processor(Name="e"),
        lambda: mallory.stop_stream_processor(Name="e"),
        lambda: mallory.delete_stream_processor(Name="e"),
        lambda: mallory_kinesis.describe_stream(StreamName="errors-matches"),
    ):
        with pytest.raises(ClientError) as hidden:
            call()
        assert code_of(hidden)[0] == "ResourceNotFoundException"
    assert mallory.list_stream_processors()["StreamProcessors"] == []
    rekognition.delete_stream_processor(Name="e")
    with pytest.raises(ClientError) as bad_iterator:
        kinesis.get_records(ShardIterator="not-an-iterator")
    assert code_of(bad_iterator)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as no_stream:
        kinesis.describe_stream(StreamName="absent")
    assert code_of(no_stream)[0] == "ResourceNotFoundException"
    put = kinesis.put_record(StreamName="errors-matches", Data=b'{"hello": 1}', PartitionKey="k")
    after = kinesis.get_shard_iterator(
        StreamName="errors-matches",
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=put["SequenceNumber"],
    )["ShardIterator"]
    assert kinesis.get_records(ShardIterator=after)["Records"][0]["Data"] == b'{"hello": 1}'


def test_an_opted_out_person_is_never_reported(
    server: ServerProcess, crossing_video: Path, astronaut_jpeg: bytes, tmp_path: Path
) -> None:
    """Eileen opts out (`facewise optout add`): her face leaves the collection, IndexFaces
    refuses her with OPTED_OUT, and a camera showing her reports only unknown faces."""
    account = "private"
    rekognition = server.client(*server.create_key(account))
    kinesis = server.kinesis(*server.create_key(account))
    rekognition.create_collection(CollectionId="private-lobby")
    rekognition.index_faces(
        CollectionId="private-lobby", Image={"Bytes": astronaut_jpeg}, ExternalImageId="eileen"
    )
    photo = tmp_path / "eileen.jpg"
    photo.write_bytes(astronaut_jpeg)
    added = json.loads(
        server.cli("optout", "add", str(photo), "--reason", "asked", "--account", account)
    )
    assert len(added["erased"]["private-lobby"]) == 1
    refused = rekognition.index_faces(CollectionId="private-lobby", Image={"Bytes": astronaut_jpeg})
    assert refused["FaceRecords"] == []
    assert refused["UnindexedFaces"][0]["Reasons"] == ["OPTED_OUT"]
    camera = (
        server.cli(
            "cameras", "add", "private-door", "--url", str(crossing_video), "--account", account
        )
        .strip()
        .splitlines()[-1]
    )
    output = _data_stream_arn(kinesis, "private-matches")
    _create_processor(rekognition, "private-watch", camera, output, "private-lobby")
    rekognition.start_stream_processor(Name="private-watch")
    _until(lambda: _status(rekognition, "private-watch")["Status"] == "STOPPED", 60, "the end")
    responses = [r["FaceSearchResponse"][0] for r in _records(kinesis, "private-matches")]
    assert len(responses) >= 3  # Eileen twice and Grace, all unknown
    assert all(r["MatchedFaces"] == [] for r in responses)
