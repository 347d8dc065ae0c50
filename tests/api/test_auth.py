"""SigV4 and accounts: who may call, and what each account can see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.api import raw
from tests.api.server import ServerProcess, code_of

LIST = b"{}"


def test_signed_request_passes(server: ServerProcess) -> None:
    answer = raw.call(server.url, "ListCollections", LIST, server.access_key_id, server.secret)
    assert answer.status == 200, answer.body
    assert "CollectionIds" in answer.json


def test_wrong_secret_is_refused(server: ServerProcess) -> None:
    client = server.client(secret=server.secret + "x")
    with pytest.raises(ClientError) as caught:
        client.list_collections()
    assert code_of(caught) == ("InvalidSignatureException", 403)


def test_unknown_key_is_refused(server: ServerProcess) -> None:
    client = server.client(access_key_id="FWNOTAKEY000000000000", secret="whatever")
    with pytest.raises(ClientError) as caught:
        client.list_collections()
    assert code_of(caught) == ("UnrecognizedClientException", 403)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-16), timedelta(minutes=16), timedelta(days=-3)]
)
def test_expired_or_future_signatures_are_refused(server: ServerProcess, skew: timedelta) -> None:
    answer = raw.call(
        server.url,
        "ListCollections",
        LIST,
        server.access_key_id,
        server.secret,
        when=datetime.now(UTC) + skew,
    )
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")
    assert (
        "Signature expired" in answer.json["Message"] or "not yet current" in answer.json["Message"]
    )


def test_small_clock_skew_is_accepted(server: ServerProcess) -> None:
    answer = raw.call(
        server.url,
        "ListCollections",
        LIST,
        server.access_key_id,
        server.secret,
        when=datetime.now(UTC) - timedelta(minutes=14),
    )
    assert answer.status == 200


def test_tampered_body_is_refused(server: ServerProcess) -> None:
    signed_body = b'{"CollectionId": "tamper-a"}'
    headers = raw.signed_headers(
        server.url,
        signed_body,
        "RekognitionService.CreateCollection",
        server.access_key_id,
        server.secret,
    )
    answer = raw.send(server.url, b'{"CollectionId": "tamper-b"}', headers)
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")
    listed = raw.call(server.url, "ListCollections", LIST, server.access_key_id, server.secret)
    assert "tamper-a" not in listed.json["CollectionIds"]
    assert "tamper-b" not in listed.json["CollectionIds"]


def test_tampered_target_is_refused(server: ServerProcess) -> None:
    headers = raw.signed_headers(
        server.url, LIST, "RekognitionService.ListCollections", server.access_key_id, server.secret
    )
    headers["X-Amz-Target"] = "RekognitionService.DeleteCollection"
    answer = raw.send(server.url, LIST, headers)
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")


def test_wrong_content_sha256_is_refused(server: ServerProcess) -> None:
    headers = raw.signed_headers(
        server.url,
        LIST,
        "RekognitionService.ListCollections",
        server.access_key_id,
        server.secret,
        extra={"X-Amz-Content-SHA256": "0" * 64},
    )
    answer = raw.send(server.url, LIST, headers)
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")


def test_other_service_scope_is_refused(server: ServerProcess) -> None:
    answer = raw.call(
        server.url, "ListCollections", LIST, server.access_key_id, server.secret, service="s3"
    )
    assert (answer.status, answer.code) == (403, "InvalidSignatureException")


@pytest.mark.parametrize(
    ("authorization", "code", "status"),
    [
        (None, "MissingAuthenticationTokenException", 403),
        ("", "MissingAuthenticationTokenException", 403),
        ("Basic dXNlcjpwYXNz", "IncompleteSignatureException", 400),
        ("AWS4-HMAC-SHA256 Credential=x", "IncompleteSignatureException", 400),
        (
            "AWS4-HMAC-SHA256 Credential=K/20260101/us-east-1/rekognition, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "IncompleteSignatureException",
            400,
        ),
    ],
)
def test_missing_or_malformed_authorization(
    server: ServerProcess, authorization: str | None, code: str, status: int
) -> None:
    headers = {"X-Amz-Target": "RekognitionService.ListCollections"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = raw.send(server.url, LIST, headers)
    assert (answer.status, answer.code) == (status, code)


def test_unsigned_health_check(server: ServerProcess) -> None:
    answer = raw.send(server.url, method="GET", path="/healthz")
    assert answer.status == 200 and answer.json == {"status": "ok"}


def test_revoked_key_stops_working_at_once(server: ServerProcess) -> None:
    key, secret = server.create_key("revokee")
    client = server.client(key, secret)
    client.list_collections()
    server.keys("revoke", key)
    with pytest.raises(ClientError) as caught:
        client.list_collections()
    assert code_of(caught) == ("UnrecognizedClientException", 403)
    listed = server.keys("list", "--json")
    rows = {row["access_key_id"]: row for row in json.loads(listed)}
    assert rows[key]["status"] == "revoked" and rows[key]["account"] == "revokee"
    assert "secret" not in json.dumps(rows).lower()


def test_accounts_cannot_see_or_touch_each_others_collections(
    server: ServerProcess, hopper_jpeg: bytes
) -> None:
    alice = server.client(*server.create_key("alice"))
    bob = server.client(*server.create_key("bob"))
    alice.create_collection(CollectionId="private")
    face_id = alice.index_faces(CollectionId="private", Image={"Bytes": hopper_jpeg})[
        "FaceRecords"
    ][0]["Face"]["FaceId"]
    arn = alice.describe_collection(CollectionId="private")["CollectionARN"]
    alice_id = arn.split(":")[4]
    assert alice_id.isdigit() and len(alice_id) == 12  # the account's id, not its name

    assert "private" not in bob.list_collections()["CollectionIds"]
    refused = [
        lambda: bob.describe_collection(CollectionId="private"),
        lambda: bob.list_faces(CollectionId="private"),
        lambda: bob.search_faces(CollectionId="private", FaceId=face_id),
        lambda: bob.search_faces_by_image(CollectionId="private", Image={"Bytes": hopper_jpeg}),
        lambda: bob.delete_faces(CollectionId="private", FaceIds=[face_id]),
        lambda: bob.index_faces(CollectionId="private", Image={"Bytes": hopper_jpeg}),
        lambda: bob.create_user(CollectionId="private", UserId="intruder"),
        lambda: bob.list_tags_for_resource(ResourceArn=arn),
        lambda: bob.tag_resource(ResourceArn=arn, Tags={"owned": "bob"}),
        lambda: bob.delete_collection(CollectionId="private"),
    ]
    for attempt in refused:
        with pytest.raises(ClientError) as caught:
            attempt()
        assert code_of(caught) == ("ResourceNotFoundException", 400)

    # Bob may have his own "private"; it is a different collection.
    bob.create_collection(CollectionId="private")
    assert bob.describe_collection(CollectionId="private")["FaceCount"] == 0
    bob.delete_collection(CollectionId="private")
    after = alice.describe_collection(CollectionId="private")
    assert after["FaceCount"] == 1
    assert alice.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}
    alice.delete_collection(CollectionId="private")


def test_session_token_header_is_signed_and_accepted(server: ServerProcess) -> None:
    import boto3

    client = boto3.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret,
        aws_session_token="ignored-by-facewise",
    )
    assert "CollectionIds" in client.list_collections()
