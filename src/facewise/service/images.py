"""Images (and later videos) from wherever a request names them, in one place:
check the reference → fetch the bytes → decode them under one set of limits.

A reference is inline bytes, a file path or array (the library), or an ``ObjectRef`` to a
bucket: by default a folder of buckets inside the data directory
(``<data>/buckets/<bucket>/<key>``), or any S3-compatible endpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from facewise.errors import ImageTooLargeError, InvalidParameterError, InvalidS3ObjectError
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits, load_image

# Rekognition's limits: 5 MB of inline bytes, 15 MB by reference.
MAX_INLINE_BYTES = 5 * 1024 * 1024
MAX_REFERENCE_BYTES = 15 * 1024 * 1024
MAX_OBJECT_NAME_BYTES = 1024  # S3's longest key
_MISSING = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


@dataclass(frozen=True)
class ObjectRef:
    """An object in a bucket (Rekognition's S3Object)."""

    bucket: str
    name: str
    version: str | None = None


ImageInput = str | Path | bytes | bytearray | memoryview | np.ndarray | ObjectRef


class ObjectSource(Protocol):
    """Where objects by reference are read from."""

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        """The object's bytes; InvalidS3ObjectError if absent or unreadable,
        ImageTooLargeError if over max_bytes."""
        ...

    def size(self, ref: ObjectRef) -> int:
        """The object's size in bytes; InvalidS3ObjectError if absent."""
        ...

    def local_file(self, ref: ObjectRef) -> contextlib.AbstractContextManager[Path]:
        """A local file with the object's bytes while the context lasts (a video is read
        from a file, not memory): the file itself, or a temporary download."""
        ...


def _utf8_size(text: str) -> int | None:
    """Bytes of the text in UTF-8, or None if it cannot be encoded (a lone surrogate, which
    JSON escapes such as \\udcff can carry)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def check_ref(ref: ObjectRef) -> None:
    """InvalidS3ObjectError unless the bucket and name could name an object anywhere."""
    if not isinstance(ref.bucket, str) or not isinstance(ref.name, str):
        raise InvalidS3ObjectError("S3Object Bucket and Name must be strings")
    bucket_size, name_size = _utf8_size(ref.bucket), _utf8_size(ref.name)
    if not bucket_size or bucket_size > 255 or "\x00" in ref.bucket:
        raise InvalidS3ObjectError(f"bucket name {ref.bucket[:64]!r} is not valid")
    if not name_size or name_size > MAX_OBJECT_NAME_BYTES or "\x00" in ref.name:
        raise InvalidS3ObjectError(f"object name {ref.name[:200]!r} is not valid")


def _too_large(size: int, max_bytes: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"the object is {size} bytes; objects by reference may be at most {max_bytes}"
    )


class FolderBuckets:
    """Buckets as folders: s3://photos/a/b.jpg is <root>/photos/a/b.jpg. Never leaves root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, ref: ObjectRef) -> Path:
        check_ref(ref)
        bucket, name = ref.bucket, ref.name
        if bucket in (".", "..") or "/" in bucket or "\\" in bucket:
            raise InvalidS3ObjectError(f"bucket name {bucket[:64]!r} is not valid")
        try:
            folder = (self.root / bucket).resolve()
            path = (folder / name).resolve()
        except (OSError, ValueError, RuntimeError):  # a symlink loop, an unencodable name
            raise InvalidS3ObjectError(_MISSING) from None
        if not path.is_relative_to(folder) or path == folder:
            raise InvalidS3ObjectError(f"object name {name[:200]!r} leaves its bucket")
        try:
            if not path.is_file():
                raise InvalidS3ObjectError(_MISSING)
        except OSError:
            raise InvalidS3ObjectError(_MISSING) from None
        return path

    def size(self, ref: ObjectRef) -> int:
        try:
            return self._path(ref).stat().st_size
        except OSError:
            raise InvalidS3ObjectError(_MISSING) from None

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        path = self._path(ref)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_large(size, max_bytes)
            with path.open("rb") as file:
                return file.read(max_bytes + 1)
        except OSError:
            raise InvalidS3ObjectError(_MISSING) from None

    @contextlib.contextmanager
    def local_file(self, ref: ObjectRef) -> Iterator[Path]:
        yield self._path(ref)


class S3Buckets:
    """Objects from an S3-compatible endpoint (MinIO, Ceph, AWS S3...), read with boto3.

    Credentials come from the usual AWS environment variables or files of the server's user.
    """

    def __init__(self, endpoint_url: str | None, region: str | None = None) -> None:
        import boto3  # optional: only a server configured with an S3 endpoint needs it

        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        check_ref(ref)
        version = {"VersionId": ref.version} if ref.version else {}
        try:
            head = self.client.head_object(Bucket=ref.bucket, Key=ref.name, **version)
            if head["ContentLength"] > max_bytes:
                raise _too_large(int(head["ContentLength"]), max_bytes)
            body = self.client.get_object(Bucket=ref.bucket, Key=ref.name, **version)["Body"]
            data: bytes = body.read(max_bytes + 1)
            return data
        except (ClientError, BotoCoreError, ValueError):
            raise InvalidS3ObjectError(_MISSING) from None

    def size(self, ref: ObjectRef) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        check_ref(ref)
        version = {"VersionId": ref.version} if ref.version else {}
        try:
            head = self.client.head_object(Bucket=ref.bucket, Key=ref.name, **version)
            return int(head["ContentLength"])
        except (ClientError, BotoCoreError, ValueError):
            raise InvalidS3ObjectError(_MISSING) from None

    @contextlib.contextmanager
    def local_file(self, ref: ObjectRef) -> Iterator[Path]:
        from botocore.exceptions import BotoCoreError, ClientError

        check_ref(ref)
        extra = {"VersionId": ref.version} if ref.version else {}
        with tempfile.TemporaryDirectory(prefix="facewise-object-") as folder:
            path = Path(folder) / "object"
            try:
                self.client.download_file(ref.bucket, ref.name, str(path), ExtraArgs=extra)
            except (ClientError, BotoCoreError, ValueError, OSError):
                raise InvalidS3ObjectError(_MISSING) from None
            yield path


class NoObjects:
    """An ObjectSource with no buckets (the library without a data directory)."""

    def read(self, ref: ObjectRef, max_bytes: int) -> bytes:
        check_ref(ref)
        raise InvalidS3ObjectError(_MISSING)

    def size(self, ref: ObjectRef) -> int:
        check_ref(ref)
        raise InvalidS3ObjectError(_MISSING)

    def local_file(self, ref: ObjectRef) -> contextlib.AbstractContextManager[Path]:
        check_ref(ref)
        raise InvalidS3ObjectError(_MISSING)


class ImageSource:
    """Turns any image reference into an RGB array, within one set of limits.

    limits: pixel and side limits of every image, and the byte limit of inline bytes and
        files. reference_max_bytes: the byte limit of objects by reference (Rekognition
        allows 15 MB there against 5 MB inline).
    """

    def __init__(
        self,
        objects: ObjectSource | None = None,
        limits: ImageLimits = DEFAULT_LIMITS,
        reference_max_bytes: int = MAX_REFERENCE_BYTES,
    ) -> None:
        self.objects: ObjectSource = objects or NoObjects()
        self.limits = limits
        self.reference_max_bytes = reference_max_bytes
        self.reference_limits = dataclasses.replace(limits, max_bytes=reference_max_bytes)

    def fetch(self, ref: ObjectRef, max_bytes: int | None = None) -> bytes:
        """The bytes of an object by reference (images, and later videos)."""
        check_ref(ref)
        return self.objects.read(ref, self.reference_max_bytes if max_bytes is None else max_bytes)

    def rgb(self, image: ImageInput) -> np.ndarray:
        """Decode any reference to a C-contiguous uint8 RGB array."""
        if isinstance(image, ObjectRef):
            return load_image(self.fetch(image), self.reference_limits)
        if isinstance(image, str | Path | bytes | bytearray | memoryview | np.ndarray):
            return load_image(image, self.limits)
        raise InvalidParameterError(
            "image must be a file path, bytes, an array or an ObjectRef, got "
            + type(image).__name__
        )


DEFAULT_IMAGES = ImageSource()
