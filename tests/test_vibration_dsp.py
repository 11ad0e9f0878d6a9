"""Numerical building blocks of the vibration generators against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from generators.vibration_analysis import amplitude_spectrum, peak_frequency
from generators.vibration_dsp import (event_revs, harmonic_sum, impulses, load_zone, resonance_coefficients,
                                      shaft_motion, tone)
from scipy.signal import lfilter


def test_tone_matches_the_exponential():
    n, fs, f = 10007, 16000, 1234.5
    np.testing.assert_allclose(tone(f, n, fs), np.exp(2j * np.pi * f * np.arange(n) / fs), atol=1e-11)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 48001])
def test_shaft_motion_follows_the_integral_of_the_fluctuating_speed(n):
    fs, f0, depth, nu = 16000, 29.95, 0.004, 1.5
    params = dict(shaft_hz=f0, speed_fluctuation_pct=100 * depth, speed_fluctuation_hz=nu,
                  speed_fluctuation_phase_rad=[0.3, 1.2])
    motion = shaft_motion(params, n_samples=n, sample_rate=fs)
    t = np.arange(n) / fs
    revs = f0 * t
    for weight, ratio, phase in ((2 / 3, 1.0, 0.3), (1 / 3, 2.3, 1.2)):
        w = 2 * np.pi * nu * ratio
        revs += f0 * depth * weight * (np.cos(phase) - np.cos(w * t + phase)) / w
    np.testing.assert_allclose(motion.revs, revs, atol=1e-6)
    np.testing.assert_allclose(motion.one, np.exp(2j * np.pi * revs), atol=1e-5)
    np.testing.assert_allclose(motion.phasor(23), np.exp(2j * np.pi * 23 * revs), atol=1e-4)
    if n > 1000:
        speed = np.diff(revs) * fs / f0 - 1
        assert np.max(np.abs(speed)) == pytest.approx(depth, rel=0.1)


def test_harmonic_sum_matches_the_direct_sum():
    theta = np.linspace(0, 20, 5000)
    base = np.exp(1j * theta)
    coefficients = {1: 0.5 + 0.2j, 3: -0.1j, 7: 0.05}
    direct = sum((c * np.exp(1j * k * theta)).real for k, c in coefficients.items())
    np.testing.assert_allclose(harmonic_sum(base, coefficients), direct, atol=1e-12)


def test_resonance_rings_at_its_frequency_with_unit_peak_and_its_damping():
    fs, f, zeta = 16000, 3000.0, 0.03
    b, a = resonance_coefficients(f, zeta, fs)
    x = np.zeros(4096)
    x[0] = 1
    h = lfilter(b, a, x)
    t = np.arange(h.size) / fs
    wn = 2 * np.pi * f
    np.testing.assert_allclose(h, np.exp(-zeta * wn * t) * np.sin(wn * np.sqrt(1 - zeta ** 2) * t), atol=1e-12)
    freqs, amp = amplitude_spectrum(h, fs)
    assert peak_frequency(freqs, amp, 1000, 7000) == pytest.approx(f * np.sqrt(1 - zeta ** 2), rel=0.01)
    # Envelope decays as exp(-zeta * 2 pi f t).
    t1, t2 = 0.002, 0.006
    e1 = np.max(np.abs(h[int(t1 * fs):int(t1 * fs) + 10]))
    e2 = np.max(np.abs(h[int(t2 * fs):int(t2 * fs) + 10]))
    assert np.log(e1 / e2) == pytest.approx(zeta * 2 * np.pi * f * (t2 - t1), rel=0.1)


def test_event_revs_keep_the_mean_rate_and_jitter_by_the_slip():
    rng = np.random.default_rng(0)
    rate, slip = 3.5848, 1.5
    positions = event_revs(2000.0, events_per_rev=rate, slip_pct=slip, offset=0.0, rng=rng)
    assert positions.size == pytest.approx(2000 * rate, abs=2)
    deviation = (positions * rate - np.rint(positions * rate)) / rate  # from the nominal grid, revolutions
    assert np.std(deviation) == pytest.approx(slip / 100 / rate, rel=0.05)
    assert abs(np.mean(deviation)) < 1e-3 / rate


def test_impulses_land_where_the_shaft_reaches_each_position():
    params = dict(shaft_hz=25.0, speed_fluctuation_pct=0.0, speed_fluctuation_hz=1.0,
                  speed_fluctuation_phase_rad=[0.0, 0.0])
    fs = 10000
    motion = shaft_motion(params, n_samples=fs, sample_rate=fs)
    train = impulses(motion, np.array([0.5, 1.0, 10.0]), np.array([1.0, 2.0, 3.0]))
    assert np.flatnonzero(train).tolist() == [200, 400, 4000]  # 25 rev/s -> 400 samples per revolution
    assert train[[200, 400, 4000]].tolist() == [1.0, 2.0, 3.0]


def test_load_zone_is_one_at_the_centre_and_floor_outside():
    angles = np.deg2rad([0.0, 30.0, 89.0, 120.0, 180.0, 360.0])
    q = load_zone(angles, half_angle_deg=90.0, unloaded_fraction=0.1)
    assert q[0] == pytest.approx(1.0) and q[-1] == pytest.approx(1.0)
    assert 0.1 < q[2] < q[1] < 1.0
    assert q[3] == pytest.approx(0.1) and q[4] == pytest.approx(0.1)


def test_gaussian_noise_is_standard_normal_white_and_deterministic():
    from scipy.stats import kurtosis, skew

    from generators.vibration_dsp import gaussian

    x = gaussian(np.random.default_rng(5), 200001)
    assert x.dtype == np.float32 and x.shape == (200001,)
    np.testing.assert_array_equal(x, gaussian(np.random.default_rng(5), 200001))
    assert abs(x.mean()) < 0.01 and x.std() == pytest.approx(1, abs=0.01)
    assert abs(skew(x)) < 0.03 and abs(kurtosis(x)) < 0.06  # excess kurtosis of a normal: 0
    # 1.96 sigma two-sided: 5 % of a normal's samples
    assert np.mean(np.abs(x) > 1.96) == pytest.approx(0.05, abs=0.002)
    # white: no correlation between neighbours, nor between the two halves of each Box-Muller pair
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(x[:100000] ** 2, x[100001:200001] ** 2)[0, 1]) < 0.01


def test_wrapped_angle_and_table_lookup_match_the_direct_functions():
    from generators.vibration_dsp import cosine, harmonic_table, table_size

    fs, n = 16000, 160000
    params = dict(shaft_hz=59.7, speed_fluctuation_pct=0.3, speed_fluctuation_hz=0.7,
                  speed_fluctuation_phase_rad=[0.3, 1.2])
    motion = shaft_motion(params, n_samples=n, sample_rate=fs)
    revs = motion.revs
    assert motion.total_revs == revs[-1]
    for period in (1.0, 1 / 37, 2.5):
        cycles = motion.cycles(period).astype(float)
        assert cycles.min() >= 0 and cycles.max() < 1
        wrapped = np.abs(cycles - revs / period % 1)
        assert np.minimum(wrapped, 1 - wrapped).max() < 1e-6  # float32 rounding of a few periods within a block
    coefficients = {1: 0.5 + 0.2j, 4: -0.1j, 37: 0.05, 111: 0.02 - 0.01j}
    size = table_size(111)
    looked_up = motion.angle(1.0, size).lookup(harmonic_table(coefficients, size))
    direct = sum((c * np.exp(2j * np.pi * k * revs)).real for k, c in coefficients.items())
    np.testing.assert_allclose(looked_up, direct, atol=2e-5)
    np.testing.assert_allclose(cosine(motion.cycles(1 / 37), 0.3, 0.7), 0.3 * np.cos(2 * np.pi * 37 * revs + 0.7),
                               atol=2e-6)
    positions = np.sort(np.random.default_rng(1).uniform(0, revs[-1], 500))
    times = motion.sample_times(positions)
    np.testing.assert_allclose(times, np.interp(positions, revs, np.arange(n)), atol=1e-6)


def test_band_bins_of_the_half_length_transform_match_the_real_fft():
    from generators.vibration_analysis import _rfft_bins

    for n, bins in ((160000, np.arange(1, 10001)), (160000, np.arange(10, 1001)), (12001, np.arange(3, 751)),
                    (4096, np.arange(1, 2048))):
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        expected = np.fft.rfft(x.astype(float))[bins]
        np.testing.assert_allclose(_rfft_bins(x, bins), expected, atol=2e-6 * np.abs(expected).max())
