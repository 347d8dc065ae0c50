"""Collections, faces and users through boto3, pagination through botocore's paginators."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.api.server import ServerProcess, code_of

_names = itertools.count()


@pytest.fixture
def collection(rekognition) -> Iterator[str]:
    name = f"boto-{next(_names)}"
    rekognition.create_collection(CollectionId=name)
    yield name
    with contextlib.suppress(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_collection(CollectionId=name)


def test_collection_lifecycle(rekognition) -> None:
    created = rekognition.create_collection(CollectionId="life", Tags={"team": "door"})
    assert created["StatusCode"] == 200
    # botocore's ARN patterns want a 12-digit account: the account's id, not its name.
    assert re.fullmatch(
        r"arn:aws:rekognition:us-east-1:\d{12}:collection/life", created["CollectionArn"]
    )
    assert created["FaceModelVersion"] == "dlib-resnet-v1"
    described = rekognition.describe_collection(CollectionId="life")
    assert described["FaceCount"] == 0 and described["UserCount"] == 0
    assert described["CollectionARN"] == created["CollectionArn"]
    assert described["CreationTimestamp"].year >= 2025
    with pytest.raises(rekognition.exceptions.ResourceAlreadyExistsException):
        rekognition.create_collection(CollectionId="life")
    assert rekognition.delete_collection(CollectionId="life")["StatusCode"] == 200
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.describe_collection(CollectionId="life")
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_collection(CollectionId="life")


def test_list_collections_paginator(rekognition) -> None:
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        rekognition.create_collection(CollectionId=name)
    try:
        pages = list(
            rekognition.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 3})
        )
        listed = [n for page in pages for n in page["CollectionIds"] if n.startswith("page-")]
        assert listed == names
        assert len(pages) >= 3
        assert all(len(page["CollectionIds"]) <= 3 for page in pages)
        versions = [v for page in pages for v in page["FaceModelVersions"]]
        assert set(versions) == {"dlib-resnet-v1"}
    finally:
        for name in names:
            rekognition.delete_collection(CollectionId=name)


def test_index_search_and_delete_faces(
    rekognition, collection: str, hopper_jpeg: bytes, astronaut_jpeg: bytes
) -> None:
    grace = rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": hopper_jpeg}, ExternalImageId="grace"
    )
    [record] = grace["FaceRecords"]
    face_id = record["Face"]["FaceId"]
    assert record["Face"]["ExternalImageId"] == "grace"
    assert record["FaceDetail"]["Confidence"] > 99
    assert grace["UnindexedFaces"] == []
    eileen = rekognition.index_faces(
        CollectionId=collection,
        Image={"Bytes": astronaut_jpeg},
        ExternalImageId="eileen",
        DetectionAttributes=["ALL"],
    )
    assert "AgeRange" in eileen["FaceRecords"][0]["FaceDetail"]
    assert rekognition.describe_collection(CollectionId=collection)["FaceCount"] == 2

    by_image = rekognition.search_faces_by_image(
        CollectionId=collection, Image={"Bytes": hopper_jpeg}, FaceMatchThreshold=90
    )
    assert [m["Face"]["FaceId"] for m in by_image["FaceMatches"]] == [face_id]
    assert by_image["FaceMatches"][0]["Similarity"] > 99
    assert by_image["SearchedFaceConfidence"] > 99
    assert by_image["SearchedFaceBoundingBox"]["Width"] > 0.2

    by_id = rekognition.search_faces(CollectionId=collection, FaceId=face_id)
    assert by_id["SearchedFaceId"] == face_id
    assert by_id["FaceMatches"] == []  # itself excluded, and Eileen is someone else

    deleted = rekognition.delete_faces(
        CollectionId=collection, FaceIds=[face_id, "00000000-0000-0000-0000-000000000000"]
    )
    assert deleted["DeletedFaces"] == [face_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [
        {"FaceId": "00000000-0000-0000-0000-000000000000", "Reasons": ["FACE_NOT_FOUND"]}
    ]
    after = rekognition.search_faces_by_image(CollectionId=collection, Image={"Bytes": hopper_jpeg})
    assert after["FaceMatches"] == []
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.search_faces(CollectionId=collection, FaceId=face_id)


def test_index_faces_max_faces_and_quality(
    rekognition, collection: str, hopper_jpeg: bytes
) -> None:
    response = rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": hopper_jpeg}, MaxFaces=1, QualityFilter="HIGH"
    )
    assert len(response["FaceRecords"]) + len(response["UnindexedFaces"]) == 1
    for unindexed in response["UnindexedFaces"]:
        assert unindexed["Reasons"]


def test_list_faces_paginator(rekognition, collection: str, hopper_jpeg: bytes) -> None:
    ids = []
    for i in range(5):
        result = rekognition.index_faces(
            CollectionId=collection, Image={"Bytes": hopper_jpeg}, ExternalImageId=f"copy-{i}"
        )
        ids.append(result["FaceRecords"][0]["Face"]["FaceId"])
    pages = list(
        rekognition.get_paginator("list_faces").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(page["Faces"]) for page in pages] == [2, 2, 1]
    listed = [face["FaceId"] for page in pages for face in page["Faces"]]
    assert listed == sorted(ids)
    assert pages[0]["FaceModelVersion"] == "dlib-resnet-v1"
    built = (
        rekognition.get_paginator("list_faces")
        .paginate(CollectionId=collection, PaginationConfig={"MaxItems": 3})
        .build_full_result()
    )
    assert len(built["Faces"]) == 3 and "NextToken" in built
    only = rekognition.list_faces(CollectionId=collection, FaceIds=ids[:2])
    assert sorted(f["FaceId"] for f in only["Faces"]) == sorted(ids[:2])


def test_foreign_or_garbled_pagination_tokens(rekognition, collection: str) -> None:
    other = rekognition.list_collections(MaxResults=1)
    token = other.get("NextToken")
    for bad in ["garbage-token", "eyJsIjoieCIsImEiOiJ5In0", *([token] if token else [])]:
        with pytest.raises(rekognition.exceptions.InvalidPaginationTokenException):
            rekognition.list_faces(CollectionId=collection, NextToken=bad)


def test_users_associate_search_disassociate(
    rekognition, collection: str, hopper_jpeg: bytes, astronaut_jpeg: bytes
) -> None:
    grace_faces = [
        rekognition.index_faces(CollectionId=collection, Image={"Bytes": hopper_jpeg})[
            "FaceRecords"
        ][0]["Face"]["FaceId"]
        for _ in range(2)
    ]
    eileen = rekognition.index_faces(CollectionId=collection, Image={"Bytes": astronaut_jpeg})[
        "FaceRecords"
    ][0]["Face"]["FaceId"]
    rekognition.create_user(CollectionId=collection, UserId="grace")
    rekognition.create_user(CollectionId=collection, UserId="eileen", ClientRequestToken="tok-1")
    # The same token again is the same request: no ConflictException.
    rekognition.create_user(CollectionId=collection, UserId="eileen", ClientRequestToken="tok-1")
    with pytest.raises(rekognition.exceptions.ConflictException):
        rekognition.create_user(CollectionId=collection, UserId="grace")
    with pytest.raises(rekognition.exceptions.IdempotentParameterMismatchException):
        rekognition.create_user(CollectionId=collection, UserId="other", ClientRequestToken="tok-1")
    users = rekognition.list_users(CollectionId=collection)["Users"]
    assert users == [
        {"UserId": "eileen", "UserStatus": "CREATED"},
        {"UserId": "grace", "UserStatus": "CREATED"},
    ]

    associated = rekognition.associate_faces(
        CollectionId=collection, UserId="grace", FaceIds=grace_faces
    )
    assert sorted(f["FaceId"] for f in associated["AssociatedFaces"]) == sorted(grace_faces)
    assert associated["UserStatus"] == "ACTIVE"
    refused = rekognition.associate_faces(CollectionId=collection, UserId="grace", FaceIds=[eileen])
    assert refused["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    rekognition.associate_faces(CollectionId=collection, UserId="eileen", FaceIds=[eileen])

    by_image = rekognition.search_users_by_image(
        CollectionId=collection, Image={"Bytes": hopper_jpeg}
    )
    assert [m["User"]["UserId"] for m in by_image["UserMatches"]] == ["grace"]
    assert by_image["SearchedFace"]["FaceDetail"]["Confidence"] > 99
    assert by_image["UnsearchedFaces"] == []
    by_face = rekognition.search_users(CollectionId=collection, FaceId=eileen)
    assert by_face["SearchedFace"] == {"FaceId": eileen}
    assert by_face["UserMatches"] == []  # her only face is the one searched with
    by_user = rekognition.search_users(CollectionId=collection, UserId="grace")
    assert by_user["SearchedUser"] == {"UserId": "grace"}

    listed = rekognition.list_faces(CollectionId=collection, UserId="grace")["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(grace_faces)
    assert {f["UserId"] for f in listed} == {"grace"}

    gone = rekognition.disassociate_faces(
        CollectionId=collection, UserId="grace", FaceIds=[grace_faces[0], eileen]
    )
    assert gone["DisassociatedFaces"] == [{"FaceId": grace_faces[0]}]
    assert gone["UnsuccessfulFaceDisassociations"] == [
        {"FaceId": eileen, "UserId": "eileen", "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
    ]
    rekognition.delete_user(CollectionId=collection, UserId="grace")
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_user(CollectionId=collection, UserId="grace")


def test_list_users_paginator(rekognition, collection: str) -> None:
    for i in range(5):
        rekognition.create_user(CollectionId=collection, UserId=f"user-{i}")
    pages = list(
        rekognition.get_paginator("list_users").paginate(
            CollectionId=collection, PaginationConfig={"PageSize": 2}
        )
    )
    assert [u["UserId"] for page in pages for u in page["Users"]] == [f"user-{i}" for i in range(5)]
    assert len(pages) == 3


def test_tags(rekognition, collection: str) -> None:
    arn = rekognition.describe_collection(CollectionId=collection)["CollectionARN"]
    rekognition.tag_resource(ResourceArn=arn, Tags={"site": "lobby", "cam": "2"})
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {
        "site": "lobby",
        "cam": "2",
    }
    rekognition.untag_resource(ResourceArn=arn, TagKeys=["cam", "absent"])
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"site": "lobby"}
    with pytest.raises(rekognition.exceptions.ResourceNotFoundException):
        rekognition.list_tags_for_resource(
            ResourceArn="arn:aws:rekognition:us-east-1:default:collection/absent"
        )


def test_region_goes_into_arns(server: ServerProcess) -> None:
    client = server.client(region="eu-central-1")
    created = client.create_collection(CollectionId="regional")
    try:
        assert re.match(r"arn:aws:rekognition:eu-central-1:\d{12}:", created["CollectionArn"])
    finally:
        client.delete_collection(CollectionId="regional")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda r: r.describe_collection(CollectionId="no-such"), "ResourceNotFoundException"),
        (lambda r: r.list_faces(CollectionId="no-such"), "ResourceNotFoundException"),
        (lambda r: r.list_users(CollectionId="no-such"), "ResourceNotFoundException"),
        (
            lambda r: r.search_faces(
                CollectionId="no-such", FaceId="00000000-0000-0000-0000-000000000000"
            ),
            "ResourceNotFoundException",
        ),
        (
            lambda r: r.search_faces_by_image(CollectionId="no-such", Image={"Bytes": b"x" * 99}),
            "ResourceNotFoundException",
        ),
        (lambda r: r.list_faces(CollectionId="bad name!"), "ValidationException"),
    ],
)
def test_errors_by_name(rekognition, call, code: str) -> None:  # type: ignore[no-untyped-def]
    # botocore checks types and lengths before sending; patterns are left to the server.
    with pytest.raises(ClientError) as caught:
        call(rekognition)
    assert code_of(caught) == (code, 400)


def test_concurrent_writers_lose_nothing(
    server: ServerProcess, collection: str, hopper_jpeg: bytes
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def index_three(worker: int) -> list[str]:
        client = server.client(retries=10)  # throttled calls are retried, as boto3 users do
        return [
            client.index_faces(
                CollectionId=collection,
                Image={"Bytes": hopper_jpeg},
                ExternalImageId=f"w{worker}-{i}",
            )["FaceRecords"][0]["Face"]["FaceId"]
            for i in range(3)
        ]

    with ThreadPoolExecutor(8) as pool:
        face_ids = [f for ids in pool.map(index_three, range(8)) for f in ids]
    rekognition = server.client()
    assert len(set(face_ids)) == 24
    assert rekognition.describe_collection(CollectionId=collection)["FaceCount"] == 24
    listed = rekognition.get_paginator("list_faces").paginate(CollectionId=collection)
    assert sorted(f["FaceId"] for page in listed for f in page["Faces"]) == sorted(face_ids)
    found = rekognition.search_faces_by_image(
        CollectionId=collection, Image={"Bytes": hopper_jpeg}, MaxFaces=100
    )
    assert len(found["FaceMatches"]) == 24
