"""DetectFaces and CompareFaces through a real boto3 client against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.server import ServerProcess, code_of
from tests.conftest import encode


def test_detect_faces_default_attributes(rekognition, hopper_jpeg: bytes) -> None:
    response = rekognition.detect_faces(Image={"Bytes": hopper_jpeg})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    [face] = response["FaceDetails"]
    assert set(face) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    box = face["BoundingBox"]
    assert 0.25 < box["Left"] < 0.45 and 0.1 < box["Top"] < 0.3
    assert 0.25 < box["Width"] < 0.45
    assert face["Confidence"] > 99
    assert {mark["Type"] for mark in face["Landmarks"]} >= {"eyeLeft", "eyeRight", "nose"}


def test_detect_faces_all_attributes(rekognition, astronaut_jpeg: bytes) -> None:
    [face] = rekognition.detect_faces(Image={"Bytes": astronaut_jpeg}, Attributes=["ALL"])[
        "FaceDetails"
    ]
    assert face["Gender"]["Value"] == "Female"
    assert face["AgeRange"]["Low"] <= face["AgeRange"]["High"]


def test_detect_faces_no_face_is_an_empty_list(rekognition) -> None:
    import numpy as np

    blank = encode(np.full((200, 200, 3), 90, dtype=np.uint8))
    assert rekognition.detect_faces(Image={"Bytes": blank})["FaceDetails"] == []


def test_compare_faces_same_person_and_not(
    rekognition, hopper_jpeg: bytes, astronaut_jpeg: bytes
) -> None:
    same = rekognition.compare_faces(
        SourceImage={"Bytes": hopper_jpeg}, TargetImage={"Bytes": hopper_jpeg}
    )
    assert same["FaceMatches"][0]["Similarity"] > 99
    assert same["SourceImageFace"]["Confidence"] > 99
    other = rekognition.compare_faces(
        SourceImage={"Bytes": hopper_jpeg},
        TargetImage={"Bytes": astronaut_jpeg},
        SimilarityThreshold=80,
    )
    assert other["FaceMatches"] == []
    assert len(other["UnmatchedFaces"]) == 1


def test_image_by_s3_object_from_the_bucket_folder(
    server: ServerProcess, rekognition, hopper_jpeg: bytes
) -> None:
    bucket = server.data_dir / "buckets" / "photos"
    (bucket / "people").mkdir(parents=True, exist_ok=True)
    (bucket / "people" / "grace.jpg").write_bytes(hopper_jpeg)
    by_ref = rekognition.detect_faces(
        Image={"S3Object": {"Bucket": "photos", "Name": "people/grace.jpg"}}
    )
    by_bytes = rekognition.detect_faces(Image={"Bytes": hopper_jpeg})
    assert by_ref["FaceDetails"] == by_bytes["FaceDetails"]


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        ({"Bucket": "photos", "Name": "missing.jpg"}, "InvalidS3ObjectException"),
        ({"Bucket": "nobucket", "Name": "grace.jpg"}, "InvalidS3ObjectException"),
        ({"Bucket": "photos", "Name": "../../facewise.sqlite3"}, "InvalidS3ObjectException"),
        ({"Bucket": "...", "Name": "../facewise.sqlite3"}, "InvalidS3ObjectException"),
    ],
)
def test_bad_s3_references(rekognition, reference: dict, code: str) -> None:
    with pytest.raises(rekognition.exceptions.ClientError) as caught:
        rekognition.detect_faces(Image={"S3Object": reference})
    assert code_of(caught) == (code, 400)


def test_s3_object_over_15_mb_is_too_large(server: ServerProcess, rekognition) -> None:
    bucket = server.data_dir / "buckets" / "big"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "huge.jpg").write_bytes(b"\xff\xd8" + b"\0" * (15 * 1024 * 1024 + 10))
    with pytest.raises(rekognition.exceptions.ImageTooLargeException):
        rekognition.detect_faces(Image={"S3Object": {"Bucket": "big", "Name": "huge.jpg"}})


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not an image at all", "InvalidImageFormatException"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "InvalidImageFormatException"),
        (b"GIF89a" + b"\0" * 100, "InvalidImageFormatException"),
        # As Rekognition: over 5 MB inline breaks the model's length constraint.
        (b"\xff\xd8" + b"\0" * (5 * 1024 * 1024 + 1), "ValidationException"),
    ],
)
def test_bad_images_get_rekognition_errors(rekognition, payload: bytes, error: str) -> None:
    with pytest.raises(rekognition.exceptions.ClientError) as caught:
        rekognition.detect_faces(Image={"Bytes": payload})
    assert code_of(caught) == (error, 400)


def test_compare_without_a_source_face_is_invalid_parameter(
    rekognition, hopper_jpeg: bytes
) -> None:
    import numpy as np

    blank = encode(np.full((200, 200, 3), 90, dtype=np.uint8))
    with pytest.raises(rekognition.exceptions.InvalidParameterException):
        rekognition.compare_faces(SourceImage={"Bytes": blank}, TargetImage={"Bytes": hopper_jpeg})


def test_tiny_image_is_invalid_parameter_or_format(rekognition, tmp_path: Path) -> None:
    import numpy as np

    tiny = encode(np.zeros((40, 40, 3), dtype=np.uint8))
    with pytest.raises(rekognition.exceptions.ClientError) as caught:
        rekognition.detect_faces(Image={"Bytes": tiny})
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
