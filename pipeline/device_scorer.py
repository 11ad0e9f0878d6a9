"""Device scorers: bit-exact Python mirrors of the C runtime's scoring, one class per detector kind.

Integer score domain (what the device computes)
-----------------------------------------------
* autoencoder: per window ``S = sum_i d_i**2`` with ``d_i = (y_i - zp_out) -
  requant(q_i - zp_in)`` (the input requantised onto the output grid with the
  TFLite fixed-point multiplier). Float equivalent: ``S * s_out**2 / dim`` is the
  mean squared reconstruction error. Clip score = mean of ``S``; anomalous when
  ``sum(S) > threshold_int * n_windows`` (exact integers).
* k-means: per window ``D = sqrtf(min_c sum_i (q_i - c_i)**2)`` (float32),
  summed in float64; ``D * s_in`` is the distance in standardised units.
  Anomalous when ``sum(D) > threshold_real * n_windows``.

The thresholds are the bundle's float threshold converted into these units.
Each scorer class also owns what its kind adds to an export: export.json's
``device`` fields, ``device_tables.npz``, the model files and its part of the
C tables. Adding a detector kind means adding one class to :data:`SCORERS`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from errors import FaultsynthError
from pipeline.export_files import FLOAT_NAME, INT8_NAME, TABLES_NAME, read_export_json
from pipeline.int8_graph import (input_quant_tables, multiply_by_quantized_multiplier, operator_names,
                                 quantize_inputs, quantize_multiplier, read_int8_graph, run_dense_int8,
                                 standardise)
from pipeline.streaming import AlarmRule, alarm_states

#: Quantisation range of the k-means input grid, in standard deviations of the
#: representative data's largest |standardised value| (headroom for anomalies).
KMEANS_RANGE_HEADROOM = 2.0


@dataclass
class DeviceScorer:
    """What every device scorer has: the input quantisation, score unit and alarm rule.

    Attributes
    ----------
    gain, bias : ndarray, shape (dim,), float32
        Per-feature input quantisation (standardisation folded in).
    score_unit : float
        Multiply a device clip score by it to get the float-domain score.
    alarm : pipeline.streaming.AlarmRule
        The streaming N-of-M alarm over per-window threshold exceedances.
    """

    #: Detector kind as export.json's ``detector`` names it.
    kind: ClassVar[str] = ""
    #: export.json's ``device.score_domain``.
    score_domain: ClassVar[str] = ""

    gain: np.ndarray
    bias: np.ndarray
    score_unit: float = 1.0
    alarm: AlarmRule = field(default_factory=AlarmRule)

    # ------------------------------------------------------------ per kind

    @classmethod
    def fits(cls, detector) -> bool:
        """Whether ``detector`` is this kind's fitted detector."""
        raise NotImplementedError

    @classmethod
    def export_model(cls, detector, representative: np.ndarray, out_dir: Path) -> tuple[dict, bytes | None]:
        """Write this kind's model files into ``out_dir``; (export.json ``models``, int8 .tflite or None)."""
        raise NotImplementedError

    @classmethod
    def from_detector(cls, detector, representative: np.ndarray, *, threshold: float,
                      int8_bytes: bytes | None = None) -> "DeviceScorer":
        """The scorer of a fitted detector (see :func:`build_scorer`)."""
        raise NotImplementedError

    @classmethod
    def from_export(cls, export_dir: Path, device: dict, tables, **common) -> "DeviceScorer":
        """The scorer of an export folder: export.json's ``device`` dict, the npz tables, ``common`` fields."""
        raise NotImplementedError

    @staticmethod
    def decode_sum(bits: int) -> float:
        """The C runtime's clip score sum, printed as 64 hex bits, in the integer score domain."""
        raise NotImplementedError

    def window_scores(self, x: np.ndarray, *, outputs: np.ndarray | None = None) -> np.ndarray:
        """Integer per-window scores of raw feature vectors (n, dim), int64 (n,)."""
        raise NotImplementedError

    def clip_result(self, window_scores: np.ndarray) -> tuple[float, bool]:
        """(clip score in the integer domain, anomalous) exactly as the C runtime."""
        raise NotImplementedError

    def window_flags(self, window_scores: np.ndarray) -> np.ndarray:
        """Per-window threshold exceedance (bool, shape (n_windows,)), as the C runtime flags windows."""
        raise NotImplementedError

    @property
    def device_threshold(self) -> float:
        """The threshold in the device's score domain (export.json ``threshold_int8``)."""
        raise NotImplementedError

    def decision_threshold(self, threshold: float) -> float:
        """Threshold on ``clip score * score_unit`` that reproduces the device decision (bundle threshold given)."""
        raise NotImplementedError

    def interpreter_outputs(self, x: np.ndarray) -> np.ndarray | None:
        """Model outputs of raw feature vectors (n, dim) from the TFLM interpreter; None without a model."""
        return None

    def interpreter_check(self, clips: Sequence[np.ndarray]) -> dict | None:
        """export.json ``interpreters``: the model in TFLM and LiteRT against the mirror; None without a model."""
        return None

    def c_tables(self) -> tuple[dict, str, list[str]]:
        """This kind's fs_params.h #defines, extern declarations (text) and fs_params.c arrays."""
        raise NotImplementedError

    # ------------------------------------------------------------ common

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Raw feature vectors (n, dim) float32 -> int8 model inputs."""
        return quantize_inputs(x, self.gain, self.bias)

    def tables(self) -> dict[str, np.ndarray]:
        """Arrays of ``device_tables.npz``."""
        return {"gain": self.gain, "bias": self.bias}

    def device_fields(self) -> dict:
        """export.json ``device`` fields (without the alarm); every kind's keys, None where not its own."""
        return {"score_unit": self.score_unit, "threshold_int": None, "threshold_real": None, "in_to_out": None,
                "score_domain": self.score_domain}

    def alarm_states(self, window_scores: np.ndarray) -> np.ndarray:
        """The N-of-M alarm's state after each window (bool), as the C runtime streams it."""
        return alarm_states(self.window_flags(window_scores), self.alarm)

    def score_clip(self, x: np.ndarray) -> tuple[float, bool]:
        """Clip score and decision from the clip's raw feature vectors (n, dim)."""
        return self.clip_result(self.window_scores(x))


@dataclass
class AutoencoderScorer(DeviceScorer):
    """The int8 dense autoencoder: window score = sum of squared output-grid errors.

    Attributes
    ----------
    graph : pipeline.int8_graph.Int8Graph
    in_to_out : (multiplier, shift) putting an input on the output grid
    threshold_int : int
    model_bytes : bytes
        The int8 .tflite.
    score_unit : ``s_out**2 / dim``
    """

    kind: ClassVar[str] = "autoencoder"
    score_domain: ClassVar[str] = "sum over the window of squared int8 output-grid errors; clip = mean"

    graph: Any = None
    in_to_out: tuple[int, int] = (0, 0)
    threshold_int: int = 0
    model_bytes: bytes = b""

    @classmethod
    def fits(cls, detector) -> bool:
        return hasattr(detector, "model_")

    @classmethod
    def export_model(cls, detector, representative: np.ndarray, out_dir: Path) -> tuple[dict, bytes | None]:
        from pipeline.interpreters import tflm_arena_bytes
        from pipeline.tflite_convert import convert_autoencoder

        float_bytes, int8_bytes = convert_autoencoder(detector, representative)
        (out_dir / FLOAT_NAME).write_bytes(float_bytes)
        (out_dir / INT8_NAME).write_bytes(int8_bytes)
        arena = tflm_arena_bytes(int8_bytes)
        models = {
            "float": {"file": FLOAT_NAME, "bytes": len(float_bytes), "operators": operator_names(float_bytes)},
            "int8": {"file": INT8_NAME, "bytes": len(int8_bytes), "operators": operator_names(int8_bytes),
                     "tflm_arena_bytes": arena["required"], "tflm_arena": arena,
                     "tflm_arena_note": "smallest arena with which the tflite-micro Python interpreter (x86-64) "
                                        "prepares and runs the model; 32-bit targets need no more"},
        }
        return models, int8_bytes

    @classmethod
    def from_detector(cls, detector, representative: np.ndarray, *, threshold: float,
                      int8_bytes: bytes | None = None) -> "AutoencoderScorer":
        if int8_bytes is None:
            raise FaultsynthError("the autoencoder scorer needs its int8 model")
        mean = np.asarray(detector.mean_, dtype=np.float32)
        scale = np.asarray(detector.scale_, dtype=np.float32)
        graph = read_int8_graph(int8_bytes)
        gain, bias = input_quant_tables(mean=mean, scale=scale, input_scale=graph.input_scale,
                                        input_zero_point=graph.input_zero_point)
        in_to_out = quantize_multiplier(float(graph.input_scale) / float(graph.output_scale))
        unit = float(graph.output_scale) ** 2 / mean.size
        return cls(gain=gain, bias=bias, graph=graph, in_to_out=in_to_out,
                   threshold_int=int(math.floor(threshold / unit)), score_unit=unit, model_bytes=int8_bytes)

    @classmethod
    def from_export(cls, export_dir: Path, device: dict, tables, **common) -> "AutoencoderScorer":
        model_bytes = (export_dir / INT8_NAME).read_bytes()
        return cls(**common, graph=read_int8_graph(model_bytes), model_bytes=model_bytes,
                   in_to_out=tuple(device["in_to_out"]), threshold_int=int(device["threshold_int"]))

    @staticmethod
    def decode_sum(bits: int) -> float:
        return bits - (1 << 64) if bits >= (1 << 63) else bits  # int64

    def window_scores(self, x: np.ndarray, *, outputs: np.ndarray | None = None) -> np.ndarray:
        """int64 sum of squared output-grid errors per window of raw feature vectors (n, dim).

        ``outputs`` (n, dim) int8 may be given (from TFLM/LiteRT), else the integer mirror is used.
        """
        q = self.quantize(x)
        y = run_dense_int8(self.graph, q) if outputs is None else np.asarray(outputs, np.int8)
        zi, zo = self.graph.input_zero_point, self.graph.output_zero_point
        m, s = self.in_to_out
        on_out = multiply_by_quantized_multiplier(q.astype(np.int64) - zi, m, s)
        d = (y.astype(np.int64) - zo) - on_out
        return (d * d).sum(axis=1)

    def clip_result(self, window_scores: np.ndarray) -> tuple[float, bool]:
        w = _windows(window_scores)
        total = int(w.sum())
        return total / w.size, total > self.threshold_int * w.size

    def window_flags(self, window_scores: np.ndarray) -> np.ndarray:
        return np.asarray(window_scores, dtype=np.int64) > int(self.threshold_int)

    @property
    def device_threshold(self) -> int:
        return self.threshold_int

    def decision_threshold(self, threshold: float) -> float:
        return self.threshold_int * self.score_unit

    def interpreter_outputs(self, x: np.ndarray) -> np.ndarray:
        from pipeline.interpreters import tflm_run

        return tflm_run(self.model_bytes, self.quantize(x))

    def interpreter_check(self, clips: Sequence[np.ndarray]) -> dict:
        from pipeline.interpreters import compare_interpreters

        return compare_interpreters(self, clips)

    def device_fields(self) -> dict:
        return {**super().device_fields(), "threshold_int": self.threshold_int, "in_to_out": list(self.in_to_out)}

    def c_tables(self) -> tuple[dict, str, list[str]]:
        from pipeline.c_sources import c_array, in_on_out_table

        g = self.graph
        widths = [layer.weights.shape[0] for layer in g.layers[:-1]] or [1]
        in_on_out = in_on_out_table(g.input_zero_point, *self.in_to_out)
        on_out_t = "int32_t" if int(np.abs(in_on_out).max()) > np.iinfo(np.int16).max else "int16_t"
        defs = {"FS_DETECTOR_AUTOENCODER": 1, "FS_N_LAYERS": len(g.layers), "FS_MAX_WIDTH": max(widths),
                "FS_IN_ZERO_POINT": g.input_zero_point, "FS_OUT_ZERO_POINT": g.output_zero_point,
                "FS_THRESHOLD_INT": f"((int64_t){self.threshold_int}LL)", "FS_IN_ON_OUT_T": on_out_t}
        decls = ("extern const fs_dense_layer fs_layers[FS_N_LAYERS];\n"
                 "extern const FS_IN_ON_OUT_T fs_in_on_out[256];\n")
        arrays, entries = [], []
        for i, layer in enumerate(g.layers):
            arrays.append(c_array("int8_t", f"fs_w{i}", layer.weights.reshape(-1), per_line=20,
                                  qualifiers="static const"))
            # Input offset folded into the bias: bias + in_offset * sum_i w[o, i] (exact in int32).
            folded = layer.bias.astype(np.int64) + layer.in_offset * layer.weights.astype(np.int64).sum(axis=1)
            if np.any(np.abs(folded) >= 2 ** 31):
                raise FaultsynthError("folded bias overflows int32: the int8 model is broken")
            arrays.append(c_array("int32_t", f"fs_b{i}", folded, qualifiers="static const"))
            arrays.append(c_array("int32_t", f"fs_m{i}", layer.multiplier, qualifiers="static const"))
            arrays.append(c_array("int32_t", f"fs_s{i}", layer.shift, qualifiers="static const"))
            out_dim, in_dim = layer.weights.shape
            entries.append(f"    {{{in_dim}, {out_dim}, fs_w{i}, fs_b{i}, fs_m{i}, fs_s{i}, 0, "
                           f"{layer.out_offset}, {layer.act_min}, {layer.act_max}}}")
        arrays.append("const fs_dense_layer fs_layers[FS_N_LAYERS] = {\n" + ",\n".join(entries) + "\n};\n")
        arrays.append(c_array(on_out_t, "fs_in_on_out", in_on_out, per_line=16))
        return defs, decls, arrays


@dataclass
class KMeansScorer(DeviceScorer):
    """k-means: window score = squared distance (int8 input-grid steps) to the nearest int8 centroid.

    Attributes
    ----------
    centroids : ndarray, shape (k, dim), int8
    threshold_real : float
        On the float32 distance ``sqrtf(d2)``.
    score_unit : ``s_in`` (the input grid step in standardised units)
    """

    kind: ClassVar[str] = "kmeans"
    score_domain: ClassVar[str] = "Euclidean distance in int8 input-grid steps; clip = mean"

    centroids: np.ndarray | None = None
    threshold_real: float = 0.0

    @classmethod
    def fits(cls, detector) -> bool:
        return hasattr(detector, "cluster_centers_")

    @classmethod
    def export_model(cls, detector, representative: np.ndarray, out_dir: Path) -> tuple[dict, bytes | None]:
        return {"kmeans": {"format": "C tables (int8 centroids)",
                           "n_clusters": int(np.asarray(detector.cluster_centers_).shape[0])}}, None

    @classmethod
    def from_detector(cls, detector, representative: np.ndarray, *, threshold: float,
                      int8_bytes: bytes | None = None) -> "KMeansScorer":
        mean = np.asarray(detector.mean_, dtype=np.float32)
        scale = np.asarray(detector.scale_, dtype=np.float32)
        z = standardise(detector, representative)
        centers = np.asarray(detector.cluster_centers_, dtype=np.float64)
        span = max(float(np.max(np.abs(z))) if z.size else 0.0, float(np.max(np.abs(centers))), 1e-6)
        s_in = KMEANS_RANGE_HEADROOM * span / 127.0
        gain, bias = input_quant_tables(mean=mean, scale=scale, input_scale=s_in, input_zero_point=0)
        cq = np.clip(np.floor(centers / s_in + 0.5), -128, 127).astype(np.int8)
        return cls(gain=gain, bias=bias, centroids=cq, threshold_real=float(threshold) / s_in, score_unit=s_in)

    @classmethod
    def from_export(cls, export_dir: Path, device: dict, tables, **common) -> "KMeansScorer":
        return cls(**common, centroids=tables["centroids"], threshold_real=float(device["threshold_real"]))

    @staticmethod
    def decode_sum(bits: int) -> float:
        return struct.unpack("<d", struct.pack("<Q", bits))[0]  # float64

    def window_scores(self, x: np.ndarray, *, outputs: np.ndarray | None = None) -> np.ndarray:
        """int64 squared distance (input-grid steps) to the nearest centroid per window (``outputs`` unused)."""
        q = self.quantize(x)
        d = q.astype(np.int64)[:, None, :] - self.centroids.astype(np.int64)[None, :, :]
        return (d * d).sum(axis=2).min(axis=1)

    def clip_result(self, window_scores: np.ndarray) -> tuple[float, bool]:
        w = _windows(window_scores)
        total = 0.0
        for d in np.sqrt(w.astype(np.float32)).astype(np.float32):
            total += float(d)  # sequential float64 sum, as the C loop
        return total / w.size, total > self.threshold_real * w.size

    def window_flags(self, window_scores: np.ndarray) -> np.ndarray:
        """The float32 distance ``sqrtf(d2)`` > threshold_real (compared in double, as in C)."""
        w = np.asarray(window_scores, dtype=np.int64)
        return np.sqrt(w.astype(np.float32)).astype(np.float64) > float(self.threshold_real)

    @property
    def device_threshold(self) -> float:
        return self.threshold_real

    def decision_threshold(self, threshold: float) -> float:
        return threshold

    def tables(self) -> dict[str, np.ndarray]:
        return {**super().tables(), "centroids": self.centroids}

    def device_fields(self) -> dict:
        return {**super().device_fields(), "threshold_real": self.threshold_real}

    def c_tables(self) -> tuple[dict, str, list[str]]:
        from pipeline.c_sources import c_array

        defs = {"FS_N_CLUSTERS": int(self.centroids.shape[0]), "FS_MAX_WIDTH": 1,
                "FS_THRESHOLD_REAL": repr(float(self.threshold_real))}
        return (defs, "extern const int8_t fs_centroids[FS_N_CLUSTERS * FS_DIM];\n",
                [c_array("int8_t", "fs_centroids", self.centroids.reshape(-1), per_line=20)])


#: Scorer class per detector kind, in the order a detector is matched against them.
SCORERS: dict[str, type[DeviceScorer]] = {cls.kind: cls for cls in (KMeansScorer, AutoencoderScorer)}


def _windows(window_scores: np.ndarray) -> np.ndarray:
    w = np.asarray(window_scores, dtype=np.int64)
    if w.size == 0:
        raise FaultsynthError("a clip gave no complete feature window")
    return w


def scorer_class(kind: str) -> type[DeviceScorer]:
    """The scorer class of a detector kind named in export.json."""
    try:
        return SCORERS[kind]
    except KeyError:
        raise FaultsynthError(f"unknown detector kind {kind!r}: expected one of {sorted(SCORERS)}") from None


def scorer_class_of(detector) -> type[DeviceScorer]:
    """The scorer class of a fitted detector; FaultsynthError for detectors the device cannot run."""
    for cls in SCORERS.values():
        if cls.fits(detector):
            return cls
    raise FaultsynthError(f"cannot export a {type(detector).__name__}: the device runs the autoencoder "
                          "and k-means detectors")


def detector_kind(detector) -> str:
    """"autoencoder" or "kmeans"; FaultsynthError for detectors the device cannot run."""
    return scorer_class_of(detector).kind


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
    return scorer_class_of(detector).from_detector(detector, representative, threshold=threshold,
                                                   int8_bytes=int8_bytes)


def load_scorer(export_dir: str | Path) -> DeviceScorer:
    """The device scorer of an export folder (export.json + tables + int8 model)."""
    export_dir = Path(export_dir)
    meta = read_export_json(export_dir)
    tables = np.load(export_dir / TABLES_NAME)
    device = meta["device"]
    if "alarm" not in device:
        raise FaultsynthError(f"{export_dir}: export.json has no streaming alarm rule: export the model again")
    alarm = device["alarm"]
    return scorer_class(meta["detector"]).from_export(
        export_dir, device, tables, gain=tables["gain"], bias=tables["bias"],
        score_unit=float(device["score_unit"]), alarm=AlarmRule(n=int(alarm["n"]), m=int(alarm["m"])))
