"""`tune` on real recordings: pick a detector from injected faults only, then test it on real anomalies.

The recipe is fixed here, before any test clip is scored, and not changed after:

MIMII fan id_00 (../shared/data/mimii, channel 0)
    tune on the normal clips 00000000-00000004 (50 s) with the fan's synthetic
    faults (all three, severities 0.25, 0.5, 0.75, 1), 2-s segments, 5 folds
    (one recording each), target false-positive rate 0.01, seed 0, all
    detectors; once without a device budget and once with
    flash=64KB,ram=32KB,instr=8M. Test: normal clips 00000005-00000009 and all
    10 abnormal clips, cut into the same 2-s segments (the unit the threshold
    was calibrated for: 25 normal and 50 abnormal decisions). Reported: AUC
    and pAUC of the segment scores, AUC of whole clips (mean of their 5
    segment scores), and the realised false-positive rate on the 25 test
    normal segments beside the interval `tune` reported and the range of
    false alarms it predicts for 25 fresh segments.
DCASE 2023 development samples (../shared/data/dcase2023)
    per machine type, tune on its train/ normal clips (two, about 20 s) with
    the generator of the nearest type (ToyTrain -> toyconveyor), 2-s
    segments, 5 folds (blocks of segments), target 0.01; test on its test/
    clips cut into 2-s segments. Few clips: read as what happens, not as a score.

Usage: ``python bench/tune_real.py [--workers 2] [--skip-dcase]``; prints tables (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.audio import load_audio  # noqa: E402
from datasets.loaders import load_records  # noqa: E402
from pipeline.calibration import predicted_false_positives  # noqa: E402
from pipeline.clip_features import features_of_signals  # noqa: E402
from pipeline.device_cost import parse_budget  # noqa: E402
from pipeline.training import load_bundle  # noqa: E402
from pipeline.tune import TuneConfig, run_tune  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MIMII = SHARED / "mimii" / "fan" / "id_00"
DCASE2023 = SHARED / "dcase2023" / "dev_data" / "raw"
DCASE_MACHINES = {"fan": "fan", "valve": "valve", "slider": "slider", "ToyCar": "toycar",
                  "ToyTrain": "toyconveyor", "gearbox": "gearbox", "bearing": "bearing"}
SEGMENT_S = 2.0
TARGET_FPR = 0.01
BUDGET = "flash=64KB,ram=32KB,instr=8M"


def segments_of(record, bundle, segment_s: float) -> list[np.ndarray]:
    """The clip cut into non-overlapping segments of ``segment_s`` (the model's channel)."""
    x = load_audio(record, channel=bundle.feature_config.channel)
    n = int(round(segment_s * record.sample_rate))
    return [x[k * n:(k + 1) * n] for k in range(x.size // n)]


def score_records(bundle, records) -> list[np.ndarray]:
    """Per record, the anomaly scores of its segments."""
    out = []
    for record in records:
        segs = segments_of(record, bundle, SEGMENT_S)
        out.append(bundle.score_features(features_of_signals(segs, bundle.feature_config)))
    return out


def test_figures(bundle, normals, anomalies) -> dict:
    """Segment and clip AUC, realised FPR against the calibration's interval and predicted range."""
    normal_scores = score_records(bundle, normals)
    anomaly_scores = score_records(bundle, anomalies) if anomalies else []
    seg_n = np.concatenate(normal_scores)
    cal = bundle.meta["calibration"]
    fp = int(np.sum(seg_n > bundle.threshold))
    lo, hi = predicted_false_positives(cal, seg_n.size)
    out = {"normal_segments": int(seg_n.size), "false_positives": fp, "fpr": fp / seg_n.size,
           "fpr_ci": cal["fpr_ci"], "predicted": (lo, hi), "within_ci": cal["fpr_ci"][0] <= fp / seg_n.size
           <= cal["fpr_ci"][1], "within_predicted": lo <= fp <= hi}
    if anomaly_scores:
        seg_a = np.concatenate(anomaly_scores)
        y = np.r_[np.zeros(seg_n.size), np.ones(seg_a.size)]
        s = np.r_[seg_n, seg_a]
        out.update(anomaly_segments=int(seg_a.size), auc=roc_auc_score(y, s),
                   pauc=roc_auc_score(y, s, max_fpr=0.1), detection_rate=float(np.mean(seg_a > bundle.threshold)))
        clip_n = [c.mean() for c in normal_scores]
        clip_a = [c.mean() for c in anomaly_scores]
        out["clip_auc"] = roc_auc_score(np.r_[np.zeros(len(clip_n)), np.ones(len(clip_a))], np.r_[clip_n, clip_a])
    return out


def tune_and_test(files, config: TuneConfig, normals, anomalies, *, workers: int):
    """Tune on ``files``, then score the test clips with the chosen model.

    Returns
    -------
    (TuneResult, seconds of the tune run, :func:`test_figures` dict)
    """
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_tune(files, config, Path(tmp) / "tune", workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        figures = test_figures(load_bundle(Path(tmp) / "tune" / "model"), normals, anomalies)
    return result, seconds, figures


def mimii(workers: int) -> None:
    normal = sorted((MIMII / "normal").glob("*.wav"))
    tune_files = [str(p) for p in normal[:5]]
    records = load_records(MIMII)
    test_normals = [r for r in records if r.label == "normal" and Path(r.path).name >= "00000005.wav"]
    anomalies = [r for r in records if r.label == "anomaly"]
    assert len(test_normals) == 5 and len(anomalies) == 10
    print(f"MIMII fan id_00: tune on {', '.join(Path(f).name for f in tune_files)} (50 s); test 5 normal + 10 "
          f"abnormal clips in {SEGMENT_S:g}-s segments; target FPR {TARGET_FPR}")
    for label, budget in (("no budget", None), (f"budget {BUDGET}", parse_budget(BUDGET))):
        config = TuneConfig(machine="fan", target_fpr=TARGET_FPR, segment_s=SEGMENT_S, folds=5, seed=0,
                            budget=budget)
        result, seconds, f = tune_and_test(tune_files, config, test_normals, anomalies, workers=workers)
        w = result.winner
        print(f"\n[{label}] {len(result.ranking)} candidates ({len({r.model.key for r in result.ranking})} "
              f"models x poolings), {seconds:.0f} s with {workers} workers")
        print(f"  winner: {w.name}")
        print(f"  predicted (out of fold): {w.detected_cells}/{w.cells} cells detected, mean cell AUC "
              f"{w.mean_auc:.3f}")
        print(f"  real abnormal: segment AUC {f['auc']:.3f}  pAUC {f['pauc']:.3f}  clip AUC {f['clip_auc']:.3f}  "
              f"detection rate {f['detection_rate']:.2f}")
        print(f"  false positives on the test normals: {f['false_positives']}/{f['normal_segments']} = "
              f"{f['fpr']:.3f}; calibrated interval [{f['fpr_ci'][0]:.3f}, {f['fpr_ci'][1]:.3f}] "
              f"({'within' if f['within_ci'] else 'OUTSIDE'}); predicted {f['predicted'][0]}-{f['predicted'][1]} "
              f"false alarms ({'within' if f['within_predicted'] else 'OUTSIDE'})")


def dcase2023(workers: int) -> None:
    print(f"\nDCASE 2023 development samples: tune on train/ normals, test on test/ clips, {SEGMENT_S:g}-s segments")
    header = (f"{'machine':9s} {'generator':11s} {'tune s':>6s} {'winner':58s} {'cells':>6s} {'FP/N':>6s} "
              f"{'interval':>14s} {'AUC':>5s}")
    print(header)
    print("-" * len(header))
    for folder, generator in DCASE_MACHINES.items():
        root = DCASE2023 / folder
        records = load_records(root)
        train = [str(r.file) for r in records if r.split == "train" and r.label == "normal"]
        normals = [r for r in records if r.split == "test" and r.label == "normal"]
        anomalies = [r for r in records if r.split == "test" and r.label == "anomaly"]
        config = TuneConfig(machine=generator, target_fpr=TARGET_FPR, segment_s=SEGMENT_S, folds=5, seed=0)
        result, seconds, f = tune_and_test(train, config, normals, anomalies, workers=workers)
        w = result.winner
        auc = f"{f['auc']:.2f}" if "auc" in f else "-"
        print(f"{folder:9s} {generator:11s} {seconds:6.0f} {w.name[:58]:58s} {w.detected_cells:>2d}/{w.cells:<3d} "
              f"{f['false_positives']:>2d}/{f['normal_segments']:<3d} "
              f"[{f['fpr_ci'][0]:.2f}, {f['fpr_ci'][1]:.2f}] {auc:>5s}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-dcase", action="store_true")
    args = parser.parse_args()
    mimii(args.workers)
    if not args.skip_dcase:
        dcase2023(args.workers)


if __name__ == "__main__":
    main()
