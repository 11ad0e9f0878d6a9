"""Signal building blocks shared by the vibration generators.

Phasors of the shaft angle, periodic functions of it looked up in tables,
sums of sinusoids, Gaussian noise, impact trains placed in shaft revolutions
(with random slip), structural resonances, and unit conversions. Everything is
vectorised: no Python loop runs per sample or per impact. Signals are built in
float32 where its 1e-7 relative precision is ample (tables, tones, noise);
phases are wrapped to one period in float64 first, and the resonances run in
float64.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from scipy import fft
from scipy.signal import lfilter

from errors import FaultsynthError

#: Standard gravity, m/s^2 per g.
STANDARD_GRAVITY = 9.80665
#: Smallest table of one period of a looked-up function (see :class:`PhaseIndex`).
MIN_TABLE_SIZE = 4096
#: Rows of a clip's scratch block (:meth:`ShaftMotion.scratch`): revs, phase indices, temporaries.
SCRATCH_ROWS = 16


def velocity_to_g(velocity_mm_s: float, frequency_hz: float) -> float:
    """Acceleration amplitude (g) of a sinusoidal vibration of velocity amplitude ``velocity_mm_s`` (mm/s)."""
    return velocity_mm_s * 1e-3 * 2 * np.pi * frequency_hz / STANDARD_GRAVITY


def _coarse_fine(frequency_hz: float, n_samples: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Phasors ``C``, ``F`` with ``exp(2j*pi*f*(k*B + j)/fs) = C_k F_j``, ``B ~ sqrt(n_samples)``."""
    block = max(1, int(np.sqrt(n_samples)))
    n_blocks = -(-n_samples // block)
    step = 2j * np.pi * frequency_hz / sample_rate
    return np.exp(step * block * np.arange(n_blocks)), np.exp(step * np.arange(block))


def tone(frequency_hz: float, n_samples: int, sample_rate: int) -> np.ndarray:
    """Complex phasor ``exp(2j*pi*f*t)``, shape (n_samples,), complex128.

    Built as an outer product of a coarse and a fine phasor (two short ``exp``
    calls and one multiply), accurate to ~1e-15 and much faster than a full-length
    ``exp``.
    """
    coarse, fine = _coarse_fine(frequency_hz, n_samples, sample_rate)
    return np.outer(coarse, fine).ravel()[:n_samples]


def tones(components: Sequence[tuple[float, complex]], n_samples: int, sample_rate: float,
          dtype: type = np.float64) -> np.ndarray:
    """Sum of sinusoids ``Re(c * exp(2j*pi*f*t))`` over ``(f, c)`` in ``components``.

    Each is built like :func:`tone` but in real arithmetic,
    ``Re(c C_k F_j) = Re(c C_k) Re(F_j) - Im(c C_k) Im(F_j)``: two outer
    products (accurate to ~1e-15 of ``|c|`` in float64, ~1e-7 in float32; the
    phases are formed in float64 either way).

    Returns
    -------
    ndarray, shape (n_samples,), ``dtype`` (float64 or float32)
    """
    out = part = None
    for frequency_hz, c in components:
        coarse, fine = _coarse_fine(frequency_hz, n_samples, sample_rate)
        coarse *= c
        coarse_re, coarse_im = coarse.real.astype(dtype), coarse.imag.astype(dtype)
        fine_re, fine_im = fine.real.astype(dtype), fine.imag.astype(dtype)
        if out is None:
            out = np.multiply.outer(coarse_re, fine_re)
            part = np.empty_like(out)
        else:
            out += np.multiply.outer(coarse_re, fine_re, out=part)
        out -= np.multiply.outer(coarse_im, fine_im, out=part)
    if out is None:
        return np.zeros(n_samples, dtype)
    return out.reshape(-1)[:n_samples]


def cosine(cycles: np.ndarray, amplitude: float, phase_rad: float, out: np.ndarray | None = None) -> np.ndarray:
    """``amplitude * cos(2 pi cycles + phase_rad)``, float32, from a phase wrapped to one period
    (:meth:`ShaftMotion.cycles`): cheaper than a table lookup for a single harmonic."""
    out = np.multiply(cycles, np.float32(2 * np.pi), out=out)
    out += np.float32(phase_rad)
    np.cos(out, out=out)
    out *= np.float32(amplitude)
    return out


def table_size(max_order: float) -> int:
    """Points per period of a table holding harmonics up to ``max_order``.

    At least 512 points per period of the highest harmonic, so that
    :meth:`PhaseIndex.lookup` is accurate to ~2e-5 of its amplitude.
    """
    return max(MIN_TABLE_SIZE, 1 << int(np.ceil(np.log2(512 * max(max_order, 1)))))


def harmonic_table(coefficients: Mapping[int, complex], size: int) -> np.ndarray:
    """One period of ``Re(sum_k c_k exp(2j*pi*k*x))`` at ``x = j/size``, float32.

    Built by one inverse FFT of the sparse spectrum, in float32 (tables are looked up in
    float32, :class:`PhaseIndex`). Orders are integers with
    ``|k| < size/2``; a negative order is the same as ``conj(c)`` at ``-k``.
    """
    spectrum = np.zeros(size // 2 + 1, np.complex64)
    for k, c in coefficients.items():
        if k > 0:
            spectrum[k] += c / 2
        elif k < 0:
            spectrum[-k] += np.conj(c) / 2
        else:
            spectrum[0] += complex(c).real
    return fft.irfft(spectrum, size, norm="forward")


class PhaseIndex:
    """Positions of a cyclic phase in a table of one period of ``size`` points.

    A periodic function of the phase is then evaluated at every sample with one
    gather and a multiply-add, whatever its harmonic content, instead of
    transcendental functions or complex arithmetic over the whole signal.

    Parameters
    ----------
    cycles : ndarray, float32, within [0, 1]
        Phase as a fraction of a period (:meth:`ShaftMotion.cycles`).
    size : int
        Table length, a power of two (see :func:`table_size`): ``cycles * size``
        is then exact in float32.
    work : (ndarray, ndarray, ndarray), optional
        Scratch rows (float64, shaped like ``cycles``) for the offsets, the
        indices and the lookups' gathers (the last may be shared between indices
        that are not used concurrently).
    """

    def __init__(self, cycles: np.ndarray, size: int, *,
                 work: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        self.size = int(size)
        fraction, index, gathered = work or (np.empty(cycles.shape), np.empty(cycles.shape),
                                             np.empty(cycles.shape))
        n = cycles.size
        position = np.multiply(cycles, np.float32(self.size), out=fraction.view(np.float32)[:n])
        whole = np.floor(position, out=gathered.view(np.float32)[:n])
        self.index = index.view(np.int64)[:n]
        np.copyto(self.index, whole, casting="unsafe")  # table point at or below, 0..size
        self.fraction = np.subtract(position, whole, out=position)  # offset from that point, in steps, [0, 1)
        self._gathered = gathered.view(np.complex64)[:n]

    def lookup(self, table: np.ndarray) -> np.ndarray:
        """Values of the periodic function tabulated in ``table`` (shape (size,)) at every sample.

        Linear interpolation between table points (error below ``(pi*k/size)**2/2`` of a
        harmonic ``k``'s amplitude). Table point and step to the next are gathered together
        (interleaved as one complex64).

        Returns
        -------
        ndarray, float32, same shape as the phase.
        """
        pairs = np.empty(self.size + 1, np.complex64)
        pairs.real[:-1] = table
        pairs.real[-1] = table[0]  # a phase of exactly one period
        pairs.imag[:-1] = np.diff(pairs.real)
        pairs.imag[-1] = 0
        # Indices lie within 0..size, so "wrap" never wraps: it only skips the bounds check of "raise".
        gathered = np.take(pairs, self.index, out=self._gathered, mode="wrap")
        out = np.multiply(gathered.imag, self.fraction)
        out += gathered.real
        return out


class ShaftMotion:
    """Kinematics of the driving shaft over one clip.

    The shaft turns at ``shaft_hz * (1 + d(t))`` where ``d`` is a slow speed
    fluctuation. The slow part of the angle (the "wander", in revolutions) is
    kept on a coarse grid of one value every ``step`` samples and interpolated
    linearly. Periodic functions of the angle are looked up in a table of one
    period (:meth:`order_sum`, :meth:`angle`) from the phase wrapped to one
    period (:meth:`cycles`): the wrapping is done in float64 (the angle reaches
    thousands of revolutions, where float32 would lose ~1e-4 rev), what follows
    in float32 (a wrapped phase is exact to ~6e-8 of a period).

    Attributes
    ----------
    shaft_hz : float
        Mean shaft rotation frequency (Hz).
    sample_rate : int
        Hz.
    """

    def __init__(self, *, wander: np.ndarray, step: int, n_samples: int, shaft_hz: float, sample_rate: int):
        self._wander = wander
        self._step = step
        self._fraction = np.arange(step) / step
        self.shaft_hz = float(shaft_hz)
        self.sample_rate = int(sample_rate)
        self.n = int(n_samples)
        # revs and the clip's scratch arrays are rows of one block, allocated once (rows never used are
        # never touched). After the first clip frees it, glibc serves blocks of this size from its heap
        # and keeps their pages mapped, so later clips do not pay a page fault per fresh 4 KiB.
        blocks = wander.size - 1
        self._block = np.empty((SCRATCH_ROWS, blocks, step))
        self._used = 0
        # Sample k*step + j is at revs start[k] + j * rate[k] (the wander is linear within a block).
        self._start = wander[:-1] + shaft_hz * step / sample_rate * np.arange(blocks)
        self._rate = np.diff(wander) / step + shaft_hz / sample_rate
        self._revs: np.ndarray | None = None
        self._cycles: dict[float, np.ndarray] = {}
        self._indices: dict[tuple[float, int], PhaseIndex] = {}
        self._gathered: np.ndarray | None = None
        self._cache: dict[float, np.ndarray] = {}

    def gaussian(self, rng: np.random.Generator) -> np.ndarray:
        """:func:`gaussian` noise of ``n`` samples (float32) in a scratch row, valid as long as this motion."""
        return gaussian(rng, self.n, work=self._row(np.float64).view(np.float32))

    def scratch(self, dtype: type = np.float64) -> np.ndarray:
        """An uninitialised array of ``n`` samples (float64 or float32), valid as long as this motion."""
        return self._row(dtype)[:self.n]

    def _row(self, dtype: type) -> np.ndarray:
        """A fresh scratch row of ``blocks * step`` values of ``dtype`` (whole blocks, >= n)."""
        size = self._rate.size * self._step
        if self._used < SCRATCH_ROWS:
            self._used += 1
            return self._block[self._used - 1].reshape(-1).view(dtype)[:size]
        return np.empty(size, dtype)

    @property
    def revs(self) -> np.ndarray:
        """Shaft revolutions since the clip start (angle / 2 pi), shape (n,), float64 (cached; do not modify)."""
        if self._revs is None:
            # Computed along k (long loops) and transposed into place.
            revs = np.multiply.outer(np.arange(self._step), self._rate)
            revs += self._start
            row = self._row(np.float64)
            row.reshape(self._rate.size, self._step)[...] = revs.T
            self._revs = row[:self.n]
        return self._revs

    @property
    def total_revs(self) -> float:
        """Revolutions at the last sample (``revs[-1]``)."""
        last = (self.n - 1) // self._step
        return float(self._start[last] + (self.n - 1 - last * self._step) * self._rate[last])

    def sample_times(self, positions_revs: np.ndarray) -> np.ndarray:
        """Fractional sample numbers at which the shaft reaches ``positions_revs`` (within [0, total_revs]).

        Exact inverse of the angle, which is linear within each block of ``step`` samples.
        """
        block = np.clip(np.searchsorted(self._start, positions_revs, side="right") - 1, 0, self._start.size - 1)
        return block * self._step + (positions_revs - self._start[block]) / self._rate[block]

    def cycles(self, period_revs: float = 1.0) -> np.ndarray:
        """Shaft angle wrapped to one period of ``period_revs`` revolutions, in periods.

        Block starts are wrapped in float64; the steps within a block (a few periods at most)
        are added in float32 and wrapped again.

        Returns
        -------
        ndarray, shape (n,), float32, within [0, 1] (cached; do not modify in place)
        """
        key = float(period_revs)
        if key not in self._cycles:
            start = self._start / key
            start -= np.floor(start)
            within = np.multiply.outer(np.arange(self._step, dtype=np.float32), (self._rate / key).astype(np.float32))
            within += start.astype(np.float32)
            row = self._row(np.float32)
            row.reshape(self._rate.size, self._step)[...] = within.T
            row -= np.floor(row, out=within.reshape(-1))
            self._cycles[key] = row[:self.n]
        return self._cycles[key]

    def angle(self, period_revs: float = 1.0, size: int = MIN_TABLE_SIZE) -> PhaseIndex:
        """:class:`PhaseIndex` of the shaft angle, for functions of period ``period_revs`` revolutions.

        Cached; its arrays are scratch rows, and all indices share one gather row.
        """
        key = (float(period_revs), int(size))
        if key not in self._indices:
            if self._gathered is None:
                self._gathered = self.scratch()
            self._indices[key] = PhaseIndex(self.cycles(key[0]), key[1],
                                            work=(self.scratch(), self.scratch(), self._gathered))
        return self._indices[key]

    def order_sum(self, coefficients: Mapping[float, complex]) -> np.ndarray:
        """Real part of ``sum_k c_k exp(2j*pi*k*revs)`` for shaft orders ``k``, multiples of 1/2.

        Looked up in one table (:func:`harmonic_table`) per call; zero entries are skipped.

        Returns
        -------
        ndarray, shape (n,), float32
        """
        kept = {o: c for o, c in coefficients.items() if c != 0}
        if not kept:
            return np.zeros(self.n, np.float32)
        period = 1 if all(float(o).is_integer() for o in kept) else 2
        orders = {round(period * o): c for o, c in kept.items()}
        size = table_size(max(orders))
        return self.angle(period, size).lookup(harmonic_table(orders, size))

    def phasor(self, order: float) -> np.ndarray:
        """``exp(2j*pi*order*revs)``, shape (n,), complex128 (cached; do not modify in place).

        With ``S`` the coarse wander phasor and ``C``, ``F`` the coarse and fine
        parts of the mean-speed tone, sample ``k*step + j`` is
        ``(S_k + (S_k+1 - S_k) j/step) C_k F_j``: two outer products.
        """
        order = float(order)
        if order not in self._cache:
            step = self._step
            w = 2 * np.pi * order * self.shaft_hz / self.sample_rate
            spin = np.exp(2j * np.pi * order * self._wander)
            coarse = np.exp(1j * w * step * np.arange(spin.size - 1))
            fine = np.exp(1j * w * np.arange(step))
            out = np.multiply.outer(spin[:-1] * coarse, fine)
            out += np.multiply.outer(np.diff(spin) * coarse, fine * self._fraction)
            self._cache[order] = out.ravel()[:self.n]
        return self._cache[order]

    @property
    def one(self) -> np.ndarray:
        """1x phasor ``exp(2j*pi*revs)``."""
        return self.phasor(1.0)

    @property
    def half(self) -> np.ndarray:
        """Half-order phasor ``exp(1j*pi*revs)``; its square is the 1x phasor."""
        return self.phasor(0.5)


def shaft_motion(params: Mapping[str, Any], *, n_samples: int, sample_rate: int) -> ShaftMotion:
    """Shaft revolutions with slow speed fluctuation.

    The instantaneous speed is ``shaft_hz * (1 + d(t))`` where ``d`` is the sum of
    two sinusoids (at ``speed_fluctuation_hz`` and 2.3 times it) whose combined
    peak deviation is ``speed_fluctuation_pct`` percent; its integral is
    analytic. The slow part is evaluated on a coarse grid (at least ~400 points
    per fluctuation period) and interpolated linearly (error ~1e-7 rev).

    Parameters
    ----------
    params : mapping
        ``shaft_hz``, ``speed_fluctuation_pct``, ``speed_fluctuation_hz``,
        ``speed_fluctuation_phase_rad`` (list of two phases).
    n_samples, sample_rate : int

    Returns
    -------
    ShaftMotion
    """
    f0 = float(params["shaft_hz"])
    depth = float(params["speed_fluctuation_pct"]) / 100
    nu = float(params["speed_fluctuation_hz"])
    phases = params["speed_fluctuation_phase_rad"]
    step = int(np.clip(sample_rate / (400 * 2.3 * max(nu, 1e-9)), 1, 16))
    n_blocks = -(-n_samples // step)
    # Weights 2/3 and 1/3: a combined peak deviation of `depth`; each term is a (cos(phase) - cos(w t + phase)) / w.
    terms = [(f0 * depth * weight / (2 * np.pi * nu * ratio), nu * ratio, phase)
             for weight, ratio, phase in ((2 / 3, 1.0, phases[0]), (1 / 3, 2.3, phases[1]))]
    wander = tones([(f, -a * np.exp(1j * phase)) for a, f, phase in terms], n_blocks + 1, sample_rate / step)
    wander += sum(a * np.cos(phase) for a, _, phase in terms)
    return ShaftMotion(wander=wander, step=step, n_samples=n_samples, shaft_hz=f0, sample_rate=sample_rate)


def harmonic_sum(base: np.ndarray, coefficients: Mapping[int, complex]) -> np.ndarray:
    """Real part of ``sum_k c_k * base**k`` for the orders ``k >= 1`` given.

    Evaluated by Horner's rule in place (two passes over the data per order).

    Parameters
    ----------
    base : ndarray, complex128, unit modulus
        A phasor (e.g. :attr:`ShaftMotion.one`).
    coefficients : mapping int -> complex
        Order -> complex amplitude (``A * exp(1j*phase)``); zero entries are skipped.

    Returns
    -------
    ndarray, float64, same shape as ``base``.
    """
    orders = [k for k, c in coefficients.items() if c != 0]
    if not orders:
        return np.zeros(base.shape)
    top = max(orders)
    acc = np.full(base.shape, complex(coefficients[top]))
    for k in range(top - 1, 0, -1):
        acc *= base
        c = coefficients.get(k, 0)
        if c != 0:
            acc += c
    acc *= base
    return acc.real.copy()


def gaussian(rng: np.random.Generator, n_samples: int, work: np.ndarray | None = None) -> np.ndarray:
    """Standard normal samples by the Box-Muller transform in float32.

    ``sqrt(-2 ln u1) * (sin, cos)(2 pi u2)`` of float32 uniforms: about four times faster
    than ``rng.standard_normal`` (float32 ``log``, ``cos`` and ``sin`` are vectorised). The
    uniforms' 2**-24 resolution limits ``|x|`` to 5.8 (a standard normal exceeds that once
    in 1.5e8 samples); the pairs are independent, so the noise is white. Deterministic for a
    given ``rng`` state.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_samples : int
    work : ndarray, float32, optional
        At least ``3 * ceil(n_samples / 2)`` values to compute in (the result is a view of it).

    Returns
    -------
    ndarray, shape (n_samples,), float32
    """
    half = (n_samples + 1) // 2
    if work is None:
        work = np.empty(3 * half, np.float32)
    uniform = rng.random(out=work[:2 * half], dtype=np.float32)
    radius, angle, sine = uniform[:half], uniform[half:], work[2 * half:3 * half]
    np.subtract(np.float32(1), radius, out=radius)  # (0, 1]: the logarithm stays finite
    np.log(radius, out=radius)
    radius *= np.float32(-2)
    np.sqrt(radius, out=radius)
    angle *= np.float32(2 * np.pi)
    np.sin(angle, out=sine)
    np.cos(angle, out=angle)
    angle *= radius
    np.multiply(sine, radius, out=radius)
    return uniform[:n_samples]


def standard_deviation(x: np.ndarray) -> float:
    """Standard deviation of ``x`` (1-d) from two reductions, without a centred copy.

    The sum of squares is an ``einsum`` (numpy's own loop: unlike a BLAS dot product,
    its summation order does not depend on the number of threads).
    """
    mean = float(np.sum(x, dtype=np.float64)) / x.size
    return float(np.sqrt(max(float(np.einsum("i,i->", x, x)) / x.size - mean * mean, 0.0)))


def resonance_coefficients(resonance_hz: float, damping_ratio: float, sample_rate: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """IIR coefficients of a unit-peak decaying resonance.

    The impulse response is ``exp(-zeta*w_n*t) * sin(w_d*t)`` sampled at
    ``sample_rate`` (w_n = 2 pi resonance_hz, w_d = w_n sqrt(1 - zeta^2)): a unit
    impulse yields a ringing of peak ~1 (slightly below 1 for heavy damping).

    Returns
    -------
    b, a : ndarray
        For :func:`scipy.signal.lfilter`.
    """
    if not (0 < damping_ratio < 1):
        raise FaultsynthError(f"damping_ratio must be within (0, 1), got {damping_ratio!r}")
    wn = 2 * np.pi * resonance_hz / sample_rate
    wd = wn * np.sqrt(1 - damping_ratio ** 2)
    r = np.exp(-damping_ratio * wn)
    return np.array([0.0, r * np.sin(wd)]), np.array([1.0, -2 * r * np.cos(wd), r * r])


def structure_filter(params: Mapping[str, Any], sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Transfer path from an impact to the sensor: two structural resonances in parallel.

    Uses ``resonance_hz``, ``damping_ratio``, ``resonance2_ratio`` (second
    resonance as a fraction of the first) and ``resonance2_gain``.

    Returns
    -------
    b, a : ndarray
        One 4th-order IIR filter (sum of the two resonances).
    """
    b1, a1 = resonance_coefficients(float(params["resonance_hz"]), float(params["damping_ratio"]), sample_rate)
    b2, a2 = resonance_coefficients(float(params["resonance_hz"]) * float(params["resonance2_ratio"]),
                                    float(params["damping_ratio"]), sample_rate)
    b = np.polyadd(np.polymul(b1, a2), float(params["resonance2_gain"]) * np.polymul(b2, a1))
    return b, np.polymul(a1, a2)


def ring(x: np.ndarray, params: Mapping[str, Any], sample_rate: int) -> np.ndarray:
    """Pass ``x`` (impulses or noise, float32 or float64) through the structural resonances
    (:func:`structure_filter`), in float64 (the resonances' poles lie close to the unit circle).

    Returns
    -------
    ndarray, shape like ``x``, float64
    """
    b, a = structure_filter(params, sample_rate)
    # Converted first: lfilter on float32 input with float64 coefficients takes a path twice as slow.
    return lfilter(b, a, np.asarray(x, dtype=np.float64))


def event_revs(total_revs: float, *, events_per_rev: float, slip_pct: float, offset: float,
               rng: np.random.Generator) -> np.ndarray:
    """Shaft revolutions at which periodic impacts happen, with random slip.

    Impacts happen nominally every ``1/events_per_rev`` revolutions; each one is
    displaced independently by a Gaussian jitter of standard deviation
    ``slip_pct`` percent of that period (rolling elements slip, so real impact
    trains are not exactly periodic). The mean rate stays exactly
    ``events_per_rev`` per revolution.

    Parameters
    ----------
    total_revs : float
        Revolutions covered by the clip.
    events_per_rev : float
        Impacts per shaft revolution (e.g. BPFO / shaft rate).
    slip_pct : float
        Jitter, percent of the impact period.
    offset : float
        Position of the first impact, as a fraction of the period (0..1).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_events,), float64, sorted, within [0, total_revs).
    """
    period = 1.0 / events_per_rev
    count = int(np.ceil(total_revs * events_per_rev)) + 1
    positions = (np.arange(count) + offset) * period
    positions += rng.standard_normal(count) * (slip_pct / 100) * period
    positions = np.sort(positions)
    return positions[(positions >= 0) & (positions < total_revs)]


def impulses(motion: ShaftMotion, positions_revs: np.ndarray, amplitudes: np.ndarray | float) -> np.ndarray:
    """Unit-sample impulses at the instants the shaft reaches ``positions_revs``.

    Parameters
    ----------
    motion : ShaftMotion
    positions_revs : ndarray, shape (m,)
        Sorted shaft positions in revolutions.
    amplitudes : ndarray, shape (m,), or float
        Impulse heights (g once rung through a unit-peak resonance).

    Returns
    -------
    ndarray, shape (motion.n,), float64 (memory of ``motion``'s scratch block)
    """
    index = np.clip(np.rint(motion.sample_times(positions_revs)).astype(np.int64), 0, motion.n - 1)
    train = motion.scratch()
    train.fill(0.0)
    np.add.at(train, index, np.broadcast_to(amplitudes, index.shape))
    return train


def load_zone(angle_rad: np.ndarray, *, half_angle_deg: float, unloaded_fraction: float) -> np.ndarray:
    """Radial load factor of a rolling element at angle ``angle_rad`` from the load centre.

    Inside the load zone (``|angle| < half_angle``) the factor follows the
    Stribeck-like profile ``(1 - (1 - cos a)/(1 - cos a_l)) ** 1.5`` scaled to
    [unloaded_fraction, 1]; outside it is ``unloaded_fraction``.

    Returns
    -------
    ndarray, float64, in [unloaded_fraction, 1].
    """
    limit = np.deg2rad(half_angle_deg)
    a = np.asarray(angle_rad, dtype=float)
    a = a - 2 * np.pi * np.rint(a / (2 * np.pi))  # wrapped to [-pi, pi]
    q = np.clip(1 - (1 - np.cos(a)) / (1 - np.cos(limit)), 0, 1) ** 1.5
    return unloaded_fraction + (1 - unloaded_fraction) * q
