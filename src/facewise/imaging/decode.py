"""Turn untrusted JPEG or PNG bytes, a file path or an array into one RGB uint8 array.

Only the header is parsed before the byte, pixel and side checks, so a hostile file is
refused before Pillow allocates its pixels. Transparent pixels are composited on white.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facewise.errors import ImageTooLargeError, InvalidImageFormatError, InvalidParameterError

__all__ = ["DEFAULT_LIMITS", "ImageLimits", "decode_image", "load_image", "require_positive_ints"]

_PILLOW_FORMATS = ("JPEG", "PNG")  # the only decoders hostile bytes ever reach
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a multi-picture JPEG (phone cameras)
_GREY_16BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)


def require_positive_ints(settings: object, *names: str) -> None:
    """InvalidParameterError unless each named field of a settings object is an int >= 1."""
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameterError(
                f"{type(settings).__name__}.{name} must be a positive int, got {value!r}"
            )


@dataclass(frozen=True)
class ImageLimits:
    """What decode_image accepts; the defaults are Amazon Rekognition's."""

    max_bytes: int = 5 * 1024 * 1024
    """Largest encoded image accepted, checked before parsing. Rekognition allows 5 MiB of
    bytes; raising it admits bigger photos at the cost of memory per request."""

    min_side_px: int = 80
    """Smallest width or height accepted. Rekognition needs 80 px a side; lowering it lets
    thumbnails through, where faces are too small to detect reliably anyway."""

    max_pixels: int = 100_000_000
    """Largest width x height decoded, checked from the header before pixels are allocated:
    the decompression-bomb budget. Decoding costs about 3 bytes per pixel (300 MB here), so
    lower it on small machines. Pillow independently refuses anything above
    2 x PIL.Image.MAX_IMAGE_PIXELS (about 179 M), so raising it past that has no effect."""

    def __post_init__(self) -> None:
        require_positive_ints(self, "max_bytes", "min_side_px", "max_pixels")
        if self.min_side_px**2 > self.max_pixels:
            raise InvalidParameterError(
                f"ImageLimits.max_pixels ({self.max_pixels:,}) must be at least "
                f"min_side_px squared ({self.min_side_px**2:,}), or no image can pass"
            )


DEFAULT_LIMITS = ImageLimits()


def decode_image(
    data: bytes | bytearray | memoryview, limits: ImageLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Decode JPEG or PNG bytes to a C-contiguous uint8 RGB array shaped (height, width, 3).

    JPEG EXIF orientation is applied (as Rekognition does), 16-bit samples are scaled to
    8 bits, and transparency is composited on white.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameterError(
            f"image data must be bytes, bytearray or memoryview, got {type(data).__name__}"
        )
    size = memoryview(data).nbytes
    if size == 0:
        raise InvalidImageFormatError("image bytes are empty")
    if size > limits.max_bytes:
        raise ImageTooLargeError(
            f"image is {size:,} bytes; the limit is {limits.max_bytes:,} bytes"
        )
    with warnings.catch_warnings():
        # Our own max_pixels check is the budget; Pillow's softer warning is noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _open_header(data) as image:
            _check_size(image.width, image.height, limits)
            try:
                image.load()
                if image.format in _JPEG_FORMATS:
                    ImageOps.exif_transpose(image, in_place=True)
                return _to_rgb_array(image)
            except _DECODE_ERRORS as exc:
                raise InvalidImageFormatError(
                    f"{image.format} image is truncated or corrupt: {exc}"
                ) from None


def load_image(
    image: str | os.PathLike[str] | bytes | bytearray | memoryview | np.ndarray,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Load a file path, encoded bytes or an array as a C-contiguous uint8 RGB array.

    Arrays must be uint8, shaped (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; a contiguous
    RGB array is returned as is, without a copy. Arrays obey min_side_px and max_pixels.
    """
    if isinstance(image, str | os.PathLike):
        return decode_image(_read_file(Path(image), limits), limits)
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_image(image, limits)
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, limits)
    raise InvalidParameterError(
        "image must be a file path, bytes or a numpy array, got " + type(image).__name__
    )


def _open_header(data: bytes | bytearray | memoryview) -> Image.Image:
    """Parse only the header; bytes that are not JPEG or PNG never reach another decoder."""
    try:
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise InvalidImageFormatError(
            f"image must be JPEG or PNG, found {_describe(bytes(data[:16]))}"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image exceeds the decompression-bomb limit: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise InvalidImageFormatError(f"image header is corrupt: {exc}") from None
    if image.format not in _JPEG_FORMATS and image.format != "PNG":
        image.close()
        raise InvalidImageFormatError(f"image must be JPEG or PNG, found {image.format}")
    return image


def _describe(head: bytes) -> str:
    """Name the format of unreadable bytes from their magic number, for error messages."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF/MP4"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            corrupt = name in _PILLOW_FORMATS
            return f"{name} with a corrupt header" if corrupt else name
    return f"unrecognised data starting {head[:8]!r}"


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} px = {pixels:,} pixels; "
            f"the limit is {limits.max_pixels:,} pixels"
        )
    if min(width, height) < limits.min_side_px:
        raise InvalidParameterError(
            f"image is {width}x{height} px; each side must be at least {limits.min_side_px} px"
        )


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    if image.mode in _GREY_16BIT_MODES:
        # Scale, don't clip: Pillow's convert("L") from I;16 saturates everything >= 255.
        grey = (np.clip(np.asarray(image), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
    if image.has_transparency_data:
        return _composite_on_white(np.asarray(image.convert("RGBA")))
    if image.mode != "RGB":
        image = image.convert("RGB")  # 1, L, P, CMYK (Adobe-inverted too), YCbCr
    return np.array(image, dtype=np.uint8)  # a writable copy, C-contiguous


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:].astype(np.uint16)
    rgb = rgba[:, :, :3].astype(np.uint16)
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _read_file(path: Path, limits: ImageLimits) -> bytes:
    try:
        if not path.is_file():
            raise InvalidParameterError(f"image file not found (or not a file): {path}")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ImageTooLargeError(
                f"image file {path} is {size:,} bytes; the limit is {limits.max_bytes:,} bytes"
            )
        with path.open("rb") as file:
            return file.read(limits.max_bytes + 1)  # decode_image refuses a file that grew
    except OSError as exc:
        raise InvalidParameterError(f"cannot read image file {path}: {exc}") from None


def _array_to_rgb(array: np.ndarray, limits: ImageLimits) -> np.ndarray:
    if array.dtype != np.uint8:
        raise InvalidParameterError(
            f"image array must have dtype uint8 (0-255), got {array.dtype}; "
            "scale and convert it first"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InvalidParameterError(
            "image array must be shaped (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, "
            f"got {array.shape}"
        )
    height, width = array.shape[:2]
    _check_size(width, height, limits)
    if array.ndim == 2:
        return np.repeat(array[:, :, np.newaxis], 3, axis=2)
    if array.shape[2] == 4:
        return _composite_on_white(array)
    return np.ascontiguousarray(array)
