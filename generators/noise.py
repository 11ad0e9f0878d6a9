"""Background noise: coloured noise and scaling to a requested SNR."""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import fft

from errors import FaultsynthError

NOISE_COLORS = ("white", "pink", "brown")


def colored_noise(rng: np.random.Generator, n_samples: int, color: str = "white", *,
                  response: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """Unit-RMS Gaussian noise with a power spectrum of ``|response(f)|**2 / f**beta``.

    White noise without a response is drawn in time. Otherwise the noise is drawn as a
    spectrum (:func:`white_spectrum`), weighted by ``f**(-beta/2)`` and by ``response`` and
    transformed back in float32 at the next fast FFT length (the first ``n_samples`` are kept,
    and their mean removed). Its samples are Gaussian and its spectrum is the requested one:
    filtering stationary Gaussian noise changes nothing else (the phase of a filter is lost in
    the noise's random phases), so a response applied here equals that filter applied in time,
    without the filter's start-up transient.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_samples : int
    color : {"white", "pink", "brown"}
        beta = 0, 1, 2.
    response : callable, optional
        Amplitude response of a linear filter the noise passes through: maps a transform length
        ``size`` to the amplitude at each of its ``size // 2 + 1`` real-FFT bins (frequency
        ``k / size`` cycles per sample), e.g. :func:`generators.recording.noise_response`.

    Returns
    -------
    ndarray, shape (n_samples,), float64, RMS 1.
    """
    if color not in NOISE_COLORS:
        raise FaultsynthError(f"unknown noise colour {color!r}: expected one of {', '.join(NOISE_COLORS)}")
    if n_samples < 2 or (color == "white" and response is None):
        noise = rng.standard_normal(n_samples)
        return noise / max(rms(noise), 1e-300)
    size = fft.next_fast_len(n_samples, real=True)  # transform length; the first n_samples are kept
    spectrum = white_spectrum(rng, size)
    spectrum[0] = 0  # no DC
    if size % 2 == 0:
        spectrum[-1] = np.sqrt(np.float32(2)) * spectrum[-1].real  # the real Nyquist bin carries a complex one's power
    if color != "white":
        f = np.arange(1, spectrum.size, dtype=np.float32)
        if color == "pink":
            np.sqrt(f, out=f)
        spectrum[1:] /= f
    if response is not None:
        spectrum *= response(size)
    shaped = fft.irfft(spectrum, size, overwrite_x=True)[:n_samples]
    shaped -= shaped.mean()
    return np.multiply(shaped, 1 / max(rms(shaped), 1e-300), dtype=np.float64)


def white_spectrum(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Spectrum of white Gaussian noise of ``n_samples`` samples (real FFT bins), to shape and transform back.

    Each bin is a circular complex Gaussian with unit-variance real and imaginary parts, drawn in
    polar form (faster than two normal draws): squared modulus exponential with mean 2, phase uniform.

    Returns
    -------
    ndarray, shape (n_samples//2 + 1,), complex64
    """
    m = n_samples // 2 + 1
    radius = rng.standard_exponential(m, dtype=np.float32)
    radius *= np.float32(2.0)
    np.sqrt(radius, out=radius)
    angle = rng.random(m, dtype=np.float32)
    angle *= np.float32(2 * np.pi)
    out = np.empty(m, dtype=np.complex64)
    real, imag = out.real, out.imag  # float32 views of out
    np.cos(angle, out=real)
    real *= radius
    np.sin(angle, out=imag)
    imag *= radius
    return out


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
