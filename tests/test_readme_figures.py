"""The figures the README reports for the shipped experiments and for `tune` on MIMII, recomputed.

Each test runs the README's command (the shipped spec, or bench/tune_real.py's recipe) and checks
the reported numbers, so a change in the code computing them fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]

#: README "Shipped experiments": AUC, minimum detectable severity, false alarms on the 30 test normals.
EXPERIMENTS = {
    "bearing": {"kmeans": (0.8031, {"outer_race": 0.01, "inner_race": 0.02, "ball": 0.1, "imbalance": 0.05}, 3),
                "autoencoder": (0.8156, {"outer_race": 0.01, "inner_race": 0.02, "ball": 0.1, "imbalance": 0.05},
                                1)},
    "fan": {"kmeans": (0.667, {"clogging": 1.0, "voltage_change": 1.0, "unbalance": None}, 2),
            "autoencoder": (0.6924, {"clogging": None, "voltage_change": None, "unbalance": 0.5}, 0)},
    "fan_lowband": {"kmeans": (0.6551, {"unbalance": 0.5, "clogging": 1.0, "voltage_change": 0.75}, 1),
                    "autoencoder": (0.601, {"unbalance": 0.75, "clogging": None, "voltage_change": None}, 0)},
}


#: README device table: AUC of the float and the int8 model of each shipped experiment's detectors.
EXPORT_AUC = {("fan", "autoencoder"): (0.6924, 0.6955), ("fan", "kmeans"): (0.6670, 0.6656),
              ("fan_lowband", "autoencoder"): (0.6010, 0.5993), ("fan_lowband", "kmeans"): (0.6551, 0.6556),
              ("bearing", "autoencoder"): (0.8156, 0.8148), ("bearing", "kmeans"): (0.8031, 0.8030)}


#: README "Streaming decisions": `firmware --max-clips 60` on the fan experiment's test clips with the default
#: 7-of-10 alarm: (fault clips alarmed of 30, median latency s, false alarms in 60 s of normal audio).
FAN_ALARMS = {"autoencoder": (12, 0.912, 3), "kmeans": (6, 0.352, 3)}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_shipped_experiment_figures(name, tmp_path):
    from pipeline.experiment import load_spec, run_experiment
    from pipeline.export import export_bundle

    result = run_experiment(load_spec(PROJECT / "examples" / f"{name}_experiment.toml"), tmp_path / name,
                            workers=2, progress=False)
    for detector, (auc, minimum, false_alarms) in EXPERIMENTS[name].items():
        m = result.metrics[detector]
        assert m["auc"] == pytest.approx(auc, abs=0.0015), detector
        found = {f: info["min_detectable_severity"] for f, info in m["coverage"]["faults"].items()}
        assert found == minimum, detector
        promise = m["threshold_promise"]
        assert promise["false_positives"] == false_alarms and promise["normal_clips"] == 30
        assert promise["calibration_clips"] == 30 and promise["method"] == "gamma tail"
        assert promise["within_prediction"], detector
        # README: every shipped model fits the default budget (the bearing models, vibration front end at
        # 12 kHz, about 5.4-5.6 M instructions per audio second).
        info = export_bundle(model_dir=tmp_path / name / "models" / detector, out_dir=tmp_path / f"x-{detector}")
        auc_float, auc_int8 = EXPORT_AUC[(name, detector)]
        assert info["evaluation"]["float"]["auc"] == pytest.approx(auc_float, abs=0.0015), detector
        assert info["evaluation"]["int8"]["auc"] == pytest.approx(auc_int8, abs=0.0015), detector


def test_fan_streaming_alarm_figures(tmp_path, monkeypatch):
    """README "Streaming decisions": the default 7-of-10 alarm on the fan experiment's test clips."""
    from pipeline import firmware_build as B
    from pipeline.experiment import load_spec, run_experiment
    from pipeline.export import export_bundle

    run_experiment(load_spec(PROJECT / "examples" / "fan_experiment.toml"), tmp_path / "fan", workers=2,
                   progress=False)
    monkeypatch.setattr(B, "arm_tools", lambda: None)  # the host's alarms equal the M4's (test_streaming)
    for detector, (alarmed, latency, false_alarms) in FAN_ALARMS.items():
        export_bundle(model_dir=tmp_path / "fan" / "models" / detector, out_dir=tmp_path / f"x-{detector}")
        r = B.run_firmware(export_dir=tmp_path / f"x-{detector}", clips=tmp_path / "fan" / "data",
                           out_dir=tmp_path / f"fw-{detector}", max_clips=60)
        a = r["alarm"]
        assert a["host_equal_python"] and a["fault_clips"] == 30 and a["normal_audio_s"] == 60.0
        assert (a["fault_clips_alarmed"], a["false_alarms"]) == (alarmed, false_alarms), detector
        assert a["median_latency_s"] == pytest.approx(latency, abs=1e-9)


def test_tune_on_mimii_fan_figures():
    """README "Measured on real recordings", MIMII rows (the no-budget run of bench/tune_real.py)."""
    spec = importlib.util.spec_from_file_location("tune_real", PROJECT / "bench" / "tune_real.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from datasets.loaders import load_records
    from pipeline.tune import TuneConfig

    normal = sorted((bench.MIMII / "normal").glob("*.wav"))
    records = load_records(bench.MIMII)
    test_normals = [r for r in records if r.label == "normal" and Path(r.path).name >= "00000005.wav"]
    anomalies = [r for r in records if r.label == "anomaly"]
    config = TuneConfig(machine="fan", target_fpr=bench.TARGET_FPR, segment_s=bench.SEGMENT_S, folds=5, seed=0)
    result, _, figures = bench.tune_and_test([str(p) for p in normal[:5]], config, test_normals, anomalies,
                                             workers=2)
    assert len(result.ranking) == 161
    winner = result.winner
    assert winner.name == "log-mel 16 x 4, 0-500 Hz · autoencoder (TinyML) · mean"
    assert (winner.detected_cells, winner.cells) == (11, 12)
    assert winner.mean_auc == pytest.approx(0.958, abs=0.005)
    assert figures["auc"] == pytest.approx(0.992, abs=0.005) and figures["clip_auc"] == 1.0
    assert figures["normal_segments"] == 25 and figures["false_positives"] == 0
    assert figures["within_ci"] and figures["within_predicted"]
    assert figures["predicted"] == (0, 3)


def test_fan_experiment_with_a_different_fan_per_clip(tmp_path):
    """README: drawing the fan's build and installation per clip gives k-means AUC 0.60 and detects only voltage
    change, at severity 1."""
    from dataclasses import replace

    from pipeline.experiment import load_spec, run_experiment

    spec = replace(load_spec(PROJECT / "examples" / "fan_experiment.toml"), per_clip=True,
                   detectors={"kmeans": {"n_clusters": 8}})
    m = run_experiment(spec, tmp_path / "fan", workers=2, progress=False).metrics["kmeans"]
    assert m["auc"] == pytest.approx(0.597, abs=0.0015)
    assert {f: v["min_detectable_severity"] for f, v in m["coverage"]["faults"].items()} == {
        "clogging": None, "unbalance": None, "voltage_change": 1.0}


def test_cwru_synthetic_to_real_figures():
    """README "Measured on real recordings", bench/cwru_sim2real.py row: fault-type accuracy on real CWRU segments
    of a classifier trained only on synthetic clips, and on synthetic faults injected into the real baseline."""
    spec = importlib.util.spec_from_file_location("cwru_sim2real", PROJECT / "bench" / "cwru_sim2real.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.synthetic_to_real()
    truth, predicted = (np.asarray(v) for v in results["real"])
    assert truth.size == 90 and np.mean(truth == predicted) == pytest.approx(0.822, abs=0.006)
    per_class = {c: np.mean(predicted[truth == c] == c) for c in bench.CLASSES}
    assert per_class == pytest.approx({"inner_race": 1.0, "outer_race": 0.70, "ball": 0.77}, abs=0.006)
    truth, predicted = (np.asarray(v) for v in results["injected"])
    assert np.mean(truth == predicted) == 1.0


def test_cwru_calibration_figures():
    """README "Measured on real recordings", bench/cwru_sim2real.py row: the synthetic side of each calibration."""
    spec = importlib.util.spec_from_file_location("cwru_sim2real", PROJECT / "bench" / "cwru_sim2real.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rms = [bench.synthetic_fault_rms(f, bench.SEVERITY_OF[0.007]) for f in ("outer_race", "inner_race", "ball")]
    assert rms == pytest.approx([0.90, 0.43, 0.12], abs=0.006)
    ball = bench.synthetic_ball_cells()  # kurtosis, FTF and 2xBSF modulation: median (min-max)
    for got, (kurt, ftf, bsf2) in ((np.median(ball, axis=0), (5.3, 0.36, 0.17)), (ball.min(axis=0), (1.2, 0.07, 0.11)),
                                   (ball.max(axis=0), (17.6, 0.58, 0.34))):  # README precision: 0.1 and 0.01
        assert got[0] == pytest.approx(kurt, abs=0.06) and got[1:] == pytest.approx([ftf, bsf2], abs=0.006)
    outer, inner = bench.synthetic_impact_cells("outer_race"), bench.synthetic_impact_cells("inner_race")
    assert [outer[:, 0].min(), outer[:, 0].max()] == pytest.approx([0.05, 0.56], abs=0.006)
    both = np.concatenate([outer, inner])
    assert [both[:, 1].min(), both[:, 1].max()] == pytest.approx([0.02, 0.20], abs=0.006)
    assert [outer[:, 2].min(), outer[:, 2].max()] == pytest.approx([0.7, 4.0], abs=0.06)
    assert [inner[:, 2].min(), inner[:, 2].max()] == pytest.approx([1.3, 5.9], abs=0.06)
    inside = {fault: sum(low <= median <= high for median, low, high in table.values())
              for fault, table in bench.feature_spread().items()}
    assert inside == {"inner_race": 15, "outer_race": 14, "ball": 17}
