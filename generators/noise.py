"""Background noise: coloured noise and scaling to a requested SNR."""

from __future__ import annotations

import numpy as np
from scipy import fft

from errors import FaultsynthError

NOISE_COLORS = ("white", "pink", "brown")


def colored_noise(rng: np.random.Generator, n_samples: int, color: str = "white") -> np.ndarray:
    """Unit-RMS Gaussian noise with a power spectrum of 1/f**beta.

    Coloured noise is shaped in the frequency domain: the spectrum of Gaussian
    white noise (independent complex Gaussian bins, drawn directly) is weighted
    by f**(-beta/2) and transformed back in float32, at the next fast FFT length
    (the first ``n_samples`` are kept, and their mean removed).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_samples : int
    color : {"white", "pink", "brown"}
        beta = 0, 1, 2.

    Returns
    -------
    ndarray, shape (n_samples,), float64, RMS 1.
    """
    if color not in NOISE_COLORS:
        raise FaultsynthError(f"unknown noise colour {color!r}: expected one of {', '.join(NOISE_COLORS)}")
    if color == "white" or n_samples < 2:
        noise = rng.standard_normal(n_samples)
        return noise / max(rms(noise), 1e-300)
    size = fft.next_fast_len(n_samples, real=True)  # transform length; the first n_samples are kept
    bins = size // 2 + 1
    spectrum = rng.standard_normal(2 * bins, dtype=np.float32).view(np.complex64)
    spectrum[0] = 0  # no DC
    if size % 2 == 0:
        spectrum[-1] = np.sqrt(np.float32(2)) * spectrum[-1].real  # the real Nyquist bin carries a complex one's power
    f = np.arange(1, bins, dtype=np.float32)
    if color == "pink":
        np.sqrt(f, out=f)
    spectrum[1:] /= f
    shaped = fft.irfft(spectrum, size, overwrite_x=True)[:n_samples]
    shaped -= shaped.mean()
    return np.multiply(shaped, 1 / max(rms(shaped), 1e-300), dtype=np.float64)


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (float)."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def scale_to_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Scale ``noise`` so that ``10*log10(P(signal)/P(noise)) == snr_db``.

    Parameters
    ----------
    signal, noise : ndarray, same shape
    snr_db : float
        Requested signal-to-noise ratio in dB.

    Returns
    -------
    ndarray: the scaled noise.
    """
    if not np.isfinite(snr_db):
        raise FaultsynthError(f"snr_db must be finite, got {snr_db!r}")
    p_noise = rms(noise)
    if p_noise == 0:
        raise FaultsynthError("the noise recording is silent: cannot scale it to an SNR")
    target = rms(signal) / (10 ** (snr_db / 20))
    return noise * (target / p_noise)


def measured_snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """SNR in dB of ``signal`` against ``noise`` (power ratio)."""
    return float(20 * np.log10(rms(signal) / rms(noise)))
