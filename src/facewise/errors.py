"""The one exception tree of facewise's core.

    FacewiseError
    ├── InvalidParameterError     a value is out of range, of the wrong type, or inconsistent
    ├── InvalidImageFormatError   the bytes are not a JPEG or PNG facewise can decode
    ├── ImageTooLargeError        the image exceeds the byte or pixel budget
    ├── InvalidS3ObjectError      an object by reference that cannot be named, found or read
    ├── InvalidPaginationTokenError  a NextToken that facewise did not issue for this listing
    ├── ResourceNotFoundError     no such collection, user or face
    ├── ResourceAlreadyExistsError  a collection of that name exists
    ├── ResourceInUseError        a stream processor, camera or data stream is in use or exists
    ├── AccessDeniedError         the caller's key may not do this (its role or a policy)
    ├── ConflictError             the request clashes with the current state (e.g. a user's faces)
    ├── IdempotentParameterMismatchError  a ClientRequestToken reused with other parameters
    ├── VideoError                the video cannot be decoded (not a video, corrupt, empty)
    │   └── VideoTooLargeError    past the video limits (size, duration, resolution)
    ├── LimitExceededError        too many jobs are waiting already
    ├── ExpiredIteratorError      a data stream's shard iterator is too old
    ├── ModelError                a model file is missing or fails its checksum (our fault)
    └── StoreError                the store is damaged or unusable (our fault)

The protocol layer maps each class to one Rekognition error name; nothing else does.
"""

from __future__ import annotations


class FacewiseError(Exception):
    """Base of every error facewise raises on purpose."""


class InvalidParameterError(FacewiseError, ValueError):
    """A parameter is missing, of the wrong type, or outside its allowed range."""


class InvalidImageFormatError(FacewiseError, ValueError):
    """The image bytes are not a supported format (JPEG or PNG) or cannot be decoded."""


class ImageTooLargeError(FacewiseError, ValueError):
    """The image is larger than the configured byte or pixel budget."""


class InvalidS3ObjectError(FacewiseError, ValueError):
    """An object by reference (S3Object) is badly named, missing or unreadable."""


class VideoError(FacewiseError, ValueError):
    """The video cannot be used: not a video, corrupt, truncated, empty or past a limit."""


class VideoTooLargeError(VideoError):
    """The video is larger, longer or of higher resolution than the limits allow."""


class LimitExceededError(FacewiseError):
    """Too many jobs are waiting already (Rekognition's LimitExceededException)."""


class ModelError(FacewiseError, RuntimeError):
    """A model pack is missing, damaged, or fails its checksum."""


class InvalidPaginationTokenError(FacewiseError, ValueError):
    """A pagination token that is malformed or was issued for another listing."""


class ResourceNotFoundError(FacewiseError, LookupError):
    """The named collection, user or face does not exist (for this account)."""


class ResourceAlreadyExistsError(FacewiseError):
    """A collection with that name already exists."""


class ResourceInUseError(FacewiseError):
    """The resource exists already, is being used by another, or is not in a state that
    allows the request (a running stream processor cannot be deleted)."""


class ExpiredIteratorError(FacewiseError):
    """A shard iterator older than its lifetime (Kinesis': 5 minutes)."""


class AccessDeniedError(FacewiseError, PermissionError):
    """The caller's key may not do this: outside its role, or closed by a collection policy."""


class ConflictError(FacewiseError):
    """The request conflicts with the current state of the resource."""


class IdempotentParameterMismatchError(FacewiseError):
    """A ClientRequestToken was reused with different parameters."""


class StoreError(FacewiseError, RuntimeError):
    """The store cannot be used: damaged, locked for too long, or from a newer facewise."""
