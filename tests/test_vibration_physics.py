"""Vibration physics: characteristic frequencies where theory puts them, severity monotonicity,
determinism, bad input, and agreement with a real CWRU outer-race recording."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from errors import FaultsynthError
from generators import shaft
from generators.bearing import BEARINGS
from generators.registry import render_clip
from generators.rotating import BEARING, GEARBOX
from generators.vibration_analysis import (amplitude_spectrum, band_amplitude, iso10816_zone, peak_frequency,
                                           squared_envelope_spectrum, velocity_rms_mm_s)
from generators.vibration_dsp import STANDARD_GRAVITY, shaft_motion

FS = 12000
SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def clip(fault, severity=0.8, *, machine="bearing", duration_s=4.0, seed=11, sample_rate=FS, **fixed):
    fixed = {"rpm": 1797.0, "bearing": "6205", "snr_db": 30.0, **fixed}
    return render_clip(machine, fault=fault, severity=severity, duration_s=duration_s, sample_rate=sample_rate,
                       seed=seed, fixed=fixed)


def resonance_band(params, sample_rate=FS):
    r = params["resonance_hz"]
    return (0.25 * r, min(1.6 * r, 0.45 * sample_rate))


def envelope(rendered, sample_rate=FS):
    return squared_envelope_spectrum(rendered.signal, sample_rate, band_hz=resonance_band(rendered.params))


def prominence(freqs, amp, frequency_hz, *, tolerance=0.01):
    """Line amplitude near frequency_hz over the median level of the surrounding +/-30 %."""
    near = (np.abs(freqs - frequency_hz) < 0.3 * frequency_hz)
    return band_amplitude(freqs, amp, frequency_hz, tolerance=tolerance) / np.median(amp[near])


def spectrum_line(x, frequency_hz, sample_rate=FS, tolerance=0.01):
    freqs, amp = amplitude_spectrum(x, sample_rate)
    return band_amplitude(freqs, amp, frequency_hz, tolerance=tolerance)


# --- bearing kinematics -------------------------------------------------------------------------

def test_6205_fault_orders_match_the_cwru_values():
    orders = BEARINGS["6205"].orders()
    assert orders["bpfi"] == pytest.approx(5.4152, rel=2e-4)
    assert orders["bpfo"] == pytest.approx(3.5848, rel=2e-4)
    assert orders["ftf"] == pytest.approx(0.39828, rel=2e-4)
    assert 2 * orders["bsf"] == pytest.approx(4.7135, rel=2e-4)


def test_kinematic_identities_hold_for_every_preset():
    for geometry in BEARINGS.values():
        o = geometry.orders()
        assert o["bpfo"] + o["bpfi"] == pytest.approx(geometry.n_balls)  # n f_r in total
        assert o["bpfo"] == pytest.approx(geometry.n_balls * o["ftf"])   # n balls pass at the cage rate
    assert BEARINGS["6203"].orders()["bpfo"] == pytest.approx(4 * (1 - 6.75 / 28.5))


# --- localised bearing faults in the squared-envelope spectrum ----------------------------------

@pytest.mark.parametrize("fault, key", [("outer_race", "bpfo_hz"), ("inner_race", "bpfi_hz")])
def test_race_fault_envelope_peaks_at_its_characteristic_frequency(fault, key):
    r = clip(fault, 0.5)
    freqs, amp = envelope(r)
    target, fr = r.params[key], r.params["shaft_hz"]
    # Within +/- f_r/2: inner-race shaft-rate sidebands can rival the line itself (narrow load zone).
    found = peak_frequency(freqs, amp, target - 0.5 * fr, target + 0.5 * fr)
    assert found == pytest.approx(target, rel=0.01)
    # The healthy machine has no such line.
    healthy = clip("none")
    f0, a0 = envelope(healthy)
    assert prominence(freqs, amp, target) > 5 * prominence(f0, a0, target)


def test_inner_race_has_shaft_rate_sidebands_and_outer_race_has_not():
    inner = clip("inner_race", 0.6, duration_s=6.0)
    outer = clip("outer_race", 0.6, duration_s=6.0)
    fr = inner.params["shaft_hz"]
    fi, ai = envelope(inner)
    fo, ao = envelope(outer)
    for side in (-1, 1):
        f_side = inner.params["bpfi_hz"] + side * fr
        assert prominence(fi, ai, f_side, tolerance=0.005) > 8
    # Load-zone modulation at the shaft rate also shows as a line at f_r itself.
    assert prominence(fi, ai, fr, tolerance=0.01) > 3 * prominence(fo, ao, fr, tolerance=0.01)


def test_ball_fault_shows_bsf_and_cage_rate_modulation():
    # The most impulsive and most load-zone modulated ball of the default ranges (strikes carry 30 % of the
    # energy; the CWRU ball recordings are mostly weaker, see tests/test_cwru_calibration.py).
    r = clip("ball", 0.8, duration_s=10.0, ball_noise_share=0.7, ball_zone_depth=0.7)
    freqs, amp = envelope(r)
    bsf, ftf = r.params["bsf_hz"], r.params["ftf_hz"]
    # Lines at BSF (alternate impacts on the two races), 2xBSF (every impact) and FTF (the ball
    # travels through the load zone with the cage); search within +/- FTF/2 so that the cage-rate
    # sidebands around each line are not mistaken for it. Ball strikes are intermittent and irregular
    # (spin-axis wander), so the lines are weaker than a race fault's, as in the CWRU ball recordings
    # (prominence 2-6 at 2xBSF): more than 3 here.
    for target in (bsf, 2 * bsf, ftf):
        found = peak_frequency(freqs, amp, target - 0.4 * ftf, target + 0.4 * ftf)
        assert found == pytest.approx(target, rel=0.01)
        assert prominence(freqs, amp, target) > 3
    # Cage-rate modulation: sidebands at 2xBSF +/- FTF (weak: the load-zone depth is at most 0.7).
    for side in (-1, 1):
        assert prominence(freqs, amp, 2 * bsf + side * ftf, tolerance=0.003) > 2.5


def test_cage_fault_envelope_peaks_at_ftf():
    r = clip("cage", 1.0, duration_s=10.0)
    freqs, amp = envelope(r)
    ftf = r.params["ftf_hz"]
    assert peak_frequency(freqs, amp, 0.6 * ftf, 1.4 * ftf) == pytest.approx(ftf, rel=0.01)
    assert prominence(freqs, amp, ftf) > 5


def test_wear_is_broadband_and_cyclostationary_at_the_shaft_rate():
    worn = clip("wear", 1.0)
    healthy = clip("none")
    fw, aw = envelope(worn)
    fh, ah = envelope(healthy)
    fr = worn.params["shaft_hz"]
    assert prominence(fw, aw, fr) > 3 * prominence(fh, ah, fr)
    # Broadband: energy rises across the whole resonance band, not at a few lines.
    lo, hi = resonance_band(worn.params)
    freqs, spec = amplitude_spectrum(worn.fault, FS)
    band = (freqs > lo) & (freqs < hi)
    assert np.mean(spec[band] > 0.1 * np.median(spec[band])) > 0.9


def test_characteristic_frequencies_scale_with_speed_and_geometry():
    slow = clip("outer_race", rpm=900.0, bearing="6203")
    fast = clip("outer_race", rpm=2700.0, bearing="6203")
    assert fast.params["bpfo_hz"] == pytest.approx(3 * slow.params["bpfo_hz"])
    for r in (slow, fast):
        freqs, amp = envelope(r)
        target = r.params["bpfo_hz"]
        assert peak_frequency(freqs, amp, 0.6 * target, 1.4 * target) == pytest.approx(target, rel=0.01)


# --- shaft faults ---------------------------------------------------------------------------------

def order_amplitudes(fault, order, severities=SEVERITIES, **fixed):
    out = []
    for s in severities:
        r = clip(fault, s, **fixed)
        out.append(spectrum_line(r.machine + r.fault, order * r.params["shaft_hz"], tolerance=0.005))
    return np.array(out)


def test_imbalance_grows_the_1x_line():
    a1 = order_amplitudes("imbalance", 1)
    assert np.all(np.diff(a1) > 0)
    assert a1[-1] > 5 * a1[0]


def test_misalignment_grows_the_2x_line_more_than_1x():
    a2 = order_amplitudes("misalignment", 2)
    a1 = order_amplitudes("misalignment", 1)
    assert np.all(np.diff(a2) > 0)
    assert a2[-1] / a2[0] > 5
    assert a2[-1] > a1[-1]


def test_looseness_adds_half_orders_and_many_harmonics():
    healthy = clip("none")
    loose = clip("looseness", 1.0)
    fr = loose.params["shaft_hz"]
    h = healthy.machine + healthy.fault
    x = loose.machine + loose.fault
    for order in (0.5, 1.5, 2.5, 5, 8):
        assert spectrum_line(x, order * fr, tolerance=0.005) > 10 * spectrum_line(h, order * fr, tolerance=0.005)
    # One-sided truncation of the shaft motion: flat positive tops, untouched negative peaks.
    params = BEARING.sample_params(np.random.default_rng(0), fault="looseness", severity=1.0, fixed={"rpm": 1797})
    motion = shaft_motion(params, n_samples=FS, sample_rate=FS)
    machine, fault = shaft.render(params, motion=motion, rng=np.random.default_rng(0))
    x = machine + fault
    assert np.mean(x >= x.max() - 1e-12) > 0.02
    assert np.mean(x <= x.min() + 1e-12) < 0.001


def test_bent_shaft_grows_1x_and_2x():
    a1 = order_amplitudes("bent_shaft", 1)
    a2 = order_amplitudes("bent_shaft", 2)
    # The bow's 1x adds to the residual unbalance at an arbitrary phase, so the total 1x may dip
    # at first; from there on it grows, and the 2x grows throughout.
    assert np.all(np.diff(a1[1:]) > 0) and np.all(np.diff(a2) > 0)
    assert a1[-1] > 3 * a1[0] and a2[-1] > 5 * a2[0]
    assert a2[-1] > 0.4 * a1[-1]


def test_rub_adds_subharmonic_and_once_per_revolution_impacts():
    a_half = order_amplitudes("rub", 0.5, severities=(0.0, 0.5, 1.0))
    assert np.all(np.diff(a_half) > 0)
    r = clip("rub", 1.0)
    freqs, amp = envelope(r)
    fr = r.params["shaft_hz"]
    assert peak_frequency(freqs, amp, 0.7 * fr, 1.3 * fr) == pytest.approx(fr, rel=0.01)


# --- gears ---------------------------------------------------------------------------------------

def gear_clip(fault, severity=0.8, **fixed):
    return clip(fault, severity, machine="gearbox", pinion_teeth=23, gear_teeth=61, **fixed)


def sideband_energy(x, centre_hz, spacing_hz, orders):
    return sum(spectrum_line(x, centre_hz + k * spacing_hz, tolerance=0.002) ** 2 for k in orders)


def test_mesh_frequency_is_teeth_times_shaft_rate():
    r = gear_clip("none")
    assert r.params["mesh_hz"] == pytest.approx(23 * 1797 / 60)
    freqs, amp = amplitude_spectrum(r.signal, FS)
    mesh = r.params["mesh_hz"]
    assert peak_frequency(freqs, amp, 0.7 * mesh, 1.3 * mesh) == pytest.approx(mesh, rel=0.01)


def test_tooth_chip_spreads_many_shaft_rate_sidebands():
    quiet = {"bearing_noise_g": 0.005}  # the bearing's broadband noise at its quietest: the gear lines stand out
    healthy, chipped = gear_clip("none", **quiet), gear_clip("tooth_chip", 1.0, **quiet)
    mesh, fr = chipped.params["mesh_hz"], chipped.params["shaft_hz"]
    far = [k for k in range(-8, 9) if abs(k) >= 2]  # beyond the healthy first-order AM sidebands
    h = sideband_energy(healthy.machine + healthy.fault, mesh, fr, far)
    c = sideband_energy(chipped.machine + chipped.fault, mesh, fr, far)
    assert c > 10 * h
    # The sidebands sit at shaft-rate spacing: the line at mesh + 3 f_r beats its neighbourhood.
    freqs, amp = amplitude_spectrum(chipped.machine + chipped.fault, FS)
    assert peak_frequency(freqs, amp, mesh + 2.5 * fr, mesh + 3.5 * fr) == pytest.approx(mesh + 3 * fr, rel=0.005)


def test_gear_wear_raises_mesh_harmonics():
    levels = []
    for s in (0.0, 0.5, 1.0):
        r = gear_clip("gear_wear", s)
        levels.append(spectrum_line(r.machine + r.fault, 2 * r.params["mesh_hz"], tolerance=0.002))
    assert np.all(np.diff(levels) > 0) and levels[-1] > 2 * levels[0]


def test_gear_eccentricity_adds_first_order_sidebands():
    healthy, eccentric = gear_clip("none"), gear_clip("gear_eccentricity", 1.0)
    mesh, fr = eccentric.params["mesh_hz"], eccentric.params["shaft_hz"]
    h = sideband_energy(healthy.machine + healthy.fault, mesh, fr, (-1, 1))
    e = sideband_energy(eccentric.machine + eccentric.fault, mesh, fr, (-1, 1))
    assert e > 10 * h


# --- motor ---------------------------------------------------------------------------------------

def test_broken_rotor_bar_sidebands_at_one_plus_minus_two_slip():
    r = clip("broken_rotor_bar", 1.0, duration_s=10.0, slip=0.04, pole_pairs=2)
    f, s = r.params["supply_hz"], r.params["slip"]
    assert f == pytest.approx(2 * 1797 / 60 / (1 - 0.04))
    x = r.machine + r.fault
    freqs, amp = amplitude_spectrum(x, FS)
    for target in ((1 - 2 * s) * f, (1 + 2 * s) * f):
        assert peak_frequency(freqs, amp, target - s * f, target + s * f) == pytest.approx(target, rel=0.01)
    healthy = clip("none", duration_s=10.0, slip=0.04, pole_pairs=2)
    hx = healthy.machine + healthy.fault
    assert spectrum_line(x, (1 - 2 * s) * f, tolerance=0.003) > 10 * spectrum_line(hx, (1 - 2 * s) * f,
                                                                                    tolerance=0.003)


def test_supply_frequency_fixed_sets_the_slip():
    r = clip("none", supply_hz=60.0)
    assert r.params["pole_pairs"] == 2
    assert r.params["slip"] == pytest.approx(1 - 1797 / 1800)


def test_motor_eccentricity_raises_twice_line_frequency():
    lines = []
    for s in (0.0, 0.5, 1.0):
        r = clip("motor_eccentricity", s)
        lines.append(spectrum_line(r.machine + r.fault, 2 * r.params["supply_hz"], tolerance=0.003))
    assert np.all(np.diff(lines) > 0)
    r = clip("motor_eccentricity", 1.0)
    x = r.machine + r.fault
    side = spectrum_line(x, 2 * r.params["supply_hz"] + r.params["shaft_hz"], tolerance=0.003)
    h = clip("none")
    assert side > 10 * spectrum_line(h.machine, 2 * r.params["supply_hz"] + r.params["shaft_hz"], tolerance=0.003)


# --- every fault: monotonic energy, severity 0 is normal -----------------------------------------

@pytest.mark.parametrize("machine, fault", [(BEARING, f) for f in BEARING.faults]
                         + [(GEARBOX, f) for f in ("tooth_chip", "gear_wear", "gear_eccentricity")])
def test_fault_energy_is_monotonic_in_severity_and_zero_at_zero(machine, fault):
    energies, healthy = [], None
    for s in SEVERITIES:
        params = machine.sample_params(np.random.default_rng(5), fault=fault, severity=s, fixed={"rpm": 1500})
        parts = machine.render(params, duration_s=1.0, sample_rate=16000, rng=np.random.default_rng(6))
        energies.append(float(np.mean(parts.fault ** 2)))
        healthy = parts.machine if healthy is None else healthy
        np.testing.assert_array_equal(parts.machine, healthy)  # severity changes only the fault part
    assert energies[0] <= 1e-12 * np.mean(healthy ** 2)
    assert np.all(np.diff(energies) > 0), energies


def test_healthy_part_does_not_depend_on_the_fault():
    a = clip("none", seed=4)
    for fault in ("outer_race", "imbalance", "broken_rotor_bar"):
        b = clip(fault, 0.7, seed=4)
        np.testing.assert_array_equal(a.machine, b.machine)


# --- calibration: velocity and ISO 10816 ---------------------------------------------------------

def test_velocity_rms_of_a_known_sine():
    fs, f, v_peak = 16000, 50.0, 4.0  # 4 mm/s peak at 50 Hz
    t = np.arange(4 * fs) / fs
    accel_g = v_peak * 1e-3 * 2 * np.pi * f * np.cos(2 * np.pi * f * t) / STANDARD_GRAVITY
    assert velocity_rms_mm_s(accel_g, fs) == pytest.approx(v_peak / np.sqrt(2), rel=1e-3)
    # Outside the 10..1000 Hz band it does not count.
    high = np.cos(2 * np.pi * 3000 * t)
    assert velocity_rms_mm_s(high, fs) < 1e-3 * velocity_rms_mm_s(accel_g, fs)


def test_velocity_label_tracks_severity_and_iso_zone():
    normal = clip("none")
    bad = clip("imbalance", 1.0)
    assert normal.params["iso10816_zone"] in ("A", "B")
    assert bad.params["iso10816_zone"] in ("C", "D")
    assert bad.params["velocity_rms_mm_s"] > normal.params["velocity_rms_mm_s"]
    assert bad.params["velocity_rms_mm_s"] == pytest.approx(velocity_rms_mm_s(bad.machine + bad.fault, FS))
    assert [iso10816_zone(v) for v in (0.5, 1.0, 3.0, 7.0)] == ["A", "B", "C", "D"]


# --- randomisation, determinism, fixing -----------------------------------------------------------

def test_same_seed_same_signal_other_seed_other_signal():
    a = clip("inner_race", 0.5, seed=3)
    b = clip("inner_race", 0.5, seed=3)
    c = clip("inner_race", 0.5, seed=4)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.params == b.params
    assert not np.array_equal(a.signal, c.signal)


def test_nuisance_parameters_are_drawn_and_can_be_fixed():
    draws = [render_clip("bearing", fault="none", severity=0, duration_s=0.2, sample_rate=FS, seed=s,
                         fixed={"rpm": (1000, 2000)}).params for s in range(8)]
    assert all(1000 <= p["rpm"] <= 2000 for p in draws)
    assert len({p["resonance_hz"] for p in draws}) == 8 and len({p["rpm"] for p in draws}) == 8
    fixed = render_clip("bearing", fault="outer_race", severity=0.5, duration_s=0.2, sample_rate=FS, seed=0,
                        fixed={"rpm": 1797, "bearing": "6203", "resonance_hz": 3000, "slip_pct": 1.5}).params
    assert (fixed["rpm"], fixed["bearing"], fixed["resonance_hz"], fixed["slip_pct"]) == (1797, "6203", 3000, 1.5)
    assert fixed["n_balls"] == 8 and fixed["bpfo_hz"] == pytest.approx(1797 / 60 * 4 * (1 - 6.75 / 28.5))


@pytest.mark.parametrize("machine, fault", [(BEARING, "outer_race"), (BEARING, "ball"), (BEARING, "wear"),
                                            (BEARING, "rub"), (BEARING, "broken_rotor_bar"),
                                            (GEARBOX, "tooth_chip"), (GEARBOX, "gear_eccentricity")])
def test_every_nuisance_parameter_can_be_fixed(machine, fault):
    drawn = machine.sample_params(np.random.default_rng(1), fault=fault, severity=0.5, fixed={})
    fixed = {k: drawn[k] for k in (p.name for p in machine.declarations) if k in drawn and k != "supply_hz"}
    again = machine.sample_params(np.random.default_rng(2), fault=fault, severity=0.5, fixed=fixed)
    assert again == drawn


def test_fixing_one_parameter_does_not_change_the_others():
    a = BEARING.sample_params(np.random.default_rng(1), fault="none", severity=0, fixed={})
    b = BEARING.sample_params(np.random.default_rng(1), fault="none", severity=0, fixed={"resonance_hz": 2000})
    assert b["resonance_hz"] == 2000
    assert {k: v for k, v in a.items() if k != "resonance_hz"} == {k: v for k, v in b.items() if k != "resonance_hz"}


# --- bad input -------------------------------------------------------------------------------------

def test_unknown_fault_and_gear_fault_on_bearing_machine():
    with pytest.raises(FaultsynthError, match="outer_race"):
        clip("spalling")
    with pytest.raises(FaultsynthError, match="unknown fault 'tooth_chip'"):
        clip("tooth_chip")


def test_unknown_bearing_lists_the_presets():
    with pytest.raises(FaultsynthError, match="6205.*6203|6203.*6205"):
        clip("none", bearing="6999")


@pytest.mark.parametrize("rpm", [-1797.0, 0.0, (-10.0, 100.0), "fast"])
def test_non_positive_rpm_is_refused(rpm):
    with pytest.raises(FaultsynthError, match="rpm"):
        clip("none", rpm=rpm)


def test_fault_frequency_above_nyquist_is_refused():
    # BPFI of a 6205 at 6000 rpm is 541.5 Hz: not representable at 1 kHz sampling.
    with pytest.raises(FaultsynthError, match="bpfi_hz.*Nyquist"):
        clip("inner_race", rpm=6000.0, sample_rate=1000, resonance_hz=300.0)
    with pytest.raises(FaultsynthError, match="resonance_hz.*Nyquist"):
        clip("none", sample_rate=4000, resonance_hz=2500.0)
    with pytest.raises(FaultsynthError, match="mesh_hz.*Nyquist"):
        clip("none", machine="gearbox", pinion_teeth=40, rpm=3000.0, sample_rate=3000, resonance_hz=1000.0)


def test_unknown_parameter_is_refused():
    with pytest.raises(FaultsynthError, match="resonanse_hz"):
        clip("none", resonanse_hz=3000)


# --- real data -------------------------------------------------------------------------------------

def test_cwru_outer_race_and_synthetic_outer_race_agree_on_bpfo(shared_data):
    mat = scipy.io.loadmat(shared_data / "cwru" / "12k_Drive_End_OR007@6_0_130.mat")
    x = mat["X130_DE_time"].ravel()
    rpm = float(np.ravel(mat["X130RPM"])[0])
    bpfo = 3.5848 * rpm / 60
    freqs, amp = squared_envelope_spectrum(x, 12000)
    real_peak = peak_frequency(freqs, amp, 0.6 * bpfo, 1.4 * bpfo)
    assert real_peak == pytest.approx(bpfo, rel=0.01)
    synthetic = render_clip("bearing", fault="outer_race", severity=0.3, duration_s=x.size / 12000,
                            sample_rate=12000, seed=2, fixed={"rpm": rpm, "bearing": "6205"})
    assert synthetic.params["bpfo_hz"] == pytest.approx(bpfo, rel=1e-4)
    freqs, amp = squared_envelope_spectrum(synthetic.signal, 12000)
    assert peak_frequency(freqs, amp, 0.6 * bpfo, 1.4 * bpfo) == pytest.approx(real_peak, rel=0.01)
    # Calibration: CWRU's 0.18 mm defect gives ~0.67 g RMS; a 0.18 mm synthetic defect is within a factor 4.
    assert 0.25 < np.std(synthetic.fault) / np.std(x) < 4


def test_cwru_inner_race_and_synthetic_inner_race_agree_on_bpfi(shared_data):
    mat = scipy.io.loadmat(shared_data / "cwru" / "12k_Drive_End_IR007_0_105.mat")
    x = mat["X105_DE_time"].ravel()
    rpm = float(np.ravel(mat["X105RPM"])[0])
    bpfi, fr = 5.4152 * rpm / 60, rpm / 60
    freqs, amp = squared_envelope_spectrum(x, 12000)
    real_peak = peak_frequency(freqs, amp, bpfi - 0.5 * fr, bpfi + 0.5 * fr)
    assert real_peak == pytest.approx(bpfi, rel=0.01)
    synthetic = render_clip("bearing", fault="inner_race", severity=0.3, duration_s=x.size / 12000,
                            sample_rate=12000, seed=2, fixed={"rpm": rpm, "bearing": "6205"})
    freqs, amp = squared_envelope_spectrum(synthetic.signal, 12000)
    assert peak_frequency(freqs, amp, bpfi - 0.5 * fr, bpfi + 0.5 * fr) == pytest.approx(real_peak, rel=0.01)


def test_clips_are_byte_identical_in_a_fresh_process():
    """Same seed, same bytes, in another interpreter too (float32 paths included: noise, tables, phases)."""
    import hashlib
    import subprocess
    import sys
    from pathlib import Path

    cases = [("bearing", "ball"), ("bearing", "wear"), ("gearbox", "tooth_chip"), ("gearbox", "motor_eccentricity")]
    code = ("import hashlib\nfrom generators.registry import render_clip\n"
            f"for m, f in {cases!r}:\n"
            "    r = render_clip(m, fault=f, severity=0.6, duration_s=1.0, sample_rate=16000, seed=3)\n"
            "    print(hashlib.sha256(r.signal.tobytes() + r.fault.tobytes()).hexdigest(), r.params['velocity_rms_mm_s'])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    for (machine, fault), line in zip(cases, out):
        r = render_clip(machine, fault=fault, severity=0.6, duration_s=1.0, sample_rate=16000, seed=3)
        assert line == f"{hashlib.sha256(r.signal.tobytes() + r.fault.tobytes()).hexdigest()} " \
                       f"{r.params['velocity_rms_mm_s']}"


def test_readme_example_clip_labels():
    """README's one-call example: BPFO, velocity label and ISO 10816 zone of that clip."""
    r = render_clip("bearing", fault="outer_race", severity=0.5, duration_s=1.0, sample_rate=12000, seed=1,
                    fixed={"rpm": 1797, "bearing": "6205"})
    assert (round(r.params["bpfo_hz"], 2), round(r.params["velocity_rms_mm_s"], 2), r.params["iso10816_zone"]) \
        == (107.36, 5.48, "D")
