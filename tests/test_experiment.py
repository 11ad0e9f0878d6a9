"""Experiment specs (validated in one place) and a small fault-injection experiment end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from errors import FaultsynthError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SMALL = {
    "name": "tiny-bearing",
    "seed": 2,
    "data": {"source": "synthetic", "machine": "bearing", "count": 5, "duration_s": 0.5, "sample_rate": 12000,
             "fixed": {"rpm": 1797, "bearing": "6205"}},
    "faults": {"types": ["outer_race", "imbalance"], "severities": [0.005, 0.4]},
    "features": {"preset": "tinyml", "kind": "vibration", "n_mels": 16, "n_frames": 1, "envelope_fmax_hz": 600.0},
    "training": {"target_fpr": 0.05, "folds": 3},
    "detectors": {"kmeans": {"n_clusters": 2}, "autoencoder": {"tinyml": True, "epochs": 3}},
}


def _with(path: tuple, value) -> dict:
    doc = copy.deepcopy(SMALL)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, message", [
    (("colour",), "red", "unknown top-level keys"),
    (("data", "rpm"), 1797, r"unknown keys in \[data\]"),
    (("data", "machine"), "toaster", "unknown machine"),
    (("faults", "types"), ["outer_race", "melted"], "unknown fault"),
    (("faults", "types"), ["none"], "not a fault"),
    (("faults", "types"), [], "no fault types"),
    (("faults", "severities"), [0.2, 1.5], r"within \[0, 1\]"),
    (("faults", "severities"), [0.4, 0.2], "increasing"),
    (("faults", "severities"), [0.0, 0.2], "severity 0"),
    (("faults", "severities"), ["high"], "not a number"),
    (("data", "count"), 1, "count"),
    (("data", "source"), "real", "needs"),
    (("data", "source"), "imagined", "data source"),
    (("detectors", "kmeans"), {"n_clusterz": 3}, "unknown kmeans parameters"),
    (("detectors", "svm"), {}, "unknown detector"),
    (("features", "n_mels"), 0, "n_mels"),
    (("features", "hop"), 3, r"unknown keys in \[features\]"),
    (("training", "target_fpr"), 2.0, "target FPR"),
])
def test_spec_validation(path, value, message):
    from pipeline.experiment import spec_from_dict

    with pytest.raises(FaultsynthError, match=message):
        spec_from_dict(_with(path, value))


def test_example_specs_are_valid():
    from pipeline.experiment import load_spec

    bearing = load_spec(EXAMPLES / "bearing_experiment.toml")
    fan = load_spec(EXAMPLES / "fan_experiment.toml")
    assert bearing.machine == "bearing" and fan.machine == "fan"
    assert set(bearing.detectors) == set(fan.detectors) == {"kmeans", "autoencoder"}


def test_cli_experiment_bad_spec(cli, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "x"\n[data]\nmachine = "bearing"\n[faults]\ntypes = ["outer_race"]\n'
                    "severities = [0.5, 7]\n")
    result = cli("experiment", spec, "--out", tmp_path / "out")
    assert result.returncode == 2 and "severity" in result.stderr and "Traceback" not in result.stderr
    spec.write_text("name = \n")
    result = cli("experiment", spec, "--out", tmp_path / "out")
    assert result.returncode == 2 and "TOML" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_small_experiment_end_to_end_and_resume(tmp_path):
    from pipeline.experiment import run_experiment, spec_from_dict

    spec = spec_from_dict(SMALL)
    out = tmp_path / "exp"
    first = run_experiment(spec, out, progress=False)
    for detector in ("kmeans", "autoencoder"):
        cov = first.metrics[detector]["coverage"]["faults"]
        levels = {lv["severity"]: lv for lv in cov["outer_race"]["levels"]}
        # An outer-race defect at severity 0.4 rings the bearing resonance at BPFO: plainly separable.
        assert levels[0.4]["auc"] >= 0.9
        assert cov["outer_race"]["min_separable_severity"] in (0.005, 0.4)
        assert (out / "eval" / detector / "metrics.json").is_file()
    assert (out / "coverage_side_by_side.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "kmeans" in report and "autoencoder" in report and "Minimum detectable severity" in report
    summary = json.loads((out / "experiment.json").read_text())
    assert set(summary["detectors"]) == {"kmeans", "autoencoder"}

    # Same spec again: every stage is reused, with identical results.
    again = run_experiment(spec, out, progress=False)
    assert set(again.reused) == {"data", "models/kmeans", "eval/kmeans", "models/autoencoder", "eval/autoencoder"}
    assert again.metrics["kmeans"]["auc"] == first.metrics["kmeans"]["auc"]

    # A changed autoencoder config retrains the autoencoder only; a tampered k-means model is not reused.
    (out / "models" / "kmeans" / "representative.npy").write_bytes(b"tampered")
    changed = spec_from_dict(_with(("detectors", "autoencoder"), {"tinyml": True, "epochs": 2}))
    third = run_experiment(changed, out, progress=False)
    assert "data" in third.reused
    assert not {"models/kmeans", "models/autoencoder", "eval/autoencoder"} & set(third.reused)
    bundle = json.loads((out / "models" / "autoencoder" / "bundle.json").read_text())
    assert bundle["detector_params"]["epochs"] == 2


def test_example_specs_load_and_point_at_existing_data():
    from pipeline.experiment import load_spec

    specs = sorted(EXAMPLES.glob("*_experiment.toml"))
    assert any(load_spec(p).source == "real" for p in specs)  # an example for the user's own recordings
    for path in specs:
        spec = load_spec(path)
        if spec.source == "real":
            assert Path(spec.real_path).is_dir() and spec.real_layout == "wav", path.name

