"""Vibration analysis used to label and to check the generators.

Squared-envelope spectrum (bearing diagnostics), amplitude spectrum, velocity
RMS in the ISO 10816 band and the ISO 10816 severity zone.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import fft, next_fast_len, rfft
from scipy.signal import butter, find_peaks, hilbert, sosfiltfilt

from errors import FaultsynthError
from generators.vibration_dsp import STANDARD_GRAVITY, tone

#: ISO 10816-1 class I (small machines, up to 15 kW, e.g. the CWRU 2 hp motor rig):
#: upper bounds (mm/s RMS, 10..1000 Hz) of zones A, B and C; above is zone D.
ISO10816_CLASS = "ISO 10816-1 class I (small machines up to 15 kW)"
ISO10816_ZONE_LIMITS_MM_S = (("A", 0.71), ("B", 1.8), ("C", 4.5))


def amplitude_spectrum(x: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum with a Hann window.

    Parameters
    ----------
    x : ndarray, shape (n,)
    sample_rate : float
        Hz.

    Returns
    -------
    freqs_hz : ndarray, shape (n//2 + 1,)
    amplitude : ndarray, shape (n//2 + 1,)
        A sinusoid of amplitude A on a bin reads ~A (Hann coherent gain corrected).
    """
    x = np.asarray(x, dtype=float)
    window = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * window)) * 2 / window.sum()
    return np.fft.rfftfreq(x.size, 1 / sample_rate), spectrum


def squared_envelope_spectrum(x: np.ndarray, sample_rate: float, *, band_hz: tuple[float, float] | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum of the squared envelope, the standard bearing-fault diagnostic.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Acceleration.
    sample_rate : float
        Hz.
    band_hz : (low, high), optional
        Band-pass (4th-order Butterworth, zero phase) around the excited
        resonance before demodulation; default: no filtering.

    Returns
    -------
    freqs_hz : ndarray
    amplitude : ndarray
        Amplitude spectrum of ``|analytic(x)|**2`` with its mean removed.
    """
    x = np.asarray(x, dtype=float)
    if band_hz is not None:
        low, high = band_hz
        if not (0 < low < high < sample_rate / 2):
            raise FaultsynthError(f"band_hz must satisfy 0 < low < high < {sample_rate / 2} Hz, got {band_hz}")
        x = sosfiltfilt(butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos"), x)
    # Zero-pad to a fast FFT length (real recordings have arbitrary lengths).
    envelope = np.abs(hilbert(x, N=next_fast_len(x.size))[:x.size]) ** 2
    return amplitude_spectrum(envelope, sample_rate)


def peak_frequency(freqs_hz: np.ndarray, amplitude: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Frequency (Hz) of the largest amplitude within [low_hz, high_hz]."""
    mask = (freqs_hz >= low_hz) & (freqs_hz <= high_hz)
    if not mask.any():
        raise FaultsynthError(f"no spectral bin within {low_hz}..{high_hz} Hz")
    return float(freqs_hz[mask][np.argmax(amplitude[mask])])


def band_amplitude(freqs_hz: np.ndarray, amplitude: np.ndarray, frequency_hz: float, *, tolerance: float = 0.01
                   ) -> float:
    """Largest amplitude within ``frequency_hz * (1 +/- tolerance)``."""
    mask = np.abs(freqs_hz - frequency_hz) <= tolerance * frequency_hz
    if not mask.any():
        raise FaultsynthError(f"no spectral bin near {frequency_hz} Hz")
    return float(amplitude[mask].max())


def velocity_rms_mm_s(acceleration_g: np.ndarray, sample_rate: float, *,
                      band_hz: tuple[float, float] = (10.0, 1000.0)) -> float:
    """RMS vibration velocity (mm/s) in a band (ISO 10816: 10..1000 Hz).

    Integrates the acceleration in the frequency domain (divide by 2 pi f),
    keeping only the band (an ideal band-pass). The transform runs in float32
    (relative error ~1e-6), as a half-length complex FFT (:func:`_rfft_bins`).

    Parameters
    ----------
    acceleration_g : ndarray, shape (n,)
        Acceleration in g.
    sample_rate : float
        Hz.
    band_hz : (low, high)
        Hz; the upper edge is limited to Nyquist.

    Returns
    -------
    float, mm/s RMS
    """
    a = np.asarray(acceleration_g, dtype=np.float32)
    n = a.size
    # Bin frequencies as np.fft.rfftfreq computes them, only up to the band's upper edge.
    top = min(n // 2, int(band_hz[1] * n / sample_rate) + 1)
    freqs = np.arange(top + 1) * (1.0 / (n * (1 / sample_rate)))
    keep = np.flatnonzero((freqs >= band_hz[0]) & (freqs <= band_hz[1]) & (freqs > 0) & (freqs < sample_rate / 2))
    spectrum = _rfft_bins(a, keep)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    power /= (2 * np.pi * freqs[keep]) ** 2
    # Parseval for a one-sided spectrum (bins other than DC and Nyquist count twice).
    return float(np.sqrt(2 * np.sum(power)) / n * 1000 * STANDARD_GRAVITY)


def _rfft_bins(x: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Bins ``bins`` (a contiguous range within 1..n/2-1) of the real FFT of ``x`` (float32, shape (n,)), complex128.

    For even n, from one complex float32 FFT of half the length (even samples as the real
    part, odd as the imaginary), split into the even and odd samples' spectra only at the bins
    asked for: faster than a full real FFT when few bins are needed.
    """
    n = x.size
    if bins.size == 0:
        return np.zeros(0, complex)
    first, last = int(bins[0]), int(bins[-1])
    if last - first + 1 != bins.size or not 1 <= first <= last < n / 2:
        raise FaultsynthError(f"_rfft_bins: expected a contiguous range of bins within 1..{(n - 1) // 2}")
    if n % 2 or not x.flags.c_contiguous:
        return rfft(x)[first:last + 1].astype(np.complex128)
    half = n // 2
    z = fft(x.view(np.complex64))
    z_k = z[first:last + 1].astype(np.complex128)
    z_mirror = np.conj(z[half - last:half - first + 1][::-1]).astype(np.complex128)  # conj(z[half - k])
    even, odd = z_k + z_mirror, z_k - z_mirror  # twice the even and -2j times the odd samples' spectra
    twiddle = tone(-1.0, bins.size, n)  # exp(-2j pi (k - first) / n)
    twiddle *= -0.5j * np.exp(-2j * np.pi * first / n)
    odd *= twiddle
    even *= 0.5
    even += odd
    return even


def iso10816_zone(velocity_rms_mm_s: float) -> str:
    """ISO 10816-1 class I zone (A: new, B: unrestricted, C: restricted, D: damage) of an RMS velocity."""
    for zone, limit in ISO10816_ZONE_LIMITS_MM_S:
        if velocity_rms_mm_s < limit:
            return zone
    return "D"


def impact_train(x: np.ndarray, sample_rate: float, rate_hz: float, *,
                 band_hz: tuple[float, float] = (2000.0, 5000.0)) -> tuple[np.ndarray, np.ndarray]:
    """Times and strengths of the impacts of a (nearly) periodic impact train.

    The band-passed envelope's local maxima at least 0.6 periods apart; maxima below a
    quarter of their median (noise between weak impacts) are dropped.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Acceleration.
    sample_rate : float
        Hz.
    rate_hz : float
        Nominal impact rate (e.g. BPFO), Hz.
    band_hz : (low, high)
        Band of the resonances the impacts ring, Hz.

    Returns
    -------
    times_s : ndarray, shape (m,), s
    heights : ndarray, shape (m,), envelope peak (units of ``x``)
    """
    if not rate_hz > 0:
        raise FaultsynthError(f"rate_hz must be positive, got {rate_hz}")
    y = sosfiltfilt(butter(4, band_hz, btype="bandpass", fs=sample_rate, output="sos"), np.asarray(x, float))
    envelope = np.abs(hilbert(y, N=next_fast_len(y.size))[:y.size])
    index, _ = find_peaks(envelope, distance=max(1, int(0.6 * sample_rate / rate_hz)))
    heights = envelope[index]
    keep = heights > 0.25 * np.median(heights)
    return index[keep] / sample_rate, heights[keep]


def periodic_variation(times_s: np.ndarray, heights: np.ndarray, frequency_hz: float, bins: int) -> float:
    """Relative RMS variation of impact strength that repeats at ``frequency_hz``.

    Impacts are binned by their phase at ``frequency_hz``; the returned value is the
    standard deviation of the bin means over the mean strength, with the bin means'
    own sampling variance (impact-to-impact scatter) removed.

    Returns
    -------
    float, dimensionless (0 for no periodic variation; ~``m/sqrt(2)`` for a ``1 + m cos`` one)
    """
    phase_bin = np.floor((np.asarray(times_s) * frequency_hz % 1) * bins).astype(int)
    counts = np.bincount(phase_bin, minlength=bins)
    if np.any(counts < 2):
        raise FaultsynthError(f"periodic_variation: need at least 2 impacts per phase bin, got {counts.min()}")
    means = np.bincount(phase_bin, heights, minlength=bins) / counts
    excess = means.var() - np.mean(heights.var() / counts)
    return float(np.sqrt(max(excess, 0.0)) / heights.mean())


def spacing_jitter(times_s: np.ndarray, heights: np.ndarray, rate_hz: float) -> float:
    """Timing jitter of an impact train: std of an impact time, fraction of the period.

    From the spacings between consecutive strong impacts (both above the median height,
    spacing within half a period of one period), divided by sqrt(2) (each spacing
    carries the independent jitter of two impacts).
    """
    strong = heights > np.median(heights)
    spacing = np.diff(times_s) * rate_hz
    ok = strong[1:] & strong[:-1] & (np.abs(spacing - 1) < 0.5)
    if ok.sum() < 10:
        raise FaultsynthError(f"spacing_jitter: fewer than 10 clean impact spacings ({ok.sum()})")
    return float(np.std(spacing[ok]) / np.sqrt(2))


def envelope_modulation(x: np.ndarray, sample_rate: float, frequency_hz: float, *,
                        band_hz: tuple[float, float] = (2000.0, 5500.0), tolerance: float = 0.01) -> float:
    """Depth of the squared envelope's modulation at ``frequency_hz``: ``2 |E[e exp(-2j pi f t)]| / E[e]``.

    The largest value over frequencies within ``frequency_hz * (1 +/- tolerance)`` (11 steps), so that a
    slightly different real speed is found. A squared envelope ``(1 + m cos)**2`` gives ``~2 m``.

    Returns
    -------
    float, dimensionless
    """
    y = sosfiltfilt(butter(4, band_hz, btype="bandpass", fs=sample_rate, output="sos"), np.asarray(x, float))
    envelope = np.abs(hilbert(y, N=next_fast_len(y.size))[:y.size]) ** 2
    t = np.arange(envelope.size) / sample_rate
    mean = float(np.mean(envelope))
    return max(2 * abs(np.mean(envelope * np.exp(-2j * np.pi * f * t))) / mean
               for f in frequency_hz * (1 + np.linspace(-tolerance, tolerance, 11)))
