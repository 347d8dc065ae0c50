"""The real AWS CLI (awscli from the venv) against a real `facewise serve`, with real photos.

Every supported operation goes through `aws rekognition ...` at least once: the CLI builds,
signs and paginates the requests itself, and its JSON output and exit codes are checked.
The machine's AWS configuration never leaks in: config and credential files point at paths
that do not exist, and the key comes from the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.api.server import ServerProcess

AWS = Path(sys.executable).parent / "aws"
CLI_TIMEOUT = 120
SERVICE_ERROR_EXIT = 255  # the CLI's exit status for an error the service returned
PREFIX = "cli-"
BUCKET = "cli-photos"

Json = dict[str, Any]


@dataclass(frozen=True)
class Aws:
    """`aws rekognition` for one server, signed with one key."""

    url: str
    access_key_id: str
    secret: str
    home: Path

    def signed_by(self, access_key_id: str, secret: str) -> Aws:
        return replace(self, access_key_id=access_key_id, secret=secret)

    def env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret,
            AWS_CONFIG_FILE=str(self.home / "no-such-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / "no-such-credentials"),
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(AWS), "rekognition", *args]
        command += ["--endpoint-url", self.url, "--region", "us-east-1", "--output", "json"]
        return subprocess.run(
            command, env=self.env(), capture_output=True, text=True, timeout=CLI_TIMEOUT
        )

    def ok(self, *args: str) -> Json:
        """The parsed JSON output of a command that must succeed ({} when it prints nothing)."""
        done = self.run(*args)
        assert done.returncode == 0, (
            f"aws rekognition {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        )
        return json.loads(done.stdout) if done.stdout.strip() else {}

    def fails(self, code: str, operation: str, *args: str) -> str:
        """The stderr of a command that must fail with the service error ``code``."""
        done = self.run(*args)
        assert done.returncode == SERVICE_ERROR_EXIT, (
            f"aws rekognition {' '.join(args)} exited {done.returncode}, "
            f"expected {SERVICE_ERROR_EXIT}:\n{done.stdout}\n{done.stderr}"
        )
        assert f"An error occurred ({code}) when calling the {operation} operation" in done.stderr
        assert done.stdout == ""
        return done.stderr


@dataclass(frozen=True)
class Photos:
    grace: Path
    astronaut: Path
    text: Path

    @staticmethod
    def bytes_of(path: Path) -> str:
        return f"fileb://{path}"


@dataclass(frozen=True)
class Indexed:
    """The module's collection: Grace Hopper indexed three times, the astronaut once."""

    name: str
    arn: str
    grace: list[str]  # FaceIds, in the order indexed (external ids grace-1..grace-3)
    astronaut: str

    @property
    def all(self) -> set[str]:
        return {*self.grace, self.astronaut}


@pytest.fixture(scope="module")
def aws(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Aws:
    assert AWS.is_file(), f"the AWS CLI is not installed next to {sys.executable}"
    home = tmp_path_factory.mktemp("awscli-home")
    return Aws(server.url, server.access_key_id, server.secret, home)


@pytest.fixture(scope="module")
def photos(
    tmp_path_factory: pytest.TempPathFactory, hopper_path: Path, astronaut_jpeg: bytes
) -> Photos:
    folder = tmp_path_factory.mktemp("awscli-photos")
    grace = folder / "grace_hopper.jpg"
    shutil.copyfile(hopper_path, grace)
    astronaut = folder / "astronaut.jpg"
    astronaut.write_bytes(astronaut_jpeg)
    text = folder / "notes.jpg"
    text.write_text("these are notes about Grace Hopper, not a photo of her\n" * 20)
    return Photos(grace, astronaut, text)


@pytest.fixture(scope="module")
def bucket(server: ServerProcess, photos: Photos) -> str:
    """The photos as objects of a bucket folder of the server: s3://cli-photos/people/..."""
    folder = server.data_dir / "buckets" / BUCKET / "people"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(photos.grace, folder / "grace.jpg")
    shutil.copyfile(photos.astronaut, folder / "astronaut.jpg")
    return BUCKET


def s3_image(bucket: str, name: str) -> str:
    return json.dumps({"S3Object": {"Bucket": bucket, "Name": name}})


def face_ids(faces: list[Json]) -> list[str]:
    return [face["FaceId"] for face in faces]


@pytest.fixture(scope="module")
def indexed(aws: Aws, photos: Photos, bucket: str, rekognition) -> Iterator[Indexed]:
    """cli-faces, filled through `aws rekognition create-collection` and `index-faces`."""
    name = f"{PREFIX}faces"
    created = aws.ok("create-collection", "--collection-id", name)
    assert created["StatusCode"] == 200
    assert re.fullmatch(
        rf"arn:aws:rekognition:us-east-1:\d{{12}}:collection/{name}", created["CollectionArn"]
    )
    assert created["FaceModelVersion"] == "dlib-resnet-v1"
    grace = []
    for n in (1, 2, 3):
        # The third copy comes by reference, from the server's bucket folder.
        image = (
            ["--image", s3_image(bucket, "people/grace.jpg")]
            if n == 3
            else ["--image-bytes", Photos.bytes_of(photos.grace)]
        )
        result = aws.ok(
            "index-faces", "--collection-id", name, *image, "--external-image-id", f"grace-{n}"
        )
        [record] = result["FaceRecords"]
        assert record["Face"]["ExternalImageId"] == f"grace-{n}"
        assert record["Face"]["Confidence"] > 99
        assert 0.25 < record["Face"]["BoundingBox"]["Left"] < 0.45
        assert result["UnindexedFaces"] == []
        assert result["FaceModelVersion"] == "dlib-resnet-v1"
        grace.append(record["Face"]["FaceId"])
    result = aws.ok(
        "index-faces",
        "--collection-id",
        name,
        "--image-bytes",
        Photos.bytes_of(photos.astronaut),
        "--external-image-id",
        "astronaut",
        "--detection-attributes",
        "ALL",
    )
    [record] = result["FaceRecords"]
    assert record["FaceDetail"]["Gender"]["Value"] == "Female"
    assert len({*grace, record["Face"]["FaceId"]}) == 4
    yield Indexed(name, created["CollectionArn"], grace, record["Face"]["FaceId"])
    with contextlib.suppress(rekognition.exceptions.ResourceNotFoundException):
        rekognition.delete_collection(CollectionId=name)


# -- stateless ------------------------------------------------------------------------------


def test_detect_faces_from_a_file_and_from_a_bucket(aws: Aws, photos: Photos, bucket: str) -> None:
    by_file = aws.ok("detect-faces", "--image-bytes", Photos.bytes_of(photos.grace))
    [face] = by_file["FaceDetails"]
    assert face["Confidence"] > 99
    box = face["BoundingBox"]
    assert 0.25 < box["Left"] < 0.45 and 0.1 < box["Top"] < 0.3 and 0.25 < box["Width"] < 0.45
    assert {mark["Type"] for mark in face["Landmarks"]} >= {"eyeLeft", "eyeRight", "nose"}
    by_reference = aws.ok(
        "detect-faces", "--image", s3_image(bucket, "people/grace.jpg"), "--attributes", "ALL"
    )
    [described] = by_reference["FaceDetails"]
    assert described["BoundingBox"] == box
    # ALL adds the estimates that DEFAULT leaves out.
    assert {"AgeRange", "Gender"} <= set(described) - set(face)
    assert described["Gender"]["Value"] in ("Male", "Female")
    assert described["AgeRange"]["Low"] <= described["AgeRange"]["High"]


def test_compare_faces_same_person_and_another(aws: Aws, photos: Photos) -> None:
    grace, astronaut = Photos.bytes_of(photos.grace), Photos.bytes_of(photos.astronaut)
    same = aws.ok("compare-faces", "--source-image-bytes", grace, "--target-image-bytes", grace)
    [match] = same["FaceMatches"]
    assert match["Similarity"] > 99
    assert same["SourceImageFace"]["Confidence"] > 99
    assert same["UnmatchedFaces"] == []
    other = aws.ok(
        "compare-faces",
        "--source-image-bytes",
        grace,
        "--target-image-bytes",
        astronaut,
        "--similarity-threshold",
        "80",
    )
    assert other["FaceMatches"] == []
    assert len(other["UnmatchedFaces"]) == 1


# -- collections ----------------------------------------------------------------------------


def test_collection_lifecycle_with_delete_faces(aws: Aws, photos: Photos) -> None:
    name = f"{PREFIX}life"
    created = aws.ok("create-collection", "--collection-id", name, "--tags", "team=cli")
    assert created["StatusCode"] == 200
    aws.fails(
        "ResourceAlreadyExistsException",
        "CreateCollection",
        "create-collection",
        "--collection-id",
        name,
    )
    listed = aws.ok("list-collections")
    assert name in listed["CollectionIds"]
    position = listed["CollectionIds"].index(name)
    assert listed["FaceModelVersions"][position] == "dlib-resnet-v1"
    [face] = aws.ok(
        "index-faces", "--collection-id", name, "--image-bytes", Photos.bytes_of(photos.grace)
    )["FaceRecords"]
    face_id = face["Face"]["FaceId"]
    described = aws.ok("describe-collection", "--collection-id", name)
    assert described["FaceCount"] == 1 and described["UserCount"] == 0
    assert described["CollectionARN"] == created["CollectionArn"]
    assert described["CreationTimestamp"] > 1.7e9  # seconds since the epoch, after 2023
    missing = str(uuid.UUID(int=0))
    deleted = aws.ok("delete-faces", "--collection-id", name, "--face-ids", face_id, missing)
    assert deleted["DeletedFaces"] == [face_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [
        {"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}
    ]
    assert aws.ok("list-faces", "--collection-id", name)["Faces"] == []
    assert aws.ok("delete-collection", "--collection-id", name) == {"StatusCode": 200}
    aws.fails(
        "ResourceNotFoundException",
        "DescribeCollection",
        "describe-collection",
        "--collection-id",
        name,
    )
    assert name not in aws.ok("list-collections")["CollectionIds"]


def test_tags_round_trip(aws: Aws, indexed: Indexed) -> None:
    arn = aws.ok("describe-collection", "--collection-id", indexed.name)["CollectionARN"]
    assert arn == indexed.arn
    assert aws.ok("list-tags-for-resource", "--resource-arn", arn) == {"Tags": {}}
    tags = {"team": "cli", "purpose": "tests", "empty": ""}
    assert aws.ok("tag-resource", "--resource-arn", arn, "--tags", json.dumps(tags)) == {}
    assert aws.ok("list-tags-for-resource", "--resource-arn", arn) == {"Tags": tags}
    assert aws.ok("untag-resource", "--resource-arn", arn, "--tag-keys", "purpose", "empty") == {}
    assert aws.ok("list-tags-for-resource", "--resource-arn", arn) == {"Tags": {"team": "cli"}}
    # Leave the collection as the other tests expect it.
    aws.ok("untag-resource", "--resource-arn", arn, "--tag-keys", "team")


# -- faces ----------------------------------------------------------------------------------


def test_search_faces_by_face_id_finds_the_other_copies(aws: Aws, indexed: Indexed) -> None:
    result = aws.ok("search-faces", "--collection-id", indexed.name, "--face-id", indexed.grace[0])
    assert result["SearchedFaceId"] == indexed.grace[0]
    assert result["FaceModelVersion"] == "dlib-resnet-v1"
    matches = {match["Face"]["FaceId"]: match for match in result["FaceMatches"]}
    # Itself excluded, the astronaut below the default threshold of 80.
    assert set(matches) == set(indexed.grace[1:])
    for face_id, n in zip(indexed.grace[1:], (2, 3), strict=True):
        assert matches[face_id]["Similarity"] > 99
        assert matches[face_id]["Face"]["ExternalImageId"] == f"grace-{n}"


def test_search_faces_by_image(aws: Aws, photos: Photos, indexed: Indexed) -> None:
    result = aws.ok(
        "search-faces-by-image",
        "--collection-id",
        indexed.name,
        "--image-bytes",
        Photos.bytes_of(photos.astronaut),
        "--max-faces",
        "5",
    )
    [match] = result["FaceMatches"]
    assert match["Face"]["FaceId"] == indexed.astronaut
    assert match["Face"]["ExternalImageId"] == "astronaut"
    assert match["Similarity"] > 99
    assert result["SearchedFaceConfidence"] > 99
    assert 0 < result["SearchedFaceBoundingBox"]["Width"] < 1


def test_list_faces_paginates_with_max_items(aws: Aws, indexed: Indexed) -> None:
    first = aws.ok("list-faces", "--collection-id", indexed.name, "--max-items", "2")
    assert len(first["Faces"]) == 2
    assert first["FaceModelVersion"] == "dlib-resnet-v1"
    token = first["NextToken"]
    rest = aws.ok(
        "list-faces",
        "--collection-id",
        indexed.name,
        "--max-items",
        "2",
        "--starting-token",
        token,
    )
    assert len(rest["Faces"]) == 2
    assert "NextToken" not in rest
    paged = face_ids(first["Faces"]) + face_ids(rest["Faces"])
    assert len(paged) == len(set(paged)) == 4
    assert set(paged) == indexed.all
    # One server page per face: the CLI follows the service's NextToken to the end.
    every = aws.ok("list-faces", "--collection-id", indexed.name, "--page-size", "1")
    assert face_ids(every["Faces"]) == paged
    assert "NextToken" not in every
    # Without the paginator the service's own page and token come through.
    page = aws.ok(
        "list-faces", "--collection-id", indexed.name, "--max-results", "3", "--no-paginate"
    )
    assert face_ids(page["Faces"]) == paged[:3]
    assert page["NextToken"]


# -- users ----------------------------------------------------------------------------------


def test_users_associate_search_disassociate(aws: Aws, photos: Photos, indexed: Indexed) -> None:
    collection = ["--collection-id", indexed.name]
    user = f"{PREFIX}grace"
    g1, g2, g3 = indexed.grace
    assert aws.ok("create-user", *collection, "--user-id", user) == {}
    try:
        # The CLI sends a fresh ClientRequestToken each time: a second create is a conflict.
        aws.fails("ConflictException", "CreateUser", "create-user", *collection, "--user-id", user)
        assert aws.ok("list-users", *collection) == {
            "Users": [{"UserId": user, "UserStatus": "CREATED"}]
        }
        associated = aws.ok("associate-faces", *collection, "--user-id", user, "--face-ids", g1, g2)
        assert sorted(face_ids(associated["AssociatedFaces"])) == sorted([g1, g2])
        assert associated["UnsuccessfulFaceAssociations"] == []
        assert associated["UserStatus"] == "ACTIVE"
        # The astronaut does not look like Grace: refused, with how little she does.
        refused = aws.ok(
            "associate-faces", *collection, "--user-id", user, "--face-ids", indexed.astronaut
        )
        assert refused["AssociatedFaces"] == []
        [failure] = refused["UnsuccessfulFaceAssociations"]
        assert failure["FaceId"] == indexed.astronaut
        assert failure["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
        assert failure["Confidence"] < 75
        described = aws.ok("describe-collection", *collection)
        assert described["UserCount"] == 1 and described["FaceCount"] == 4

        by_face = aws.ok("search-users", *collection, "--face-id", g3)
        [match] = by_face["UserMatches"]
        assert match["User"] == {"UserId": user, "UserStatus": "ACTIVE"}
        assert match["Similarity"] > 99
        assert by_face["SearchedFace"] == {"FaceId": g3}
        by_user = aws.ok("search-users", *collection, "--user-id", user)
        assert by_user["SearchedUser"] == {"UserId": user}
        assert by_user["UserMatches"] == []  # the user itself is left out, and no one else
        by_image = aws.ok(
            "search-users-by-image", *collection, "--image-bytes", Photos.bytes_of(photos.grace)
        )
        [match] = by_image["UserMatches"]
        assert match["User"]["UserId"] == user and match["Similarity"] > 99
        assert by_image["SearchedFace"]["FaceDetail"]["Confidence"] > 99
        assert by_image["UnsearchedFaces"] == []
        nobody = aws.ok(
            "search-users-by-image",
            *collection,
            "--image-bytes",
            Photos.bytes_of(photos.astronaut),
        )
        assert nobody["UserMatches"] == []

        released = aws.ok("disassociate-faces", *collection, "--user-id", user, "--face-ids", g2)
        assert face_ids(released["DisassociatedFaces"]) == [g2]
        assert released["UnsuccessfulFaceDisassociations"] == []
        assert released["UserStatus"] == "ACTIVE"
        owned = aws.ok("list-faces", *collection, "--user-id", user)["Faces"]
        assert face_ids(owned) == [g1]
        assert owned[0]["UserId"] == user
    finally:
        assert aws.ok("delete-user", *collection, "--user-id", user) == {}
    assert aws.ok("list-users", *collection) == {"Users": []}
    # The user's faces stay in the collection, no longer associated.
    faces = aws.ok("list-faces", *collection)["Faces"]
    assert set(face_ids(faces)) == indexed.all
    assert all("UserId" not in face for face in faces)


# -- errors ---------------------------------------------------------------------------------


def test_unknown_collection_is_resource_not_found(aws: Aws, photos: Photos) -> None:
    stderr = aws.fails(
        "ResourceNotFoundException",
        "SearchFacesByImage",
        "search-faces-by-image",
        "--collection-id",
        f"{PREFIX}no-such-collection",
        "--image-bytes",
        Photos.bytes_of(photos.grace),
    )
    assert f"{PREFIX}no-such-collection" in stderr


def test_a_text_file_is_not_an_image(aws: Aws, photos: Photos) -> None:
    aws.fails(
        "InvalidImageFormatException",
        "DetectFaces",
        "detect-faces",
        "--image-bytes",
        Photos.bytes_of(photos.text),
    )


def test_unknown_access_key_is_unrecognized(aws: Aws) -> None:
    stranger = aws.signed_by("AKIA" + uuid.uuid4().hex[:16].upper(), "x" * 40)
    stranger.fails("UnrecognizedClientException", "ListCollections", "list-collections")


def test_wrong_secret_is_an_invalid_signature(aws: Aws) -> None:
    forger = aws.signed_by(aws.access_key_id, aws.secret[::-1] + "x")
    stderr = forger.fails("InvalidSignatureException", "ListCollections", "list-collections")
    assert "signature" in stderr.lower()


def test_another_accounts_key_sees_none_of_the_collection(
    aws: Aws, server: ServerProcess, indexed: Indexed
) -> None:
    other = aws.signed_by(*server.create_key(f"{PREFIX}other"))
    assert indexed.name not in other.ok("list-collections")["CollectionIds"]
    other.fails(
        "ResourceNotFoundException",
        "ListFaces",
        "list-faces",
        "--collection-id",
        indexed.name,
    )
