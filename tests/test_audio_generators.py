"""Physics checks of the machine-sound generators (fan, pump, valve, slider, toy car, conveyor)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from errors import FaultsynthError

SR = 16000

#: machine -> (fixed parameters for a clean tone, tone name, expected frequency (Hz) from the parameters).
TONES = {
    "fan": ({"rpm": 1500.0, "blades": 7, "tonal_level_db": 3.0, "speed_jitter": 0.0005},
            "blade-pass", lambda p: p["blades"] * p["rpm"] / 60),
    "pump": ({"rpm": 2900.0, "vanes": 6, "vane_pass_level_db": 0.0, "speed_jitter": 0.0005},
             "vane-pass", lambda p: p["vanes"] * p["rpm"] / 60),
    "toycar": ({"motor_rpm": 9000.0, "pinion_teeth": 10, "mesh_level_db": 0.0, "speed_jitter": 0.0005},
               "gear mesh", lambda p: p["pinion_teeth"] * p["motor_rpm"] / 60),
    "toyconveyor": ({"motor_rpm": 6000.0, "pinion_teeth": 12, "mesh_level_db": 0.0, "speed_jitter": 0.0005},
                    "gear mesh", lambda p: p["pinion_teeth"] * p["motor_rpm"] / 60),
}

#: machine -> fixed parameters that put its characteristic frequency above 500 Hz (for a 1 kHz-rate test).
ABOVE_500HZ = {
    "fan": {"rpm": 3000.0, "blades": 12},
    "pump": {"rpm": 3600.0, "vanes": 10},
    "toycar": {"motor_rpm": 15000.0, "pinion_teeth": 12},
    "toyconveyor": {"motor_rpm": 9000.0, "pinion_teeth": 12},
    "slider": {"motor_whine_hz": 3000.0},
    "valve": {"click_mode_hz": 3000.0},
}

MACHINES = ["fan", "pump", "valve", "slider", "toycar", "toyconveyor"]


def machine(name):
    module = importlib.import_module(f"generators.{name}")
    return getattr(module, name.upper())


def render(name, *, fault="none", severity=0.0, fixed=None, duration_s=3.0, seed=0, sample_rate=SR):
    m = machine(name)
    rng = np.random.default_rng(seed)
    params = m.sample_params(rng, fault=fault, severity=severity, fixed=fixed or {})
    return params, m.render(params, duration_s=duration_s, sample_rate=sample_rate, rng=rng)


@pytest.mark.parametrize("name", MACHINES)
def test_protocol_attributes(name):
    m = machine(name)
    assert m.name == name and m.kind == "audio" and m.default_sample_rate == 16000
    for fault, spec in m.faults.items():
        assert spec.name == fault and spec.parameters, f"{fault}: severity mapping undocumented"
    assert "level_rms" in {p.name for p in m.declarations}


@pytest.mark.parametrize("name", sorted(TONES))
def test_characteristic_peak_where_theory_puts_it(name):
    fixed, label, expected = TONES[name]
    params, parts = render(name, fixed=fixed, duration_s=4.0)
    f0 = expected(params)
    f, p = welch(parts.machine, SR, nperseg=2**15)
    band = (f > 0.8 * f0) & (f < 1.2 * f0)
    peak = f[band][np.argmax(p[band])]
    assert abs(peak - f0) / f0 < 0.01, f"{label} peak at {peak:.1f} Hz, theory {f0:.1f} Hz"
    # and it is a tone: well above the median level of the band around it
    assert p[band].max() > 10 * np.median(p[band])


@pytest.mark.parametrize("name", MACHINES)
def test_fault_energy_grows_with_severity(name):
    m = machine(name)
    for fault in m.faults:
        for seed in (1, 2):
            energies = []
            for severity in (0.0, 0.25, 0.5, 0.75, 1.0):
                _, parts = render(name, fault=fault, severity=severity, seed=seed, duration_s=3.0)
                energies.append(float(np.sum(parts.fault**2)))
                assert np.max(np.abs(parts.machine + parts.fault)) < 1.0, f"{fault}@{severity} clips"
            normal = float(np.sum(parts.machine**2))
            if m.faults[fault].time_localised:  # compare with the machine where the fault happens
                normal = float(np.sum(parts.machine[_inside_events(parts)] ** 2))
            assert energies[0] <= 1e-12 * normal, f"{fault}: severity 0 should render the normal machine"
            assert all(b > a for a, b in zip(energies, energies[1:])), f"{fault}: {energies}"
            # severity 1 is clearly audible: at least -20 dB re the machine
            assert energies[-1] > 0.01 * normal, f"{fault}: {energies[-1] / normal:.2g} of machine energy"


@pytest.mark.parametrize("name", MACHINES)
def test_deterministic_and_seed_dependent(name):
    fault = next(iter(machine(name).faults))
    _, a = render(name, fault=fault, severity=0.5, seed=7, duration_s=1.0)
    _, b = render(name, fault=fault, severity=0.5, seed=7, duration_s=1.0)
    _, c = render(name, fault=fault, severity=0.5, seed=8, duration_s=1.0)
    assert np.array_equal(a.machine, b.machine) and np.array_equal(a.fault, b.fault)
    assert a.events == b.events
    assert not np.allclose(a.machine, c.machine)


@pytest.mark.parametrize("name", MACHINES)
def test_level_is_sane(name):
    params, parts = render(name, seed=3, duration_s=2.0)
    rms = np.sqrt(np.mean(parts.machine**2))
    assert 0.01 < rms <= params["level_rms"] * 1.0001
    assert np.max(np.abs(parts.machine)) < 1.0
    assert not np.any(parts.fault)


@pytest.mark.parametrize("name", MACHINES)
def test_unknown_fault_is_rejected(name):
    m = machine(name)
    with pytest.raises(FaultsynthError, match="unknown fault"):
        m.sample_params(np.random.default_rng(0), fault="melted", severity=0.5, fixed={})
    with pytest.raises(FaultsynthError, match="severity"):
        m.sample_params(np.random.default_rng(0), fault=next(iter(m.faults)), severity=1.5, fixed={})


@pytest.mark.parametrize("name", MACHINES)
def test_frequency_above_nyquist_is_rejected(name):
    with pytest.raises(FaultsynthError, match="Nyquist"):
        render(name, fixed=ABOVE_500HZ[name], sample_rate=1000, duration_s=0.5)


@pytest.mark.parametrize("name", MACHINES)
def test_fixed_parameters_are_used_and_others_unchanged(name):
    m = machine(name)
    free = m.sample_params(np.random.default_rng(5), fault="none", severity=0.0, fixed={})
    first = m.declarations[0].name
    value = free[first]
    fixed = m.sample_params(np.random.default_rng(5), fault="none", severity=0.0, fixed={first: value})
    assert fixed == free
    other = m.sample_params(np.random.default_rng(6), fault="none", severity=0.0, fixed={first: value})
    assert other[first] == value


def _inside_events(parts, sample_rate=SR):
    inside = np.zeros(parts.fault.size, dtype=bool)
    for e in parts.events:
        inside[int(e.onset_s * sample_rate): int(np.ceil(e.offset_s * sample_rate))] = True
    return inside


def _event_energy_fraction(parts, sample_rate=SR):
    inside = _inside_events(parts, sample_rate)
    energy = parts.fault**2
    return energy[inside].sum() / energy.sum(), inside.mean()


TIME_LOCALISED = [("valve", "contamination"), ("valve", "timing_change"), ("slider", "rail_damage"),
                  ("toyconveyor", "attached_object")]


def test_time_localised_faults_are_declared():
    declared = {(name, fault) for name in MACHINES for fault, spec in machine(name).faults.items()
                if spec.time_localised}
    assert declared == set(TIME_LOCALISED)


@pytest.mark.parametrize("name, fault", TIME_LOCALISED)
def test_events_inside_clip_and_where_the_fault_energy_is(name, fault):
    duration_s = 6.0
    params, parts = render(name, fault=fault, severity=0.8, seed=4, duration_s=duration_s)
    assert parts.events, "a severe time-localised fault must happen in a 6 s clip"
    for e in parts.events:
        assert 0.0 <= e.onset_s < e.offset_s <= duration_s and e.fault == fault
    fraction, coverage = _event_energy_fraction(parts)
    assert fraction > 0.95, f"only {fraction:.2f} of the fault energy inside the events"
    assert coverage < 0.8, "events should be localised, not cover the clip"


def test_valve_clicks_repeat_with_the_pattern_period():
    params, parts = render("valve", duration_s=8.0, seed=2, fixed={"cycle_s": 1.6})
    x = sosfiltfilt(butter(4, 1500, "highpass", fs=SR, output="sos"), parts.machine)  # clicks, not system hum
    env = np.convolve(x**2, np.ones(80) / 80, mode="same")
    ac = np.correlate(env[::40] - env[::40].mean(), env[::40] - env[::40].mean(), mode="full")[env[::40].size - 1:]
    lag = np.argmax(ac[int(1.2 * SR / 40): int(2.0 * SR / 40)]) + int(1.2 * SR / 40)
    assert abs(lag * 40 / SR - 1.6) < 0.02


def test_fan_voltage_change_shifts_blade_pass_by_the_documented_fraction():
    fixed = dict(TONES["fan"][0], voltage_sign=-1.0)
    params, parts = render("fan", fault="voltage_change", severity=1.0, fixed=fixed, duration_s=4.0)
    f, p = welch(parts.machine + parts.fault, SR, nperseg=2**15)
    f0 = params["blades"] * params["rpm"] / 60 * (1 + params["speed_change_fraction"])
    assert params["speed_change_fraction"] == pytest.approx(-0.2)
    band = (f > 0.9 * f0) & (f < 1.1 * f0)
    assert abs(f[band][np.argmax(p[band])] - f0) / f0 < 0.01


def test_fan_unbalance_modulates_at_shaft_rate():
    fixed = dict(TONES["fan"][0])
    params, parts = render("fan", fault="unbalance", severity=1.0, fixed=fixed, duration_s=4.0)
    shaft = params["rpm"] / 60
    # the sound above the 1x/2x tones is amplitude-modulated at the shaft rate
    from scipy.signal import butter, sosfiltfilt
    x = sosfiltfilt(butter(4, 6 * shaft, "highpass", fs=SR, output="sos"), parts.machine + parts.fault)
    env = np.abs(x) ** 2
    f, p = welch(env - env.mean(), SR, nperseg=2**15)
    band = (f > 5) & (f < 3 * shaft)
    assert abs(f[band][np.argmax(p[band])] - shaft) / shaft < 0.02


def test_pump_cavitation_adds_high_frequency_bursts():
    _, parts = render("pump", fault="cavitation", severity=1.0, seed=3, duration_s=3.0)
    f, pf = welch(parts.fault, SR, nperseg=1024)
    _, pm = welch(parts.machine, SR, nperseg=1024)
    hf = f > 3000
    # the fault's share of power is larger at high frequencies than at low ones
    assert pf[hf].sum() / pm[hf].sum() > 3 * pf[~hf].sum() / pm[~hf].sum()
    # bursty: high kurtosis of the fault signal
    y = parts.fault
    assert np.mean(y**4) / np.mean(y**2) ** 2 > 6


def test_conveyor_attached_object_bumps_once_per_belt_cycle():
    params, parts = render("toyconveyor", fault="attached_object", severity=1.0, seed=1, duration_s=6.0)
    onsets = np.array([e.onset_s for e in parts.events])
    period = params["belt_cycle_s"]
    assert len(onsets) >= 2
    d = np.diff(onsets)
    assert np.allclose(d, period, rtol=0.03), (d, period)


@pytest.mark.parametrize("fixed, message", [({"rpm": -1500.0}, "positive"), ({"blades": 2.5}, "whole number"),
                                            ({"voltage_sign": 3}, "one of"), ({"rpm": "fast"}, "number")])
def test_bad_fixed_parameters_are_rejected(fixed, message):
    with pytest.raises(FaultsynthError, match=message):
        machine("fan").sample_params(np.random.default_rng(0), fault="none", severity=0.0, fixed=fixed)


@pytest.mark.parametrize("name", MACHINES)
def test_render_clip_through_the_registry(name):
    from generators.registry import render_clip

    fault = next(iter(machine(name).faults))
    clip = render_clip(name, fault=fault, severity=0.9, duration_s=2.0, sample_rate=SR, seed=11,
                       fixed={"snr_db": 10.0, "noise_color": "pink"})
    assert clip.params["machine"] == name and clip.params["fault"] == fault
    np.testing.assert_allclose(clip.signal, clip.machine + clip.fault + clip.noise)
    clean = clip.machine + clip.fault
    snr = 10 * np.log10(np.sum(clean**2) / np.sum(clip.noise**2))
    assert snr == pytest.approx(10.0, abs=1e-6)
    if machine(name).faults[fault].time_localised:
        assert clip.events and all(e.fault == fault for e in clip.events)


def test_slider_each_move_covers_one_stroke():
    from generators.slider import speed_profile

    cycle_s, sr = 2.0, 20000
    t = np.arange(int(cycle_s * sr)) / sr
    v = speed_profile(t, cycle_s=cycle_s, dwell_fraction=0.3, accel_fraction=0.25, cycle_phase=0.0)
    half = t.size // 2
    assert np.sum(v[:half]) / sr == pytest.approx(1.0, abs=1e-3)
    assert np.sum(v[half:]) / sr == pytest.approx(-1.0, abs=1e-3)
    assert np.all(v[:half] >= 0) and np.all(v[half:] <= 0)


def test_slider_no_grease_squeals_at_squeal_hz():
    params, parts = render("slider", fault="no_grease", severity=1.0, seed=2, duration_s=4.0,
                           fixed={"squeal_hz": 2500.0})
    f, p = welch(parts.fault, SR, nperseg=8192)
    band = f > 200
    peak = f[band][np.argmax(p[band])]
    assert abs(peak - 2500.0) / 2500.0 < 0.01


def test_pump_leakage_hiss_is_centred_on_the_leak_frequency():
    params, parts = render("pump", fault="leakage", severity=1.0, seed=2, duration_s=3.0,
                           fixed={"leak_centre_hz": 3000.0})
    f, p = welch(parts.fault, SR, nperseg=1024)
    near = (f > 1500.0) & (f < 6000.0)
    assert p[near].sum() > 0.7 * p.sum()


def test_toycar_voltage_change_moves_the_mesh_by_the_documented_fraction():
    fixed = dict(TONES["toycar"][0], voltage_sign=1.0)
    params, parts = render("toycar", fault="voltage_change", severity=0.8, fixed=fixed, duration_s=4.0)
    assert params["speed_change_fraction"] == pytest.approx(0.2)
    f0 = params["pinion_teeth"] * params["motor_rpm"] / 60 * 1.2
    f, p = welch(parts.machine + parts.fault, SR, nperseg=2**15)
    band = (f > 0.93 * f0) & (f < 1.07 * f0)
    assert abs(f[band][np.argmax(p[band])] - f0) / f0 < 0.01


@pytest.mark.parametrize("name", MACHINES)
def test_every_label_parameter_is_documented(name):
    m = machine(name)
    for fault, spec in m.faults.items():
        params = m.sample_params(np.random.default_rng(0), fault=fault, severity=0.5, fixed={})
        documented = {p.name for p in spec.parameters}
        for key in params:
            if key not in ("fault", "severity") and key not in {p.name for p in m.declarations}:
                assert key in documented, f"{name}/{fault}: {key} is not in the FaultSpec mapping"
