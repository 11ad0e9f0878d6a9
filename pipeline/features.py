"""Feature vectors for the detectors: stacked log-mel frames, or vibration features.

The log-mel front end is deliberately simple so that the C runtime can compute
exactly the same numbers on a Cortex-M4, streaming:

1. frames of ``n_fft`` samples every ``hop_length`` samples (with ``center=True``
   the clip is first zero-padded by ``n_fft // 2`` on both sides, as librosa):
   ``1 + n // hop_length`` frames with ``center``, else ``1 + (n - n_fft) // hop_length``;
2. each frame times the periodic Hann window :func:`window`;
3. power spectrum ``|rfft|**power`` (``n_fft // 2 + 1`` bins);
4. mel filterbank :func:`mel_filterbank` (Slaney mel scale, area-normalised,
   librosa's default) applied as a matrix product;
5. ``(20 / power) * log10(mel + EPS)`` dB, i.e. ``10 * log10(mel_power + EPS)``
   for ``power=2`` (the DCASE 2020 baseline formula);
6. :func:`stack_frames`: vector ``t`` is frames ``t .. t + n_frames - 1``
   concatenated, frame-major.

Mono audio is a 1-D array; multi-channel audio is ``(n_samples, channels)`` (as
soundfile reads it), reduced to one signal by ``FeatureConfig.channel``.

Presets (:data:`PRESETS`): ``dcase`` (:data:`DCASE_BASELINE`, 128 x 5), ``tinyml``
(:data:`TINYML`, 32 x 4, streamable), ``fan_lowband`` (:data:`FAN_LOWBAND`, 16
bands to 500 Hz) and ``vibration`` (:data:`VIBRATION`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import scipy.fft
import scipy.sparse

from errors import FaultsynthError
from pipeline.framing import EPS, window  # re-exported: c_sources, bench and tests use them from here
from pipeline.vibration_features import window_dim, window_features

# Samples of the frames processed together (320 frames of 1024): a block's buffers stay in cache.
_BLOCK_SAMPLES = 320 * 1024


@dataclass(frozen=True)
class FeatureConfig:
    """How one clip becomes feature vectors; validated on construction.

    Parameters
    ----------
    kind : {"log_mel", "vibration", "log_mel_stats"}
        Stacked log-mel frames (sound), per-window vibration features
        (see :mod:`pipeline.vibration_features`), or one vector per clip of
        log-mel band statistics over the clip (:func:`clip_statistics`).
    sample_rate : int
        Hz the clips must have (checked by the callers that know the file's rate).
    n_fft : int
        Frame (window) length in samples.
    hop_length : int
        Samples between frame starts.
    n_mels : int
        Mel bands (``log_mel``), or linear spectral bands (``vibration``).
    n_frames : int
        Consecutive frames stacked into one vector.
    fmin_hz, fmax_hz : float, float or None
        Frequency range of the bands; ``fmax_hz=None`` means Nyquist.
    center : bool
        Zero-pad ``n_fft // 2`` samples on both sides before framing (librosa's
        ``center=True``). ``False`` is what a streaming device computes.
    channel : int or "mean"
        Channel of multi-channel audio to use, or ``"mean"`` to average all
        channels sample by sample (a delay-free beamformer) before features.
    power : float
        Exponent of the magnitude spectrum (2.0 = power). dB = ``20 / power * log10``.
    n_envelope_bands : int
        ``vibration`` only: linear bands of the squared-envelope spectrum.
    envelope_fmin_hz : float
        ``vibration`` only: lower edge of the demodulation band (Hz); the
        envelope is taken of the signal band-limited to ``[envelope_fmin_hz,
        fmax_hz]``. Set it below a structural resonance that impacts excite, so
        that shaft-rate vibration does not swamp the envelope. 0 = full band.
    envelope_fmax_hz : float
        ``vibration`` only: upper edge of the envelope-spectrum bands, Hz.
    """

    kind: str = "log_mel"
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    n_frames: int = 5
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    center: bool = True
    channel: int | str = 0
    power: float = 2.0
    n_envelope_bands: int = 16
    envelope_fmax_hz: float = 1000.0
    envelope_fmin_hz: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultsynthError(f"feature kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "log_mel_stats" and self.n_frames != 1:
            raise FaultsynthError(f"log_mel_stats gives one vector of statistics per clip: n_frames must be 1, "
                                  f"got {self.n_frames!r}")
        for name, low in (("sample_rate", 1), ("n_fft", 4), ("hop_length", 1), ("n_mels", 1),
                          ("n_frames", 1), ("n_envelope_bands", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise FaultsynthError(f"feature {name} must be an integer >= {low}, got {value!r}")
        nyquist = self.sample_rate / 2
        fmax = nyquist if self.fmax_hz is None else self.fmax_hz
        if not (0 <= self.fmin_hz < fmax <= nyquist):
            raise FaultsynthError(f"feature band must satisfy 0 <= fmin_hz < fmax_hz <= {nyquist:g} Hz "
                                  f"(Nyquist), got fmin_hz={self.fmin_hz}, fmax_hz={self.fmax_hz}")
        if not isinstance(self.center, bool):
            raise FaultsynthError(f"feature center must be true or false, got {self.center!r}")
        if not (self.channel == "mean" or (isinstance(self.channel, (int, np.integer))
                                           and not isinstance(self.channel, bool) and self.channel >= 0)):
            raise FaultsynthError(f"feature channel must be an integer >= 0 or 'mean', got {self.channel!r}")
        if not (np.isfinite(self.power) and self.power > 0):
            raise FaultsynthError(f"feature power must be > 0, got {self.power!r}")
        if not (0 <= self.envelope_fmin_hz < fmax):
            raise FaultsynthError(f"feature envelope_fmin_hz must be in [0, fmax_hz={fmax:g}) Hz, "
                                  f"got {self.envelope_fmin_hz}")
        if not (0 < self.envelope_fmax_hz <= nyquist):
            raise FaultsynthError(f"feature envelope_fmax_hz must be in (0, {nyquist:g}] Hz, "
                                  f"got {self.envelope_fmax_hz}")

    @property
    def dim(self) -> int:
        """Length of one feature vector: values per frame (window) times ``n_frames``."""
        return _EXTRACTORS[self.kind].frame_dim(self) * self.n_frames

    def n_spectral_frames(self, n_samples: int) -> int:
        """Frames (windows) a clip of ``n_samples`` gives; 0 if it is shorter than one frame."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 0 if n_samples < self.n_fft else 1 + (n_samples - self.n_fft) // self.hop_length

    def n_vectors(self, n_samples: int) -> int:
        """Feature vectors a clip of ``n_samples`` gives (0 if too short)."""
        if self.kind == "log_mel_stats":
            return min(1, self.n_spectral_frames(n_samples))
        return max(0, self.n_spectral_frames(n_samples) - self.n_frames + 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of every field."""
        d = asdict(self)
        d["channel"] = self.channel if self.channel == "mean" else int(self.channel)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise FaultsynthError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise FaultsynthError(f"unknown feature config keys {unknown}; expected some of {sorted(known)}")
        return cls(**dict(d))


def hz_to_mel(f_hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic above."""
    f = np.asarray(f_hz, dtype=np.float64)
    linear = 3.0 * f / 200.0
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, linear)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    linear = 200.0 * m / 3.0
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, linear)


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float = 0.0,
                   fmax_hz: float | None = None) -> np.ndarray:
    """Triangular mel filterbank, Slaney mel scale, area ("slaney") normalisation.

    Filter ``i`` rises from mel point ``i`` to ``i + 1`` and falls to ``i + 2``
    of ``n_mels + 2`` points equally spaced in mel between ``fmin_hz`` and
    ``fmax_hz``; it is scaled by ``2 / (f[i+2] - f[i])`` (Hz). Same definition
    as librosa's default (``htk=False, norm="slaney"``).

    Returns
    -------
    ndarray, shape (n_mels, n_fft // 2 + 1), float32
        Multiply a power spectrum (bins 0 .. n_fft/2, spaced ``sample_rate / n_fft`` Hz) by it.
    """
    fb = _mel_filterbank64(int(sample_rate), int(n_fft), int(n_mels), float(fmin_hz),
                           None if fmax_hz is None else float(fmax_hz))
    return fb.astype(np.float32)


@lru_cache(maxsize=32)
def _mel_filterbank64(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float,
                      fmax_hz: float | None) -> np.ndarray:
    fmax = sample_rate / 2.0 if fmax_hz is None else fmax_hz
    if n_mels < 1 or n_fft < 2 or not (0 <= fmin_hz < fmax <= sample_rate / 2.0):
        raise FaultsynthError(f"mel filterbank needs n_mels >= 1, n_fft >= 2 and 0 <= fmin_hz < fmax_hz <= "
                              f"sample_rate/2; got n_mels={n_mels}, n_fft={n_fft}, fmin_hz={fmin_hz}, "
                              f"fmax_hz={fmax_hz}, sample_rate={sample_rate}")
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    points_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(points_hz)
    rise = (bin_hz[None, :] - points_hz[:-2, None]) / widths[:-1, None]
    fall = (points_hz[2:, None] - bin_hz[None, :]) / widths[1:, None]
    fb = np.maximum(0.0, np.minimum(rise, fall))
    fb *= (2.0 / (points_hz[2:] - points_hz[:-2]))[:, None]
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=32)
def _sparse_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float,
                       fmax_hz: float | None) -> tuple[scipy.sparse.csr_matrix, int, int]:
    """float32 CSR filterbank restricted to the bins [lo, hi) some filter uses, and lo, hi."""
    fb = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    # Each bin is in at most 2 filters: the sparse product is ~n_mels/2 times cheaper than dense.
    used = np.flatnonzero(fb.any(axis=0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
    return scipy.sparse.csr_matrix(fb[:, lo:hi]), lo, hi


def log_mel_batch(Y: np.ndarray, sample_rate: int, *, n_fft: int = 1024, hop_length: int = 512,
                  n_mels: int = 128, fmin_hz: float = 0.0, fmax_hz: float | None = None,
                  center: bool = True, power: float = 2.0) -> np.ndarray:
    """Log-mel spectrograms of equal-length mono clips, batched (float32 FFT).

    Parameters
    ----------
    Y : ndarray, shape (n_clips, n_samples)
        Mono clips (any real dtype; computed in float32).
    sample_rate : int
        Hz.
    n_fft, hop_length, n_mels, fmin_hz, fmax_hz, center, power
        As :class:`FeatureConfig`.

    Returns
    -------
    ndarray, shape (n_clips, n_mels, n_frames), float32
        ``(20 / power) * log10(mel + EPS)`` dB (``10 log10`` of mel power for
        ``power=2``). Matches ``librosa.feature.melspectrogram`` with the same
        parameters followed by the same logarithm to within 0.01 dB (tested on
        real recordings for bins within 100 dB of the clip's maximum; measured
        differences are about 3e-5 dB). Bins far below a frame's loudest bin
        carry float32 round-off (about -140 dB re that bin).
    """
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise FaultsynthError(f"log_mel_batch expects clips of shape (n_clips, n_samples), got {Y.shape}")
    n_frames = FeatureConfig(sample_rate=int(sample_rate), n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                             n_frames=1, fmin_hz=fmin_hz, fmax_hz=fmax_hz, center=center,
                             power=power).n_spectral_frames(Y.shape[1])
    if n_frames < 1:
        raise FaultsynthError(f"clips of {Y.shape[1]} samples are shorter than one frame of {n_fft} samples")
    fb_sparse, lo, hi = _sparse_filterbank(int(sample_rate), int(n_fft), int(n_mels), float(fmin_hz),
                                           None if fmax_hz is None else float(fmax_hz))
    win = window(n_fft)[:, None]
    scale = np.float32(20.0 / power)
    out = np.empty((Y.shape[0], n_mels, n_frames), dtype=np.float32)
    pad = n_fft // 2 if center else 0
    y32 = np.zeros(Y.shape[1] + 2 * pad, dtype=np.float32)  # one clip, float32, zero-padded
    # Frames as columns (n_fft, n_frames), a view of y32: the FFT along axis 0 yields bins x frames,
    # the layout the sparse filterbank product and the output need, so nothing is transposed.
    frames = np.lib.stride_tricks.sliding_window_view(y32, n_fft)[::hop_length].T
    # Windowed frames of one block; Fortran order keeps each frame contiguous.
    block_frames = min(n_frames, max(1, _BLOCK_SAMPLES // n_fft))
    x_block = np.empty((n_fft, block_frames), dtype=np.float32, order="F")
    for i in range(Y.shape[0]):
        y32[pad:pad + Y.shape[1]] = Y[i]
        for start in range(0, n_frames, block_frames):
            # A block of frames small enough for its buffers to stay in cache.
            block = frames[:, start:start + block_frames]
            x = np.multiply(block, win, out=x_block[:, :block.shape[1]])
            spec = scipy.fft.rfft(x, axis=0)[lo:hi]  # (bins, block), complex64
            if power == 2.0:
                # Square real and imaginary parts in place (interleaved float32 columns), apply the
                # filterbank to both, then add: |X|^2 summed without a separate power array.
                parts = spec.view(np.float32)
                np.square(parts, out=parts)
                both = fb_sparse @ parts  # (n_mels, 2 * block)
                mel = both[:, 0::2]
                mel += both[:, 1::2]
            else:
                mel = fb_sparse @ (np.abs(spec) ** np.float32(power))
            mel += np.float32(EPS)
            db = np.log10(mel, out=out[i, :, start:start + block_frames])
            db *= scale
    # NaN/inf samples (or values beyond float32 range) make their frames non-finite: one check on the output.
    if not np.all(np.isfinite(out)):
        raise FaultsynthError("audio contains NaN or infinite samples (or values too large for float32)")
    return out


def log_mel(y: np.ndarray, sample_rate: int, *, n_fft: int = 1024, hop_length: int = 512, n_mels: int = 128,
            fmin_hz: float = 0.0, fmax_hz: float | None = None, center: bool = True,
            power: float = 2.0) -> np.ndarray:
    """Log-mel spectrogram of one mono clip.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Mono signal.
    sample_rate : int
        Hz.

    Returns
    -------
    ndarray, shape (n_mels, n_frames), float32
        dB, see :func:`log_mel_batch`.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise FaultsynthError(f"log_mel expects a mono signal of shape (n_samples,), got {y.shape}")
    return log_mel_batch(y[None, :], sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                         fmin_hz=fmin_hz, fmax_hz=fmax_hz, center=center, power=power)[0]


def stack_frames(S: np.ndarray, n_frames: int) -> np.ndarray:
    """Stack consecutive frames into vectors (DCASE 2020 baseline layout).

    Vector ``t`` is ``concat(S[:, t], S[:, t + 1], ..., S[:, t + n_frames - 1])``:
    frame-major, so element ``j * n_mels + m`` is band ``m`` of frame ``t + j``.

    Parameters
    ----------
    S : ndarray, shape (n_mels, frames)
    n_frames : int

    Returns
    -------
    ndarray, shape (frames - n_frames + 1, n_mels * n_frames), same dtype as S
    """
    S = np.asarray(S)
    if S.ndim != 2:
        raise FaultsynthError(f"stack_frames expects a (bands, frames) array, got shape {S.shape}")
    if n_frames < 1 or S.shape[1] < n_frames:
        raise FaultsynthError(f"stack_frames needs 1 <= n_frames <= {S.shape[1]} frames, got {n_frames}")
    frames_major = np.ascontiguousarray(S.T)  # (frames, bands): vector t is rows t..t+n_frames-1, raveled
    n_vectors, dim = S.shape[1] - n_frames + 1, S.shape[0] * n_frames
    view = np.lib.stride_tricks.as_strided(frames_major, shape=(n_vectors, dim),
                                           strides=(frames_major.strides[0], frames_major.strides[1]),
                                           writeable=False)
    return view.copy()


#: Clip statistics of each band (kind ``log_mel_stats``), in vector order: percentiles, then spread.
CLIP_PERCENTILES = (10.0, 50.0, 90.0)


def clip_statistics(S: np.ndarray) -> np.ndarray:
    """Per-band statistics of log-mel spectrograms over their frames.

    Parameters
    ----------
    S : ndarray, shape (n_clips, n_mels, n_frames)
        dB.

    Returns
    -------
    ndarray, shape (n_clips, 1, 4 * n_mels), float32
        For each clip one vector: the 10th, 50th and 90th percentile of every
        band, then every band's standard deviation (dB). A band that loses a
        tone or a click moves its percentiles down, one that gains moves them
        up: a two-sided detector sees both.
    """
    S = np.asarray(S, dtype=np.float64)
    pct = np.percentile(S, CLIP_PERCENTILES, axis=2)  # (3, n_clips, n_mels)
    stats = np.concatenate([pct[0], pct[1], pct[2], S.std(axis=2)], axis=1)
    return stats[:, None, :].astype(np.float32)


def vectors_from_log_mel(config: FeatureConfig, S: np.ndarray) -> np.ndarray:
    """Feature vectors from log-mel spectrograms computed with ``config``'s mel stage.

    Parameters
    ----------
    config : FeatureConfig
        ``kind`` ``"log_mel"`` (frames stacked by ``n_frames``) or ``"log_mel_stats"``.
    S : ndarray, shape (n_clips, n_mels, n_frames)
        :func:`log_mel_batch` output.

    Returns
    -------
    ndarray, shape (n_clips, n_vectors, config.dim), float32
    """
    if config.kind == "log_mel_stats":
        return clip_statistics(S)
    if config.kind != "log_mel":
        raise FaultsynthError(f"vectors_from_log_mel needs a log-mel feature kind, got {config.kind!r}")
    return np.stack([stack_frames(s, config.n_frames) for s in S])


def _log_mel_vectors(config: FeatureConfig, Y: np.ndarray) -> np.ndarray:
    """Checked mono clips (n_clips, n_samples) -> log-mel vectors (n_clips, n_vectors, dim) float32."""
    S = log_mel_batch(Y, config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
                      n_mels=config.n_mels, fmin_hz=config.fmin_hz, fmax_hz=config.fmax_hz,
                      center=config.center, power=config.power)
    return vectors_from_log_mel(config, S)


def _vibration_vectors(config: FeatureConfig, Y: np.ndarray) -> np.ndarray:
    """Checked mono clips (n_clips, n_samples) -> stacked vibration vectors (n_clips, n_vectors, dim) float32."""
    per_window = [window_features(config, y) for y in Y]  # each (windows, window_dim), float64
    return np.stack([stack_frames(w.T, config.n_frames) for w in per_window]).astype(np.float32)


class _Extractor(NamedTuple):
    """One feature kind: values per frame (window), and the vectors of checked mono clips."""

    frame_dim: Callable[[FeatureConfig], int]
    vectors: Callable[[FeatureConfig, np.ndarray], np.ndarray]


#: Feature kind -> how it is computed; adding a kind is one entry here.
_EXTRACTORS: dict[str, _Extractor] = {
    "log_mel": _Extractor(frame_dim=lambda config: config.n_mels, vectors=_log_mel_vectors),
    "vibration": _Extractor(frame_dim=window_dim, vectors=_vibration_vectors),
    "log_mel_stats": _Extractor(frame_dim=lambda config: (len(CLIP_PERCENTILES) + 1) * config.n_mels,
                                vectors=_log_mel_vectors),
}

#: Accepted ``FeatureConfig.kind`` values.
KINDS = tuple(_EXTRACTORS)


#: The DCASE 2020 Task 2 baseline front end: 128 mels x 5 frames = 640 values.
DCASE_BASELINE = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=128,
                               n_frames=5, center=True, channel=0)

#: A Cortex-M4-sized front end at 16 kHz: 32 mels x 4 frames = 128 values, no padding (streaming).
TINYML = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=32,
                       n_frames=4, center=False, channel=0)

#: Fan front end: 16 mel bands from 0 to 500 Hz (rotation frequency and its first harmonics, where
#: unbalance and clogging show), channel 0, one frame per vector, streamable (16 values).
#: Best of bench/mimii_fan_quality.py on MIMII fan id_00 (see that script for the caveats).
FAN_LOWBAND = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=16,
                            n_frames=1, fmin_hz=0.0, fmax_hz=500.0, center=False, channel=0)

#: Vibration (accelerometer) front end: 16 spectral bands, 16 envelope bands to 1 kHz, RMS, kurtosis,
#: crest factor per 2048-sample window (0.17 s at 12 kHz), no stacking.
VIBRATION = FeatureConfig(kind="vibration", sample_rate=12000, n_fft=2048, hop_length=1024, n_mels=16,
                          n_frames=1, center=False, n_envelope_bands=16, envelope_fmax_hz=1000.0)

#: Preset name -> config (``train --features NAME``).
PRESETS = {"dcase": DCASE_BASELINE, "tinyml": TINYML, "fan_lowband": FAN_LOWBAND, "vibration": VIBRATION}


def select_channel(config: FeatureConfig, y: np.ndarray) -> np.ndarray:
    """The mono signal features are computed from (``config.channel``).

    Parameters
    ----------
    config : FeatureConfig
    y : ndarray, shape (n_samples,) or (n_samples, channels)

    Returns
    -------
    ndarray, shape (n_samples,)
        The chosen channel, or the sample-wise mean of all channels for ``"mean"``.
    """
    y = np.asarray(y)
    if y.ndim == 1:
        if config.channel not in (0, "mean"):
            raise FaultsynthError(f"feature channel {config.channel} requested but the clip is mono")
        return y
    if y.ndim != 2:
        raise FaultsynthError(f"expected a clip of shape (n_samples,) or (n_samples, channels), got {y.shape}")
    if config.channel == "mean":
        return y.mean(axis=1)
    if config.channel >= y.shape[1]:
        raise FaultsynthError(f"feature channel {config.channel} requested but the clip has {y.shape[1]} channels")
    return y[:, config.channel]


def _check_clips(config: FeatureConfig, X: np.ndarray) -> None:
    """X (n_clips, n_samples) mono: finite and long enough for one vector."""
    if not np.all(np.isfinite(X)):
        raise FaultsynthError("audio contains NaN or infinite samples")
    if config.n_vectors(X.shape[1]) < 1:
        need = config.n_fft if not config.center else 0
        need += (config.n_frames - 1) * config.hop_length
        raise FaultsynthError(f"clip of {X.shape[1]} samples is too short for one feature vector "
                              f"(needs at least {max(need, 1)} samples with this feature config)")


def check_clip(config: FeatureConfig, y: np.ndarray) -> None:
    """Raise as :func:`extract` would, without computing features.

    Parameters
    ----------
    config : FeatureConfig
    y : ndarray, shape (n_samples,) or (n_samples, channels)

    Raises
    ------
    FaultsynthError
        If the clip lacks ``config.channel``, has NaN/inf samples in the signal
        features would be computed from, or is too short for one vector.
    """
    _check_clips(config, select_channel(config, y)[None, :])


def extract_batch(config: FeatureConfig, Y: np.ndarray) -> np.ndarray:
    """Feature vectors of equal-length clips.

    Parameters
    ----------
    config : FeatureConfig
    Y : ndarray, shape (n_clips, n_samples) or (n_clips, n_samples, channels)

    Returns
    -------
    ndarray, shape (n_clips, n_vectors, config.dim), float32
    """
    Y = np.asarray(Y)
    if Y.ndim == 3:
        if config.channel == "mean":
            Y = Y.mean(axis=2)
        elif config.channel >= Y.shape[2]:
            raise FaultsynthError(f"feature channel {config.channel} requested but clips have "
                                  f"{Y.shape[2]} channels")
        else:
            Y = Y[:, :, config.channel]
    elif Y.ndim == 2:
        if config.channel not in (0, "mean"):
            raise FaultsynthError(f"feature channel {config.channel} requested but the clips are mono")
    else:
        raise FaultsynthError(f"extract_batch expects (n_clips, n_samples[, channels]), got shape {Y.shape}")
    return _extract_mono(config, Y)


def _extract_mono(config: FeatureConfig, Y: np.ndarray) -> np.ndarray:
    """(n_clips, n_samples) mono -> (n_clips, n_vectors, dim) float32."""
    _check_clips(config, Y)
    return _EXTRACTORS[config.kind].vectors(config, Y)


def extract(config: FeatureConfig, y: np.ndarray) -> np.ndarray:
    """Feature vectors of one clip.

    Parameters
    ----------
    config : FeatureConfig
    y : ndarray, shape (n_samples,) or (n_samples, channels)
        Audio or vibration at ``config.sample_rate``.

    Returns
    -------
    ndarray, shape (n_vectors, config.dim), float32

    Raises
    ------
    FaultsynthError
        If the clip has NaN/inf samples, is too short for one vector, or lacks the channel.
    """
    mono = select_channel(config, y)
    return _extract_mono(config, mono[None, :])[0]
