"""Device export: int8 TensorFlow Lite model, device tables and export.json.

What is exported
----------------
* autoencoder: ``model_float.tflite`` and ``model_int8.tflite`` (full-integer,
  int8 input and output, calibrated on the bundle's standardised
  ``representative.npy``). The graph maps *standardised* feature vectors to their
  reconstruction: the standardisation (mean/scale) is **not** in the graph but
  folded into the C front end's per-feature input quantisation
  (``q = clamp(floor(x * gain + bias + 0.5), -128, 127)`` with
  ``gain = 1 / (scale * s_in)``, ``bias = zp_in - mean * gain``, float32).
* k-means: C tables (centroids quantised on the same kind of input grid); no
  TFLite graph.

Integer score domain (what the device computes, bit-exactly mirrored here)
-------------------------------------------------------------------------
* autoencoder: per window ``S = sum_i d_i**2`` with ``d_i = (y_i - zp_out) -
  requant(q_i - zp_in)`` (the input requantised onto the output grid with the
  TFLite fixed-point multiplier). Float equivalent: ``S * s_out**2 / dim`` is the
  mean squared reconstruction error. Clip score = mean of ``S``; anomalous when
  ``sum(S) > threshold_int * n_windows`` (exact integers).
* k-means: per window ``D = sqrtf(min_c sum_i (q_i - c_i)**2)`` (float32),
  summed in float64; ``D * s_in`` is the distance in standardised units.
  Anomalous when ``sum(D) > threshold_real * n_windows``.

The thresholds are the bundle's float threshold converted into these units.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from errors import FaultsynthError
from pipeline.streaming import AlarmRule, alarm_states, min_latency_s, window_flags
from pipeline.tf_import import captured_stderr

EXPORT_NAME = "export.json"
TABLES_NAME = "device_tables.npz"
FLOAT_NAME = "model_float.tflite"
INT8_NAME = "model_int8.tflite"
FORMAT_VERSION = 1
#: Feature kinds the C runtime's front end computes (firmware/src/fs_frontend.c, fs_vibration.c).
C_FEATURE_KINDS = ("log_mel", "vibration")
#: Quantisation range of the k-means input grid, in standard deviations of the
#: representative data's largest |standardised value| (headroom for anomalies).
KMEANS_RANGE_HEADROOM = 2.0


# ---------------------------------------------------------------- TFLite fixed point

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


# ---------------------------------------------------------------- flatbuffer reading

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


# ---------------------------------------------------------------- interpreters

def tflm_interpreter(model_bytes: bytes, *, arena_bytes: int | None = None):
    """A tflite-micro Python interpreter (reference kernels) for ``model_bytes``."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes or max(64 * 1024,
                                                                                     4 * len(model_bytes)))


def tflm_arena_bytes(model_bytes: bytes) -> dict[str, int]:
    """Arena the TFLM interpreter needs for the model (host build, 64-bit).

    Read from the RecordingMicroAllocator report (``print_allocations``) after
    one invoke (``total``, ``head``, ``tail``), and ``required``: the smallest
    arena with which the interpreter prepares and runs (binary search; the
    report leaves out temporary allocations). Host (64-bit) figures; on a
    32-bit MCU the structures are smaller, so these are upper bounds.

    Returns
    -------
    dict with ``total``, ``head``, ``tail``, ``required`` (bytes)
    """
    interp = tflm_interpreter(model_bytes)
    details = interp.get_input_details(0)
    interp.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
    interp.invoke()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "alloc.txt"
        with captured_stderr(log):
            interp.print_allocations()
        text = log.read_text(errors="replace")
    found = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m is None:
            raise FaultsynthError(f"could not read the TFLM arena {key} from the allocator report: {text[:200]!r}")
        found[key] = int(m.group(1))
    found["required"] = _smallest_arena(model_bytes, start=found["total"])
    return found


_PROBE = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
details = interp.get_input_details(0)
interp.set_input(np.zeros(details["shape"], dtype=details["dtype"]), 0)
interp.invoke()
"""


def _arena_works(model_path: Path, arena: int) -> bool:
    """Whether TFLM prepares and invokes the model with ``arena`` bytes (own process:
    a failed allocation can leave the interpreter library in a state that crashes later)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _PROBE, str(model_path), str(int(arena))],
                          capture_output=True, timeout=120)
    return proc.returncode == 0


def _smallest_arena(model_bytes: bytes, *, start: int) -> int:
    """Smallest arena (16-byte steps) with which TFLM prepares and invokes the model.

    The allocator report leaves out the temporary memory used while preparing
    operators, so the report's total alone can be too small.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model_bytes)
        # Bracket the answer: lo fails, hi works (probes run in their own process, so crashes are harmless).
        if _arena_works(path, start):
            lo, hi = start // 2, start
            while lo > 16 and _arena_works(path, lo):
                lo, hi = lo // 2, lo
        else:
            lo, hi = start, start + 1024
            while not _arena_works(path, hi):
                lo, hi = hi, hi * 2
                if hi > 64 * 1024 * 1024:
                    raise FaultsynthError("TFLM could not run the model with any arena up to 64 MB")
        while hi - lo > 16:
            mid = (lo + hi) // 2 // 16 * 16
            if mid <= lo:
                break
            lo, hi = (lo, mid) if _arena_works(path, mid) else (mid, hi)
    return hi


def tflm_run(model_bytes: bytes, q: np.ndarray, *, interpreter=None) -> np.ndarray:
    """Run int8 vectors (n, dim) one at a time through TFLM; returns (n, out_dim) int8."""
    interp = interpreter or tflm_interpreter(model_bytes)
    out = []
    for row in np.asarray(q, dtype=np.int8):
        interp.set_input(row[None, :], 0)
        interp.invoke()
        out.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8) if out else np.zeros((0, 0), np.int8)


def litert_run(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Run vectors (n, dim) one at a time through LiteRT (reference op resolver, no delegates)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model_bytes,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for row in np.asarray(x, dtype=inp["dtype"]):
        interp.set_tensor(inp["index"], row[None, :])
        interp.invoke()
        rows.append(interp.get_tensor(outp["index"]).reshape(-1).copy())
    return np.stack(rows)


# ---------------------------------------------------------------- conversion

def _keras_model(detector):
    model = getattr(detector, "model_", None)
    if model is None:
        raise FaultsynthError("the autoencoder detector has no fitted Keras model (model_)")
    return model


def convert_autoencoder(detector, representative: np.ndarray) -> tuple[bytes, bytes]:
    """Float and full-integer int8 .tflite of a fitted autoencoder.

    Parameters
    ----------
    detector : AutoencoderDetector
        With ``mean_``, ``scale_`` and ``model_`` (standardised x -> reconstruction).
    representative : ndarray, shape (n, dim), float32
        Raw training feature vectors (standardised here for calibration).

    Returns
    -------
    (float_bytes, int8_bytes)
    """
    from pipeline.tf_import import captured_stderr, import_tensorflow

    tf = import_tensorflow()

    model = _keras_model(detector)
    z = standardise(detector, representative)

    def rep():
        for row in z[:1000]:
            yield [row[None, :]]

    # The converter prints the traced signature (Python stdout), its calibration settings (C++, fd 2) and asks
    # for input statistics the representative dataset already gives (UserWarning): shown only on failure.
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "converter.log"
        try:
            with contextlib.redirect_stdout(io.StringIO()), captured_stderr(log), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
                float_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()
                conv = tf.lite.TFLiteConverter.from_keras_model(model)
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.representative_dataset = rep
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                conv.inference_input_type = tf.int8
                conv.inference_output_type = tf.int8
                int8_bytes = conv.convert()
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace"))
            raise
    return bytes(float_bytes), bytes(int8_bytes)


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


# ---------------------------------------------------------------- device scorer

@dataclass
class DeviceScorer:
    """Bit-exact Python mirror of the C runtime's scoring (from features on).

    Attributes
    ----------
    kind : {"autoencoder", "kmeans"}
    gain, bias : ndarray, shape (dim,), float32
    graph : Int8Graph or None
        The int8 autoencoder (None for k-means).
    centroids : ndarray, shape (k, dim), int8 or None
    in_to_out : (multiplier, shift) for the autoencoder score
    threshold_int : int (autoencoder), threshold_real : float (k-means)
    score_unit : float
        Multiply a device clip score by it to get the float-domain score
        (autoencoder: ``s_out**2 / dim``; k-means: ``s_in``).
    alarm : pipeline.streaming.AlarmRule
        The streaming N-of-M alarm over per-window threshold exceedances.
    """

    kind: str
    gain: np.ndarray
    bias: np.ndarray
    graph: Any = None
    centroids: np.ndarray | None = None
    in_to_out: tuple[int, int] = (0, 0)
    threshold_int: int = 0
    threshold_real: float = 0.0
    score_unit: float = 1.0
    model_bytes: bytes = b""
    alarm: AlarmRule = field(default_factory=AlarmRule)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Raw feature vectors (n, dim) float32 -> int8 model inputs."""
        return quantize_inputs(x, self.gain, self.bias)

    def window_scores(self, x: np.ndarray, *, outputs: np.ndarray | None = None) -> np.ndarray:
        """Integer per-window scores of raw feature vectors (n, dim).

        autoencoder: int64 sum of squared output-grid errors; ``outputs`` (n, dim)
        int8 may be given (from TFLM/LiteRT), else the integer mirror is used.
        k-means: int64 squared distance (input-grid steps) to the nearest centroid.
        """
        q = self.quantize(x)
        if self.kind == "autoencoder":
            y = run_dense_int8(self.graph, q) if outputs is None else np.asarray(outputs, np.int8)
            zi, zo = self.graph.input_zero_point, self.graph.output_zero_point
            m, s = self.in_to_out
            on_out = multiply_by_quantized_multiplier(q.astype(np.int64) - zi, m, s)
            d = (y.astype(np.int64) - zo) - on_out
            return (d * d).sum(axis=1)
        d = q.astype(np.int64)[:, None, :] - self.centroids.astype(np.int64)[None, :, :]
        return (d * d).sum(axis=2).min(axis=1)

    def clip_result(self, window_scores: np.ndarray) -> tuple[float, bool]:
        """(clip score in the integer domain, anomalous) exactly as the C runtime."""
        w = np.asarray(window_scores, dtype=np.int64)
        n = int(w.size)
        if n == 0:
            raise FaultsynthError("a clip gave no complete feature window")
        if self.kind == "autoencoder":
            total = int(w.sum())
            return total / n, total > self.threshold_int * n
        total = 0.0
        for d in np.sqrt(w.astype(np.float32)).astype(np.float32):
            total += float(d)  # sequential float64 sum, as the C loop
        return total / n, total > self.threshold_real * n

    def window_flags(self, window_scores: np.ndarray) -> np.ndarray:
        """Per-window threshold exceedance (bool), as the C runtime flags windows."""
        return window_flags(self.kind, window_scores, threshold_int=self.threshold_int,
                            threshold_real=self.threshold_real)

    def alarm_states(self, window_scores: np.ndarray) -> np.ndarray:
        """The N-of-M alarm's state after each window (bool), as the C runtime streams it."""
        return alarm_states(self.window_flags(window_scores), self.alarm)

    def score_clip(self, x: np.ndarray) -> tuple[float, bool]:
        """Clip score and decision from the clip's raw feature vectors (n, dim)."""
        return self.clip_result(self.window_scores(x))


def load_scorer(export_dir: str | Path) -> DeviceScorer:
    """The :class:`DeviceScorer` of an export folder (export.json + tables + int8 model)."""
    export_dir = Path(export_dir)
    meta = read_export_json(export_dir)
    tables = np.load(export_dir / TABLES_NAME)
    kind = meta["detector"]
    if "alarm" not in meta["device"]:
        raise FaultsynthError(f"{export_dir}: export.json has no streaming alarm rule: export the model again")
    alarm = meta["device"]["alarm"]
    scorer = DeviceScorer(kind=kind, gain=tables["gain"], bias=tables["bias"],
                          score_unit=float(meta["device"]["score_unit"]),
                          alarm=AlarmRule(n=int(alarm["n"]), m=int(alarm["m"])))
    if kind == "autoencoder":
        model_bytes = (export_dir / INT8_NAME).read_bytes()
        scorer.graph = read_int8_graph(model_bytes)
        scorer.model_bytes = model_bytes
        scorer.in_to_out = tuple(meta["device"]["in_to_out"])
        scorer.threshold_int = int(meta["device"]["threshold_int"])
    else:
        scorer.centroids = tables["centroids"]
        scorer.threshold_real = float(meta["device"]["threshold_real"])
    return scorer


def read_export_json(export_dir: str | Path) -> dict:
    """export.json of an export folder (FaultsynthError when missing or of another version)."""
    path = Path(export_dir) / EXPORT_NAME
    if not path.is_file():
        raise FaultsynthError(f"{export_dir}: no {EXPORT_NAME}: expected a folder written by `export`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FaultsynthError(f"{path} is not valid JSON ({exc}): export again") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise FaultsynthError(f"{path}: format version {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    return meta


# ---------------------------------------------------------------- building a scorer from a detector

def detector_kind(detector) -> str:
    """"autoencoder" or "kmeans"; FaultsynthError for detectors the device cannot run."""
    if hasattr(detector, "cluster_centers_"):
        return "kmeans"
    if hasattr(detector, "model_"):
        return "autoencoder"
    raise FaultsynthError(f"cannot export a {type(detector).__name__}: the device runs the autoencoder "
                          "and k-means detectors")


def check_feature_config(config) -> None:
    """Raise unless the C front end can compute ``config`` (log-mel or vibration, power-of-2 FFT, hop <= n_fft)."""
    if config.kind not in C_FEATURE_KINDS:
        raise FaultsynthError(f"the C front end computes {' and '.join(C_FEATURE_KINDS)} features; the model "
                              f"uses {config.kind!r}")
    n = int(config.n_fft)
    if n < 8 or n & (n - 1):
        raise FaultsynthError(f"the C front end needs n_fft a power of two >= 8, got {n}")
    if not 1 <= int(config.hop_length) <= n:
        raise FaultsynthError(f"the C front end needs 1 <= hop_length <= n_fft, got {config.hop_length}")


def build_scorer(detector, representative: np.ndarray, *, threshold: float,
                 int8_bytes: bytes | None = None) -> DeviceScorer:
    """Device scorer of a fitted detector (autoencoder: from its int8 .tflite).

    Parameters
    ----------
    detector : fitted detector
    representative : ndarray, shape (n, dim), float32
        Raw training vectors (k-means input grid range).
    threshold : float
        Bundle threshold (float anomaly-score domain).
    int8_bytes : bytes
        The int8 autoencoder model (required for the autoencoder).
    """
    kind = detector_kind(detector)
    mean = np.asarray(detector.mean_, dtype=np.float32)
    scale = np.asarray(detector.scale_, dtype=np.float32)
    dim = mean.size
    if kind == "autoencoder":
        if int8_bytes is None:
            raise FaultsynthError("the autoencoder scorer needs its int8 model")
        graph = read_int8_graph(int8_bytes)
        gain, bias = input_quant_tables(mean=mean, scale=scale, input_scale=graph.input_scale,
                                        input_zero_point=graph.input_zero_point)
        in_to_out = quantize_multiplier(float(graph.input_scale) / float(graph.output_scale))
        unit = float(graph.output_scale) ** 2 / dim
        return DeviceScorer(kind=kind, gain=gain, bias=bias, graph=graph, in_to_out=in_to_out,
                            threshold_int=int(math.floor(threshold / unit)), score_unit=unit,
                            model_bytes=int8_bytes)
    z = standardise(detector, representative)
    centers = np.asarray(detector.cluster_centers_, dtype=np.float64)
    span = max(float(np.max(np.abs(z))) if z.size else 0.0, float(np.max(np.abs(centers))), 1e-6)
    s_in = KMEANS_RANGE_HEADROOM * span / 127.0
    gain, bias = input_quant_tables(mean=mean, scale=scale, input_scale=s_in, input_zero_point=0)
    cq = np.clip(np.floor(centers / s_in + 0.5), -128, 127).astype(np.int8)
    return DeviceScorer(kind=kind, gain=gain, bias=bias, centroids=cq, threshold_real=float(threshold) / s_in,
                        score_unit=s_in)


# ---------------------------------------------------------------- export

def _evaluation(bundle, data: str | Path | None) -> tuple[list, list[np.ndarray], np.ndarray]:
    """Test-split records, their raw feature vectors and labels (1 = anomaly)."""
    from datasets.loaders import load_records
    from pipeline.evaluate import select_evaluation
    from pipeline.clip_features import clip_features

    if data is None:
        data = bundle.meta.get("train_summary", {}).get("data") or None
        if data is None:
            raise FaultsynthError("the bundle records no dataset: pass --data DIR for the evaluation clips")
    records = load_records(data)
    machines = {m.split("/")[0] for m in bundle.meta.get("train_summary", {}).get("machines", [])}
    if machines:
        records = [r for r in records if r.machine in machines] or records
    chosen = select_evaluation(records, train_files=bundle.train_files, train_spans=bundle.train_spans).records
    if not chosen:
        raise FaultsynthError(f"{data}: no evaluation clips")
    feats = clip_features(chosen, bundle.feature_config)
    labels = np.array([r.label == "anomaly" for r in chosen], dtype=int)
    return chosen, feats, labels


def compare_interpreters(scorer: DeviceScorer, clips: Sequence[np.ndarray]) -> dict:
    """Run every window through TFLM, LiteRT and the integer mirrors; raise unless TFLM == C mirror.

    LiteRT's Python package computes requantisation with single rounding and
    TFLM with double rounding, so they can differ by one step; the figures say
    how often, and whether clip decisions change.
    """
    q = [scorer.quantize(f) for f in clips]
    q_all = np.concatenate(q)
    y_tflm = tflm_run(scorer.model_bytes, q_all)
    y_mirror = run_dense_int8(scorer.graph, q_all)
    if not np.array_equal(y_tflm, y_mirror):
        raise FaultsynthError("the C runtime's integer arithmetic disagrees with the TFLM interpreter on this "
                              "model: export aborted")
    y_lite = litert_run(scorer.model_bytes, q_all)
    y_single = run_dense_int8(scorer.graph, q_all, single_rounding=True)
    bounds = np.cumsum([0] + [len(x) for x in q])
    same = 0
    for i, f in enumerate(clips):
        a = scorer.clip_result(scorer.window_scores(f, outputs=y_tflm[bounds[i]:bounds[i + 1]]))[1]
        b = scorer.clip_result(scorer.window_scores(f, outputs=y_lite[bounds[i]:bounds[i + 1]]))[1]
        same += int(a == b)
    return {"windows": int(q_all.shape[0]), "tflm_equals_c_runtime": True,
            "litert_equals_c_runtime_single_rounding": bool(np.array_equal(y_lite, y_single)),
            "litert_tflm_identical_outputs_fraction": float(np.mean(y_lite == y_tflm)),
            "litert_tflm_max_abs_diff": int(np.max(np.abs(y_lite.astype(np.int16) - y_tflm.astype(np.int16)))),
            "litert_tflm_clip_decisions_agree_fraction": same / max(1, len(clips)),
            "note": "TFLM (reference kernels) requantises with double rounding, the LiteRT Python package with "
                    "TFLITE_SINGLE_ROUNDING; the C runtime follows TFLM (-DFS_SINGLE_ROUNDING=1 follows LiteRT)"}


def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    from pipeline.evaluate import roc_metrics

    if labels.min(initial=1) == labels.max(initial=0):
        return {"auc": None, "pauc": None, "note": "evaluation data has one class only"}
    return roc_metrics(labels, scores)


def export_bundle(*, model_dir: str | Path, out_dir: str | Path, data: str | Path | None = None,
                  overwrite: bool = False, budget: Any = "default", alarm: AlarmRule | None = None) -> dict:
    """Export a trained bundle for devices; write OUT files and return export.json's dict.

    The export is built beside ``out_dir`` and replaces it only when complete
    (datasets.output_folder): a failed export leaves the previous one; a folder
    that holds something else is refused unless ``overwrite``.

    Parameters
    ----------
    budget : pipeline.export_budget.ExportBudget, None or "default"
        Device budget (flash, RAM, instructions per audio second, int8 AUC
        loss); "default" = :data:`pipeline.export_budget.DEFAULT_BUDGET` (the
        TinyML targets), None = no budget. A model whose estimated cost exceeds
        it is refused before anything is built; one whose int8 AUC loss exceeds
        it, once measured.
    alarm : pipeline.streaming.AlarmRule, optional
        Streaming N-of-M alarm (default 7 of 10 windows, justified in
        :mod:`pipeline.streaming`); recorded in export.json and the C tables.
    """
    from datasets.output_folder import replaced_folder
    from pipeline.export_budget import DEFAULT_BUDGET

    budget = DEFAULT_BUDGET if isinstance(budget, str) and budget == "default" else budget
    with replaced_folder(out_dir, marker=EXPORT_NAME, overwrite=overwrite) as staging:
        return _export_into(model_dir=model_dir, out_dir=staging, data=data, budget=budget,
                            alarm=AlarmRule() if alarm is None else alarm)


def _export_into(*, model_dir: str | Path, out_dir: Path, data: str | Path | None, budget: Any,
                 alarm: AlarmRule) -> dict:
    """Write every export file into the (empty) folder ``out_dir``; return export.json's dict.

    Writes ``model_float.tflite`` / ``model_int8.tflite`` (autoencoder),
    ``device_tables.npz``, ``c/`` (generated C sources, :mod:`pipeline.c_sources`),
    ``tflm/`` (TFLM application files) and ``export.json``.
    """
    from pipeline import c_sources
    from pipeline.training import REPRESENTATIVE_NAME, load_bundle

    bundle = load_bundle(model_dir)
    aggregate = getattr(bundle.detector, "aggregate", "mean")
    if aggregate != "mean":
        raise FaultsynthError(f"{model_dir}: the model pools window scores by {aggregate!r}, but the device "
                              "scorer and the C runtime pool them by the mean: choose a mean-pooled model (tune "
                              "with --budget lets only device-runnable candidates win)")
    try:
        check_feature_config(bundle.feature_config)
        frontend_problem = None
    except FaultsynthError as exc:
        frontend_problem = str(exc)
    detector = bundle.detector
    kind = detector_kind(detector)
    rep_path = Path(model_dir) / REPRESENTATIVE_NAME
    if not rep_path.is_file():
        raise FaultsynthError(f"{model_dir}: no {REPRESENTATIVE_NAME}: int8 calibration needs the training "
                              "vectors; retrain the model")
    from pipeline.device_cost import detector_spec_of, estimate_cost
    from pipeline.export_budget import check_auc_loss, check_device_cost

    # The cost model `tune` ranks candidates with, checked before anything is built; `firmware` measures.
    cost = estimate_cost(bundle.feature_config, detector_spec_of(detector))
    margins = check_device_cost(cost, budget)
    representative = np.load(rep_path).astype(np.float32)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EXPORT_NAME).unlink(missing_ok=True)

    info: dict[str, Any] = {"format_version": FORMAT_VERSION, "detector": kind,
                            "model_dir": str(Path(model_dir).resolve()),
                            "feature_config": bundle.feature_config.to_dict(),
                            "feature_dim": int(np.asarray(detector.mean_).size),
                            "threshold_float": float(bundle.threshold),
                            "standardisation": "C front end: folded into the per-feature int8 input quantisation "
                                               "(gain, bias); the TFLite graph takes standardised vectors"}
    int8_bytes = None
    if kind == "autoencoder":
        float_bytes, int8_bytes = convert_autoencoder(detector, representative)
        (out_dir / FLOAT_NAME).write_bytes(float_bytes)
        (out_dir / INT8_NAME).write_bytes(int8_bytes)
        arena = tflm_arena_bytes(int8_bytes)
        info["models"] = {
            "float": {"file": FLOAT_NAME, "bytes": len(float_bytes), "operators": operator_names(float_bytes)},
            "int8": {"file": INT8_NAME, "bytes": len(int8_bytes), "operators": operator_names(int8_bytes),
                     "tflm_arena_bytes": arena["required"], "tflm_arena": arena,
                     "tflm_arena_note": "smallest arena with which the tflite-micro Python interpreter (x86-64) "
                                        "prepares and runs the model; 32-bit targets need no more"},
        }
    else:
        info["models"] = {"kmeans": {"format": "C tables (int8 centroids)",
                                     "n_clusters": int(np.asarray(detector.cluster_centers_).shape[0])}}
    scorer = build_scorer(detector, representative, threshold=float(bundle.threshold), int8_bytes=int8_bytes)
    scorer.alarm = alarm
    tables = {"gain": scorer.gain, "bias": scorer.bias}
    if scorer.centroids is not None:
        tables["centroids"] = scorer.centroids
    np.savez(out_dir / TABLES_NAME, **tables)
    info["device"] = {"score_unit": scorer.score_unit,
                      "threshold_int": scorer.threshold_int if kind == "autoencoder" else None,
                      "threshold_real": scorer.threshold_real if kind == "kmeans" else None,
                      "in_to_out": list(scorer.in_to_out) if kind == "autoencoder" else None,
                      "score_domain": ("sum over the window of squared int8 output-grid errors; clip = mean"
                                       if kind == "autoencoder" else
                                       "Euclidean distance in int8 input-grid steps; clip = mean"),
                      "alarm": {**alarm.to_dict(),
                                "min_latency_s": min_latency_s(bundle.feature_config, alarm),
                                "rule": (f"alarm while at least {alarm.n} of the last {alarm.m} windows score "
                                         "above the threshold (per window, same score domain)"),
                                "min_latency_note": "from a fault's onset at a window boundary: one whole "
                                                    "window, then n - 1 hops"}}

    # Evaluation: float detector vs int8 device scoring on the test split.
    records, feats, labels = _evaluation(bundle, data)
    float_scores = bundle.score_features(feats)
    int8_scores = np.array([scorer.score_clip(f)[0] * scorer.score_unit for f in feats])
    if kind == "autoencoder":
        info["interpreters"] = compare_interpreters(scorer, feats)
    fm, qm = _metrics(labels, float_scores), _metrics(labels, int8_scores)
    info["evaluation"] = {
        "data": str(data) if data is not None else bundle.meta.get("train_summary", {}).get("data", ""),
        "clips": len(records), "anomalies": int(labels.sum()),
        "float": fm, "int8": qm,
        "auc_loss": (None if fm.get("auc") is None else fm["auc"] - qm["auc"]),
        "decisions_agree": float(np.mean((float_scores > bundle.threshold)
                                         == (int8_scores > scorer.threshold_int * scorer.score_unit
                                             if kind == "autoencoder" else
                                             int8_scores > bundle.threshold))),
    }
    info["threshold_int8"] = (scorer.threshold_int if kind == "autoencoder" else scorer.threshold_real)
    info["device_cost_estimate"] = cost.to_dict()
    auc_margin = check_auc_loss(info["evaluation"]["auc_loss"], budget)
    info["budget"] = None if budget is None else budget.to_dict()
    info["budget_margins"] = None if margins is None else {
        **margins, "auc_loss": auc_margin,
        "note": "budget minus the estimate (device figures) or the measured int8 AUC loss; auc_loss None when "
                "not checked (no auc_loss in the budget, or evaluation data of one class)"}
    if frontend_problem is None:
        c_files = c_sources.write_c_sources(out_dir / "c", bundle.feature_config, scorer,
                                            model_bytes=int8_bytes)
        info["c_sources"] = sorted(str(p.relative_to(out_dir)) for p in c_files)
    else:
        info["c_sources"] = None
        info["c_sources_skipped"] = f"no C runtime sources: {frontend_problem}"
        if int8_bytes is not None:
            (out_dir / "c").mkdir(exist_ok=True)
            info["model_data_sources"] = sorted(str(p.relative_to(out_dir))
                                                for p in c_sources.write_model_data(out_dir / "c", int8_bytes))
    if int8_bytes is not None:
        tflm_files = c_sources.write_tflm_app(out_dir / "tflm", operators=info["models"]["int8"]["operators"],
                                              arena_bytes=info["models"]["int8"]["tflm_arena_bytes"])
        info["tflm_app"] = sorted(str(p.relative_to(out_dir)) for p in tflm_files)
    from datasets.atomic import write_text_atomic

    # Written last: a folder without export.json is an unfinished export.
    write_text_atomic(out_dir / EXPORT_NAME, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info

