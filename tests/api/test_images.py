"""The bucket folder behind S3Object: reads inside a bucket, never outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from facewise.api import errors
from facewise.api.images import FolderBuckets


@pytest.fixture
def buckets(tmp_path: Path) -> FolderBuckets:
    (tmp_path / "buckets" / "photos" / "a").mkdir(parents=True)
    (tmp_path / "buckets" / "photos" / "a" / "b.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.txt").write_text("not yours")
    (tmp_path / "buckets" / "photos" / "escape.jpg").symlink_to(tmp_path / "secret.txt")
    return FolderBuckets(tmp_path / "buckets")


def test_reads_an_object(buckets: FolderBuckets) -> None:
    assert buckets.read("photos", "a/b.jpg", 100) == b"jpeg"


@pytest.mark.parametrize(
    ("bucket", "name"),
    [
        ("photos", "../../secret.txt"),
        ("photos", "/etc/passwd"),
        ("photos", "escape.jpg"),
        ("photos", "a"),
        ("photos", "missing.jpg"),
        ("..", "secret.txt"),
        (".", "buckets/photos/a/b.jpg"),
        ("photos/a", "b.jpg"),
        ("", "secret.txt"),
        ("nobucket", "x.jpg"),
    ],
)
def test_refuses_what_is_not_an_object_of_the_bucket(
    buckets: FolderBuckets, bucket: str, name: str
) -> None:
    with pytest.raises(errors.InvalidS3Object):
        buckets.read(bucket, name, 100)


def test_too_large_object(buckets: FolderBuckets) -> None:
    with pytest.raises(errors.ImageTooLarge):
        buckets.read("photos", "a/b.jpg", 3)
