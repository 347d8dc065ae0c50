"""Images by reference: the bucket folder reads inside a bucket and never outside it, and
any name at all is refused with InvalidS3ObjectError rather than an unexpected error."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from facewise.errors import ImageTooLargeError, InvalidS3ObjectError
from facewise.service.images import FolderBuckets, ImageSource, NoObjects, ObjectRef
from tests.conftest import encode


@pytest.fixture
def buckets(tmp_path: Path) -> FolderBuckets:
    (tmp_path / "buckets" / "photos" / "a").mkdir(parents=True)
    (tmp_path / "buckets" / "photos" / "a" / "b.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.txt").write_text("not yours")
    (tmp_path / "buckets" / "photos" / "escape.jpg").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "buckets" / "photos" / "loop.jpg").symlink_to(
        tmp_path / "buckets" / "photos" / "loop.jpg"
    )
    return FolderBuckets(tmp_path / "buckets")


def test_reads_an_object(buckets: FolderBuckets) -> None:
    assert buckets.read(ObjectRef("photos", "a/b.jpg"), 100) == b"jpeg"


@pytest.mark.parametrize(
    ("bucket", "name"),
    [
        ("photos", "../../secret.txt"),
        ("photos", "/etc/passwd"),
        ("photos", "escape.jpg"),
        ("photos", "loop.jpg"),
        ("photos", "a"),
        ("photos", "missing.jpg"),
        ("photos", "a/b.jpg\x00.png"),
        ("photos", "\x00"),
        ("photos", ""),
        ("photos", "x" * 2000),
        ("photos", "\udcff.jpg"),
        ("pho\x00tos", "a/b.jpg"),
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
    with pytest.raises(InvalidS3ObjectError):
        buckets.read(ObjectRef(bucket, name), 100)


def test_too_large_object(buckets: FolderBuckets) -> None:
    with pytest.raises(ImageTooLargeError):
        buckets.read(ObjectRef("photos", "a/b.jpg"), 3)


def test_fuzzed_names_are_read_or_refused_as_invalid_objects(buckets: FolderBuckets) -> None:
    """2,000 random names built from path syntax, control characters (NUL among them),
    surrogates and long runs: each is either the one real object or InvalidS3ObjectError."""
    rng = random.Random(20261202)
    pieces = ["a", "b.jpg", "/", "..", ".", "\x00", "\\", "\udcff", "é", "%00", "~", " ", "x" * 300]
    outcomes = {"read": 0, "refused": 0}
    for _ in range(2000):
        name = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        bucket = rng.choice(["photos", "photos", "", "..", "p\x00", "nobucket"])
        try:
            assert buckets.read(ObjectRef(bucket, name), 100) == b"jpeg"
            outcomes["read"] += 1
        except InvalidS3ObjectError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 1500 and sum(outcomes.values()) == 2000


def test_one_source_decodes_every_kind_of_reference(tmp_path: Path, hopper: np.ndarray) -> None:
    jpeg = encode(hopper)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "h.jpg").write_bytes(jpeg)
    (tmp_path / "h.jpg").write_bytes(jpeg)
    source = ImageSource(FolderBuckets(tmp_path))
    by_ref = source.rgb(ObjectRef("photos", "h.jpg"))
    assert by_ref.shape == hopper.shape
    assert np.array_equal(source.rgb(jpeg), by_ref)
    assert np.array_equal(source.rgb(tmp_path / "h.jpg"), by_ref)
    assert source.rgb(hopper) is not None


def test_inline_bytes_and_references_have_their_own_byte_limits(
    tmp_path: Path, hopper: np.ndarray
) -> None:
    """Rekognition's 5 MB inline and 15 MB by reference, from one ImageSource."""
    noisy = np.random.default_rng(0).integers(0, 255, (2000, 2000, 3), dtype=np.uint8)
    big = encode(noisy, "PNG")
    assert 5 * 1024 * 1024 < len(big) < 15 * 1024 * 1024
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "big.png").write_bytes(big)
    source = ImageSource(FolderBuckets(tmp_path))
    with pytest.raises(ImageTooLargeError):
        source.rgb(big)
    assert source.rgb(ObjectRef("photos", "big.png")).shape == (2000, 2000, 3)
    tight = ImageSource(FolderBuckets(tmp_path), reference_max_bytes=1024)
    with pytest.raises(ImageTooLargeError):
        tight.rgb(ObjectRef("photos", "big.png"))


def test_without_buckets_references_are_refused() -> None:
    with pytest.raises(InvalidS3ObjectError):
        ImageSource(NoObjects()).rgb(ObjectRef("photos", "a.jpg"))
