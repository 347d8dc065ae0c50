"""The one exception tree of facewise's core.

    FacewiseError
    ├── InvalidParameterError     a value is out of range, of the wrong type, or inconsistent
    ├── InvalidImageFormatError   the bytes are not a JPEG or PNG facewise can decode
    ├── ImageTooLargeError        the image exceeds the byte or pixel budget
    └── ModelError                a model file is missing or fails its checksum (our fault)

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


class ModelError(FacewiseError, RuntimeError):
    """A model pack is missing, damaged, or fails its checksum."""
