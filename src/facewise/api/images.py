"""Rekognition's ``Image`` parameter to an RGB array: inline ``Bytes`` or an ``S3Object``.

Objects by reference come from an ``ObjectSource``: by default a folder of buckets inside the
data directory (``<data>/buckets/<bucket>/<key>``), or any S3-compatible endpoint.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facewise.api import errors
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits, load_image

# Rekognition's limits: 5 MB of inline bytes, 15 MB by reference.
MAX_INLINE_BYTES = 5 * 1024 * 1024
MAX_REFERENCE_BYTES = 15 * 1024 * 1024
_MISSING = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


class ObjectSource(Protocol):
    """Where S3Object references are read from."""

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        """The object's bytes; InvalidS3Object if absent, ImageTooLarge if over max_bytes."""
        ...


class FolderBuckets:
    """Buckets as folders: s3://photos/a/b.jpg is <root>/photos/a/b.jpg. Never leaves root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        if bucket in ("", ".", "..") or "/" in bucket or "\\" in bucket:
            raise errors.InvalidS3Object(f"bucket name {bucket[:64]!r} is not valid")
        folder = (self.root / bucket).resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder) or path == folder:
            raise errors.InvalidS3Object(f"object name {name[:200]!r} leaves its bucket")
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise errors.InvalidS3Object(_MISSING)
            if size > max_bytes:
                raise errors.ImageTooLarge(
                    f"the object is {size} bytes; images by reference may be at most {max_bytes}"
                )
            return path.read_bytes()
        except OSError:
            raise errors.InvalidS3Object(_MISSING) from None


class S3Buckets:
    """Objects from an S3-compatible endpoint (MinIO, Ceph, AWS S3...), read with boto3.

    Credentials come from the usual AWS environment variables or files of the server's user.
    """

    def __init__(self, endpoint_url: str | None, region: str | None = None) -> None:
        import boto3  # optional: only a server configured with an S3 endpoint needs it

        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def read(self, bucket: str, name: str, max_bytes: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=bucket, Key=name)
            if head["ContentLength"] > max_bytes:
                raise errors.ImageTooLarge(
                    f"the object is {head['ContentLength']} bytes; images by reference may be at "
                    f"most {max_bytes}"
                )
            return self.client.get_object(Bucket=bucket, Key=name)["Body"].read(max_bytes + 1)
        except (ClientError, BotoCoreError):
            raise errors.InvalidS3Object(_MISSING) from None


class ImageResolver:
    """Turns an ``Image`` parameter into an RGB array, within Rekognition's limits."""

    def __init__(self, objects: ObjectSource, limits: ImageLimits = DEFAULT_LIMITS) -> None:
        self.objects = objects
        self.inline_limits = dataclasses.replace(limits, max_bytes=MAX_INLINE_BYTES)
        self.reference_limits = dataclasses.replace(limits, max_bytes=MAX_REFERENCE_BYTES)

    def rgb(self, image: dict[str, Any]) -> np.ndarray:
        has_bytes, has_object = "Bytes" in image, "S3Object" in image
        if has_bytes == has_object:
            raise errors.InvalidParameter("Image needs exactly one of Bytes and S3Object")
        if has_bytes:
            return load_image(image["Bytes"], self.inline_limits)
        reference = image["S3Object"]
        if "Bucket" not in reference or "Name" not in reference:
            raise errors.InvalidS3Object("S3Object needs a Bucket and a Name")
        data = self.objects.read(reference["Bucket"], reference["Name"], MAX_REFERENCE_BYTES)
        return load_image(data, self.reference_limits)
