"""Background noise: coloured noise and scaling to a requested SNR."""

from __future__ import annotations

import numpy as np

from errors import FaultsynthError

NOISE_COLORS = ("white", "pink", "brown")


def colored_noise(rng: np.random.Generator, n_samples: int, color: str = "white") -> np.ndarray:
    """Unit-RMS Gaussian noise with a power spectrum of 1/f**beta.

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
    white = rng.standard_normal(n_samples)
    if color == "white" or n_samples < 2:
        noise = white
    else:
        beta = 1.0 if color == "pink" else 2.0
        spectrum = np.fft.rfft(white)
        f = np.arange(spectrum.size, dtype=float)
        f[0] = 1.0  # keep DC finite; it is removed below
        spectrum /= f ** (beta / 2)
        noise = np.fft.irfft(spectrum, n_samples)
        noise -= noise.mean()
    return noise / max(rms(noise), 1e-300)


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
