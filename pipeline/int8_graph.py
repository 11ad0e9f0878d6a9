"""int8 arithmetic and the int8 dense graph, exactly as the C runtime computes them.

TFLite's fixed-point requantisation (double rounding as TFLM, single rounding
as the LiteRT Python package), the dense-only graph read from a .tflite
flatbuffer, its integer forward pass, and the device's input quantisation
(standardisation folded into a per-feature float32 gain and bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from errors import FaultsynthError


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ~= multiplier * 2**(shift - 31)``.

    Returns
    -------
    (multiplier, shift) : int32 multiplier in [2**30, 2**31), shift (left if > 0)
    """
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)  # round half away
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """TFLite reference ``MultiplyByQuantizedMultiplier`` (double rounding), vectorised.

    Parameters
    ----------
    x : ndarray of int, int32 range
    multiplier, shift : int or ndarray broadcastable to x

    Returns
    -------
    ndarray, int64 (values in int32 range)
    """
    x = np.asarray(x, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    a = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # wraps like the int32 product in C
    ab = a * m
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    high = np.where(num >= 0, num >> 31, -((-num) >> 31))  # truncating division by 2**31
    high = np.where((a == -(1 << 31)) & (m == -(1 << 31)), (1 << 31) - 1, high)
    mask = (np.int64(1) << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (remainder > threshold)


def multiply_by_quantized_multiplier_single(x: np.ndarray, multiplier: np.ndarray | int,
                                            shift: np.ndarray | int) -> np.ndarray:
    """The ``TFLITE_SINGLE_ROUNDING`` variant: ``(x * m + 2**(30 - shift)) >> (31 - shift)``.

    The LiteRT Python package computes this; TFLM's reference kernels use the
    double-rounding :func:`multiply_by_quantized_multiplier`. They differ by one
    step when the exact product lies close to a rounding boundary.
    """
    x = np.asarray(x, dtype=np.int64)
    total = 31 - np.asarray(shift, dtype=np.int64)
    return (x * np.asarray(multiplier, dtype=np.int64) + (np.int64(1) << (total - 1))) >> total


@dataclass(frozen=True)
class DenseLayer:
    """One int8 FULLY_CONNECTED operator as the device runs it.

    Attributes
    ----------
    weights : ndarray, shape (out_dim, in_dim), int8
    bias : ndarray, shape (out_dim,), int32
    multiplier, shift : ndarray, shape (out_dim,), int32
    in_offset, out_offset : int
        ``-zero_point`` of the input, ``zero_point`` of the output.
    act_min, act_max : int
        Fused activation clamp (ReLU -> ``zero_point .. 127``).
    per_channel : bool
        Whether the converter produced per-channel weight scales.
    """

    weights: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    in_offset: int
    out_offset: int
    act_min: int
    act_max: int
    per_channel: bool


@dataclass(frozen=True)
class Int8Graph:
    """What the device needs from an int8 .tflite: layers and I/O quantisation."""

    layers: list
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    operators: list


def _schema():
    from pipeline.tf_import import import_tensorflow

    try:
        import_tensorflow()
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError as exc:  # pragma: no cover - tensorflow is a project dependency
        raise FaultsynthError(f"reading .tflite files needs tensorflow ({exc})") from None
    return schema


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def operator_names(model_bytes: bytes) -> list[str]:
    """Builtin operator names used by a .tflite model, in first-use order (no repeats)."""
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    names = _enum_names(schema.BuiltinOperator)
    out: list[str] = []
    for sub in model.subgraphs:
        for op in sub.operators:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
            name = names.get(builtin, f"OP_{builtin}")
            if name not in out:
                out.append(name)
    return out


def read_int8_graph(model_bytes: bytes) -> Int8Graph:
    """Parse an int8 dense-only .tflite into :class:`DenseLayer` parameters.

    Multipliers follow TFLM's FullyConnected preparation: ``double(s_in) *
    double(s_w[c]) / double(s_out)`` then :func:`quantize_multiplier`.

    Raises
    ------
    FaultsynthError
        If the graph is not a chain of int8 FULLY_CONNECTED operators.
    """
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    if len(model.subgraphs) != 1:
        raise FaultsynthError(f"expected a single-subgraph model, got {len(model.subgraphs)} subgraphs")
    sub = model.subgraphs[0]
    op_names = _enum_names(schema.BuiltinOperator)
    act_names = _enum_names(schema.ActivationFunctionType)

    def buffer(tensor_index: int, dtype) -> np.ndarray:
        t = sub.tensors[tensor_index]
        data = model.buffers[t.buffer].data
        if data is None:
            raise FaultsynthError(f"tensor {t.name!r} has no constant data: expected weights")
        return np.frombuffer(bytes(bytearray(data)), dtype=dtype).reshape(t.shape)

    def quant(tensor_index: int) -> tuple[np.ndarray, np.ndarray]:
        q = sub.tensors[tensor_index].quantization
        if q is None or q.scale is None:
            raise FaultsynthError(f"tensor {sub.tensors[tensor_index].name!r} is not quantised")
        return np.asarray(q.scale, dtype=np.float32), np.asarray(q.zeroPoint, dtype=np.int64)

    layers = []
    prev_out = sub.inputs[0]
    for op in sub.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = op_names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)))
        if name != "FULLY_CONNECTED":
            raise FaultsynthError(f"the C runtime runs dense (FULLY_CONNECTED) models only; found {name}: "
                                  "export the TinyML autoencoder (Dense + ReLU layers)")
        x_idx, w_idx, b_idx = op.inputs[0], op.inputs[1], op.inputs[2]
        y_idx = op.outputs[0]
        if x_idx != prev_out:
            raise FaultsynthError("the int8 graph is not a simple chain of dense layers")
        for idx in (x_idx, w_idx, y_idx):
            if sub.tensors[idx].type != schema.TensorType.INT8:
                raise FaultsynthError(f"tensor {sub.tensors[idx].name!r} is not int8: expected a full-integer model")
        s_x, z_x = quant(x_idx)
        s_w, z_w = quant(w_idx)
        s_y, z_y = quant(y_idx)
        if np.any(z_w != 0):
            raise FaultsynthError("weights have non-zero zero points: expected symmetric int8 weights")
        w = buffer(w_idx, np.int8)
        out_dim = w.shape[0]
        bias = buffer(b_idx, np.int32) if b_idx >= 0 else np.zeros(out_dim, np.int32)
        per_channel = s_w.size > 1
        scales_w = s_w if per_channel else np.repeat(s_w, out_dim)
        mult, shift = zip(*(quantize_multiplier(float(s_x[0]) * float(sw) / float(s_y[0])) for sw in scales_w))
        options = op.builtinOptions
        act = act_names.get(int(options.fusedActivationFunction) if options is not None else 0, "NONE")
        zp = int(z_y[0])
        if act == "NONE":
            lo, hi = -128, 127
        elif act == "RELU":
            lo, hi = max(-128, zp), 127
        elif act == "RELU6":
            lo, hi = max(-128, zp), min(127, zp + int(round(6.0 / float(s_y[0]))))
        else:
            raise FaultsynthError(f"fused activation {act} is not supported by the C runtime")
        layers.append(DenseLayer(weights=np.ascontiguousarray(w), bias=bias.astype(np.int32),
                                 multiplier=np.asarray(mult, np.int32), shift=np.asarray(shift, np.int32),
                                 in_offset=-int(z_x[0]), out_offset=zp, act_min=lo, act_max=hi,
                                 per_channel=per_channel))
        prev_out = y_idx
    if prev_out != sub.outputs[0]:
        raise FaultsynthError("the int8 graph's last dense layer is not the model output")
    s_in, z_in = quant(sub.inputs[0])
    s_out, z_out = quant(sub.outputs[0])
    return Int8Graph(layers=layers, input_scale=float(s_in[0]), input_zero_point=int(z_in[0]),
                     output_scale=float(s_out[0]), output_zero_point=int(z_out[0]),
                     operators=operator_names(model_bytes))


def run_dense_int8(graph: Int8Graph, q: np.ndarray, *, single_rounding: bool = False) -> np.ndarray:
    """Integer forward pass exactly as the C runtime does it.

    Parameters
    ----------
    q : ndarray, shape (n, dim), int8
    single_rounding : bool
        False: TFLM's double rounding (the C runtime's default). True: LiteRT's
        single rounding (the C runtime built with ``-DFS_SINGLE_ROUNDING=1``).

    Returns
    -------
    ndarray, shape (n, out_dim), int8
    """
    x = np.asarray(q, dtype=np.int64)
    for layer in graph.layers:
        acc = (x + layer.in_offset) @ layer.weights.astype(np.int64).T + layer.bias
        requant = multiply_by_quantized_multiplier_single if single_rounding else multiply_by_quantized_multiplier
        y = requant(acc, layer.multiplier, layer.shift) + layer.out_offset
        x = np.clip(y, layer.act_min, layer.act_max)
    return x.astype(np.int8)


# ---------------------------------------------------------------- input quantisation

def standardise(detector, x: np.ndarray) -> np.ndarray:
    """``(x - mean_) / scale_`` in float32."""
    mean = np.asarray(detector.mean_, dtype=np.float32)
    scale = np.asarray(detector.scale_, dtype=np.float32)
    return ((np.asarray(x, dtype=np.float32) - mean) / scale).astype(np.float32)


def input_quant_tables(*, mean: np.ndarray, scale: np.ndarray, input_scale: float,
                       input_zero_point: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature float32 ``gain`` and ``bias`` folding standardisation into quantisation."""
    mean = np.asarray(mean, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    gain = 1.0 / (scale * float(input_scale))
    bias = float(input_zero_point) - mean * gain
    return gain.astype(np.float32), bias.astype(np.float32)


def quantize_inputs(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Device input quantisation in float32: ``clamp(floor(x*gain + bias + 0.5))``; (n, dim) int8."""
    x = np.asarray(x, dtype=np.float32)
    v = np.floor(x * gain + bias + np.float32(0.5))
    return np.clip(v, -128, 127).astype(np.int8)

