"""The C vibration front end (firmware/src/fs_vibration.c) against pipeline/vibration_features.py, and a
bearing model exported and run through `firmware` on the host and the Cortex-M4 with Python's decisions."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pytest

from pipeline import c_sources, firmware_build as B
from pipeline.device_scorer import KMeansScorer
from pipeline.features import FeatureConfig

#: Stated tolerances, C (float32) vs Python (float64): band levels in dB; kurtosis and crest factor relative.
LEVEL_TOL_DB = 0.01
RATIO_TOL = 1e-4

#: The shipped bearing experiment's front end (tinyml preset at 12 kHz, vibration features).
BEARING = FeatureConfig(kind="vibration", sample_rate=12000, n_fft=1024, hop_length=512, n_mels=16, n_frames=1,
                        center=False, n_envelope_bands=16, envelope_fmax_hz=600.0)


def _signals(sample_rate: int) -> list[np.ndarray]:
    from generators.registry import render_clip

    cases = (("bearing", "none", 0.0), ("bearing", "outer_race", 0.05), ("bearing", "inner_race", 0.4),
             ("gearbox", "none", 0.0))
    return [render_clip(machine, fault=fault, severity=sev, duration_s=0.5, sample_rate=sample_rate,
                        seed=20 + i).signal.astype(np.float32) for i, (machine, fault, sev) in enumerate(cases)]


@pytest.mark.parametrize("config", [
    BEARING,  # demodulates every bin: the one-FFT analytic signal
    replace(BEARING, n_fft=256, hop_length=100, n_mels=8, n_envelope_bands=4, envelope_fmin_hz=1500.0,
            fmin_hz=100.0, fmax_hz=5000.0, envelope_fmax_hz=2000.0),  # band-limited: the two-FFT path
], ids=["full-band envelope", "band-limited envelope"])
def test_c_vibration_features_equal_python(config, tmp_path):
    from pipeline.vibration_features import window_features

    d = config.dim
    scorer = KMeansScorer(gain=np.ones(d, np.float32), bias=np.zeros(d, np.float32),
                          centroids=np.zeros((1, d), np.int8), threshold_real=1.0)
    c_sources.write_c_sources(tmp_path / "c", config, scorer)
    exe = B.build_host(tmp_path / "c", tmp_path / "b", extra_flags=["-pedantic"])
    nb, ne = config.n_mels, config.n_envelope_bands
    for y in _signals(config.sample_rate):
        B.write_clip(y, tmp_path / "y.f32")
        subprocess.run([str(exe), "frames", str(tmp_path / "y.f32"), str(tmp_path / "f.f32")], check=True)
        c = np.fromfile(tmp_path / "f.f32", dtype=np.float32).reshape(-1, d)
        py = window_features(config, y)
        assert c.shape == py.shape
        levels = np.r_[0:nb + ne, nb + ne]  # band and envelope levels, RMS level (dB)
        assert np.max(np.abs(c[:, levels] - py[:, levels])) < LEVEL_TOL_DB
        ratios = [nb + ne + 1, nb + ne + 2]  # kurtosis, crest factor
        assert np.max(np.abs(c[:, ratios] / py[:, ratios] - 1.0)) < RATIO_TOL
        # Physics, not just agreement: impacts raise kurtosis above Gaussian noise's 3 in both.
    assert np.all(py[:, nb + ne + 1] > 0)


def test_c_envelope_finds_the_modulation_rate(tmp_path):
    """A 3 kHz carrier amplitude-modulated at 125 Hz: the envelope band holding 125 Hz is the loudest in C,
    and the spectral band holding 3 kHz the loudest of the spectrum."""
    config = replace(BEARING, envelope_fmax_hz=600.0, n_envelope_bands=12)  # 50 Hz bands: 125 Hz in band 2
    d = config.dim
    scorer = KMeansScorer(gain=np.ones(d, np.float32), bias=np.zeros(d, np.float32),
                          centroids=np.zeros((1, d), np.int8), threshold_real=1.0)
    c_sources.write_c_sources(tmp_path / "c", config, scorer)
    exe = B.build_host(tmp_path / "c", tmp_path / "b")
    sr = config.sample_rate
    t = np.arange(sr) / sr
    y = (1.0 + np.cos(2 * np.pi * 125.0 * t)) * np.sin(2 * np.pi * 3000.0 * t)  # squared envelope: 125, 250 Hz
    y += 0.01 * np.random.default_rng(0).standard_normal(t.size)
    B.write_clip(y.astype(np.float32), tmp_path / "y.f32")
    subprocess.run([str(exe), "frames", str(tmp_path / "y.f32"), str(tmp_path / "f.f32")], check=True)
    rows = np.fromfile(tmp_path / "f.f32", dtype=np.float32).reshape(-1, d)
    env = rows[:, config.n_mels:config.n_mels + 11]  # the last band runs on to Nyquist: left out
    assert np.all(np.argmax(env, axis=1) == 2)
    # 16 bands of 375 Hz: 3 kHz is in band 8.
    assert np.all(np.argmax(rows[:, :config.n_mels], axis=1) == 8)


@pytest.fixture(scope="module")
def bearing_export(tmp_path_factory):
    """A small bearing experiment (vibration features, TinyML autoencoder) exported for the device."""
    from pipeline.experiment import run_experiment, spec_from_dict
    from pipeline.export import export_bundle

    root = tmp_path_factory.mktemp("bearing")
    spec = spec_from_dict({
        "name": "device-bearing", "seed": 3,
        "data": {"source": "synthetic", "machine": "bearing", "count": 6, "duration_s": 0.5, "sample_rate": 12000,
                 "fixed": {"rpm": 1797, "bearing": "6205"}},
        "faults": {"types": ["outer_race", "inner_race"], "severities": [0.01, 0.2]},
        "features": {"preset": "tinyml", "kind": "vibration", "n_mels": 16, "n_frames": 1,
                     "envelope_fmax_hz": 600.0},
        "training": {"target_fpr": 0.1, "folds": 3},
        "detectors": {"autoencoder": {"tinyml": True, "epochs": 5}}})
    run_experiment(spec, root / "exp", workers=1, progress=False)
    # Steady streaming costs about 5.6 M instructions per second (the front end 5.3 M): within the default
    # budget's 8 M.
    info = export_bundle(model_dir=root / "exp" / "models" / "autoencoder", out_dir=root / "export")
    return root, info


def test_bearing_export_fits_the_default_budget_and_a_tighter_one_refuses_it(bearing_export, tmp_path):
    from errors import FaultsynthError
    from pipeline.export import export_bundle
    from pipeline.export_budget import parse_export_budget

    root, info = bearing_export
    assert info["c_sources"] and 2e6 < info["budget_margins"]["instructions_per_second"] < 3e6
    with pytest.raises(FaultsynthError, match=r"instructions per audio second 5\.\d\d M exceeds the budget 5\.00 M"):
        export_bundle(model_dir=root / "exp" / "models" / "autoencoder", out_dir=tmp_path / "x",
                      budget=parse_export_budget("flash=64KB,ram=32KB,instr=5M"))


def test_bearing_model_decisions_equal_python_on_host_and_cortex_m4(bearing_export, tmp_path, monkeypatch):
    root, _ = bearing_export
    if B.arm_tools() is None:  # the host part still runs
        monkeypatch.setattr(B, "missing_arm_tools", lambda: ["qemu-system-arm"])
    r = B.run_firmware(export_dir=root / "export", clips=root / "exp" / "data", out_dir=tmp_path / "fw",
                       max_clips=6)
    assert r["labels"].count("anomaly") >= 2 and r["labels"].count("normal") >= 2
    assert r["host"]["decisions_match_python"] is True
    assert r["host"]["max_score_rel_diff_vs_python"] <= 1e-3
    if r["elf"] is not None:
        assert r["decisions_match_python"] is True
        assert r["cortex_m4"]["raw_sums_equal_host"] is True
        assert r["flash_bytes"] <= 64 * 1024 and r["ram_bytes"] <= 32 * 1024
