"""The recording chain of sound machines (generators/recording.py): physics, labels, determinism."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from errors import FaultsynthError
from generators.recording import RECORDING_PARAMETERS, apply_recording, draw_recording
from generators.registry import render_clip

PROJECT = Path(__file__).resolve().parents[1]
SR = 16000
NAMES = [p.name for p in RECORDING_PARAMETERS]
FLAT = {"room_peak_hz": 1000.0, "room_peak_gain_db": 0.0, "room_peak_q": 1.0, "mic_highpass_hz": 10.0,
        "mic_shelf_hz": 4000.0, "mic_shelf_gain_db": 0.0, "gain_db": 0.0}


def _gain_at(values, f_hz, *, source=True, n=SR * 2):
    """Steady-state amplitude gain (dB) of the chain for a sine at ``f_hz``."""
    t = np.arange(n) / SR
    x = 0.1 * np.sin(2 * np.pi * f_hz * t)
    y = apply_recording(x, sample_rate=SR, values=values, source=source)
    half = slice(n // 2, None)  # past the filters' transients
    return 20 * np.log10(np.std(y[half]) / np.std(x[half]))


def test_each_stage_does_what_its_parameters_say():
    assert abs(_gain_at(FLAT, 500.0)) < 0.05
    assert _gain_at({**FLAT, "gain_db": -6.0}, 500.0) == pytest.approx(-6.0, abs=0.05)
    assert _gain_at({**FLAT, "room_peak_gain_db": 6.0}, 1000.0) == pytest.approx(6.0, abs=0.1)
    assert abs(_gain_at({**FLAT, "room_peak_gain_db": 6.0}, 1000.0, source=False)) < 0.05  # noise skips the room
    # second-order high-pass (12 dB/octave): -3 dB at the corner, about -24 dB two octaves below it
    assert _gain_at({**FLAT, "mic_highpass_hz": 40.0}, 40.0) == pytest.approx(-3.0, abs=0.3)
    assert _gain_at({**FLAT, "mic_highpass_hz": 40.0}, 10.0) == pytest.approx(-24.0, abs=1.0)
    assert _gain_at({**FLAT, "mic_shelf_gain_db": -6.0}, 7500.0) == pytest.approx(-6.0, abs=0.5)
    assert abs(_gain_at({**FLAT, "mic_shelf_gain_db": -6.0}, 300.0)) < 0.2


def test_render_clip_labels_parts_and_snr_after_the_chain():
    clip = render_clip("valve", fault="contamination", severity=1.0, duration_s=2.0, sample_rate=SR, seed=4)
    for p in RECORDING_PARAMETERS:
        assert p.low <= clip.params[p.name] <= p.high, p.name
    np.testing.assert_allclose(clip.signal, clip.machine + clip.fault + clip.noise, rtol=0, atol=1e-12)  # ideal
    snr = 20 * np.log10(np.std(clip.machine + clip.fault) / np.std(clip.noise))
    assert snr == pytest.approx(clip.params["snr_db"], abs=0.05)
    # the recorded machine part is the generator's part through the chain with the labelled values
    from generators.registry import get_machine, sample_clip_params

    seq = np.random.SeedSequence(4).spawn(5)
    machine = get_machine("valve")
    params = sample_clip_params(machine, np.random.default_rng(seq[0]), fault="contamination", severity=1.0,
                                fixed={}, sample_rate=SR)
    parts = machine.render(params, duration_s=2.0, sample_rate=SR, rng=np.random.default_rng(seq[1]))
    recorded_sum = apply_recording(parts.machine + parts.fault, sample_rate=SR, values=clip.params, source=True)
    np.testing.assert_allclose(clip.machine + clip.fault, recorded_sum, rtol=0, atol=1e-12)
    # the chain computes in float32: each part recorded on its own adds up to the sum to float32 rounding
    recorded_machine = apply_recording(parts.machine, sample_rate=SR, values=clip.params, source=True)
    np.testing.assert_allclose(clip.machine, recorded_machine, rtol=0, atol=1e-6 * np.max(np.abs(recorded_sum)))
    assert np.max(np.abs(clip.fault)) > 1e-3 * np.max(np.abs(recorded_sum))  # the fault part is really there


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_background_noise_has_the_chains_spectrum(color):
    """The background's chain, applied to its spectrum, equals the audiomentations chain applied in time."""
    from scipy.signal import welch

    from generators.noise import colored_noise
    from generators.recording import noise_response

    values = {**FLAT, "mic_highpass_hz": 40.0, "mic_shelf_gain_db": -6.0, "room_peak_gain_db": 6.0, "gain_db": -3.0}
    spectral = colored_noise(np.random.default_rng(1), 8 * SR, color, response=noise_response(values, sample_rate=SR))
    white = colored_noise(np.random.default_rng(1), 8 * SR, color, response=lambda size: np.ones(size // 2 + 1, np.float32))
    in_time = apply_recording(white, sample_rate=SR, values=values, source=False)
    f, p_spectral = welch(spectral / np.std(spectral), SR, nperseg=4096)
    _, p_time = welch(in_time / np.std(in_time), SR, nperseg=4096)
    band = (f >= 10) & (f <= 7900)
    assert np.max(np.abs(10 * np.log10(p_spectral[band] / p_time[band]))) < 0.3
    # and that response is the chain's: -3 dB at the high-pass corner re 500 Hz, the shelf 6 dB down, no room peak
    gain_db = lambda hz: 20 * np.log10(noise_response(values, sample_rate=SR)(SR)[int(hz)])  # 1-Hz bins
    assert gain_db(500.0) == pytest.approx(-3.0, abs=0.1)
    assert gain_db(40.0) - gain_db(500.0) == pytest.approx(-3.0, abs=0.3)
    assert gain_db(7500.0) - gain_db(500.0) == pytest.approx(-6.0, abs=0.5)
    assert abs(gain_db(1000.0) - gain_db(500.0)) < 0.2


def test_recording_parameters_can_be_fixed_and_typos_are_refused():
    clip = render_clip("fan", fault="none", severity=0.0, duration_s=0.5, sample_rate=SR, seed=1,
                       fixed={"gain_db": -3.0, "room_peak_hz": (500.0, 600.0)})
    assert clip.params["gain_db"] == -3.0 and 500.0 <= clip.params["room_peak_hz"] <= 600.0
    with pytest.raises(FaultsynthError, match="gain_db"):
        render_clip("fan", fault="none", severity=0.0, duration_s=0.5, sample_rate=SR, seed=1,
                    fixed={"gain_dbb": -3.0})
    with pytest.raises(FaultsynthError, match="unknown parameter"):  # vibration has no microphone chain
        render_clip("bearing", fault="none", severity=0.0, duration_s=0.5, sample_rate=12000, seed=1,
                    fixed={"gain_db": -3.0})


def test_frequency_ranges_stay_below_nyquist():
    drawn = [draw_recording(np.random.default_rng(s), sample_rate=8000) for s in range(50)]
    assert max(d["mic_shelf_hz"] for d in drawn) < 0.9 * 4000
    assert max(d["room_peak_hz"] for d in drawn) < 0.9 * 4000


def test_vibration_clips_do_not_go_through_the_chain():
    clip = render_clip("bearing", fault="outer_race", severity=0.5, duration_s=0.5, sample_rate=12000, seed=2,
                       fixed={"rpm": 1797, "bearing": "6205"})
    assert not set(NAMES) & set(clip.params)
    assert np.array_equal(clip.signal, clip.machine + clip.fault + clip.noise)


_DIGEST = ("import hashlib, random, numpy as np; from generators.registry import render_clip; "
           "random.seed({g}); np.random.seed({g}); "
           "c = render_clip('toycar', fault='bent_shaft', severity=0.7, duration_s=1.0, sample_rate=16000, seed=9); "
           "print(hashlib.sha256(c.signal.tobytes()).hexdigest())")


def test_same_seed_same_bytes_across_processes_and_global_random_state():
    """audiomentations' global random state is never used: other global seeds, other processes, same bytes."""
    random.seed(123)
    np.random.seed(123)
    here = render_clip("toycar", fault="bent_shaft", severity=0.7, duration_s=1.0, sample_rate=SR, seed=9)
    local = hashlib.sha256(here.signal.tobytes()).hexdigest()
    out = subprocess.run([sys.executable, "-c", _DIGEST.format(g=99)], cwd=PROJECT, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == local
    other = render_clip("toycar", fault="bent_shaft", severity=0.7, duration_s=1.0, sample_rate=SR, seed=10)
    assert hashlib.sha256(other.signal.tobytes()).hexdigest() != local


def test_installation_is_one_per_machine_id(tmp_path):
    """Room, mounting, microphone and gain setting are build level: one installation per machine id."""
    from datasets.synth import SynthConfig, synthesize
    from generators.identity import level_of

    records = synthesize(SynthConfig(machine="pump", count=3, duration_s=0.25, seed=4, ids=2), tmp_path / "d")
    by_id: dict[str, list] = {}
    for r in records:
        by_id.setdefault(r.machine_id, []).append(r.params)
    for params in by_id.values():
        for name in NAMES:
            assert len({p[name] for p in params}) == 1, name
            assert level_of("pump", name) == "build"
        assert len({p["level_rms"] for p in params}) == len(params)  # the clip-to-clip level stays
    assert all(by_id["id_00"][0][name] != by_id["id_02"][0][name] for name in NAMES)
    per_clip = synthesize(SynthConfig(machine="pump", count=3, duration_s=0.25, seed=4, per_clip=True),
                          tmp_path / "p")
    assert len({r.params["room_peak_hz"] for r in per_clip}) == len(per_clip)


def test_synth_list_shows_the_chain_with_its_levels(cli):
    listing = cli("synth", "--list", env={"COLUMNS": "400"})
    assert listing.returncode == 0, listing.stderr
    assert "recording chain of every audio machine" in listing.stdout
    for p in RECORDING_PARAMETERS:
        assert re.search(rf"{p.name}\s*│\s*build\s*│", listing.stdout), p.name
