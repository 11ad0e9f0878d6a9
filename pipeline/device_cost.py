"""Analytic device cost of a front end + detector on the C runtime (firmware/), Cortex-M4.

:func:`estimate_cost` gives flash, RAM and Cortex-M4 instructions per audio
second in microseconds, from the structure of the C99 runtime, so that ``tune``
can price thousands of candidates and ``export`` reports the same numbers.
:attr:`DeviceCost.supported` says whether the runtime can run the model at all,
and :attr:`DeviceCost.reason` why not.

What the model counts (firmware/src, firmware/include/fs_runtime.h,
pipeline/c_sources.py, pipeline/firmware_build.py):

* flash = runtime and libm code (per detector, growing with the FFT size: each
  pair of FFT stages is compiled for its span) + newlib's initialised data
  (only when a libm call that may set errno is linked: sqrtf, powf) + the
  generated tables of ``fs_params.c``: periodic Hann window and FFT twiddles
  (``n_fft`` float32 each), sparse mel filterbank (three uint16 per band, one
  float32 per non-zero weight, priced by :func:`priced_mel_weights` so that
  more bands never price lower), per-feature input quantisation (gain and bias
  float32 per feature), and the model: int8 weights, int32 bias, multiplier
  and shift per output, a 36-byte descriptor per dense layer and the 256-entry
  input-on-output-grid table (autoencoder), or int8 centroids (k-means). With
  ``center=True`` a zero block of ``n_fft / 2`` float32 pads the clip end. The
  int8 ``.tflite`` (``model_data.c``) is for a TensorFlow Lite Micro build and
  is not linked into the runtime, so it is not counted; neither is a TFLM arena.
* RAM = newlib's data + the Cortex-M4 driver's buffers (1 KB sample chunk, 2 KB
  clip list) and counters + one ``fs_state`` (``frame`` and ``fft`` of
  ``n_fft`` float32, ``power`` of ``n_fft / 2 + 1`` float32, a ring of
  ``n_frames x n_mels`` float32 log-mel frames, int8 input, output and
  ping-pong activations, counters and the alarm history) + the stack
  high-water mark.
* instructions per audio second = frames per second x front end per frame
  (copying ``n_fft`` samples through the frame buffer; windowing fused with the
  bit reversal and the first stage of the complex FFT of ``n_fft / 2`` points;
  its radix-4 passes and, for an odd number of remaining stages, one radix-2
  stage, counted by :func:`fft_butterflies`; split step fused with the power
  spectrum; sparse mel; ``fs_log10`` per band) + feature vectors per second x
  (input quantisation per feature + model + score + alarm update).

Calibration: the constants below are least-squares fits to 31 builds of the
runtime (arm-none-eabi-gcc 12.2 ``-O2``, newlib, compiled as
``pipeline/firmware_build.py`` does, synthetic int8 weights) run on QEMU
``mps2-an386`` with ``-icount shift=0`` over three 2 s synthetic clips each
(``python bench/device_cost_fit.py`` builds, measures and fits them):
log-mel front ends with ``n_fft`` 256-4096, hops ``n_fft/4`` to ``n_fft``,
8-128 mels (full band, 0-500 Hz, 0-4000 Hz), 1-5 frames, ``center`` on and
off; k-means with 1-64 clusters; autoencoders from 16-32-8-32-16 to
128-128x4-8-128x4-128; vibration front ends with ``n_fft`` 256-4096 and both
envelope paths. A few constants the data cannot separate were fixed from the
disassembly (per frame 314, per moved sample 0.83, per twiddle set 30; the
power-law spectra's sqrtf/powf costs, POWF code and stack are the earlier
measurements, those paths did not change). Against those builds the estimate
is within 2.2 % of flash, 0.4 % of RAM and 1.2 % of instructions per audio
second (the autoencoder's window cost within 2.3 %). Against the README's
three measured models (``python cli.py firmware`` on the shipped fan
experiments' 2 s clips: pass ``clip_seconds=2.0``) see
``bench/device_cost_check.py``. Compiler, libm or runtime changes move these
numbers: re-measure then. The Gaussian detector has no C implementation: its
cost is an int8 quadratic form priced like dense layers (an assumption, not a
measurement).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from errors import FaultsynthError

# ---------------------------------------------------------------- calibration constants

#: Runtime, driver, startup and libm code (.text less the generated tables), bytes, per detector, with
#: n_fft = 1024. The Gaussian detector has no C scorer; it is priced with the k-means runtime.
RUNTIME_CODE_BYTES = {"autoencoder": 10928, "kmeans": 10672, "gaussian": 10672}
#: FFT code per doubling of n_fft (each pair of stages is compiled for its span), bytes.
FFT_CODE_BYTES_PER_DOUBLING = 320
#: n_fft RUNTIME_CODE_BYTES was measured at.
CODE_REFERENCE_N_FFT = 1024
#: newlib's initialised data (.data: in flash and copied to RAM), bytes, linked with the libm calls that
#: may set errno (sqrtf of the k-means score and of the vibration RMS, powf): none in a log-mel
#: autoencoder of power 2.
LIBC_DATA_BYTES = 1080
#: Code the compiler drops when n_frames == 1 (no ring-buffer index arithmetic), bytes.
SINGLE_FRAME_CODE_SAVING_BYTES = 64
#: Extra code when ``power`` is neither 1 nor 2 (newlib's powf), bytes.
POWF_CODE_BYTES = 2440
#: Extra code of the ``center=True`` end padding, bytes (besides its zero block of n_fft/2 float32).
CENTER_CODE_BYTES = 64
#: Bytes of one ``fs_dense_layer`` descriptor (2 x uint16, 4 pointers, 4 x int32).
DENSE_LAYER_DESCRIPTOR_BYTES = 36
#: Per dense-layer output: int32 bias, multiplier and shift, bytes.
DENSE_PER_OUTPUT_BYTES = 12
#: Autoencoder score: every int8 input on the output grid, 256 int16 (``fs_in_on_out``), bytes.
IN_ON_OUT_TABLE_BYTES = 512

#: Static RAM besides fs_state: the Cortex-M4 driver's 1 KB sample chunk and 2 KB clip list, SysTick
#: counter, alarm digest, window hook, alignment, bytes (measured .bss less fs_state).
DRIVER_BSS_BYTES = 3096
#: Stack high-water mark, bytes, per detector (QEMU, painted stack).
STACK_BYTES = {"autoencoder": 320, "kmeans": 276, "gaussian": 276}
#: Extra stack with ``center=True`` and with powf, bytes.
CENTER_STACK_BYTES = 24
POWF_STACK_BYTES = 20

# Instructions (Cortex-M4, Thumb-2 with FPv4-SP): front end, per spectral frame. The complex FFT of
# M = n_fft/2 points (firmware/src/fs_fft.c) runs its first stage fused with the window and the bit
# reversal, then radix-4 passes of M/4 butterflies at spans 2, 8, 32, ... (each with one twiddle set
# per index j < span), then one radix-2 stage of M/2 butterflies when log2(M) - 1 is odd.
#: Per radix-4 butterfly (4 points, 2 stages), per radix-2 butterfly of the last stage, per twiddle set.
INSTR_PER_RADIX4_BUTTERFLY = 60.27
INSTR_PER_RADIX2_BUTTERFLY = 45.96
INSTR_PER_TWIDDLE_SET = 30.0
#: Per bin of the n_fft/2-point half spectrum: copying 2 samples in, windowing them with the bit
#: reversal and the first stage, split step with |X|^2.
INSTR_PER_SPECTRUM_BIN = 20.94
#: Per sample the frame buffer moves by after a frame (memmove of n_fft - hop_length float32), beyond
#: what copying it in costs (in the per-bin term).
INSTR_PER_MOVED_SAMPLE = 0.83
#: Per non-zero mel filterbank weight (multiply-add, sparse, unrolled by four).
INSTR_PER_MEL_WEIGHT = 4.65
#: Per mel band: fs_log10, scaling, loop.
INSTR_PER_MEL_BAND = 88.9
#: Per frame: calls, ring-buffer bookkeeping, push loop.
INSTR_PER_FRAME = 314.0
#: Per spectrum bin when power == 1 (sqrtf), power == 0.5 (sqrtf + newlib powf's square-root path) and
#: any other power but 2 (sqrtf + general powf; measured 259 for power 1.5).
INSTR_PER_BIN_SQRT = 7.6
INSTR_PER_BIN_POWF_HALF = 56.0
INSTR_PER_BIN_POWF = 260.0
# Per feature vector (window).
#: Per feature: gain x + bias, floor, clamp to int8 (standardisation folded in), and the window's
#: share of the alarm update.
INSTR_PER_QUANTISED_FEATURE = 19.43
#: Autoencoder (SMLAD kernel, three rows at a time): per int8 multiply-accumulate, per dense output
#: (requantisation, clamp), per layer, per scored feature (tabulated input on the output grid, squared
#: error), per window.
INSTR_PER_MAC = 1.852
INSTR_PER_DENSE_OUTPUT = 21.23
INSTR_PER_DENSE_LAYER = 313.0
INSTR_PER_SCORED_FEATURE = 23.49
INSTR_PER_WINDOW_AUTOENCODER = 847.4
#: k-means: per centroid element (difference, square, accumulate), per centroid (compare), per window.
INSTR_PER_CENTROID_ELEMENT = 8.0
INSTR_PER_CENTROID = 11.9
INSTR_PER_WINDOW_KMEANS = 34.7
# Vibration front end (firmware/src/fs_vibration.c), per frame: complex FFTs of n_fft/2 points (priced
# with the butterfly constants above), 3 when the demodulation band is every bin but DC and Nyquist,
# else 4; fs_log10 per band (INSTR_PER_MEL_BAND); and, keyed by that "full band" flag, per bin of the
# half spectrum (moments, bit reversals, first stages, split steps, windowed power, envelope, band sums)
# and per frame.
#: Least-squares fits to 7 QEMU builds (n_fft 256-4096, 8-32 bands, both envelope paths), within 1.2 %.
VIBRATION_FFTS = {True: 3, False: 4}
INSTR_PER_VIBRATION_BIN = {True: 227.3, False: 212.0}
INSTR_PER_VIBRATION_FRAME = {True: 0.0, False: 4976.4}
#: Extra code of the vibration front end over the log-mel one, bytes; extra stack, bytes.
VIBRATION_CODE_BYTES = 640
VIBRATION_STACK_BYTES = 8
#: Gaussian (no C scorer; assumed int8 quadratic form z' P z): per precision-matrix element.
INSTR_PER_PRECISION_ELEMENT = INSTR_PER_MAC

#: Detector names the model prices, and those the C runtime runs.
DETECTOR_NAMES = ("kmeans", "gaussian", "autoencoder")
C_RUNTIME_DETECTORS = ("autoencoder", "kmeans")
#: Defaults of a spec that leaves them out (pipeline.detectors' constructor defaults).
DEFAULT_N_CLUSTERS = 16
DEFAULT_BOTTLENECK = 8
DEFAULT_HIDDEN_UNITS = (128, 128, 128, 128)
TINYML_HIDDEN_UNITS = (32,)
#: Detector parameters that do not change the device cost (accepted in a spec and ignored). BatchNorm
#: folds into the dense layers when the autoencoder is converted to int8.
_COST_FREE_PARAMS = frozenset({"epochs", "batch_size", "learning_rate", "contamination", "random_state",
                               "verbose", "n_init", "batch_norm"})
_SPEC_KEYS = frozenset({"name", "n_clusters", "hidden_units", "bottleneck", "tinyml", "aggregate", "dim"})

# FeatureConfig defaults for the fields read here (a Mapping may leave them out).
_FEATURE_DEFAULTS = {"kind": "log_mel", "sample_rate": 16000, "n_fft": 1024, "hop_length": 512, "n_mels": 128,
                     "n_frames": 5, "fmin_hz": 0.0, "fmax_hz": None, "center": True, "power": 2.0,
                     "n_envelope_bands": 16, "envelope_fmin_hz": 0.0}
#: Feature kinds the C front end computes (as pipeline.export.C_FEATURE_KINDS).
C_FRONT_END_KINDS = ("log_mel", "vibration")


# ---------------------------------------------------------------- budget

@dataclass(frozen=True)
class Budget:
    """Device budget.

    Parameters
    ----------
    flash_bytes : int
        Flash (code + constant tables + initialised data), bytes.
    ram_bytes : int
        RAM (data + bss + stack), bytes.
    instructions_per_second : float
        Cortex-M4 instructions per second of audio.
    """

    flash_bytes: int
    ram_bytes: int
    instructions_per_second: float

    def __post_init__(self) -> None:
        for name in ("flash_bytes", "ram_bytes", "instructions_per_second"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise FaultsynthError(f"budget {name} must be a number >= 0, got {value!r}")


_BYTE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
               "mib": 1024 ** 2}
_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_BUDGET_KEYS = {"flash": ("flash_bytes", _BYTE_UNITS), "ram": ("ram_bytes", _BYTE_UNITS),
                "instr": ("instructions_per_second", _COUNT_UNITS)}
_BUDGET_FORM = ("expected 'flash=SIZE,ram=SIZE,instr=COUNT', e.g. 'flash=64KB,ram=32KB,instr=8M' "
                "(SIZE in B, KB or MB with KB = 1024 bytes; COUNT instructions per audio second with "
                "k = 1e3, M = 1e6 or G = 1e9)")
_VALUE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?\s*([A-Za-z]*)\s*$")


def parse_budget(text: str) -> Budget:
    """Parse ``"flash=64KB,ram=32KB,instr=8M"`` into a :class:`Budget`.

    Parameters
    ----------
    text : str
        Comma-separated ``key=value`` for all three keys ``flash``, ``ram``
        (bytes; units B, KB/KiB = 1024, MB/MiB = 1024**2, case-insensitive)
        and ``instr`` (instructions per audio second; units k = 1e3, M = 1e6,
        G = 1e9).

    Returns
    -------
    Budget

    Raises
    ------
    FaultsynthError
        On anything else, saying the expected form.
    """
    if not isinstance(text, str) or not text.strip():
        raise FaultsynthError(f"empty device budget: {_BUDGET_FORM}")
    values: dict[str, float] = {}
    for item in text.split(","):
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in _BUDGET_KEYS:
            raise FaultsynthError(f"bad device budget item {item.strip()!r} in {text!r}: {_BUDGET_FORM}")
        name, units = _BUDGET_KEYS[key]
        if name in values:
            raise FaultsynthError(f"device budget {text!r} gives {key} twice: {_BUDGET_FORM}")
        m = _VALUE.match(raw)
        if m is None or m.group(3).lower() not in units:
            raise FaultsynthError(f"bad device budget value {raw.strip()!r} for {key} in {text!r}: {_BUDGET_FORM}")
        number = float(m.group(1)) * (10.0 ** int(m.group(2)) if m.group(2) else 1.0)
        values[name] = number * units[m.group(3).lower()]
    missing = [k for k, (name, _) in _BUDGET_KEYS.items() if name not in values]
    if missing:
        raise FaultsynthError(f"device budget {text!r} lacks {', '.join(missing)}: {_BUDGET_FORM}")
    return Budget(flash_bytes=int(math.ceil(values["flash_bytes"])), ram_bytes=int(math.ceil(values["ram_bytes"])),
                  instructions_per_second=float(values["instructions_per_second"]))


# ---------------------------------------------------------------- cost

@dataclass(frozen=True)
class DeviceCost:
    """Estimated cost of one model on the C runtime (Cortex-M4).

    Attributes
    ----------
    flash_bytes : int
        Code + constant tables + initialised data, bytes.
    ram_bytes : int
        Data + bss + stack high-water mark, bytes.
    instructions_per_second : float
        Cortex-M4 instructions per second of audio (front end + model + score).
    supported : bool
        Whether the C runtime in firmware/ can run the model (if not, the
        figures price the nearest thing it could run; see ``reason``).
    reason : str
        Why not (empty when supported).
    breakdown : dict
        Parts of each figure: ``flash`` (code, front_end_tables,
        input_quantisation, model; bytes), ``ram`` (fixed, state, stack;
        bytes), ``instructions_per_second`` (front_end; model = input
        quantisation + model + score), ``instructions_per_unit`` (per
        spectral ``frame``; per window ``window_input_quantisation`` and
        ``window_model_and_score``, what the firmware's ``@bench`` times).
    """

    flash_bytes: int
    ram_bytes: int
    instructions_per_second: float
    supported: bool
    reason: str = ""
    breakdown: Mapping[str, Mapping[str, float]] = field(default_factory=dict, compare=False, repr=False)

    def within(self, budget: Budget) -> tuple[bool, list[str]]:
        """Whether flash, RAM and instructions are each within ``budget``.

        Only the three figures are compared; check :attr:`supported` too before
        putting a model on the device.

        Returns
        -------
        (bool, list of str)
            True and ``[]`` when all fit, else False and one message per figure over budget.
        """
        violations = []
        if self.flash_bytes > budget.flash_bytes:
            violations.append(f"flash {self.flash_bytes:,} B > budget {int(budget.flash_bytes):,} B")
        if self.ram_bytes > budget.ram_bytes:
            violations.append(f"RAM {self.ram_bytes:,} B > budget {int(budget.ram_bytes):,} B")
        if self.instructions_per_second > budget.instructions_per_second:
            violations.append(f"instructions {self.instructions_per_second / 1e6:.2f} M per audio second > "
                              f"budget {budget.instructions_per_second / 1e6:.2f} M")
        return not violations, violations

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (every field, and what the figures are)."""
        return {"flash_bytes": int(self.flash_bytes), "ram_bytes": int(self.ram_bytes),
                "instructions_per_second": float(self.instructions_per_second), "supported": bool(self.supported),
                "reason": self.reason, "breakdown": {k: dict(v) for k, v in self.breakdown.items()},
                "method": "analytic estimate (pipeline/device_cost.py), calibrated on QEMU mps2-an386 "
                          "Cortex-M4 builds of firmware/"}


def _feature_fields(config: Any) -> dict[str, Any]:
    """The fields of ``_FEATURE_DEFAULTS`` from a FeatureConfig-like object or a Mapping."""
    if isinstance(config, Mapping):
        return {name: config.get(name, default) for name, default in _FEATURE_DEFAULTS.items()}
    return {name: getattr(config, name, default) for name, default in _FEATURE_DEFAULTS.items()}


def _feature_dim(config: Any, kind: str, n_mels: int, n_frames: int, n_envelope_bands: int) -> int:
    """Values per feature vector: ``FeatureConfig.dim`` where the kind defines it, else n_mels x n_frames."""
    if kind == "vibration":
        return (n_mels + n_envelope_bands + 3) * n_frames
    if kind != "log_mel" and not isinstance(config, Mapping):
        try:
            return int(config.dim)
        except Exception:  # noqa: BLE001 - a kind this module does not know: price it as log-mel
            pass
    return n_mels * n_frames


@lru_cache(maxsize=65536)
def mel_nonzero_weights(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float | None) -> int:
    """Weights the sparse mel filterbank of ``fs_params.c`` stores (``FS_MEL_NNZ``).

    Band ``i`` keeps the FFT bins strictly between mel points ``i`` and ``i + 2``
    (the non-zero range of :func:`pipeline.features.mel_filterbank`, same
    arithmetic), the count ``pipeline.c_sources.mel_sparse`` stores, without
    building (or evicting from its cache) the matrix.
    """
    import numpy as np

    from pipeline.features import hz_to_mel, mel_to_hz

    fmax = sample_rate / 2.0 if fmax_hz is None else fmax_hz
    bins_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    points_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax), n_mels + 2))
    first = np.searchsorted(bins_hz, points_hz[:-2], side="right")  # first bin > point i
    stop = np.searchsorted(bins_hz, points_hz[2:], side="left")  # first bin >= point i + 2
    return int(np.maximum(stop - first, 0).sum())


@lru_cache(maxsize=4096)
def priced_mel_weights(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float | None) -> int:
    """Mel weights the cost model prices: the most any filterbank of 1 .. ``n_mels`` bands over the band stores.

    Equal to :func:`mel_nonzero_weights` except just after band layouts whose
    mel points fall on FFT bins (bins on a point belong to one band instead of
    two, e.g. 31 bands over 0-500 Hz at 15.625 Hz per bin), where the firmware
    stores a few weights fewer than with one band less; pricing the running
    maximum keeps more bands from ever pricing lower.
    """
    return max(mel_nonzero_weights(sample_rate, n_fft, bands, fmin_hz, fmax_hz) for bands in range(1, n_mels + 1))


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


@lru_cache(maxsize=4096)
def envelope_full_band(sample_rate: int, n_fft: int, envelope_fmin_hz: float, fmax_hz: float | None) -> bool:
    """Whether the vibration front end demodulates every FFT bin but DC and Nyquist (``FS_ENV_FULL``)."""
    from types import SimpleNamespace

    from pipeline.vibration_features import envelope_bins

    kept = envelope_bins(SimpleNamespace(sample_rate=sample_rate, n_fft=n_fft, envelope_fmin_hz=envelope_fmin_hz,
                                         fmax_hz=fmax_hz))
    return kept.size == n_fft // 2 - 1


def fft_butterflies(n_fft: int) -> tuple[int, int, int]:
    """(radix-4 butterflies, twiddle sets, radix-2 butterflies) of the complex FFT of the real FFT of n_fft.

    firmware/src/fs_fft.c on M = n_fft/2 points (M rounded down to a power of two for sizes the
    runtime refuses but the model still prices): after the first stage, radix-4 passes at spans
    h = 2, 8, 32, ... while 4 h <= M (M/4 butterflies and h twiddle sets each), and a radix-2 stage of
    M/2 butterflies when one stage is left over.
    """
    m = 1 << max(int(n_fft) // 2, 1).bit_length() - 1
    h, radix4, sets = 2, 0, 0
    while 4 * h <= m:
        radix4 += m // 4
        sets += h
        h *= 4
    return radix4, sets, (m // 2 if h < m else 0)


def fft_instructions(n_fft: int) -> float:
    """Cortex-M4 instructions of the butterfly passes after the first stage, per complex FFT of n_fft/2 points."""
    radix4, sets, radix2 = fft_butterflies(n_fft)
    return INSTR_PER_RADIX4_BUTTERFLY * radix4 + INSTR_PER_TWIDDLE_SET * sets + INSTR_PER_RADIX2_BUTTERFLY * radix2


def state_bytes(n_fft: int, dim: int, max_width: int, *, vibration: bool = False) -> int:
    """``sizeof(fs_state)`` on a 32-bit target (firmware/include/fs_runtime.h), bytes."""
    spectrum = n_fft if vibration else n_fft // 2 + 1  # aux (vibration) or power (log-mel)
    off = 4 * (2 * n_fft + spectrum + dim)  # frame, fft, aux or power, feature ring (float32)
    off += 2 * dim + 2 * max_width  # qin, qout, act[2] (int8)
    off = _align(off, 4) + 36  # filled, since_hop, n_frames_seen, n_windows, five alarm words
    return _align(_align(off, 8) + 16, 8)  # sum_int, sum_real


def _spec_fields(spec: Mapping[str, Any]) -> tuple[str, int, tuple[int, ...], int, str, int | None]:
    """Validated (name, n_clusters, hidden_units, bottleneck, aggregate, dim or None) of a detector spec."""
    if not isinstance(spec, Mapping):
        raise FaultsynthError(f"detector spec must be a dict with 'name', got {type(spec).__name__}")
    unknown = sorted(set(spec) - _SPEC_KEYS - _COST_FREE_PARAMS)
    if unknown:
        raise FaultsynthError(f"unknown detector spec keys {unknown}: expected some of {sorted(_SPEC_KEYS)}")
    name = spec.get("name")
    if name not in DETECTOR_NAMES:
        raise FaultsynthError(f"detector spec name must be one of {DETECTOR_NAMES}, got {name!r}")

    def positive(key: str, value: Any) -> int:
        try:
            number = operator.index(value)  # int or numpy integer, not float or bool
        except TypeError:
            number = 0
        if isinstance(value, bool) or number < 1:
            raise FaultsynthError(f"detector spec {key} must be an integer >= 1, got {value!r}")
        return number

    n_clusters = positive("n_clusters", spec.get("n_clusters", DEFAULT_N_CLUSTERS))
    default_hidden = TINYML_HIDDEN_UNITS if spec.get("tinyml") else DEFAULT_HIDDEN_UNITS
    hidden = spec.get("hidden_units", default_hidden)
    if isinstance(hidden, (int, str)) or not hasattr(hidden, "__iter__"):
        raise FaultsynthError(f"detector spec hidden_units must be a sequence of integers, got {hidden!r}")
    hidden = tuple(positive("hidden_units", u) for u in hidden)
    bottleneck = positive("bottleneck", spec.get("bottleneck", DEFAULT_BOTTLENECK))
    aggregate = spec.get("aggregate", "mean")
    if not isinstance(aggregate, str):
        raise FaultsynthError(f"detector spec aggregate must be a string, got {aggregate!r}")
    dim = None if spec.get("dim") is None else positive("dim", spec["dim"])
    return name, n_clusters, hidden, bottleneck, aggregate, dim


def _unsupported_front_end(kind: str, n_fft: int, hop: int) -> list[str]:
    """Reasons the C front end cannot compute the features (as pipeline.export.check_feature_config)."""
    if kind not in C_FRONT_END_KINDS:
        return [f"the C front end computes {' and '.join(C_FRONT_END_KINDS)} features only (feature kind {kind!r})"]
    reasons = []
    if n_fft < 8 or n_fft & (n_fft - 1):
        reasons.append(f"the C front end needs n_fft a power of two >= 8 (n_fft {n_fft})")
    if not 1 <= hop <= n_fft:
        reasons.append(f"the C front end needs 1 <= hop_length <= n_fft (hop_length {hop})")
    return reasons


def estimate_cost(feature_config: Any, detector_spec: Mapping[str, Any], *,
                  clip_seconds: float | None = None) -> DeviceCost:
    """Flash, RAM and Cortex-M4 instructions per audio second of a model on the C runtime.

    Parameters
    ----------
    feature_config : pipeline.features.FeatureConfig or Mapping
        Front end (``kind``, ``sample_rate`` Hz, ``n_fft``, ``hop_length``,
        ``n_mels``, ``n_frames``, ``fmin_hz``/``fmax_hz`` Hz, ``center``,
        ``power``); a Mapping may leave fields at FeatureConfig's defaults.
    detector_spec : Mapping
        ``{"name": "kmeans" | "gaussian" | "autoencoder", "n_clusters": int,
        "hidden_units": tuple of int (encoder widths; the decoder mirrors them),
        "bottleneck": int, "tinyml": bool, "aggregate": str, "dim": int}``; missing keys
        take the detectors' defaults (k-means 16 clusters; autoencoder 128 x 4
        hidden, or (32,) with ``tinyml``, bottleneck 8; aggregate "mean").
        Other detector parameters (epochs, batch_norm, ...) are accepted and do
        not change the cost (BatchNorm folds into the dense layers on export);
        see :func:`detector_spec_of`. ``dim`` (optional) must equal the
        feature vector length.
    clip_seconds : float, optional
        None (default): steady-state streaming, ``sample_rate / hop_length``
        frames and feature vectors per second. A length in seconds: count the
        frames and vectors the runtime computes on clips of that length (as
        ``python cli.py firmware`` measures; fewer vectors than frames when
        ``n_frames > 1``).

    Returns
    -------
    DeviceCost
        Always priced, also when unsupported (``supported=False``, ``reason``
        saying why; kinds other than log-mel are priced with the log-mel front
        end of the same frames, a lower bound).

    Raises
    ------
    FaultsynthError
        On a malformed spec or non-positive sizes.
    """
    name, n_clusters, hidden, bottleneck, aggregate, spec_dim = _spec_fields(detector_spec)
    f = _feature_fields(feature_config)
    kind = str(f["kind"])
    sample_rate, n_fft, hop = int(f["sample_rate"]), int(f["n_fft"]), int(f["hop_length"])
    n_mels, n_frames = int(f["n_mels"]), int(f["n_frames"])
    if min(sample_rate, n_fft, hop, n_mels, n_frames) < 1:
        raise FaultsynthError(f"feature sizes must be >= 1: sample_rate {sample_rate}, n_fft {n_fft}, "
                              f"hop_length {hop}, n_mels {n_mels}, n_frames {n_frames}")
    fmax = f["fmax_hz"]
    center, power = bool(f["center"]), float(f["power"])
    vibration = kind == "vibration"
    n_env = int(f["n_envelope_bands"])
    dim = _feature_dim(feature_config, kind, n_mels, n_frames, n_env)
    if spec_dim is not None and spec_dim != dim:
        raise FaultsynthError(f"the detector takes {spec_dim} values per vector but the feature config gives {dim}")

    reasons = _unsupported_front_end(kind, n_fft, hop)
    if name not in C_RUNTIME_DETECTORS:
        reasons.append(f"the C runtime runs the autoencoder and k-means detectors only (not {name!r})")
    if aggregate != "mean":
        reasons.append(f"the C runtime aggregates window scores by the mean only (aggregate {aggregate!r})")

    # -- model shape
    if name == "autoencoder":
        widths = (dim, *hidden, bottleneck, *reversed(hidden), dim)
        pairs = tuple(zip(widths[:-1], widths[1:]))
        macs = sum(a * b for a, b in pairs)
        outputs = sum(widths[1:])
        model_flash = (sum(_align(a * b, 4) for a, b in pairs) + DENSE_PER_OUTPUT_BYTES * outputs
                       + DENSE_LAYER_DESCRIPTOR_BYTES * len(pairs))
        max_width = max(widths[1:-1])
        model_flash += IN_ON_OUT_TABLE_BYTES
        model_instr = (INSTR_PER_MAC * macs + INSTR_PER_DENSE_OUTPUT * outputs
                       + INSTR_PER_DENSE_LAYER * len(pairs) + INSTR_PER_SCORED_FEATURE * dim
                       + INSTR_PER_WINDOW_AUTOENCODER)
    elif name == "kmeans":
        model_flash = _align(n_clusters * dim, 4)
        max_width = 1
        model_instr = (INSTR_PER_CENTROID_ELEMENT * n_clusters * dim + INSTR_PER_CENTROID * n_clusters
                       + INSTR_PER_WINDOW_KMEANS)
    else:  # gaussian: int8 precision matrix + int32 location, quadratic form
        model_flash = _align(dim * dim, 4) + 4 * dim
        max_width = 1
        model_instr = INSTR_PER_PRECISION_ELEMENT * dim * dim + INSTR_PER_SCORED_FEATURE * dim

    # -- flash
    nnz = priced_mel_weights(sample_rate, n_fft, n_mels, float(f["fmin_hz"]),
                              None if fmax is None else float(fmax))
    uses_powf = power not in (1.0, 2.0) and not vibration  # the vibration front end ignores power
    libc_data = 0 if (name == "autoencoder" and not vibration and power == 2.0) else LIBC_DATA_BYTES
    fft_code = FFT_CODE_BYTES_PER_DOUBLING * (max(n_fft, 1).bit_length() - CODE_REFERENCE_N_FFT.bit_length())
    code = (RUNTIME_CODE_BYTES[name] + fft_code + libc_data + (POWF_CODE_BYTES if uses_powf else 0)
            + (CENTER_CODE_BYTES + 2 * n_fft if center else 0) + (VIBRATION_CODE_BYTES if vibration else 0)
            - (SINGLE_FRAME_CODE_SAVING_BYTES if n_frames == 1 else 0))
    if vibration:  # twiddles, spectral and envelope band edges (uint16)
        front_tables = 4 * n_fft + _align(2 * (n_mels + 1), 4) + _align(2 * (n_env + 1), 4)
    else:  # window, twiddles, sparse mel filterbank
        front_tables = 8 * n_fft + 3 * _align(2 * n_mels, 4) + 4 * max(nnz, 1)
    quant_tables = 8 * dim
    flash = code + front_tables + quant_tables + model_flash

    # -- RAM
    state = state_bytes(n_fft, dim, max_width, vibration=vibration)
    stack = (STACK_BYTES[name] + (CENTER_STACK_BYTES if center else 0) + (POWF_STACK_BYTES if uses_powf else 0)
             + (VIBRATION_STACK_BYTES if vibration else 0))
    fixed = libc_data + DRIVER_BSS_BYTES
    ram = fixed + state + stack

    # -- instructions per audio second
    half = n_fft // 2
    if vibration:
        full = envelope_full_band(sample_rate, n_fft, float(f["envelope_fmin_hz"]),
                                  None if fmax is None else float(fmax))
        per_frame = (fft_instructions(n_fft) * VIBRATION_FFTS[full]
                     + INSTR_PER_VIBRATION_BIN[full] * half + INSTR_PER_VIBRATION_FRAME[full]
                     + INSTR_PER_MOVED_SAMPLE * max(n_fft - hop, 0) + INSTR_PER_MEL_BAND * (n_mels + n_env)
                     + INSTR_PER_FRAME)
    else:
        per_frame = (fft_instructions(n_fft) + INSTR_PER_SPECTRUM_BIN * half
                     + INSTR_PER_MOVED_SAMPLE * max(n_fft - hop, 0) + INSTR_PER_MEL_WEIGHT * nnz
                     + INSTR_PER_MEL_BAND * n_mels + INSTR_PER_FRAME)
        if power == 1.0:
            per_frame += INSTR_PER_BIN_SQRT * (half + 1)
        elif power == 0.5:
            per_frame += INSTR_PER_BIN_POWF_HALF * (half + 1)
        elif uses_powf:
            per_frame += INSTR_PER_BIN_POWF * (half + 1)
    per_vector = INSTR_PER_QUANTISED_FEATURE * dim + model_instr
    if clip_seconds is None:
        frames_ps = vectors_ps = sample_rate / hop
    else:
        if not clip_seconds > 0:
            raise FaultsynthError(f"clip_seconds must be > 0, got {clip_seconds!r}")
        n = int(round(clip_seconds * sample_rate))
        frames = (1 + n // hop) if center else (0 if n < n_fft else 1 + (n - n_fft) // hop)
        vectors = max(0, frames - n_frames + 1)
        frames_ps, vectors_ps = frames / clip_seconds, vectors / clip_seconds
    front_ips = frames_ps * per_frame
    model_ips = vectors_ps * per_vector

    breakdown = {"flash": {"code": code, "front_end_tables": front_tables, "input_quantisation": quant_tables,
                           "model": model_flash},
                 "ram": {"fixed": fixed, "state": state, "stack": stack},
                 "instructions_per_second": {"front_end": front_ips, "model": model_ips},
                 "instructions_per_unit": {"frame": per_frame,
                                           "window_input_quantisation": INSTR_PER_QUANTISED_FEATURE * dim,
                                           "window_model_and_score": model_instr}}
    return DeviceCost(flash_bytes=int(flash), ram_bytes=int(ram), instructions_per_second=front_ips + model_ips,
                      supported=not reasons, reason="; ".join(reasons), breakdown=breakdown)


def detector_spec_of(detector: Any) -> dict[str, Any]:
    """The :func:`estimate_cost` spec of a detector from :mod:`pipeline.detectors` (fitted or not).

    Parameters
    ----------
    detector : KMeansDetector, AutoencoderDetector or GaussianDetector
        Fitted detectors give their fitted sizes (``cluster_centers_`` rows,
        ``precision_`` dim); unfitted ones their parameters.

    Returns
    -------
    dict
        ``name``, ``aggregate`` and the size keys of that detector (``n_clusters``;
        ``hidden_units``, ``bottleneck``, ``tinyml``), plus ``dim`` when fitted.
    """
    name = getattr(detector, "name", "") or type(detector).__name__
    if name not in DETECTOR_NAMES:
        raise FaultsynthError(f"no device cost for a {type(detector).__name__}: expected one of the detectors "
                              f"{DETECTOR_NAMES} of pipeline.detectors")
    spec: dict[str, Any] = {"name": name, "aggregate": str(getattr(detector, "aggregate", "mean"))}
    if name == "kmeans":
        centers = getattr(detector, "cluster_centers_", None)
        spec["n_clusters"] = int(centers.shape[0]) if centers is not None else int(detector.n_clusters)
    elif name == "autoencoder":
        spec["hidden_units"] = tuple(int(u) for u in detector.hidden_units)
        spec["bottleneck"] = int(detector.bottleneck)
        spec["tinyml"] = not bool(getattr(detector, "batch_norm", True))
    precision = getattr(detector, "precision_", None)
    mean = getattr(detector, "mean_", None)
    if precision is not None:
        spec["dim"] = int(precision.shape[0])
    elif mean is not None:
        spec["dim"] = int(mean.size)
    return spec
