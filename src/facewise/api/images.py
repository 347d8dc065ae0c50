"""Rekognition's ``Image`` and ``S3Object`` parameters to the service's image references.

Only the shape is checked here; the service fetches and decodes (service/images.py).
"""

from __future__ import annotations

from typing import Any

from facewise.api import errors
from facewise.service.images import ImageInput, ObjectRef


def object_ref(reference: dict[str, Any]) -> ObjectRef:
    """An S3Object parameter as a reference (Bucket and Name are required here)."""
    if "Bucket" not in reference or "Name" not in reference:
        raise errors.InvalidS3Object("S3Object needs a Bucket and a Name")
    return ObjectRef(reference["Bucket"], reference["Name"], reference.get("Version"))


def image_ref(image: dict[str, Any]) -> ImageInput:
    """An Image parameter: its decoded Bytes, or a reference to its S3Object."""
    has_bytes, has_object = "Bytes" in image, "S3Object" in image
    if has_bytes == has_object:
        raise errors.InvalidParameter("Image needs exactly one of Bytes and S3Object")
    if has_bytes:
        data: bytes = image["Bytes"]
        return data
    return object_ref(image["S3Object"])
