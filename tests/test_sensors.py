"""Sensor models: noise floor, bandwidth, range clipping, quantisation, ODR limits, microphone levels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from errors import FaultsynthError
from generators.registry import render_clip
from generators.sensors import ACCELEROMETERS, MICROPHONES, SENSORS, apply_sensor

BUTTERWORTH4_ENBW = 1.0262  # equivalent noise bandwidth of a 4th-order Butterworth low-pass / its -3 dB cutoff


def run(name, x, fs, seed=0):
    params = {}
    y = apply_sensor(name, x, sample_rate=fs, rng=np.random.default_rng(seed), params=params)
    return y, params


def test_ideal_sensor_returns_the_signal_unchanged():
    x = np.random.default_rng(1).standard_normal(1000) * 50  # far beyond any real range
    y, params = run("ideal", x, 16000)
    np.testing.assert_array_equal(y, x)
    assert params == {}


@pytest.mark.parametrize("name, fs", [("adxl345", 3200), ("adxl355", 4000), ("iis3dwb", 26667)])
def test_noise_floor_is_density_times_root_bandwidth(name, fs):
    part = ACCELEROMETERS[name]
    y, params = run(name, np.zeros(8 * fs), fs)
    density = part.noise_density_ug * 1e-6
    cutoff = part.bandwidth_hz(fs)
    if cutoff >= fs / 2:
        expected_sq = density ** 2 * fs / 2
    else:
        expected_sq = density ** 2 * cutoff * BUTTERWORTH4_ENBW
    expected = np.sqrt(expected_sq + part.lsb_g ** 2 / 12)  # plus quantisation noise
    assert np.std(y) == pytest.approx(expected, rel=0.05)
    assert params["sensor_noise_g_rms"] == pytest.approx(density * np.sqrt(min(cutoff, fs / 2)))
    # Flat density in the passband: the one-sided PSD is density**2 (g**2/Hz).
    freqs, psd = welch(y, fs=fs, nperseg=1024)
    passband = (freqs > 0.05 * fs) & (freqs < 0.5 * min(cutoff, fs / 2))
    assert np.sqrt(np.median(psd[passband])) == pytest.approx(density, rel=0.15)


def test_bandwidth_limit_attenuates_above_cutoff():
    fs = 4000  # ADXL355: low-pass at ODR/4 = 1000 Hz
    t = np.arange(2 * fs) / fs
    low, _ = run("adxl355", 0.5 * np.sin(2 * np.pi * 200 * t), fs)
    high, _ = run("adxl355", 0.5 * np.sin(2 * np.pi * 1800 * t), fs)
    assert np.std(low[fs:]) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    assert np.std(high[fs:]) < 0.05 * 0.5 / np.sqrt(2)  # 4th order, ~1.85 octaves above cutoff


@pytest.mark.parametrize("name, fs", [("adxl345", 3200), ("adxl355", 4000), ("iis3dwb", 26667)])
def test_output_clips_at_the_range(name, fs):
    part = ACCELEROMETERS[name]
    t = np.arange(fs) / fs
    x = 3 * part.range_g * np.sin(2 * np.pi * 50 * t)
    y, params = run(name, x, fs)
    assert y.max() <= part.range_g and y.min() >= -part.range_g - part.lsb_g
    assert y.max() >= part.range_g - 2 * part.lsb_g
    assert 0.3 < params["sensor_clipped_fraction"] < 0.9
    # Below the range nothing clips.
    y_small, params_small = run(name, 0.5 * part.range_g * np.sin(2 * np.pi * 50 * t), fs)
    assert params_small["sensor_clipped_fraction"] == 0.0
    assert np.abs(y_small).max() < 0.6 * part.range_g


@pytest.mark.parametrize("name, lsb_g", [("adxl345", 3.9e-3), ("adxl355", 4 * 3.9e-6), ("iis3dwb", 0.488e-3)])
def test_output_is_quantised_to_the_datasheet_step(name, lsb_g):
    part = ACCELEROMETERS[name]
    assert part.lsb_g == pytest.approx(lsb_g, rel=0.01)
    fs = 3200
    t = np.arange(fs) / fs
    y, params = run(name, 0.3 * np.sin(2 * np.pi * 37 * t), fs)
    codes = y / part.lsb_g
    np.testing.assert_allclose(codes, np.rint(codes), atol=1e-6)
    assert params["lsb_g"] == part.lsb_g and params["adc_bits"] == part.adc_bits
    steps = np.diff(np.unique(y))
    assert steps.min() == pytest.approx(part.lsb_g)


@pytest.mark.parametrize("name, fs", [("adxl345", 3201), ("adxl355", 8000), ("iis3dwb", 48000),
                                      ("mp34dt05", 96000)])
def test_sample_rate_above_the_parts_output_data_rate_is_refused(name, fs):
    with pytest.raises(FaultsynthError, match="maximum"):
        run(name, np.zeros(100), fs)


def test_unknown_sensor_lists_the_known_ones():
    with pytest.raises(FaultsynthError, match="adxl355"):
        run("lis3dh", np.zeros(10), 1000)
    assert set(SENSORS) == {"ideal", "adxl345", "adxl355", "iis3dwb", "mp34dt05"}


def sine_pa(db_spl, fs=16000, seconds=1.0, f=1000.0):
    rms = 20e-6 * 10 ** (db_spl / 20)
    t = np.arange(int(fs * seconds)) / fs
    return np.sqrt(2) * rms * np.sin(2 * np.pi * f * t)


def test_microphone_sensitivity_is_minus_26_dbfs_at_94_db_spl():
    y, params = run("mp34dt05", sine_pa(94.0), 16000)
    level_dbfs = 20 * np.log10(np.std(y) * np.sqrt(2))  # re a full-scale sine
    assert level_dbfs == pytest.approx(-26.0, abs=0.05)
    assert params["input_level_db_spl"] == pytest.approx(94.0, abs=0.01)


def test_microphone_noise_floor_is_64_db_below_94_db_spl():
    mic = MICROPHONES["mp34dt05"]
    y, params = run("mp34dt05", np.zeros(32000), 16000)
    step = 2.0 / 2 ** mic.adc_bits
    expected = np.sqrt(mic.noise_fs_rms ** 2 + step ** 2 / 12)
    assert np.std(y) == pytest.approx(expected, rel=0.1)
    assert 20 * np.log10(mic.noise_fs_rms * np.sqrt(2)) == pytest.approx(-26 - 64, abs=0.01)


def test_microphone_clips_at_the_acoustic_overload_point_and_not_below():
    quiet, params = run("mp34dt05", sine_pa(110.0), 16000)
    assert params["sensor_clipped_fraction"] == 0.0
    assert np.abs(quiet).max() < 1.0
    loud, params = run("mp34dt05", sine_pa(MICROPHONES["mp34dt05"].aop_db_spl), 16000)
    assert loud.max() == pytest.approx(1.0, abs=1e-4) and loud.min() == pytest.approx(-1.0, abs=1e-4)
    assert params["sensor_clipped_fraction"] > 0.1
    assert np.all(np.abs(loud) <= 1.0)


def test_render_clip_applies_the_sensor_and_labels_it():
    fixed = {"rpm": 1797, "bearing": "6205", "resonance_hz": 1000.0, "sensor": "adxl345"}
    clip = render_clip("bearing", fault="outer_race", severity=0.5, duration_s=1.0, sample_rate=3200, seed=1,
                       fixed=fixed)
    clean = clip.machine + clip.fault + clip.noise
    assert clip.params["sensor"] == "adxl345" and clip.params["range_g"] == 16.0
    residual = clip.signal - clean
    # What the sensor adds: its noise (and quantisation), nothing systematic.
    expected = np.sqrt(clip.params["sensor_noise_g_rms"] ** 2 + clip.params["lsb_g"] ** 2 / 12)
    assert np.std(residual) == pytest.approx(expected, rel=0.15)
    with pytest.raises(FaultsynthError, match="maximum output data rate"):
        render_clip("bearing", fault="none", severity=0, duration_s=0.1, sample_rate=12000, seed=1,
                    fixed={"sensor": "adxl345"})
