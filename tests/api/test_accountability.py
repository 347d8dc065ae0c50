"""Accountability over the real protocol: every identification writes exactly one audit
record with who, when, what and which threshold (read back over facewise's HTTP audit
endpoint); searches below the floor are raised; each key role is refused, through boto3,
every operation outside it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.server import ServerProcess, code_of

ACCOUNT = "audited"


def _key(server: ServerProcess, role: str) -> tuple[str, str]:
    output = server.cli("keys", "create", "--account", ACCOUNT, "--role", role)
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in output.splitlines()
        if line.startswith("export ")
    )
    return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> dict[str, tuple[str, str]]:
    return {role: _key(server, role) for role in ("admin", "index", "search", "read")}


@pytest.fixture(scope="module")
def admin(server: ServerProcess, keys):  # type: ignore[no-untyped-def]
    return server.client(*keys["admin"])


@pytest.fixture(scope="module")
def staff(admin, astronaut_jpeg: bytes, hopper_jpeg: bytes) -> dict[str, str]:  # type: ignore[no-untyped-def]
    admin.create_collection(CollectionId="audited-staff")
    ids = {}
    for name, photo in (("eileen", astronaut_jpeg), ("grace", hopper_jpeg)):
        found = admin.index_faces(
            CollectionId="audited-staff", Image={"Bytes": photo}, ExternalImageId=name
        )
        ids[name] = found["FaceRecords"][0]["Face"]["FaceId"]
    admin.create_user(CollectionId="audited-staff", UserId="eileen-user")
    return ids


def _records(server: ServerProcess, key: tuple[str, str], **query: Any) -> list[dict[str, Any]]:
    return server.audit_records(key, **query)


def _newest(server: ServerProcess, keys: dict[str, tuple[str, str]], seen: int) -> list[dict]:
    return _records(server, keys["admin"])[seen:]


def test_every_identification_writes_one_record(  # type: ignore[no-untyped-def]
    server: ServerProcess, keys, admin, staff, astronaut_jpeg: bytes, hopper_jpeg: bytes
) -> None:
    searcher = server.client(*keys["search"])
    indexer = server.client(*keys["index"])
    flipped = astronaut_jpeg  # the same photo: similarity ~100
    calls = [
        (
            "compare_faces",
            searcher,
            "compare_faces",
            {"SourceImage": {"Bytes": flipped}, "TargetImage": {"Bytes": hopper_jpeg}},
        ),
        (
            "search_faces",
            searcher,
            "search_faces",
            {"CollectionId": "audited-staff", "FaceId": staff["eileen"]},
        ),
        (
            "search_faces_by_image",
            searcher,
            "search_faces_by_image",
            {
                "CollectionId": "audited-staff",
                "Image": {"Bytes": flipped},
                "FaceMatchThreshold": 50,
            },
        ),
        (
            "associate_faces",
            indexer,
            "associate_faces",
            {
                "CollectionId": "audited-staff",
                "UserId": "eileen-user",
                "FaceIds": [staff["eileen"]],
            },
        ),
        (
            "search_users",
            searcher,
            "search_users",
            {"CollectionId": "audited-staff", "FaceId": staff["eileen"]},
        ),
        (
            "search_users_by_image",
            searcher,
            "search_users_by_image",
            {"CollectionId": "audited-staff", "Image": {"Bytes": flipped}},
        ),
    ]
    for operation, client, method, params in calls:
        seen = len(_records(server, keys["admin"]))
        response = getattr(client, method)(**params)
        new = _newest(server, keys, seen)
        assert len(new) == 1, (operation, new)
        (record,) = new
        key_used = keys["index"] if client is indexer else keys["search"]
        assert record["operation"] == operation
        assert record["account"] == ACCOUNT and record["access_key_id"] == key_used[0]
        assert record["request_id"] == response["ResponseMetadata"]["RequestId"]
        assert record["source_address"] == "127.0.0.1"
        assert record["applied_threshold"] >= 90  # the default floor
        assert record["faces_searched"] >= 1
        assert record["collection"] == (None if operation == "compare_faces" else "audited-staff")
        assert record["hash"] and record["prev_hash"] != record["hash"]
        assert not {"Image", "Bytes", "embedding"} & set(json.dumps(record).split('"'))
        if operation == "search_faces_by_image":
            matched = [m["Face"]["FaceId"] for m in response["FaceMatches"]]
            assert record["ids"] == matched == [staff["eileen"]]
            assert (record["requested_threshold"], record["applied_threshold"]) == (50, 90)
        if operation == "compare_faces":
            assert record["faces_matched"] == len(response["FaceMatches"]) == 0
        if operation in ("search_users", "search_users_by_image"):
            assert record["ids"] == [m["User"]["UserId"] for m in response["UserMatches"]]
    status, body = server.admin_get("/facewise/audit/verify", keys["admin"])
    verdict = json.loads(body)
    assert status == 200 and verdict["Intact"] and verdict["Records"] >= 6


def test_below_the_floor_is_raised_and_the_matches_obey_it(  # type: ignore[no-untyped-def]
    server: ServerProcess, keys, admin, staff, hopper_jpeg: bytes
) -> None:
    # Grace against Eileen is ~48: a search at 10 would name both; the floor keeps 90.
    result = admin.search_faces_by_image(
        CollectionId="audited-staff", Image={"Bytes": hopper_jpeg}, FaceMatchThreshold=10
    )
    assert [m["Face"]["ExternalImageId"] for m in result["FaceMatches"]] == ["grace"]
    assert all(m["Similarity"] >= 90 for m in result["FaceMatches"])
    record = _records(server, keys["admin"], operation="SearchFacesByImage")[-1]
    assert (record["requested_threshold"], record["applied_threshold"]) == (10, 90)
    server.cli("policy", "set", "audited-staff", "--account", ACCOUNT, "--min-threshold", "0")
    try:
        low = admin.search_faces_by_image(
            CollectionId="audited-staff", Image={"Bytes": hopper_jpeg}, FaceMatchThreshold=10
        )
        assert len(low["FaceMatches"]) == 2
    finally:
        server.cli(
            "policy", "set", "audited-staff", "--account", ACCOUNT, "--min-threshold", "none"
        )


def test_a_collection_closed_to_search_keys(  # type: ignore[no-untyped-def]
    server: ServerProcess, keys, staff, hopper_jpeg: bytes
) -> None:
    server.cli("policy", "set", "audited-staff", "--account", ACCOUNT, "--search-keys", "deny")
    try:
        with pytest.raises(ClientError) as denied:
            server.client(*keys["search"]).search_faces_by_image(
                CollectionId="audited-staff", Image={"Bytes": hopper_jpeg}
            )
        assert code_of(denied) == ("AccessDeniedException", 403)
    finally:
        server.cli("policy", "set", "audited-staff", "--account", ACCOUNT, "--search-keys", "allow")


# One operation each role may not call, and one it may (params valid for boto3).
def _calls(staff: dict[str, str], photo: bytes) -> dict[str, tuple[str, dict[str, Any]]]:
    image = {"Bytes": photo}
    return {
        "CreateCollection": ("create_collection", {"CollectionId": "audited-new"}),
        "DeleteCollection": ("delete_collection", {"CollectionId": "audited-nothing"}),
        "IndexFaces": ("index_faces", {"CollectionId": "audited-staff", "Image": image}),
        "DeleteFaces": (
            "delete_faces",
            {"CollectionId": "audited-staff", "FaceIds": ["00000000-0000-0000-0000-000000000000"]},
        ),
        "CreateUser": ("create_user", {"CollectionId": "audited-staff", "UserId": "someone"}),
        "SearchFacesByImage": (
            "search_faces_by_image",
            {"CollectionId": "audited-staff", "Image": image},
        ),
        "SearchFaces": (
            "search_faces",
            {"CollectionId": "audited-staff", "FaceId": staff["grace"]},
        ),
        "CompareFaces": ("compare_faces", {"SourceImage": image, "TargetImage": image}),
        "DetectFaces": ("detect_faces", {"Image": image}),
        "ListFaces": ("list_faces", {"CollectionId": "audited-staff"}),
        "DescribeCollection": ("describe_collection", {"CollectionId": "audited-staff"}),
        "ListStreamProcessors": ("list_stream_processors", {}),
        "DeleteStreamProcessor": ("delete_stream_processor", {"Name": "nothing"}),
    }


REFUSED = {
    "read": [
        "CreateCollection",
        "IndexFaces",
        "DeleteFaces",
        "CreateUser",
        "SearchFacesByImage",
        "SearchFaces",
        "CompareFaces",
        "DetectFaces",
        "DeleteStreamProcessor",
    ],
    "search": ["CreateCollection", "DeleteCollection", "IndexFaces", "DeleteFaces", "CreateUser"],
    "index": [
        "CreateCollection",
        "DeleteCollection",
        "SearchFacesByImage",
        "SearchFaces",
        "CompareFaces",
    ],
}
ALLOWED = {
    "read": ["ListFaces", "DescribeCollection", "ListStreamProcessors"],
    "search": ["SearchFaces", "DetectFaces", "ListFaces"],
    "index": ["ListFaces", "DetectFaces", "DescribeCollection"],
}


@pytest.mark.parametrize("role", ["read", "search", "index"])
def test_each_role_is_refused_what_is_outside_it(  # type: ignore[no-untyped-def]
    server: ServerProcess, keys, staff, hopper_jpeg: bytes, role: str
) -> None:
    client = server.client(*keys[role])
    calls = _calls(staff, hopper_jpeg)
    for operation in REFUSED[role]:
        method, params = calls[operation]
        with pytest.raises(ClientError) as denied:
            getattr(client, method)(**params)
        assert code_of(denied) == ("AccessDeniedException", 403), operation
        assert f"rekognition:{operation}" in denied.value.response["Error"]["Message"]
    for operation in ALLOWED[role]:
        method, params = calls[operation]
        getattr(client, method)(**params)  # no AccessDeniedException
    kinesis = server.kinesis(*keys[role])
    with pytest.raises(ClientError) as denied:
        kinesis.create_stream(StreamName="audited-stream", ShardCount=1)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    status, body = server.admin_get("/facewise/audit/records", keys[role])
    assert status == 403 and json.loads(body)["__type"] == "AccessDeniedException"


def test_the_audit_endpoint_sees_only_its_account(  # type: ignore[no-untyped-def]
    server: ServerProcess, keys, staff
) -> None:
    ours = _records(server, keys["admin"])
    assert ours and {r["account"] for r in ours} == {ACCOUNT}
    theirs = _records(server, (server.access_key_id, server.secret))
    assert all(r["account"] == "default" for r in theirs)
    status, body = server.admin_get("/facewise/audit/export", keys["admin"], format="csv")
    assert status == 200 and body.decode().splitlines()[0].startswith("account,seq,time")
    status, _ = server.admin_get("/facewise/audit/records", keys["admin"], limit=0)
    assert status == 400
    status, _ = server.admin_get("/facewise/audit/records", keys["admin"], bogus=1)
    assert status == 400
    page = json.loads(server.admin_get("/facewise/audit/records", keys["admin"], limit=2)[1])
    assert len(page["Records"]) == 2 and page["NextToken"]
    nxt = json.loads(
        server.admin_get(
            "/facewise/audit/records", keys["admin"], limit=2, next_token=page["NextToken"]
        )[1]
    )
    assert nxt["Records"][0]["seq"] == page["Records"][-1]["seq"] + 1
    unsigned = urllib.request.Request(f"{server.url}/facewise/audit/records")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403
