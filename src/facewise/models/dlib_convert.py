"""Converts dlib's 128-d face ResNet (.dat) into an equivalent ONNX graph for onnxruntime.

Graph contract:

- input `chips`: float32 [N, 3, 150, 150], RGB planes of 0-255 pixel values, i.e. an aligned
  uint8 chip from `dlib.get_face_chip(..., size=150, padding=0.25)` cast to float and moved
  from HWC to CHW. Nothing else happens outside the graph.
- inside the graph: dlib's input normalisation, (pixel - mean_rgb) / 256 with the means read
  from the file, then the network. Each affine layer is folded into the convolution below it.
- output `descriptors`: float32 [N, 128], the raw fully-connected output that dlib's
  `compute_face_descriptor` returns (not L2-normalised).

`onnx` is needed only to convert; running the result needs only onnxruntime.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facewise.errors import ModelError
from facewise.models.dlib_serialization import (
    AddPrev,
    Affine,
    Conv,
    DlibResNet,
    FullyConnected,
    Pool,
    Relu,
    Skip,
    Tag,
    read_dlib_resnet,
)

if TYPE_CHECKING:
    import onnx

__all__ = ["DlibResNet", "build_onnx", "convert", "read_dlib_resnet"]

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"

Shape = tuple[int, int, int]  # channels, rows, columns of one sample


def _pooled(size: int, window: int, stride: int, padding: int) -> int:
    """dlib's output length for convolution and pooling: 1 + (n + 2p - w) / s."""
    if size + 2 * padding < window:
        raise ModelError(f"window {window} does not fit in {size} (+2*{padding} padding)")
    return 1 + (size + 2 * padding - window) // stride


class _GraphBuilder:
    """Accumulates nodes and initializers while tracking each tensor's per-sample shape."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self._numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes: Any) -> str:
        output = self.name(stem)
        self.nodes.append(self._helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _fold_affine(conv: Conv, affine: Affine) -> tuple[np.ndarray, np.ndarray]:
    gamma = affine.gamma.astype(np.float64)
    weights = conv.weights_oihw.astype(np.float64) * gamma[:, None, None, None]
    bias = conv.bias.astype(np.float64) * gamma + affine.beta
    return weights.astype(np.float32), bias.astype(np.float32)


def _conv(
    g: _GraphBuilder, x: str, shape: Shape, weights: np.ndarray, bias: np.ndarray, conv: Conv
) -> tuple[str, Shape]:
    out_c, in_c, kh, kw = weights.shape
    if in_c != shape[0]:
        raise ModelError(f"convolution expects {in_c} channels, its input has {shape[0]}")
    (sy, sx), (py, px) = conv.stride_yx, conv.padding_yx
    y = g.node(
        "Conv",
        [x, g.constant("conv_w", weights), g.constant("conv_b", bias)],
        "conv",
        kernel_shape=[kh, kw],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )
    return y, (out_c, _pooled(shape[1], kh, sy, py), _pooled(shape[2], kw, sx, px))


def _pool(g: _GraphBuilder, x: str, shape: Shape, pool: Pool) -> tuple[str, Shape]:
    (wh, ww), (sy, sx), (py, px) = pool.window_hw, pool.stride_yx, pool.padding_yx
    if (wh, ww) == (0, 0):  # *_pool_everything: one window over the whole plane
        op = "GlobalAveragePool" if pool.kind == "avg" else "GlobalMaxPool"
        return g.node(op, [x], "pool"), (shape[0], 1, 1)
    # dlib's window starts at out*stride - padding and ignores pixels outside the plane, which
    # is ONNX's pooling with count_include_pad=0 (average) or -inf padding (max).
    attributes: dict[str, object] = {
        "kernel_shape": [wh, ww],
        "strides": [sy, sx],
        "pads": [py, px, py, px],
    }
    if pool.kind == "avg":
        attributes["count_include_pad"] = 0
    op = "AveragePool" if pool.kind == "avg" else "MaxPool"
    out = (shape[0], _pooled(shape[1], wh, sy, py), _pooled(shape[2], ww, sx, px))
    return g.node(op, [x], "pool", **attributes), out


def _zero_pad_to(g: _GraphBuilder, x: str, shape: Shape, target: Shape) -> str:
    """Pads channels, rows and columns at the end with zeros (dlib's add of unequal tensors)."""
    if shape == target:
        return x
    pads = np.array([0, 0, 0, 0, 0, *(t - s for t, s in zip(target, shape, strict=True))])
    return g.node("Pad", [x, g.constant("pads", pads.astype(np.int64))], "pad")


def build_onnx(network: DlibResNet) -> onnx.ModelProto:
    """The ONNX graph computing the same descriptors as dlib for `network`."""
    from onnx import TensorProto, checker, helper

    g = _GraphBuilder()
    rows, cols = network.input.size_hw
    shape: Shape = (3, rows, cols)
    means = np.array(network.input.means_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.node("Sub", [INPUT_NAME, g.constant("mean_rgb", means)], "centered")
    x = g.node("Mul", [x, g.constant("scale", np.array(1 / 256, dtype=np.float32))], "scaled")

    tags: dict[int, tuple[str, Shape]] = {}
    layers = network.layers_input_to_output
    index = 0
    while index < len(layers):
        layer = layers[index]
        index += 1
        if isinstance(layer, Conv):
            weights, bias = layer.weights_oihw, layer.bias
            following = layers[index] if index < len(layers) else None
            if isinstance(following, Affine) and following.gamma.ndim == 1:
                weights, bias = _fold_affine(layer, following)
                index += 1
            x, shape = _conv(g, x, shape, weights, bias, layer)
        elif isinstance(layer, Affine):
            view = (*layer.gamma.shape, 1, 1) if layer.gamma.ndim == 1 else layer.gamma.shape
            gamma = g.constant("gamma", layer.gamma.reshape(1, *view))
            x = g.node("Mul", [x, gamma], "affine_mul")
            x = g.node("Add", [x, g.constant("beta", layer.beta.reshape(1, *view))], "affine")
        elif isinstance(layer, Relu):
            x = g.node("Relu", [x], "relu")
        elif isinstance(layer, Pool):
            x, shape = _pool(g, x, shape, layer)
        elif isinstance(layer, Tag):
            tags[layer.tag_id] = (x, shape)
        elif isinstance(layer, Skip):
            x, shape = tags[layer.tag_id]
        elif isinstance(layer, AddPrev):
            other, other_shape = tags[layer.tag_id]
            target: Shape = (
                max(shape[0], other_shape[0]),
                max(shape[1], other_shape[1]),
                max(shape[2], other_shape[2]),
            )
            left = _zero_pad_to(g, x, shape, target)
            right = _zero_pad_to(g, other, other_shape, target)
            x, shape = g.node("Add", [left, right], "add_prev"), target
        elif isinstance(layer, FullyConnected):
            inputs, outputs = layer.weights_in_out.shape
            if inputs != int(np.prod(shape)):
                raise ModelError(f"fc expects {inputs} inputs, gets {shape} = {np.prod(shape)}")
            x = g.node("Flatten", [x], "flat", axis=1)
            x = g.node("MatMul", [x, g.constant("fc_w", layer.weights_in_out)], "fc")
            if layer.bias is not None:
                x = g.node("Add", [x, g.constant("fc_b", layer.bias)], "fc_bias")
            shape = (outputs, 1, 1)
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))

    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, rows, cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", shape[0]])],
        g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facewise"
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.11
    checker.check_model(model)
    return model


def convert(dat_path: Path, onnx_path: Path) -> str:
    """Writes the ONNX model for `dat_path` to `onnx_path` atomically; returns its sha256 hex."""
    data = build_onnx(read_dlib_resnet(dat_path)).SerializeToString()
    onnx_path = Path(onnx_path)
    fd, temp = tempfile.mkstemp(prefix=onnx_path.name, suffix=".tmp", dir=onnx_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)  # mkstemp creates 0600; the model is not a secret
        os.replace(temp, onnx_path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()
