"""Evaluation: AUC on easy vs indistinguishable faults, coverage matrix arithmetic, reports, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from errors import FaultsynthError
from test_training import write_toy_dataset


# ---------------------------------------------------------------- hand-made scores

def test_min_level_requires_every_higher_level():
    from pipeline.evaluate import min_level

    assert min_level([(0.1, 0.2), (0.2, 0.6), (0.4, 0.9), (0.8, 1.0)], minimum=0.5) == 0.2
    # A dip at 0.4 means 0.2 is not reliably detectable: the minimum is the level after the dip.
    assert min_level([(0.1, 0.2), (0.2, 0.6), (0.4, 0.3), (0.8, 1.0)], minimum=0.5) == 0.8
    assert min_level([(0.8, 0.4), (0.1, 0.9)], minimum=0.5) is None  # unsorted input; top level fails
    assert min_level([], minimum=0.5) is None


def _hand_made(copies: int):
    """Hand-made scores, every clip repeated ``copies`` times; threshold 2.5."""
    normal = [0.0, 1.0, 2.0, 3.0]  # threshold 2.5: one false positive of four
    clips = [("none", 0.0, s) for s in normal]
    clips += [("a", 0.2, s) for s in (0.5, 1.5, 2.6, 0.1)]   # detection 1/4
    clips += [("a", 0.6, s) for s in (2.7, 2.8, 4.0, 0.9)]   # detection 3/4
    clips += [("b", 0.6, s) for s in (5.0, 6.0)]             # detection 1, AUC 1
    faults, sev, scores = zip(*(clips * copies))
    return faults, sev, np.array(scores), np.array([f == "none" for f in faults])


def test_coverage_on_hand_made_scores():
    from pipeline.evaluate import coverage

    faults, sev, scores, normal_mask = _hand_made(1)
    cov = coverage(faults, sev, scores, normal_mask=normal_mask, threshold=2.5)
    assert cov["false_positive_rate"] == pytest.approx(0.25) and cov["false_positives"] == 1
    # Clopper-Pearson for 1 of 4: lower bound 1 - 0.975 ** (1 / 4) in closed form.
    assert cov["false_positive_rate_ci"][0] == pytest.approx(1 - 0.975 ** 0.25)
    a = {lv["severity"]: lv for lv in cov["faults"]["a"]["levels"]}
    assert a[0.2]["detection_rate"] == pytest.approx(0.25)
    assert a[0.6]["detection_rate"] == pytest.approx(0.75) and a[0.6]["detected_clips"] == 3
    lo, hi = a[0.6]["detection_rate_ci"]
    assert lo < 0.75 < hi
    # AUC by counting pairs (anomaly > normal): 2.7, 2.8 beat 3 normals, 4.0 beats 4, 0.9 beats 1 -> 11/16.
    assert a[0.6]["auc"] == pytest.approx(11 / 16)
    # 3/4 against 1/4 false positives: Fisher's one-sided p = P(X >= 3) = (16 + 1) / 70, not significant.
    # (The old rule "detection rate >= 0.5" called 0.6 detectable on four normal clips.)
    assert a[0.6]["p_value"] == pytest.approx(17 / 70)
    assert not a[0.6]["detected"]
    assert cov["faults"]["a"]["min_detectable_severity"] is None
    assert cov["faults"]["a"]["min_separable_severity"] is None
    assert cov["faults"]["b"]["levels"][0]["auc"] == 1.0
    # 2/2 against 1/4: p = C(3,2) / C(6,2) = 0.2; two clips cannot show a detection.
    assert cov["faults"]["b"]["levels"][0]["p_value"] == pytest.approx(0.2)
    assert cov["faults"]["b"]["min_detectable_severity"] is None


def test_coverage_detects_with_enough_clips():
    """The same rates on five times the clips are significant: 15/20 vs 5/20 (p = 0.0019), 10/10 vs 5/20."""
    from pipeline.evaluate import coverage

    faults, sev, scores, normal_mask = _hand_made(5)
    cov = coverage(faults, sev, scores, normal_mask=normal_mask, threshold=2.5)
    assert cov["false_positive_rate"] == pytest.approx(0.25) and cov["normal_clips"] == 20
    a = {lv["severity"]: lv for lv in cov["faults"]["a"]["levels"]}
    assert a[0.6]["p_value"] == pytest.approx(0.0019237636541887646) and a[0.6]["detected"]
    assert not a[0.2]["detected"]  # 5/20 is the false-positive rate itself
    assert cov["faults"]["a"]["min_detectable_severity"] == 0.6
    assert cov["faults"]["b"]["levels"][0]["detected"]
    assert cov["faults"]["b"]["min_detectable_severity"] == 0.6


def test_coverage_unknown_severity_is_kept_apart():
    from pipeline.evaluate import coverage

    cov = coverage(["none", "none", "unknown"], [0.0, 0.0, float("nan")], np.array([0.0, 1.0, 2.0]),
                   normal_mask=np.array([True, True, False]), threshold=1.5)
    level = cov["faults"]["unknown"]["levels"][0]
    assert level["severity"] is None and level["detection_rate"] == 1.0
    assert level["detection_rate_ci"] == [pytest.approx(0.025), 1.0]  # 1 of 1: lower bound 0.025
    assert cov["faults"]["unknown"]["min_detectable_severity"] is None  # no known severity to report


def test_roc_metrics_refuses_one_class():
    from pipeline.evaluate import roc_metrics

    with pytest.raises(FaultsynthError, match="both"):
        roc_metrics(np.zeros(4), np.arange(4.0))
    m = roc_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert m["auc"] == 1.0 and m["pauc"] == 1.0


# ---------------------------------------------------------------- physics-grade end to end

@pytest.fixture(scope="module")
def toy_eval(tmp_path_factory):
    """A toy dataset with a whine fault at three levels and a placebo fault identical to normal."""
    from pipeline.training import TrainConfig, train

    root = tmp_path_factory.mktemp("toy_eval")
    write_toy_dataset(root, n_train=10, n_normal_test=24, n_per_level=8,
                      levels={"whine": {0.02: 0.001, 0.5: 0.05, 1.0: 0.2}, "placebo": {0.5: 0.0}}, seed=5)
    model = tmp_path_factory.mktemp("toy_model") / "kmeans"
    train(TrainConfig(detector="kmeans", features="tinyml", seed=0, detector_params={"n_clusters": 4}),
          data=root, out_dir=model)
    return root, model


def test_auc_easy_fault_high_placebo_near_chance(toy_eval, tmp_path):
    from pipeline.evaluate import evaluate

    root, model = toy_eval
    metrics = evaluate(model_dir=model, data=root, out_dir=tmp_path / "report").metrics
    whine = {lv["severity"]: lv for lv in metrics["coverage"]["faults"]["whine"]["levels"]}
    placebo = metrics["coverage"]["faults"]["placebo"]["levels"][0]
    assert whine[1.0]["auc"] > 0.95 and whine[1.0]["detection_rate"] == 1.0
    # A 0.001 whine under 0.05 RMS noise is not separable; identical processes give chance level.
    assert abs(whine[0.02]["auc"] - 0.5) < 0.3
    assert abs(placebo["auc"] - 0.5) < 0.25
    assert metrics["coverage"]["faults"]["whine"]["min_detectable_severity"] in (0.5, 1.0)
    assert metrics["coverage"]["faults"]["placebo"]["min_separable_severity"] is None
    # Detection rates grow with the whine amplitude.
    assert whine[0.02]["detection_rate"] <= whine[0.5]["detection_rate"] <= whine[1.0]["detection_rate"]
    on_disk = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert on_disk["auc"] == pytest.approx(metrics["auc"])
    assert on_disk["per_machine_id"]["toy/id_00"]["auc"] == pytest.approx(metrics["auc"])
    for name in ("roc.png", "coverage.png", "scores.png", "report.md", "scores.csv"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "min. detectable" in report
    # The false-positive rate with its interval stands beside the detection rates; placebo is never detected.
    cov = metrics["coverage"]
    lo, hi = cov["false_positive_rate_ci"]
    assert lo <= cov["false_positive_rate"] <= hi and hi > 0
    assert metrics["at_threshold"]["false_positive_rate_ci"] == [lo, hi]
    assert on_disk["coverage"]["false_positive_rate_ci"] == pytest.approx([lo, hi])
    assert f"False-positive rate on {cov['normal_clips']} normal clips: {cov['false_positive_rate']:.3f} " \
           f"[{lo:.3f}, {hi:.3f}]" in report
    assert not placebo["detected"] and whine[1.0]["detected"]
    assert "excluded_overlapping_clips" not in metrics and "leaky_clips_included" not in metrics


def test_training_clips_are_not_evaluated(toy_eval, tmp_path):
    """A dataset without a split: evaluation skips the clips the model trained on."""
    from datasets.loaders import load_records
    from pipeline.evaluate import select_evaluation
    from pipeline.training import load_bundle

    root, model = toy_eval
    records = [r.replace(split="test") for r in load_records(root)]
    selection = select_evaluation(records, train_files=load_bundle(model).train_files)
    kept, excluded = selection.records, selection.excluded
    assert excluded == 10 and len(kept) == len(records) - 10
    assert not {str(r.file.resolve()) for r in kept} & load_bundle(model).train_files


def test_evaluate_refuses_other_sample_rate(toy_eval, tmp_path, cli):
    _, model = toy_eval
    other = tmp_path / "other"
    write_toy_dataset(other, n_train=2, n_normal_test=2, n_per_level=2, sample_rate=22050)
    result = cli("evaluate", "--model", model, "--data", other, "--out", tmp_path / "r", "--quiet")
    assert result.returncode == 2, result.stderr
    assert "16000 Hz" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_cli_missing_bundle(toy_eval, tmp_path, cli):
    root, _ = toy_eval
    (tmp_path / "empty_model").mkdir()
    result = cli("evaluate", "--model", tmp_path / "empty_model", "--data", root, "--out", tmp_path / "r")
    assert result.returncode == 2 and "bundle.json" in result.stderr and "Traceback" not in result.stderr


def test_cli_train_then_evaluate(toy_eval, tmp_path, cli):
    root, _ = toy_eval
    model, report = tmp_path / "model", tmp_path / "report"
    result = cli("train", "--data", root, "--model", "gaussian", "--features", "tinyml", "--out", model,
                 "--target-fpr", "0.1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "threshold" in result.stdout and json.loads((model / "bundle.json").read_text())["target_fpr"] == 0.1
    result = cli("evaluate", "--model", model, "--data", root, "--out", report, "--quiet")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((report / "metrics.json").read_text())
    loud = [lv for lv in metrics["coverage"]["faults"]["whine"]["levels"] if lv["severity"] == 1.0][0]
    assert loud["auc"] > 0.95 and "minimum detectable severity" in result.stdout
    lo, hi = metrics["at_threshold"]["false_positive_rate_ci"]
    fpr = metrics["at_threshold"]["false_positive_rate"]
    assert f"FPR {fpr:.3f} [{lo:.3f}, {hi:.3f}] (target 0.1)" in result.stdout
