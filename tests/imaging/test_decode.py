"""decode_image / load_image on real photos and on hostile, truncated and odd inputs."""

from __future__ import annotations

import functools
import io
import struct
import tracemalloc
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageFile, features

from facewise.errors import ImageTooLargeError, InvalidImageFormatError, InvalidParameterError
from facewise.imaging.decode import DEFAULT_LIMITS, ImageLimits, decode_image, load_image
from tests.conftest import encode, grace_hopper_path

MAX_BYTES = DEFAULT_LIMITS.max_bytes


# --- test images -------------------------------------------------------------------------


@functools.cache
def astronaut() -> np.ndarray:
    """skimage's 512x512 RGB photo, read-only so no test can change it for the others."""
    image = skimage.data.astronaut()
    image.flags.writeable = False
    return image


def astronaut_as(fmt: str, mode: str = "RGB", **options: object) -> bytes:
    return encode(Image.fromarray(astronaut()).convert(mode), fmt, **options)


def png_claiming(width: int, height: int) -> bytes:
    """A valid 100x100 PNG whose IHDR (and its CRC) is patched to claim width x height."""
    png = bytearray(encode(np.zeros((100, 100), np.uint8), "PNG"))
    assert png[12:16] == b"IHDR"
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def noise_jpeg_over_limit() -> bytes:
    """A real, valid JPEG above 5 MiB: noise does not compress."""
    noise = np.random.default_rng(0).integers(0, 256, (1800, 2400, 3), dtype=np.uint8)
    data = encode(noise, "JPEG", quality=100)
    assert len(data) > MAX_BYTES
    return data


def cv2_png(array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    return encoded.tobytes()


def exif_rotated_jpeg(upright: np.ndarray, orientation: int) -> bytes:
    """Store `upright` turned the way a camera would, tagged with the EXIF orientation."""
    turns = {3: 2, 6: 1, 8: -1}[orientation]  # np.rot90 turns counter-clockwise
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, turns)))
    exif = stored.getexif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif)


def assert_rgb_uint8(array: np.ndarray, shape: tuple[int, int, int]) -> None:
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.uint8
    assert array.shape == shape
    assert array.flags.c_contiguous


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- decoding that succeeds --------------------------------------------------------------

WHITE = np.array([255, 255, 255], np.uint8)


def test_astronaut_png_is_exact() -> None:
    out = decode_image(astronaut_as("PNG"))
    assert_rgb_uint8(out, (512, 512, 3))
    np.testing.assert_array_equal(out, astronaut())
    assert out.flags.writeable


def test_astronaut_jpeg_is_close() -> None:
    out = decode_image(astronaut_as("JPEG", quality=90))
    assert_rgb_uint8(out, (512, 512, 3))
    assert mean_abs_diff(out, astronaut()) < 3.0


def test_grace_hopper_from_path_bytes_and_bytearray_agree() -> None:
    path = grace_hopper_path()
    from_path = load_image(path)
    assert_rgb_uint8(from_path, (600, 512, 3))  # portrait: height 600, width 512
    np.testing.assert_array_equal(load_image(str(path)), from_path)
    np.testing.assert_array_equal(decode_image(path.read_bytes()), from_path)
    np.testing.assert_array_equal(decode_image(bytearray(path.read_bytes())), from_path)
    np.testing.assert_array_equal(decode_image(memoryview(path.read_bytes())), from_path)
    np.testing.assert_array_equal(load_image(path.read_bytes()), from_path)
    opencv = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert mean_abs_diff(from_path, opencv) < 1.0  # an independent JPEG decoder agrees


def _grey_reference() -> np.ndarray:
    grey = np.asarray(Image.fromarray(astronaut()).convert("L"))
    return np.repeat(grey[:, :, None], 3, axis=2)


def _palette() -> Image.Image:
    return Image.fromarray(astronaut()).quantize(256)


MODE_CASES = [
    pytest.param(lambda: astronaut_as("JPEG", "L", quality=95), _grey_reference, 2.0,
                 id="grey-jpeg"),
    pytest.param(lambda: astronaut_as("PNG", "L"), _grey_reference, 0.0, id="grey-png"),
    pytest.param(lambda: astronaut_as("JPEG", "CMYK", quality=95), astronaut, 3.0,
                 id="cmyk-jpeg"),
    pytest.param(lambda: encode(_palette(), "PNG"), lambda: np.asarray(_palette().convert("RGB")),
                 0.0, id="palette-png"),
    pytest.param(lambda: astronaut_as("PNG", "RGBA"), astronaut, 0.0, id="opaque-rgba-png"),
    pytest.param(lambda: astronaut_as("PNG", "LA"), _grey_reference, 0.0, id="opaque-la-png"),
]  # fmt: skip


@pytest.mark.parametrize(("make_bytes", "make_expected", "tolerance"), MODE_CASES)
def test_modes_decode_to_rgb(
    make_bytes: Callable[[], bytes], make_expected: Callable[[], np.ndarray], tolerance: float
) -> None:
    out = decode_image(make_bytes())
    assert_rgb_uint8(out, (512, 512, 3))
    assert mean_abs_diff(out, make_expected()) <= tolerance


def test_transparent_pixels_are_composited_on_white() -> None:
    rgba = np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])
    rgba[:, :256, 3] = 0  # left half fully transparent
    rgba[:, 256:384, 3] = 128  # a half-transparent band
    out = decode_image(encode(rgba, "PNG"))
    assert_rgb_uint8(out, (512, 512, 3))
    assert (out[:, :256] == WHITE).all()
    expected_band = (astronaut()[:, 256:384].astype(int) * 128 + 255 * 127 + 127) // 255
    np.testing.assert_array_equal(out[:, 256:384], expected_band)
    np.testing.assert_array_equal(out[:, 384:], astronaut()[:, 384:])


def test_palette_png_transparent_index_becomes_white() -> None:
    palette = _palette()
    transparent_index = int(np.asarray(palette)[0, 0])
    out = decode_image(encode(palette, "PNG", transparency=transparent_index))
    hidden = np.asarray(palette) == transparent_index
    assert hidden.any()
    assert (out[hidden] == WHITE).all()
    np.testing.assert_array_equal(out[~hidden], np.asarray(palette.convert("RGB"))[~hidden])


def test_one_bit_png_is_black_and_white() -> None:
    out = decode_image(astronaut_as("PNG", "1"))
    assert_rgb_uint8(out, (512, 512, 3))
    assert set(np.unique(out)) == {0, 255}


def test_16bit_grey_png_is_scaled_not_clipped() -> None:
    gradient = np.linspace(0, 65535, 256 * 100).round().astype(np.uint16).reshape(100, 256)
    data = cv2_png(gradient)
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # what Pillow 12 opens it as
    out = decode_image(data)
    assert_rgb_uint8(out, (100, 256, 3))
    np.testing.assert_array_equal(out[:, :, 0], (gradient >> 8).astype(np.uint8))
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 2])
    assert (out == 255).mean() < 0.01  # clipping would make ~99.6 % of it white
    assert out[50, 128, 0] == 129  # mid-grey stays mid-grey


def test_16bit_rgb_png_keeps_the_high_byte() -> None:
    gradient = np.linspace(0, 65535, 256 * 100).round().astype(np.uint16).reshape(100, 256)
    rgb = np.dstack([gradient, gradient[:, ::-1], np.full_like(gradient, 30000)])
    data = cv2_png(np.ascontiguousarray(rgb[:, :, ::-1]))  # OpenCV writes BGR
    assert Image.open(io.BytesIO(data)).mode == "RGB"  # Pillow 12 reduces it to 8 bits
    out = decode_image(data)
    assert_rgb_uint8(out, (100, 256, 3))
    np.testing.assert_array_equal(out, (rgb >> 8).astype(np.uint8))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = np.ascontiguousarray(astronaut()[:, :384])  # portrait, so a turn shows
    out = decode_image(exif_rotated_jpeg(upright, orientation))
    assert_rgb_uint8(out, (512, 384, 3))
    assert mean_abs_diff(out, upright) < 3.0


def test_pillow_bomb_warning_does_not_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200_000)  # astronaut's 262,144 warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = decode_image(astronaut_as("PNG"))
    assert out.shape == (512, 512, 3)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_pillow_bomb_error_becomes_image_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 262,144 > 2 x 100,000
    with pytest.raises(ImageTooLargeError, match="262144"):
        decode_image(astronaut_as("PNG"))


# --- decoding that is refused ------------------------------------------------------------

SIX_MB = 6 * 1024 * 1024


def random_after_jpeg_marker() -> bytes:
    """6 MiB of noise behind a JPEG start-of-image marker: refused on length alone."""
    return b"\xff\xd8\xff\xe0" + np.random.default_rng(1).bytes(SIX_MB - 4)


DECODE_ERRORS = [
    pytest.param(lambda: b"", InvalidImageFormatError, ("empty",), id="empty"),
    pytest.param(lambda: "not bytes", InvalidParameterError, ("str",), id="str"),
    pytest.param(lambda: [1, 2, 3], InvalidParameterError, ("list",), id="list"),
    pytest.param(lambda: (d := astronaut_as("JPEG"))[: len(d) // 2],
                 InvalidImageFormatError, ("JPEG", "truncated"), id="truncated-jpeg"),
    pytest.param(lambda: (d := astronaut_as("PNG"))[: len(d) // 2],
                 InvalidImageFormatError, ("PNG", "truncated"), id="truncated-png"),
    pytest.param(lambda: b"\xff\xd8\xff" + b"\x00" * 200,
                 InvalidImageFormatError, ("JPEG", "corrupt"), id="corrupt-jpeg-header"),
    pytest.param(lambda: b"hello, I am a text file\n" * 10,
                 InvalidImageFormatError, ("JPEG or PNG", "b'hello, I'"), id="text"),
    pytest.param(lambda: astronaut_as("GIF"), InvalidImageFormatError, ("GIF",), id="gif"),
    pytest.param(lambda: astronaut_as("BMP"), InvalidImageFormatError, ("BMP",), id="bmp"),
    pytest.param(lambda: astronaut_as("TIFF"), InvalidImageFormatError, ("TIFF",), id="tiff"),
    pytest.param(lambda: astronaut_as("WEBP"), InvalidImageFormatError, ("WebP",), id="webp",
                 marks=pytest.mark.skipif(not features.check("webp"), reason="no WebP")),
    pytest.param(lambda: encode(np.zeros((1, 1, 3), np.uint8), "PNG"),
                 InvalidParameterError, ("1x1 px", "at least 80 px"), id="1x1-png"),
    pytest.param(lambda: encode(np.zeros((200, 79, 3), np.uint8), "PNG"),
                 InvalidParameterError, ("79x200 px", "at least 80 px"), id="79x200-png"),
    pytest.param(lambda: png_claiming(12_000, 9_000), ImageTooLargeError,
                 ("12000x9000", "108,000,000", "100,000,000"), id="claims-12000x9000"),
    pytest.param(lambda: png_claiming(30_000, 30_000), ImageTooLargeError,
                 ("900000000",), id="claims-30000x30000"),
    pytest.param(random_after_jpeg_marker, ImageTooLargeError,
                 (f"{SIX_MB:,} bytes", f"{MAX_BYTES:,} bytes"), id="6mb-random-after-soi"),
    pytest.param(noise_jpeg_over_limit, ImageTooLargeError, (f"{MAX_BYTES:,} bytes",),
                 id="6mb-valid-jpeg"),
]  # fmt: skip


@pytest.mark.parametrize(("make_data", "error", "fragments"), DECODE_ERRORS)
def test_decode_refuses(
    make_data: Callable[[], object], error: type[Exception], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error) as caught:
        decode_image(make_data())  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_bomb_is_refused_from_the_header_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A header claiming 30000x30000 (9e8 px) must not make Pillow decode or allocate."""
    loads: list[object] = []
    real_load = ImageFile.ImageFile.load

    def spy_load(self: ImageFile.ImageFile) -> object:
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    for width, height in [(30_000, 30_000), (12_000, 9_000)]:
        data = png_claiming(width, height)
        tracemalloc.start()
        try:
            with pytest.raises(ImageTooLargeError):
                decode_image(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 50 * 1024 * 1024
    assert loads == []  # tracemalloc cannot see Pillow's C buffers; this can


# --- limits ------------------------------------------------------------------------------


def test_custom_limits_apply() -> None:
    data = astronaut_as("PNG")
    with pytest.raises(ImageTooLargeError, match="1,000 bytes"):
        decode_image(data, ImageLimits(max_bytes=1_000))
    with pytest.raises(InvalidParameterError, match="at least 600 px"):
        decode_image(data, ImageLimits(min_side_px=600))
    with pytest.raises(ImageTooLargeError, match="262,144 pixels"):
        decode_image(data, ImageLimits(max_pixels=250_000))
    assert decode_image(data, ImageLimits(min_side_px=512, max_pixels=512 * 512)).shape == (
        512,
        512,
        3,
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_bytes": 0}, "max_bytes must be a positive int, got 0"),
        ({"min_side_px": -1}, "min_side_px must be a positive int, got -1"),
        ({"max_pixels": 1.5}, "max_pixels must be a positive int, got 1.5"),
        ({"max_bytes": True}, "max_bytes must be a positive int, got True"),
        ({"min_side_px": 100, "max_pixels": 9_999}, "10,000"),
    ],
)
def test_limits_are_validated(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        ImageLimits(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


# --- load_image --------------------------------------------------------------------------


def test_load_image_contiguous_rgb_array_is_returned_without_copy() -> None:
    array = np.array(astronaut())
    assert load_image(array) is array


def test_load_image_makes_strided_rgb_contiguous() -> None:
    mirrored = astronaut()[:, ::-1]
    out = load_image(mirrored)
    assert_rgb_uint8(out, (512, 512, 3))
    np.testing.assert_array_equal(out, mirrored)


@pytest.mark.parametrize(
    ("make_array", "expected"),
    [
        (lambda: _grey_reference()[:, :, 0], _grey_reference),
        (lambda: _grey_reference()[:, :, :1], _grey_reference),
        (lambda: np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)]), astronaut),
        (lambda: np.dstack([astronaut(), np.zeros((512, 512), np.uint8)]),
         lambda: np.full((512, 512, 3), 255, np.uint8)),
    ],
    ids=["grey-2d", "grey-1-channel", "opaque-rgba", "transparent-rgba"],
)  # fmt: skip
def test_load_image_arrays(
    make_array: Callable[[], np.ndarray], expected: Callable[[], np.ndarray]
) -> None:
    out = load_image(make_array())
    assert_rgb_uint8(out, (512, 512, 3))
    np.testing.assert_array_equal(out, expected())


def test_load_image_refuses_big_file_before_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\x00" * MAX_BYTES)
    with pytest.raises(ImageTooLargeError, match=f"{MAX_BYTES + 3:,} bytes"):
        load_image(big)


def test_load_image_file_written_by_pillow(tmp_path: Path) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(path)
    np.testing.assert_array_equal(load_image(path), astronaut())
    np.testing.assert_array_equal(load_image(str(path)), astronaut())


LOAD_ERRORS = [
    pytest.param(lambda tmp: tmp / "nope.jpg", InvalidParameterError, ("not found", "nope.jpg"),
                 id="missing-path"),
    pytest.param(lambda tmp: str(tmp / "nope.png"), InvalidParameterError, ("nope.png",),
                 id="missing-str"),
    pytest.param(lambda tmp: tmp, InvalidParameterError, ("not a file",), id="directory"),
    pytest.param(lambda tmp: 42, InvalidParameterError, ("int",), id="int"),
    pytest.param(lambda tmp: None, InvalidParameterError, ("NoneType",), id="none"),
    pytest.param(lambda tmp: astronaut() / 255.0, InvalidParameterError, ("uint8", "float64"),
                 id="float-array"),
    pytest.param(lambda tmp: np.ones((100, 100), bool), InvalidParameterError, ("uint8", "bool"),
                 id="bool-array"),
    pytest.param(lambda tmp: np.ones((100, 100), np.uint16), InvalidParameterError, ("uint16",),
                 id="uint16-array"),
    pytest.param(lambda tmp: np.zeros((100, 100, 2), np.uint8), InvalidParameterError,
                 ("(100, 100, 2)",), id="two-channels"),
    pytest.param(lambda tmp: np.zeros(100, np.uint8), InvalidParameterError, ("(100,)",), id="1d"),
    pytest.param(lambda tmp: np.zeros((10, 300, 3), np.uint8), InvalidParameterError,
                 ("300x10 px", "80 px"), id="tiny-array"),
    # broadcast_to allocates one pixel, so the budget is checked without 1.2 GB of memory.
    pytest.param(lambda tmp: np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20_000, 20_000, 3)),
                 ImageTooLargeError, ("20000x20000", "100,000,000"), id="huge-array"),
]  # fmt: skip


@pytest.mark.parametrize(("make_input", "error", "fragments"), LOAD_ERRORS)
def test_load_image_refuses(
    tmp_path: Path,
    make_input: Callable[[Path], object],
    error: type[Exception],
    fragments: tuple[str, ...],
) -> None:
    with pytest.raises(error) as caught:
        load_image(make_input(tmp_path))  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in str(caught.value)
