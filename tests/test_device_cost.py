"""Analytic device cost (pipeline/device_cost.py): calibration, monotonicity, support, budgets."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from errors import FaultsynthError
from pipeline.device_cost import (Budget, DeviceCost, detector_spec_of, estimate_cost, mel_nonzero_weights,
                                  parse_budget, priced_mel_weights, state_bytes)
from pipeline.features import FeatureConfig

TINYML = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=32, n_frames=4,
                       center=False)
FAN_LOWBAND = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=16, n_frames=1,
                            fmin_hz=0.0, fmax_hz=500.0, center=False)
TINYML_AE = {"name": "autoencoder", "hidden_units": (32,), "bottleneck": 8, "tinyml": True, "aggregate": "mean"}
KMEANS8 = {"name": "kmeans", "n_clusters": 8, "aggregate": "mean"}

#: README device table, measured with `python cli.py firmware` on the fan experiments' 2 s clips:
#: (features, spec, flash B, RAM B, instructions per audio second).
MEASURED = [(TINYML, TINYML_AE, 35_980, 14_544, 2.48e6),
            (FAN_LOWBAND, TINYML_AE, 22_704, 13_864, 1.71e6),
            (TINYML, KMEANS8, 26_132, 15_524, 1.99e6)]
#: README: model + score of the 128-d TinyML autoencoder, instructions per window.
MEASURED_AE_WINDOW = 25_432
#: README: the `tinyml` log-mel front end, instructions per frame (`python bench/bench_inference.py`).
MEASURED_TINYML_FRAME = 52_264


# ---------------------------------------------------------------- calibration

@pytest.mark.parametrize("features, spec, flash, ram, ips", MEASURED)
def test_estimate_within_10_percent_of_the_measured_readme_points(features, spec, flash, ram, ips):
    cost = estimate_cost(features, spec, clip_seconds=2.0)
    assert cost.supported and cost.reason == ""
    assert cost.flash_bytes == pytest.approx(flash, rel=0.10)
    assert cost.ram_bytes == pytest.approx(ram, rel=0.10)
    assert cost.instructions_per_second == pytest.approx(ips, rel=0.10)
    # Steady streaming (the default) counts a vector per hop: slightly more, still within 10 %.
    steady = estimate_cost(features, spec)
    assert ips <= steady.instructions_per_second <= 1.10 * ips
    assert (steady.flash_bytes, steady.ram_bytes) == (cost.flash_bytes, cost.ram_bytes)


def test_autoencoder_window_cost_matches_the_measured_bench():
    cost = estimate_cost(TINYML, TINYML_AE)
    window = cost.breakdown["instructions_per_unit"]["window_model_and_score"]
    assert window == pytest.approx(MEASURED_AE_WINDOW, rel=0.10)


def test_log_mel_frame_cost_matches_the_measured_bench():
    # The estimate's frame also carries the framing (push loop, frame buffer move), which the bench leaves out.
    frame = estimate_cost(TINYML, TINYML_AE).breakdown["instructions_per_unit"]["frame"]
    assert frame == pytest.approx(MEASURED_TINYML_FRAME, rel=0.10)


def test_breakdown_adds_up_and_serialises():
    cost = estimate_cost(TINYML, TINYML_AE)
    parts = cost.breakdown
    assert sum(parts["flash"].values()) == cost.flash_bytes
    assert sum(parts["ram"].values()) == cost.ram_bytes
    assert sum(parts["instructions_per_second"].values()) == pytest.approx(cost.instructions_per_second)
    d = json.loads(json.dumps(cost.to_dict()))
    assert d["flash_bytes"] == cost.flash_bytes and d["supported"] is True


def test_mel_nonzero_count_equals_the_generated_sparse_filterbank():
    from pipeline.c_sources import mel_sparse
    from pipeline.features import mel_filterbank

    cases = [(16000, 1024, 32, 0.0, None), (16000, 256, 64, 0.0, None), (12000, 2048, 40, 50.0, 5000.0),
             (44100, 512, 128, 20.0, None), (8000, 64, 24, 0.0, 4000.0)]
    # 0-500 Hz at 15.625 Hz per bin: with 31 or 63 bands the mel points fall on bins.
    cases += [(16000, 1024, m, 0.0, 500.0) for m in (15, 16, 30, 31, 32, 63, 64)]
    for sr, n_fft, n_mels, fmin, fmax in cases:
        fb = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, fmin_hz=fmin, fmax_hz=fmax)
        assert mel_nonzero_weights(sr, n_fft, n_mels, fmin, fmax) == mel_sparse(fb)[3].size
    # Priced: the running maximum over fewer bands (31 bands over 0-500 Hz store 31 weights, 30 bands 60).
    assert mel_nonzero_weights(16000, 1024, 31, 0.0, 500.0) == 31
    assert priced_mel_weights(16000, 1024, 31, 0.0, 500.0) == 60
    assert priced_mel_weights(16000, 1024, 32, 0.0, None) == mel_nonzero_weights(16000, 1024, 32, 0.0, None)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")
def test_state_size_equals_sizeof_fs_state(tmp_path):
    firmware = Path(__file__).resolve().parents[1] / "firmware"
    for n_fft, frame_dim, n_frames, width, vibration in [(1024, 32, 4, 32, 0), (256, 13, 3, 7, 0),
                                                         (2048, 128, 5, 1, 0), (1024, 35, 1, 32, 1),
                                                         (256, 19, 3, 1, 1)]:
        (tmp_path / "fs_params.h").write_text(
            f"#define FS_N_FFT {n_fft}\n#define FS_FRAME_DIM {frame_dim}\n#define FS_N_FRAMES {n_frames}\n"
            f"#define FS_DIM {frame_dim * n_frames}\n#define FS_MAX_WIDTH {width}\n"
            f"#define FS_FEATURE_VIBRATION {vibration}\n#define FS_DETECTOR_AUTOENCODER 0\n")
        (tmp_path / "size.c").write_text('#include <stdio.h>\n#include "fs_runtime.h"\n'
                                         'int main(void) { printf("%u", (unsigned)sizeof(fs_state)); return 0; }\n')
        exe = tmp_path / "size"
        subprocess.run(["cc", "-std=c99", "-I", str(firmware / "include"), "-I", str(tmp_path),
                        str(tmp_path / "size.c"), "-o", str(exe)], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
        assert int(out) == state_bytes(n_fft, frame_dim * n_frames, width, vibration=bool(vibration))


# ---------------------------------------------------------------- monotonicity

def _figures(features, spec):
    c = estimate_cost(features, spec)
    return np.array([c.flash_bytes, c.ram_bytes, c.instructions_per_second])


def _never_less(costs):
    costs = np.array(costs)
    return bool(np.all(np.diff(costs, axis=0) >= 0))


@pytest.mark.parametrize("spec", [TINYML_AE, KMEANS8])
@pytest.mark.parametrize("band", [(0.0, None), (0.0, 500.0), (50.0, 4000.0)])
def test_more_mels_never_cost_less(spec, band):
    fmin, fmax = band
    for n_fft in (256, 1024, 2048):
        costs = [_figures(replace(TINYML, n_fft=n_fft, hop_length=n_fft // 2, n_mels=m, fmin_hz=fmin, fmax_hz=fmax),
                          spec) for m in range(1, 161)]
        assert _never_less(costs), (n_fft, band)


@pytest.mark.parametrize("spec", [TINYML_AE, KMEANS8])
def test_larger_n_fft_never_costs_less(spec):
    for center in (False, True):
        for power in (2.0, 1.0, 1.5):
            costs = [_figures(replace(TINYML, n_fft=n, hop_length=128, center=center, power=power), spec)
                     for n in (128, 256, 512, 1024, 2048, 4096, 8192)]
            assert _never_less(costs)
    # Non-power-of-two sizes (priced although the C front end refuses them) too.
    assert _never_less([_figures(replace(TINYML, n_fft=n, hop_length=100), spec) for n in range(100, 3000, 37)])


def test_more_frames_and_more_clusters_never_cost_less():
    assert _never_less([_figures(replace(TINYML, n_frames=f), KMEANS8) for f in range(1, 20)])
    assert _never_less([_figures(replace(TINYML, n_frames=f), TINYML_AE) for f in range(1, 20)])
    assert _never_less([_figures(TINYML, {"name": "kmeans", "n_clusters": k}) for k in range(1, 257)])


def test_wider_autoencoder_never_costs_less():
    for bottleneck in (2, 8, 32):
        assert _never_less([_figures(TINYML, {"name": "autoencoder", "hidden_units": (w,), "bottleneck": bottleneck})
                            for w in range(1, 300, 7)])
    assert _never_less([_figures(TINYML, {"name": "autoencoder", "hidden_units": (64, 32), "bottleneck": b})
                        for b in range(1, 64)])
    assert _never_less([_figures(TINYML, {"name": "autoencoder", "hidden_units": (w, 32), "bottleneck": 8})
                        for w in range(1, 300, 9)])
    # An extra layer adds cost as well.
    assert _never_less([_figures(TINYML, {"name": "autoencoder", "hidden_units": (128,) * n, "bottleneck": 8})
                        for n in range(0, 5)])


def test_fewer_vectors_per_second_on_short_clips():
    short = estimate_cost(TINYML, TINYML_AE, clip_seconds=1.0).instructions_per_second
    long = estimate_cost(TINYML, TINYML_AE, clip_seconds=60.0).instructions_per_second
    steady = estimate_cost(TINYML, TINYML_AE).instructions_per_second
    assert short < long < steady
    assert estimate_cost(TINYML, TINYML_AE, clip_seconds=0.01).instructions_per_second == 0.0
    with pytest.raises(FaultsynthError, match="clip_seconds"):
        estimate_cost(TINYML, TINYML_AE, clip_seconds=0.0)


# ---------------------------------------------------------------- what the C runtime runs

#: Cortex-M4 builds of the vibration front end (k-means, 1 cluster) on three 2 s synthetic bearing clips at
#: 12 kHz, measured as bench/device_cost_check.py --qemu does: (features, flash B, RAM B, instructions per
#: audio second). The first is the shipped bearing experiment's front end.
VIB = FeatureConfig(kind="vibration", sample_rate=12000, n_fft=1024, hop_length=512, n_mels=16, n_frames=1,
                    center=False, n_envelope_bands=16, envelope_fmax_hz=600.0)
MEASURED_VIBRATION = [(VIB, 16_876, 17_012, 5.09e6),
                      (replace(VIB, n_fft=2048, hop_length=1024, envelope_fmax_hz=1000.0), 21_228, 29_304, 5.62e6),
                      (replace(VIB, n_fft=256, hop_length=256, n_mels=8, n_envelope_bands=8, n_frames=2,
                               center=True, envelope_fmax_hz=3000.0, fmin_hz=500.0), 13_736, 7_816, 2.47e6),
                      (replace(VIB, n_mels=32, n_envelope_bands=32, envelope_fmin_hz=1500.0, fmax_hz=5000.0),
                       17_164, 17_196, 5.93e6),
                      (replace(VIB, n_fft=512, hop_length=128, envelope_fmax_hz=2000.0, envelope_fmin_hz=1500.0),
                       14_764, 10_860, 12.76e6)]


@pytest.mark.parametrize("features, flash, ram, ips", MEASURED_VIBRATION)
def test_vibration_front_end_estimate_within_10_percent_of_qemu(features, flash, ram, ips):
    cost = estimate_cost(features, {"name": "kmeans", "n_clusters": 1}, clip_seconds=2.0)
    assert cost.supported and cost.reason == ""
    assert cost.flash_bytes == pytest.approx(flash, rel=0.10)
    assert cost.ram_bytes == pytest.approx(ram, rel=0.10)
    assert cost.instructions_per_second == pytest.approx(ips, rel=0.10)


def test_vibration_demodulating_part_of_the_band_costs_an_fft_more():
    from pipeline.device_cost import fft_instructions

    full = estimate_cost(VIB, KMEANS8)
    part = estimate_cost(replace(VIB, envelope_fmin_hz=1500.0), KMEANS8)
    extra = part.breakdown["instructions_per_unit"]["frame"] - full.breakdown["instructions_per_unit"]["frame"]
    # One more complex FFT of n_fft/2 points (its butterfly passes), give or take the two paths' per-bin work.
    fft = fft_instructions(1024)
    assert 0.7 * fft < extra < 1.3 * fft
    assert (part.flash_bytes, part.ram_bytes) == (full.flash_bytes, full.ram_bytes)


def test_fft_butterfly_counts_follow_the_pass_structure():
    from pipeline.device_cost import fft_butterflies

    # n_fft 1024: 512 points, radix-4 passes at spans 2, 8, 32, 128 (128 butterflies each), no radix-2 stage.
    assert fft_butterflies(1024) == (4 * 128, 2 + 8 + 32 + 128, 0)
    # n_fft 2048: 1024 points, the same four passes of 256 butterflies and a last radix-2 stage of 512.
    assert fft_butterflies(2048) == (4 * 256, 170, 512)
    assert fft_butterflies(8) == (0, 0, 2)  # 4 points: first stage, then one radix-2 stage
    # log2 of the point count: 1 (first stage) + 2 per radix-4 pass + 1 per radix-2 stage.
    for n_fft in (16, 64, 256, 4096, 16384):
        radix4, _, radix2 = fft_butterflies(n_fft)
        m = n_fft // 2
        assert 1 + 2 * radix4 // (m // 4) + (1 if radix2 else 0) == m.bit_length() - 1


def test_a_new_feature_kind_is_flagged():
    clip_stats = SimpleNamespace(kind="log_mel_stats", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=32,
                                 n_frames=1, fmin_hz=0.0, fmax_hz=None, center=False, power=2.0)
    cost = estimate_cost(clip_stats, KMEANS8)
    assert not cost.supported and "the C front end computes log_mel and vibration features only" in cost.reason
    assert "log_mel_stats" in cost.reason


@pytest.mark.parametrize("aggregate", ["median", "min", "low_mean", "max"])
def test_aggregations_other_than_the_mean_are_flagged(aggregate):
    for spec in (TINYML_AE, KMEANS8):
        cost = estimate_cost(TINYML, dict(spec, aggregate=aggregate))
        assert not cost.supported
        assert "the C runtime aggregates window scores by the mean only" in cost.reason
        assert aggregate in cost.reason
        # Same price as the mean: only the support changes.
        assert cost == replace(estimate_cost(TINYML, spec), supported=False, reason=cost.reason)


def test_gaussian_is_priced_but_flagged():
    cost = estimate_cost(TINYML, {"name": "gaussian", "aggregate": "mean"})
    assert not cost.supported and "autoencoder and k-means detectors only" in cost.reason
    assert cost.flash_bytes > estimate_cost(TINYML, KMEANS8).flash_bytes  # 128 x 128 precision matrix


def test_every_reason_is_given():
    cost = estimate_cost(replace(TINYML, n_fft=1000, hop_length=500), {"name": "gaussian", "aggregate": "min"})
    assert not cost.supported
    assert cost.reason.count("; ") == 2
    assert "power of two" in cost.reason and "Gaussian".lower() in cost.reason.lower() and "mean only" in cost.reason


def test_front_end_support_agrees_with_export():
    from pipeline.export import check_feature_config

    configs = [TINYML, FAN_LOWBAND, replace(TINYML, n_fft=1000, hop_length=500), replace(TINYML, n_fft=4, hop_length=2),
               replace(TINYML, n_fft=8, hop_length=8), replace(TINYML, hop_length=2048), replace(TINYML, center=True),
               VIB, replace(VIB, n_fft=1000, hop_length=500, n_mels=8, n_envelope_bands=4),
               replace(TINYML, kind="log_mel_stats", n_frames=1)]
    for config in configs:
        try:
            check_feature_config(config)
            runs = True
        except FaultsynthError:
            runs = False
        assert estimate_cost(config, KMEANS8).supported == runs, config


# ---------------------------------------------------------------- specs

def test_spec_defaults_and_validation():
    assert estimate_cost(TINYML, {"name": "kmeans"}) == estimate_cost(TINYML, {"name": "kmeans", "n_clusters": 16})
    assert estimate_cost(TINYML, {"name": "autoencoder", "tinyml": True}) == estimate_cost(TINYML, TINYML_AE)
    # Training-only parameters are accepted and cost nothing; BatchNorm folds into the dense layers.
    assert estimate_cost(TINYML, dict(TINYML_AE, epochs=30, batch_norm=True)) == estimate_cost(TINYML, TINYML_AE)
    assert estimate_cost(TINYML.to_dict(), KMEANS8) == estimate_cost(TINYML, KMEANS8)
    assert estimate_cost(TINYML, dict(KMEANS8, n_clusters=np.int64(8))) == estimate_cost(TINYML, KMEANS8)
    for bad, match in [({"name": "svm"}, "name must be one of"), ({"name": "kmeans", "n_clusters": 0}, "n_clusters"),
                       ({"name": "kmeans", "n_clusters": 2.5}, "n_clusters"),
                       ({"name": "kmeans", "n_cluster": 8}, "unknown detector spec keys"),
                       ({"name": "autoencoder", "hidden_units": 32}, "hidden_units"),
                       ({"name": "autoencoder", "hidden_units": (32, 0)}, "hidden_units"),
                       ({"name": "kmeans", "dim": 64}, "128"), ("kmeans", "dict")]:
        with pytest.raises(FaultsynthError, match=match):
            estimate_cost(TINYML, bad)


def test_detector_spec_of_fitted_detectors():
    from pipeline.detectors import AutoencoderDetector, GaussianDetector, KMeansDetector

    X = np.random.default_rng(0).normal(size=(200, TINYML.dim))
    km = KMeansDetector(n_clusters=5, n_init=1).fit(X)
    spec = detector_spec_of(km)
    assert spec == {"name": "kmeans", "aggregate": "mean", "n_clusters": 5, "dim": 128}
    assert estimate_cost(TINYML, spec).supported
    gauss = GaussianDetector(aggregate="median").fit(X)
    spec = detector_spec_of(gauss)
    assert spec == {"name": "gaussian", "aggregate": "median", "dim": 128}
    assert "mean only" in estimate_cost(TINYML, spec).reason
    with pytest.raises(FaultsynthError, match="128"):
        estimate_cost(FAN_LOWBAND, spec)
    ae = AutoencoderDetector.tinyml()
    spec = detector_spec_of(ae)
    assert spec == {"name": "autoencoder", "aggregate": "mean", "hidden_units": (32,), "bottleneck": 8, "tinyml": True}
    assert estimate_cost(TINYML, spec) == estimate_cost(TINYML, TINYML_AE)
    with pytest.raises(FaultsynthError, match="no device cost"):
        detector_spec_of(object())


def test_estimate_is_fast():
    estimate_cost(TINYML, TINYML_AE)
    n = 2000
    t0 = time.perf_counter()
    for i in range(n):
        estimate_cost(TINYML, {"name": "kmeans", "n_clusters": 1 + i % 32})
    assert (time.perf_counter() - t0) / n < 200e-6


# ---------------------------------------------------------------- budgets

def test_parse_budget_good():
    assert parse_budget("flash=64KB,ram=32KB,instr=8M") == Budget(65536, 32768, 8e6)
    assert parse_budget(" instr = 500k , RAM=0.5kb, flash=1MB ") == Budget(1024 ** 2, 512, 5e5)
    assert parse_budget("flash=20000,ram=16KiB,instr=2.5e6") == Budget(20000, 16384, 2.5e6)
    assert parse_budget("flash=1000B,ram=1M,instr=1G") == Budget(1000, 1024 ** 2, 1e9)


@pytest.mark.parametrize("text", ["", "   ", "flash=64KB", "flash=64KB,ram=32KB",
                                  "flash=64KB,ram=32KB,instr=8M,ram=1KB",
                                  "flash=64XB,ram=32KB,instr=8M", "disk=1KB,ram=32KB,instr=8M",
                                  "flash:64KB,ram=32KB,instr=8M", "flash=-1KB,ram=32KB,instr=8M",
                                  "flash=KB,ram=32KB,instr=8M", "flash=64KB,ram=32KB,instr=8MB",
                                  "flash=64KB;ram=32KB;instr=8M", "flash=64 KB x,ram=32KB,instr=8M"])
def test_parse_budget_bad_says_the_expected_form(text):
    with pytest.raises(FaultsynthError, match="flash=64KB,ram=32KB,instr=8M"):
        parse_budget(text)


def test_budget_rejects_negative_values():
    with pytest.raises(FaultsynthError, match="ram_bytes"):
        Budget(1024, -1, 1e6)


def test_within_reports_each_violation():
    cost = DeviceCost(flash_bytes=70_000, ram_bytes=20_000, instructions_per_second=9e6, supported=True)
    assert cost.within(Budget(70_000, 20_000, 9e6)) == (True, [])
    ok, violations = cost.within(parse_budget("flash=64KB,ram=32KB,instr=10M"))
    assert not ok and len(violations) == 1 and violations[0].startswith("flash 70,000 B > budget 65,536 B")
    ok, violations = cost.within(parse_budget("flash=64KB,ram=16KB,instr=8M"))
    assert not ok and [v.split()[0] for v in violations] == ["flash", "RAM", "instructions"]
    assert "9.00 M" in violations[2] and "8.00 M" in violations[2]
    # The README targets hold for the default TinyML autoencoder.
    assert estimate_cost(TINYML, TINYML_AE).within(parse_budget("flash=64KB,ram=32KB,instr=8M")) == (True, [])
