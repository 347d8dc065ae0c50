"""A numpy reader for dlib's binary serialization of its 128-d face ResNet (the `.dat` file).

The file holds one `anet_type` from dlib's `dnn_face_recognition_ex.cpp`. dlib's format is not
self-describing, so the architecture is declared here (`_ARCHITECTURE`) and every layer the file
holds is checked against it: a file of any other network fails with a `ModelError`.

Byte layout (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h, loss.h, tensor.h):

- integers: a control byte (low 4 bits = byte count, 0x80 = negative), then that many
  little-endian bytes of the absolute value;
- floats: a `float_details` pair, int64 mantissa then int16 exponent (value = m * 2**e);
- strings: an integer length then the bytes; bools: ASCII '1' or '0';
- tensors (version 2): n, k, nr, nc, then n*k*nr*nc little-endian float32 (NCHW);
- networks nest: each wrapper writes its version, then its sub-network, then its own details,
  so the file reads as versions from the loss down, the input layer, then layer details from
  the input up.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facewise.errors import ModelError

_FLOAT_SPECIALS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


@dataclass(frozen=True)
class InputRGB:
    """dlib's `input_rgb_image_sized`: float = (uint8 - mean) / 256, planes R, G, B."""

    means_rgb: tuple[float, float, float]
    size_hw: tuple[int, int]


@dataclass(frozen=True)
class Conv:
    weights_oihw: np.ndarray
    bias: np.ndarray
    stride_yx: tuple[int, int]
    padding_yx: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """y = x * gamma + beta; per channel (conv mode, shapes [k]) or per element ([k, nr, nc])."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; window (0, 0) means the whole plane (`*_pool_everything`)."""

    kind: str  # "max" or "avg"
    window_hw: tuple[int, int]
    stride_yx: tuple[int, int]
    padding_yx: tuple[int, int]


@dataclass(frozen=True)
class Tag:
    """Remembers the current output under `tag_id` (dlib's tagN)."""

    tag_id: int


@dataclass(frozen=True)
class Skip:
    """Replaces the current output with the one remembered under `tag_id` (dlib's skipN)."""

    tag_id: int


@dataclass(frozen=True)
class AddPrev:
    """Adds the output remembered under `tag_id`; missing channels and pixels count as zero."""

    tag_id: int


@dataclass(frozen=True)
class FullyConnected:
    weights_in_out: np.ndarray
    bias: np.ndarray | None


Layer = Conv | Affine | Relu | Pool | Tag | Skip | AddPrev | FullyConnected


@dataclass(frozen=True)
class DlibResNet:
    """The network as read: input layer, layers from input to output, and the metric loss."""

    input: InputRGB
    layers_input_to_output: tuple[Layer, ...]
    loss_margin: float
    loss_distance_threshold: float


# ---------------------------------------------------------------- declared architecture


@dataclass(frozen=True)
class _Spec:
    """One layer of the declared network: kind plus count (filters, outputs or tag id)."""

    kind: str
    count: int = 0
    kernel: int = 0
    stride: int = 0


_RELU, _AFFINE = _Spec("relu"), _Spec("affine")


def _con(filters: int, kernel: int, stride: int) -> _Spec:
    return _Spec("con", filters, kernel, stride)


def _ares(n: int) -> list[_Spec]:
    """dlib's ares<N>: relu(x + affine(con(relu(affine(con(x)))))), x = tag1."""
    block = [_AFFINE, _con(n, 3, 1), _RELU, _AFFINE, _con(n, 3, 1)]
    return [_RELU, _Spec("add_prev", 1), *block, _Spec("tag", 1)]


def _ares_down(n: int) -> list[_Spec]:
    """dlib's ares_down<N>: as ares, with a stride-2 first con and the skip avg-pooled 2x2."""
    block = [_AFFINE, _con(n, 3, 1), _RELU, _AFFINE, _con(n, 3, 2)]
    skip = [_Spec("add_prev", 2), _Spec("avg_pool", 2, 2, 2), _Spec("skip", 1), _Spec("tag", 2)]
    return [_RELU, *skip, *block, _Spec("tag", 1)]


# anet_type of dnn_face_recognition_ex.cpp, from the output down to the layer on the input.
_ARCHITECTURE: tuple[_Spec, ...] = (
    _Spec("fc", 128),
    _Spec("avg_pool", 0, 0, 1),  # avg_pool_everything
    *_ares_down(256),
    *_ares(256) * 2, *_ares_down(256),
    *_ares(128) * 2, *_ares_down(128),
    *_ares(64) * 3, *_ares_down(64),
    *_ares(32) * 3,
    _Spec("max_pool", 0, 3, 2), _RELU, _AFFINE, _con(32, 7, 2),
)  # fmt: skip


# ---------------------------------------------------------------- byte-level primitives


def _refuse(what: str, expected: object, found: object) -> ModelError:
    return ModelError(f"not dlib's face ResNet v1: {what}: expected {expected}, found {found}")


class _Reader:
    """A cursor over the file's bytes that decodes dlib's primitive encodings."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.offset = 0

    def _take(self, n: int) -> bytes:
        if self.offset + n > len(self._data):
            raise ModelError(f"dlib file truncated: needed {n} bytes at offset {self.offset}")
        chunk = self._data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    @property
    def size(self) -> int:
        return len(self._data)

    def int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise _refuse(
                f"integer control byte at offset {self.offset - 1}", "0x00-0x88", f"0x{control:02x}"
            )
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        """A float_details pair; dlib's older ASCII float encoding is refused."""
        if self._data[self.offset : self.offset + 1] and self._data[self.offset] & 0x70:
            raise _refuse(f"float encoding at offset {self.offset}", "binary", "ASCII")
        mantissa, exponent = self.int(), self.int()
        if exponent in _FLOAT_SPECIALS:
            return _FLOAT_SPECIALS[exponent]
        return math.ldexp(float(mantissa), exponent)

    def string(self) -> str:
        length = self.int()
        if not 0 <= length <= 256:
            raise _refuse(f"string length at offset {self.offset}", "0-256", length)
        return self._take(length).decode("latin-1")

    def bool(self) -> bool:
        byte = self._take(1)
        if byte not in (b"0", b"1"):
            raise _refuse(f"bool at offset {self.offset - 1}", "b'0' or b'1'", byte)
        return byte == b"1"

    def expect_int(self, what: str, *accepted: builtins.int) -> builtins.int:
        value = self.int()
        if value not in accepted:
            raise _refuse(what, " or ".join(map(str, accepted)), value)
        return value

    def expect_string(self, what: str, expected: str) -> None:
        value = self.string()
        if value != expected:
            raise _refuse(what, repr(expected), repr(value))

    def tensor(self) -> np.ndarray:
        """A resizable_tensor (version 2) as float32 [n, k, nr, nc]."""
        self.expect_int("tensor version", 2)
        shape = tuple(self.int() for _ in range(4))
        count = math.prod(shape)
        if min(shape) < 0 or count * 4 > len(self._data) - self.offset:
            raise ModelError(f"dlib file truncated: tensor {shape} at offset {self.offset}")
        return np.frombuffer(self._take(count * 4), dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[builtins.int, builtins.int, builtins.int, builtins.int]:
        """An alias_tensor's shape (n, k, nr, nc): where a layer's weights sit in its params."""
        self.expect_int("alias_tensor version", 1)
        return (self.int(), self.int(), self.int(), self.int())


# ---------------------------------------------------------------- layer details


def _expect(what: str, expected: object, found: object) -> None:
    if expected != found:
        raise _refuse(what, expected, found)


def _read_con(r: _Reader, spec: _Spec) -> Conv:
    r.expect_string("con version", "con_4")
    params = r.tensor().reshape(-1)
    found = (r.int(), r.int(), r.int(), r.int(), r.int())  # filters, nr, nc, stride y, x
    _expect(
        "con filters, rows, cols, strides",
        (spec.count, spec.kernel, spec.kernel, spec.stride, spec.stride),
        found,
    )
    padding_yx = (r.int(), r.int())
    filter_shape, _ = r.alias_tensor(), r.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    size = math.prod(filter_shape)
    _expect("con parameter count", size + spec.count, params.size)
    weights = params[:size].reshape(filter_shape)
    return Conv(weights, params[size:].copy(), (spec.stride, spec.stride), padding_yx)


def _read_affine(r: _Reader) -> Affine:
    r.expect_string("affine version", "affine_")
    params = r.tensor().reshape(-1)
    gamma_shape, beta_shape = r.alias_tensor(), r.alias_tensor()
    per_channel = r.expect_int("affine mode (0 conv, 1 fc)", 0, 1) == 0
    _expect("affine beta shape", gamma_shape, beta_shape)
    size = math.prod(gamma_shape)
    _expect("affine parameter count", 2 * size, params.size)
    shape = gamma_shape[1:2] if per_channel else gamma_shape[1:]
    return Affine(params[:size].reshape(shape), params[size:].reshape(shape))


def _read_pool(r: _Reader, spec: _Spec) -> Pool:
    kind = spec.kind.removesuffix("_pool")
    r.expect_string(f"{spec.kind} version", f"{kind}_pool_2")
    found = (r.int(), r.int(), r.int(), r.int())  # window rows, cols, strides y, x
    _expect(f"{spec.kind} window and strides", (spec.kernel,) * 2 + (spec.stride,) * 2, found)
    padding_yx = (r.int(), r.int())
    return Pool(kind, (spec.kernel, spec.kernel), (spec.stride, spec.stride), padding_yx)


def _read_fc(r: _Reader, spec: _Spec) -> FullyConnected:
    r.expect_string("fc version", "fc_2")
    outputs, inputs = r.int(), r.int()
    _expect("fc outputs", spec.count, outputs)
    params = r.tensor().reshape(-1)
    r.alias_tensor(), r.alias_tensor()  # weights [inputs, outputs], bias [1, outputs]
    has_bias = r.expect_int("fc bias mode (0 bias, 1 none)", 0, 1) == 0
    for _ in range(4):
        r.float()
    size = inputs * outputs
    _expect("fc parameter count", size + (outputs if has_bias else 0), params.size)
    bias = params[size:].copy() if has_bias else None
    return FullyConnected(params[:size].reshape(inputs, outputs), bias)


def _read_details(r: _Reader, spec: _Spec) -> Layer:
    if spec.kind == "con":
        return _read_con(r, spec)
    if spec.kind == "affine":
        return _read_affine(r)
    if spec.kind in ("max_pool", "avg_pool"):
        return _read_pool(r, spec)
    if spec.kind == "fc":
        return _read_fc(r, spec)
    if spec.kind == "relu":
        r.expect_string("relu version", "relu_")
        return Relu()
    r.expect_string("add_prev version", "add_prev_")
    return AddPrev(spec.count)


def _read_input(r: _Reader) -> InputRGB:
    r.expect_string("input layer", "input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    return InputRGB(means, (r.int(), r.int()))


# ---------------------------------------------------------------- the network


def read_dlib_resnet(path: Path | str) -> DlibResNet:
    """Reads dlib_face_recognition_resnet_model_v1.dat; `ModelError` if it is anything else."""
    r = _Reader(Path(path).read_bytes())
    r.expect_int("add_loss_layer version", 1)
    r.expect_string("loss layer", "loss_metric_2")
    margin, threshold = r.float(), r.float()

    # Each wrapper's version, from the output down; tag and skip layers have no details.
    versions = []
    for spec in _ARCHITECTURE[:-1]:
        accepted = (1,) if spec.kind in ("tag", "skip") else (1, 2)
        versions.append(r.expect_int(f"{spec.kind} layer version", *accepted))
    versions.append(r.expect_int("add_layer over the input version", 2, 3))

    input_layer = _read_input(r)
    layers: list[Layer] = []
    for depth, (spec, version) in enumerate(zip(_ARCHITECTURE[::-1], versions[::-1], strict=True)):
        if spec.kind in ("tag", "skip"):
            layers.append(Tag(spec.count) if spec.kind == "tag" else Skip(spec.count))
            continue
        layers.append(_read_details(r, spec))
        for _ in range(3):  # setup-called, gradient-stale and output-disabled flags
            r.bool()
        r.tensor(), r.tensor()  # x_grad, cached_output (empty in a trained model)
        if depth == 0:  # the add_layer over the input layer
            r.tensor()  # grad_final
            if version == 3:
                r.int()  # sample_expansion_factor
        elif version == 2:
            r.tensor()  # params_grad
    if r.offset != r.size:
        raise _refuse("file length in bytes", r.offset, r.size)
    return DlibResNet(input_layer, tuple(layers), margin, threshold)
