"""Per-window vibration features (``FeatureConfig(kind="vibration")``).

The signal is cut into windows of ``n_fft`` samples every ``hop_length``
samples (zero-padded by ``n_fft // 2`` on both sides when ``center``). Each
window gives one vector of ``n_mels + n_envelope_bands + 3`` values, in order:

1. ``n_mels`` spectral band levels: ``10 log10`` of the mean Hann-windowed
   power-spectrum bin in each of ``n_mels`` equal-width bands between
   ``fmin_hz`` and ``fmax_hz`` (dB re 1 unit^2);
2. ``n_envelope_bands`` squared-envelope spectrum band levels: the squared
   magnitude of the window's analytic signal restricted to the demodulation
   band ``[envelope_fmin_hz, fmax_hz]`` (FFT, keep the positive-frequency bins
   of that band doubled, inverse FFT), mean removed, Hann-windowed, power
   spectrum, mean bin in equal-width bands between 0 and ``envelope_fmax_hz``,
   in dB; bearing and gear impacts show up here at their repetition rate
   (BPFO, BPFI, ...) even when the carrier is a high resonance;
3. RMS level ``20 log10(rms + EPS)`` dB;
4. kurtosis ``m4 / m2**2`` (3 for Gaussian noise; impacts raise it);
5. crest factor ``max|x - mean| / rms`` (linear).

``n_frames`` consecutive window vectors are stacked as in
:func:`pipeline.features.stack_frames`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.fft

from errors import FaultsynthError
from pipeline.framing import EPS, frames, window64

if TYPE_CHECKING:  # pragma: no cover (annotations only: pipeline.features imports this module)
    from pipeline.features import FeatureConfig


def window_dim(config: FeatureConfig) -> int:
    """Values per window: bands + envelope bands + RMS, kurtosis, crest factor."""
    return config.n_mels + config.n_envelope_bands + 3


def spectral_band_edges(config: FeatureConfig) -> np.ndarray:
    """rFFT bin edges (n_mels + 1,) of the spectral bands: band ``b`` is bins ``[e[b], e[b + 1])``."""
    fmax = config.sample_rate / 2 if config.fmax_hz is None else config.fmax_hz
    return _band_edges(config.n_fft, config.sample_rate, config.fmin_hz, fmax, config.n_mels)


def envelope_band_edges(config: FeatureConfig) -> np.ndarray:
    """rFFT bin edges (n_envelope_bands + 1,) of the envelope-spectrum bands (0 to ``envelope_fmax_hz``)."""
    return _band_edges(config.n_fft, config.sample_rate, 0.0, config.envelope_fmax_hz, config.n_envelope_bands)


def envelope_bins(config: FeatureConfig) -> np.ndarray:
    """FFT bins (ascending, contiguous, within 1 .. n_fft/2 - 1) kept for the analytic signal.

    The positive-frequency bins of the demodulation band ``[envelope_fmin_hz,
    fmax_hz]``; the bin at Nyquist counts as negative (``scipy.fft.fftfreq``).
    """
    fmax = config.sample_rate / 2 if config.fmax_hz is None else config.fmax_hz
    freqs_hz = scipy.fft.fftfreq(config.n_fft, 1.0 / config.sample_rate)
    return np.flatnonzero((freqs_hz > 0) & (freqs_hz >= config.envelope_fmin_hz) & (freqs_hz <= fmax))


def _band_edges(n_fft: int, sample_rate: float, fmin_hz: float, fmax_hz: float, n_bands: int) -> np.ndarray:
    """rFFT bin index edges (n_bands + 1,) of equal-width bands; every band has >= 1 bin."""
    bin_hz = sample_rate / n_fft
    edges = np.round(np.linspace(fmin_hz, fmax_hz, n_bands + 1) / bin_hz).astype(int)
    edges = np.clip(edges, 0, n_fft // 2 + 1)
    if np.any(np.diff(edges) < 1):
        raise FaultsynthError(f"{n_bands} bands between {fmin_hz:g} and {fmax_hz:g} Hz are narrower than one "
                              f"FFT bin ({bin_hz:g} Hz at n_fft={n_fft}); use fewer bands or a larger n_fft")
    return edges


def _band_means_db(power: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(windows, bins) power -> (windows, bands) dB of the mean bin per band."""
    sums = np.add.reduceat(power, edges[:-1], axis=1)
    means = sums / np.diff(edges)[None, :]
    return 10.0 * np.log10(means + EPS)


def window_features(config: FeatureConfig, y: np.ndarray) -> np.ndarray:
    """Features of each window of one mono signal.

    Parameters
    ----------
    config : FeatureConfig
        ``kind="vibration"``.
    y : ndarray, shape (n_samples,)
        Acceleration (g) or any real signal at ``config.sample_rate``.

    Returns
    -------
    ndarray, shape (n_windows, window_dim(config)), float64
        See the module docstring for the order.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise FaultsynthError(f"vibration features expect a mono signal (n_samples,), got shape {y.shape}")
    if config.n_spectral_frames(y.size) < 1:
        raise FaultsynthError(f"signal of {y.size} samples is shorter than one window of {config.n_fft}")
    n_fft = config.n_fft
    windows = frames(y[None, :], n_fft, config.hop_length, config.center)[0]  # (w, n_fft)
    centred = windows - windows.mean(axis=1, keepdims=True)
    win = window64(n_fft)

    power = np.abs(scipy.fft.rfft(centred * win, axis=1)) ** 2
    bands = _band_means_db(power, spectral_band_edges(config))

    # Analytic signal of the demodulation band: positive-frequency bins of the band, doubled.
    spectrum = scipy.fft.fft(centred, axis=1)
    keep = np.zeros(n_fft, dtype=bool)
    keep[envelope_bins(config)] = True
    analytic = scipy.fft.ifft(np.where(keep, 2.0 * spectrum, 0.0), axis=1)
    envelope = np.abs(analytic) ** 2
    envelope -= envelope.mean(axis=1, keepdims=True)
    env_power = np.abs(scipy.fft.rfft(envelope * win, axis=1)) ** 2
    env_bands = _band_means_db(env_power, envelope_band_edges(config))

    m2 = np.mean(centred ** 2, axis=1)
    m4 = np.mean(centred ** 4, axis=1)
    rms = np.sqrt(m2)
    rms_db = 20.0 * np.log10(rms + EPS)
    kurtosis = np.where(m2 > 0, m4 / np.maximum(m2, EPS) ** 2, 0.0)
    crest = np.where(rms > 0, np.max(np.abs(centred), axis=1) / np.maximum(rms, EPS), 0.0)
    return np.column_stack([bands, env_bands, rms_db, kurtosis, crest])
