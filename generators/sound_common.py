"""Shared machinery of the machine-sound generators (fan, pump, valve, slider, toy car, conveyor).

:class:`AudioMachine` implements the :class:`generators.base.Machine` protocol once:
it draws the nuisance parameters from their documented ranges, adds the fault
parameters that severity maps to, and renders the faulty clip and the normal clip
from the same random state so that ``Parts.fault`` is exactly their difference.
A machine subclass only declares its parameters and faults and writes
``_synthesise``. The remaining functions are vectorised signal building blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.fft
from scipy.signal import lfilter, oaconvolve

from errors import FaultsynthError
from generators.base import (Event, FaultSpec, Fixed, Parts, below_nyquist, check_below_nyquist,
                             check_severity, draw)

#: Hold length (samples) of the interpolation grid of :func:`slow_noise`.
_HOLD = 8
#: Peak (full scale = 1) above which the normal rendering is scaled down (headroom for faults).
PEAK_LIMIT = 0.5


@dataclass(frozen=True)
class Nuisance:
    """A nuisance parameter drawn with :func:`generators.base.draw` from ``[low, high]`` unless fixed.

    ``options`` makes it a choice among values (drawn uniformly); ``integer``
    rounds the drawn value. A user-fixed value must keep the sign of the default
    range: positive if ``low > 0``, non-negative if ``low == 0``.
    """

    name: str
    low: float
    high: float
    doc: str
    log: bool = False
    integer: bool = False
    options: tuple[float, ...] = ()

    def describe(self) -> str:
        if self.options:
            return f"{self.doc} (default: one of {', '.join(f'{o:g}' for o in self.options)})"
        return f"{self.doc} (default: {'log-' if self.log else ''}uniform {self.low:g}..{self.high:g})"

    def sample(self, rng: np.random.Generator, fixed: Fixed, sample_rate: int | None = None) -> float:
        """Value of this parameter (consumes ``rng`` once, fixed or not).

        A frequency (name ending in ``_hz``) has its default range scaled down
        to stay below Nyquist at ``sample_rate`` (Hz).
        """
        if self.options:
            choices = ", ".join(f"{o:g}" for o in self.options)
            u = draw(rng, {}, self.name, 0.0, 1.0)
            if self.name in fixed:
                given = fixed[self.name]
                try:
                    value = float(given)
                except (TypeError, ValueError):
                    value = None
                if value not in self.options:
                    raise FaultsynthError(f"{self.name}: expected one of {choices}, got {given!r}")
                return value
            return float(self.options[min(int(u * len(self.options)), len(self.options) - 1)])
        try:
            value = self._sample_number(rng, fixed, sample_rate)
        except FaultsynthError:
            raise
        except (TypeError, ValueError):
            raise FaultsynthError(f"{self.name}: expected a number or a (low, high) range of numbers, "
                                  f"got {fixed.get(self.name)!r}") from None
        if (self.low > 0 and not value > 0) or (self.low == 0 and value < 0):
            raise FaultsynthError(f"{self.name}: expected a {'positive' if self.low > 0 else 'non-negative'} "
                                  f"value ({self.doc}), got {value!r}")
        return value

    def _sample_number(self, rng: np.random.Generator, fixed: Fixed, sample_rate: int | None) -> float:
        if self.integer:
            value = draw(rng, fixed, self.name, self.low - 0.5, self.high + 0.5 - 1e-9)
            if self.name in fixed and not isinstance(fixed[self.name], (tuple, list)) \
                    and float(fixed[self.name]) != round(float(fixed[self.name])):
                raise FaultsynthError(f"{self.name}: expected a whole number, got {fixed[self.name]!r}")
            value = int(round(value))
            if value < 1:
                raise FaultsynthError(f"{self.name}: expected a positive whole number, got {value}")
            return value
        low, high = below_nyquist(self.low, self.high, sample_rate) if self.name.endswith("_hz") \
            else (self.low, self.high)
        return draw(rng, fixed, self.name, low, high, log=self.log)


class AudioMachine:
    """Base of the sound generators (implements :class:`generators.base.Machine`).

    Subclasses set ``name``, ``nuisance`` (tuple of :class:`Nuisance`), ``faults``
    (name -> :class:`FaultSpec`) and implement :meth:`_fault_parameters`,
    :meth:`_characteristic_hz` and :meth:`_synthesise`. Every machine has a
    ``level_rms`` nuisance parameter: the RMS of the normal rendering.
    """

    name: str = ""
    kind: str = "audio"
    default_sample_rate: int = 16000
    nuisance: tuple[Nuisance, ...] = ()
    faults: Mapping[str, FaultSpec] = {}

    @property
    def parameters(self) -> dict[str, str]:
        """Nuisance parameters the user may fix: name -> doc with unit and default range."""
        return {p.name: p.describe() for p in self.nuisance}

    # -- to implement ---------------------------------------------------------------------------
    def _fault_parameters(self, fault: str, severity: float) -> dict[str, float]:
        """Physical fault parameters for ``fault`` at ``severity`` (as documented in its FaultSpec)."""
        raise NotImplementedError

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Characteristic frequencies (Hz) that must lie below Nyquist, by name."""
        raise NotImplementedError

    def _synthesise(self, params: Mapping[str, Any], *, faulty: bool, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, list[Event]]:
        """Machine sound (arbitrary scale), with the fault applied if ``faulty``; and fault events."""
        raise NotImplementedError

    # -- protocol -------------------------------------------------------------------------------
    def sample_params(self, rng: np.random.Generator, *, fault: str, severity: float, fixed: Fixed,
                      sample_rate: int | None = None) -> dict:
        """Draw every physical parameter of one clip (the label).

        Parameters
        ----------
        rng : numpy.random.Generator
        fault : str
            ``"none"`` or one of :attr:`faults`.
        severity : float
            0..1 (ignored when ``fault == "none"``).
        fixed : mapping
            User-fixed nuisance parameters: a value or a ``(low, high)`` range.
        sample_rate : int, optional
            Hz: default frequency ranges are scaled down to stay below Nyquist.

        Returns
        -------
        dict
            Nuisance parameters, fault parameters, ``fault`` and ``severity``.
        """
        self._check_fault(fault)
        severity = 0.0 if fault == "none" else check_severity(severity)
        params: dict[str, Any] = {p.name: p.sample(rng, fixed, sample_rate) for p in self.nuisance}
        if fault != "none":
            params.update(self._fault_parameters(fault, severity))
        params.update(fault=fault, severity=severity)
        return params

    def render(self, params: Mapping[str, Any], *, duration_s: float, sample_rate: int,
               rng: np.random.Generator) -> Parts:
        """Render the normal and fault parts of one clip.

        Parameters
        ----------
        params : mapping
            From :meth:`sample_params`.
        duration_s : float
            Clip length in seconds.
        sample_rate : int
            Hz.
        rng : numpy.random.Generator
            Drives the stochastic parts (turbulence, jitter, impact times).

        Returns
        -------
        Parts
            ``machine`` and ``fault``: ndarray, shape (round(duration_s*sample_rate),), float64,
            full-scale units; ``fault`` is the faulty minus the normal rendering of the same clip.
        """
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise FaultsynthError(f"duration must be a positive number of seconds, got {duration_s!r}")
        sample_rate = int(sample_rate)
        if sample_rate <= 0:
            raise FaultsynthError(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
        fault = str(params.get("fault", "none"))
        self._check_fault(fault)
        missing = [p.name for p in self.nuisance if p.name not in params]
        if missing:
            raise FaultsynthError(f"{self.name}: parameters missing {missing}: expected the dict from sample_params")
        for name, hz in self._characteristic_hz(params).items():
            check_below_nyquist(name, hz, sample_rate)
        n = int(round(duration_s * sample_rate))
        seed = int(rng.integers(2**63))
        normal, _ = self._synthesise(params, faulty=False, n_samples=n, sample_rate=sample_rate,
                                     rng=np.random.default_rng(seed))
        normal = np.asarray(normal, dtype=np.float64)
        gain = _level_gain(normal, float(params["level_rms"]))
        if fault == "none":
            return Parts(machine=normal * gain, fault=np.zeros(n))
        faulty, events = self._synthesise(params, faulty=True, n_samples=n, sample_rate=sample_rate,
                                          rng=np.random.default_rng(seed))
        faulty = np.asarray(faulty, dtype=np.float64)
        return Parts(machine=normal * gain, fault=(faulty - normal) * gain, events=events)

    def _check_fault(self, fault: str) -> None:
        if fault != "none" and fault not in self.faults:
            raise FaultsynthError(f"unknown fault {fault!r} for machine {self.name!r}: "
                                  f"expected none or one of {', '.join(self.faults)}")


def _level_gain(normal: np.ndarray, level_rms: float) -> float:
    """Gain bringing ``normal`` to ``level_rms`` RMS, lowered so that its peak stays below PEAK_LIMIT."""
    if not (np.isfinite(level_rms) and level_rms > 0):
        raise FaultsynthError(f"level_rms must be a positive number, got {level_rms!r}")
    r = float(np.sqrt(np.mean(np.square(normal)))) if normal.size else 0.0
    if not (np.isfinite(r) and r > 0):
        raise FaultsynthError("the machine rendered silence or non-finite samples: check its parameters")
    gain = level_rms / r
    peak = float(np.max(np.abs(normal))) * gain
    return gain * min(1.0, PEAK_LIMIT / peak)


# -- building blocks ---------------------------------------------------------------------------

def cycles(frequency_hz: np.ndarray | float, n_samples: int, sample_rate: int) -> np.ndarray:
    """Accumulated cycles of a rotation or tone of (time-varying) frequency.

    Parameters
    ----------
    frequency_hz : float or ndarray, shape (n_samples,)
        Instantaneous frequency in Hz.

    Returns
    -------
    ndarray, shape (n_samples,), float64: cycles since t = 0 (first sample 0).
    """
    f = np.asarray(frequency_hz, dtype=np.float64)
    if f.ndim == 0:  # constant frequency
        return np.arange(n_samples) * (float(f) / sample_rate)
    c = np.empty(n_samples)
    if n_samples:
        c[0] = 0.0
        np.cumsum(f[:-1], out=c[1:])
        c *= 1.0 / sample_rate
    return c


def harmonics(cyc: np.ndarray, amplitudes: Sequence[float], phases_rad: Sequence[float],
              orders: Sequence[int] | None = None) -> np.ndarray:
    """Sum of harmonics ``sum_k a_k sin(2 pi m_k cyc + phi_k)``.

    Parameters
    ----------
    cyc : ndarray, shape (n,), float64
        Cycles of the fundamental (from :func:`cycles`).
    amplitudes, phases_rad : sequence of float, length K
        Per-harmonic amplitude and phase (rad).
    orders : sequence of int, length K, optional
        Harmonic numbers m_k (default 1..K), e.g. mesh and commutator orders of one shaft.

    Returns
    -------
    ndarray, shape (n,), float32
    """
    frac = (cyc - np.floor(cyc)).astype(np.float32) * np.float32(2 * np.pi)
    out = np.zeros(cyc.size, dtype=np.float32)
    arg = np.empty_like(out)
    loudest = max((abs(a) for a in amplitudes), default=0.0)
    orders = range(1, len(amplitudes) + 1) if orders is None else orders
    for k, a, ph in zip(orders, amplitudes, phases_rad):
        if abs(a) > 1e-3 * loudest:  # harmonics 60 dB down are skipped
            np.multiply(frac, np.float32(k), out=arg)
            arg += np.float32(ph)
            np.sin(arg, out=arg)
            arg *= np.float32(a)
            out += arg
    return out


def sine(cyc: np.ndarray, phase_rad: float = 0.0) -> np.ndarray:
    """``sin(2 pi cyc + phase_rad)`` in float32 (fast), shape of ``cyc``."""
    return harmonics(cyc, [1.0], [phase_rad])


def harmonic_count(max_fundamental_hz: float, sample_rate: int, limit: int) -> int:
    """How many harmonics of a fundamental (at most ``limit``) stay below 0.45 x sample_rate."""
    if max_fundamental_hz <= 0:
        return 0
    return int(max(0, min(limit, np.floor(0.45 * sample_rate / max_fundamental_hz))))


def slow_noise(rng: np.random.Generator, n_samples: int, sample_rate: int, *, bandwidth_hz: float) -> np.ndarray:
    """Smooth random fluctuation, zero mean, standard deviation ~1, bandwidth ~``bandwidth_hz``.

    Gaussian knots at ``2 * bandwidth_hz`` per second (standardised), linearly interpolated on a
    grid of 8 samples and held in between (steps far below audibility for bandwidths of a few Hz).

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    duration_s = n_samples / sample_rate
    n_knots = int(np.ceil(duration_s * 2 * bandwidth_hz)) + 2
    knots = rng.standard_normal(n_knots)
    knots -= knots.mean()
    knots /= max(knots.std() * np.sqrt(2.0 / 3.0), 1e-12)  # linear interpolation lowers the variance to ~2/3
    n_grid = -(-n_samples // _HOLD)
    t = np.arange(n_grid) * ((n_knots - 1) / max(n_grid, 1))
    return np.repeat(np.interp(t, np.arange(n_knots), knots).astype(np.float32), _HOLD)[:n_samples]


def white_spectrum(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Spectrum of white Gaussian noise (complex64, shape (n_samples//2 + 1,)) to shape with :func:`shape`."""
    m = n_samples // 2 + 1
    return rng.standard_normal(2 * m, dtype=np.float32).view(np.complex64)


def rfft_frequencies(n_samples: int, sample_rate: int) -> np.ndarray:
    """Frequencies (Hz) of the bins of :func:`white_spectrum`, shape (n_samples//2 + 1,), float32."""
    return np.arange(n_samples // 2 + 1, dtype=np.float32) * np.float32(sample_rate / n_samples)


def shape(spectrum: np.ndarray, magnitude: np.ndarray, n_samples: int) -> np.ndarray:
    """Noise with power spectrum ``|magnitude|**2`` (relative), unit RMS before scaling by magnitude.

    Parameters
    ----------
    spectrum : complex ndarray, shape (n_samples//2 + 1,)
        From :func:`white_spectrum`.
    magnitude : ndarray, shape (n_samples//2 + 1,)
        Amplitude response per bin. The output RMS is ``sqrt(mean(magnitude**2))``, so
        that two magnitudes give outputs whose levels compare as their mean powers.

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    # white_spectrum has E|Z|^2 = 2 per bin: scale so that the RMS is sqrt(mean(magnitude**2))
    gain = (magnitude * np.sqrt(n_samples / 2.0)).astype(np.float32)
    return scipy.fft.irfft(spectrum * gain, n_samples)


def tilt(f_hz: np.ndarray, *, corner_hz: float, slope_db_per_octave: float) -> np.ndarray:
    """Amplitude flat below ``corner_hz`` and falling by ``slope_db_per_octave`` (> 0) above it."""
    return (1.0 + (f_hz / corner_hz) ** 2) ** (-slope_db_per_octave / (20 * np.log10(2)) / 2)


def highpass(f_hz: np.ndarray, *, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth-like high-pass amplitude response."""
    r = (np.maximum(f_hz, 1e-9) / cutoff_hz) ** (2 * order)
    return np.sqrt(r / (1.0 + r))


def bandpass(f_hz: np.ndarray, *, centre_hz: float, q: float) -> np.ndarray:
    """Amplitude response of a second-order resonance (peak 1 at ``centre_hz``)."""
    x = np.maximum(f_hz, 1e-9) / centre_hz
    return 1.0 / np.sqrt(1.0 + q**2 * (x - 1.0 / x) ** 2)


def resonance_boost(f_hz: np.ndarray, *, centre_hz: float, q: float, gain_db: float) -> np.ndarray:
    """Amplitude factor 1 away from ``centre_hz``, ``10**(gain_db/20)`` at it."""
    return 1.0 + (10 ** (gain_db / 20) - 1.0) * bandpass(f_hz, centre_hz=centre_hz, q=q)


def damped_modes(sample_rate: int, *, modes_hz: Sequence[float], decays_s: Sequence[float],
                 amplitudes: Sequence[float], duration_s: float) -> np.ndarray:
    """Impulse response of a set of structural modes: ``sum a_i exp(-t/tau_i) sin(2 pi f_i t)``.

    Returns
    -------
    ndarray, shape (round(duration_s*sample_rate),), float64
    """
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    out = np.zeros(t.size)
    for f, tau, a in zip(modes_hz, decays_s, amplitudes):
        if f < sample_rate / 2:
            out += a * np.exp(-t / tau) * np.sin(2 * np.pi * f * t)
    return out


def impulse_train(n_samples: int, times_s: np.ndarray, amplitudes: np.ndarray | float,
                  sample_rate: int) -> np.ndarray:
    """Impulses at ``times_s`` (rounded to samples; those outside the clip dropped).

    Returns
    -------
    ndarray, shape (n_samples,), float64
    """
    times_s = np.asarray(times_s, dtype=float)
    amps = np.broadcast_to(np.asarray(amplitudes, dtype=float), times_s.shape)
    idx = np.round(times_s * sample_rate).astype(np.int64)
    keep = (idx >= 0) & (idx < n_samples)
    out = np.zeros(n_samples)
    np.add.at(out, idx[keep], amps[keep])
    return out


def convolve(train: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``train`` convolved with ``kernel``, trimmed to the length of ``train``.

    Sparse trains (up to 2000 impulses) are rendered by adding scaled copies of the kernel.
    """
    hits = np.flatnonzero(train)
    if hits.size == 0 or kernel.size == 0:
        return np.zeros(train.size)
    if hits.size > 2000:
        return oaconvolve(train, kernel)[: train.size]
    out = np.zeros(train.size + kernel.size)
    for i in hits:
        out[i:i + kernel.size] += train[i] * kernel
    return out[: train.size]


def decay_envelope(train: np.ndarray, sample_rate: int, *, decay_s: float) -> np.ndarray:
    """Each impulse of ``train`` followed by an exponential decay of time constant ``decay_s``."""
    a = np.exp(-1.0 / (decay_s * sample_rate))
    return lfilter([1.0], [1.0, -a], train)


def nested_poisson(rng: np.random.Generator, *, max_rate_hz: float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events at ``max_rate_hz`` with a uniform mark each.

    Keeping the events whose mark is below ``r / max_rate_hz`` gives a Poisson process of
    rate ``r``; the sets are nested, so more severity only ever adds events.

    Returns
    -------
    times_s, marks : ndarray, shape (k,), float64
    """
    k = rng.poisson(max_rate_hz * duration_s)
    times = np.sort(rng.random(k) * duration_s)
    return times, rng.random(k)


def db(x: float) -> float:
    """Amplitude ratio of ``x`` dB."""
    return float(10 ** (x / 20))


def level_rms_nuisance(low: float = 0.05, high: float = 0.1) -> Nuisance:
    """The ``level_rms`` parameter every machine has."""
    return Nuisance("level_rms", low, high, "RMS of the normal machine sound, full scale = 1 "
                    f"(lowered if its peak would exceed {PEAK_LIMIT:g})")


def fault_spec(name: str, description: str, *parameters: str, time_localised: bool = False) -> FaultSpec:
    """Shorthand for :class:`FaultSpec`."""
    return FaultSpec(name=name, description=description, parameters=tuple(parameters),
                     time_localised=time_localised)




def impact_kernel(noise: np.ndarray, sample_rate: int, *, modes_hz: Sequence[float], decay_s: float,
                  burst_decay_s: float = 0.0008, modal_weight: float = 0.5) -> np.ndarray:
    """Sound of one impact: a broadband burst plus ringing structural modes; peak 1.

    Parameters
    ----------
    noise : ndarray, shape (m,), float64
        White noise, at least ``6 * decay_s * sample_rate`` samples (drawn by the caller, so
        that the same kernel is rendered for the normal and faulty clip).
    modes_hz : sequence of float
        Mode frequencies, Hz (those above 0.45 x sample_rate are dropped); mode i decays with
        time constant ``decay_s / sqrt(modes_hz[i] / modes_hz[0])``.
    decay_s, burst_decay_s : float
        Time constants of the modes and of the broadband burst, s.
    modal_weight : float
        Ring amplitude re burst.

    Returns
    -------
    ndarray, shape (round(6 * decay_s * sample_rate),), float64
    """
    modes = [f for f in modes_hz if f < 0.45 * sample_rate]
    kernel = damped_modes(sample_rate, modes_hz=modes, decays_s=[decay_s / np.sqrt(f / modes_hz[0]) for f in modes],
                          amplitudes=[1.0 / (1 + i) ** 0.5 for i in range(len(modes))], duration_s=6 * decay_s)
    if kernel.size == 0:
        return kernel
    peak = np.max(np.abs(kernel))
    kernel = kernel / peak if peak > 0 else kernel
    t = np.arange(kernel.size) / sample_rate
    burst = np.diff(noise[: kernel.size] * np.exp(-t / burst_decay_s), prepend=0.0)
    kernel = modal_weight * kernel + burst / np.max(np.abs(burst))
    return kernel / np.max(np.abs(kernel))


def moving_average_gate(x: np.ndarray, sample_rate: int, *, smooth_s: float) -> np.ndarray:
    """One-pole smoothing of a gate or envelope (time constant ``smooth_s``)."""
    a = np.exp(-1.0 / (smooth_s * sample_rate))
    return lfilter([1.0 - a], [1.0, -a], x)
