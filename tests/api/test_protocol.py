"""The AWS JSON 1.1 edge with hand-built requests: what a broken client might send."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.api import raw
from tests.api.server import ServerProcess


def call(server: ServerProcess, operation: str, body: bytes | dict) -> raw.Answer:
    return raw.call(server.url, operation, body, server.access_key_id, server.secret)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2, 3]", "SerializationException"),
        (b'"a string"', "SerializationException"),
        (b'{"CollectionId": NaN}', "SerializationException"),
        (b"\xff\xfe\x00garbage", "SerializationException"),
        (b"[" * 100_000, "SerializationException"),
        (b'{"MaxResults": 1' + b"0" * 5000 + b"}", "SerializationException"),
        (b'{"MaxResults": "ten"}', "SerializationException"),
        (b'{"MaxResults": 1.5}', "SerializationException"),
        (b'{"MaxResults": true}', "SerializationException"),
        (b'{"MaxResults": 99999999999999999999999}', "ValidationException"),
        (b'{"MaxResults": -1}', "ValidationException"),
        (b'{"NextToken": 5}', "SerializationException"),
        (b'{"NextToken": "not-a-token-we-issued"}', "InvalidPaginationTokenException"),
    ],
)
def test_bad_list_collections_bodies(server: ServerProcess, body: bytes, code: str) -> None:
    answer = call(server, "ListCollections", body)
    assert (answer.status, answer.code) == (400, code), answer.body
    assert answer.json["Message"]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({}, "ValidationException", "Value null at 'Image'"),
        ({"Image": {}}, "InvalidParameterException", "exactly one of Bytes and S3Object"),
        ({"Image": {"Bytes": "***"}}, "SerializationException", "base64"),
        ({"Image": {"Bytes": 12}}, "SerializationException", "Image.Bytes"),
        ({"Image": []}, "SerializationException", "'Image'"),
        ({"Image": {"Bytes": ""}}, "ValidationException", "length"),
        (
            {"Image": {"Bytes": base64.b64encode(b"text").decode()}},
            "InvalidImageFormatException",
            "",
        ),
        (
            {"Image": {"Bytes": "aGVsbG8="}, "Attributes": ["DEFAULT", "WINGS"]},
            "ValidationException",
            "enum value set",
        ),
        (
            {"Image": {"S3Object": {"Bucket": "..", "Name": "facewise.sqlite3"}}},
            "ValidationException",
            "length",
        ),
        (
            {"Image": {"S3Object": {"Bucket": "buck", "Name": "../../facewise.sqlite3"}}},
            "InvalidS3ObjectException",
            "",
        ),
    ],
)
def test_bad_detect_faces_bodies(server: ServerProcess, body: dict, code: str, says: str) -> None:
    answer = call(server, "DetectFaces", body)
    assert (answer.status, answer.code) == (400, code), answer.body
    assert says in answer.json["Message"]


def test_several_problems_are_reported_together(server: ServerProcess) -> None:
    answer = call(
        server, "SearchFaces", {"CollectionId": "bad name", "FaceId": "nope", "MaxFaces": 0}
    )
    assert answer.code == "ValidationException"
    assert answer.json["Message"].startswith("3 validation errors detected")


def test_unknown_members_are_ignored_as_aws_does(server: ServerProcess) -> None:
    answer = call(server, "ListCollections", {"MaxResults": 1, "FutureOption": {"x": 1}})
    assert answer.status == 200


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (None, "X-Amz-Target"),
        ("RekognitionService.", "X-Amz-Target"),
        ("RekognitionService.MakeCoffee", "X-Amz-Target"),
        ("DynamoDB_20120810.ListTables", "X-Amz-Target"),
        ("RekognitionService.DetectLabels", "does not support DetectLabels"),
        ("RekognitionService.StartPersonTracking", "does not support StartPersonTracking"),
    ],
)
def test_unknown_and_unsupported_operations(
    server: ServerProcess, target: str | None, says: str
) -> None:
    headers = raw.signed_headers(server.url, b"{}", target, server.access_key_id, server.secret)
    answer = raw.send(server.url, b"{}", headers)
    assert (answer.status, answer.code) == (400, "UnknownOperationException")
    assert says in answer.json["Message"]


def test_oversized_body_is_refused_before_reading(server: ServerProcess) -> None:
    body = b"{" + b" " * (17 * 1024 * 1024) + b"}"
    answer = raw.send(server.url, body, {"X-Amz-Target": "RekognitionService.DetectFaces"})
    assert (answer.status, answer.code) == (413, "RequestEntityTooLargeException")


def test_paths_and_methods(server: ServerProcess) -> None:
    assert raw.send(server.url, method="GET", path="/").status == 405
    assert raw.send(server.url, method="GET", path="/admin").status == 404
    assert raw.send(server.url, method="HEAD", path="/healthz").status == 200


def test_responses_carry_a_request_id_and_json_type(server: ServerProcess) -> None:
    answer = call(server, "ListCollections", {})
    assert answer.headers["content-type"] == "application/x-amz-json-1.1"
    assert len(answer.headers["x-amzn-requestid"]) == 36


def test_metrics_count_requests_without_names(server: ServerProcess) -> None:
    call(server, "DescribeCollection", {"CollectionId": "metrics-secret-name"})
    text = raw.send(server.url, method="GET", path="/metrics").body.decode()
    assert 'facewise_requests_total{operation="DescribeCollection",status="400"}' in text
    assert 'facewise_errors_total{code="ResourceNotFoundException"}' in text
    assert "metrics-secret-name" not in text


def test_access_log_has_no_image_bytes(server: ServerProcess, hopper_jpeg: bytes) -> None:
    encoded = base64.b64encode(hopper_jpeg).decode()
    answer = call(server, "DetectFaces", {"Image": {"Bytes": encoded}})
    assert answer.status == 200
    request_id = answer.headers["x-amzn-requestid"]
    deadline = time.monotonic() + 10  # the line is written just after the response
    while request_id not in server.output() and time.monotonic() < deadline:
        time.sleep(0.01)
    log = server.output()
    [line] = [line for line in log.splitlines() if request_id in line]
    assert "DetectFaces 200" in line
    assert encoded[:64] not in log and encoded[-64:] not in log
    assert json.dumps(answer.json["FaceDetails"][0]["BoundingBox"]) not in log


def test_operations_without_images_take_small_bodies(server: ServerProcess) -> None:
    padded = b'{"MaxResults": 5' + b" " * (2 * 1024 * 1024) + b"}"
    answer = call(server, "ListCollections", padded)
    assert (answer.status, answer.code) == (413, "RequestEntityTooLargeException")
