"""Evaluation of a model bundle: AUC, pAUC, decision at the threshold, anomaly-type coverage.

Definitions (also written into metrics.json and report.md):

* ``auc``, ``pauc``: ``sklearn.metrics.roc_auc_score`` of the anomaly scores
  (higher = more anomalous) with anomaly clips as positives; pAUC with
  ``max_fpr=0.1`` (McClish-standardised, as the DCASE evaluator reports it).
* coverage cell (fault type, severity level): the clips of that fault at that
  level against *all* normal evaluation clips: AUC, and the detection rate =
  share of those anomaly clips whose score is above the model's threshold.
* minimum detectable severity of a fault type: the lowest tested level from
  which on the detection rate is >= ``DETECTION_RATE_MIN`` (0.5) at every
  higher tested level too; ``None`` if there is no such level.
* minimum separable severity: the same with AUC >= ``AUC_MIN`` (0.9): the
  faults a better-placed threshold could catch.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from datasets.atomic import write_text_atomic
from datasets.records import ClipRecord
from errors import FaultsynthError

MAX_FPR = 0.1
DETECTION_RATE_MIN = 0.5
AUC_MIN = 0.9
COVERAGE_DEFINITION = (
    "cell = anomaly clips of one fault type and severity level vs all normal evaluation clips; "
    f"detection_rate = share of those clips with anomaly score > threshold; min_detectable_severity = lowest "
    f"tested level from which on detection_rate >= {DETECTION_RATE_MIN} at every higher level; "
    f"min_separable_severity = the same with AUC >= {AUC_MIN}; null when no level qualifies")


def roc_metrics(y_true: np.ndarray, scores: np.ndarray, *, max_fpr: float = MAX_FPR) -> dict[str, float]:
    """AUC and pAUC of anomaly scores.

    Parameters
    ----------
    y_true : ndarray, shape (n,), bool or {0, 1}
        1 for anomaly clips.
    scores : ndarray, shape (n,), float
        Anomaly scores, higher = more anomalous.
    max_fpr : float
        pAUC upper false-positive rate.

    Returns
    -------
    dict with ``auc`` and ``pauc`` (floats in [0, 1]).
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise FaultsynthError(f"labels {y.shape} and scores {s.shape} differ in shape")
    if not np.all(np.isfinite(s)):
        raise FaultsynthError("anomaly scores contain NaN or infinity")
    if y.min(initial=1) == y.max(initial=0):
        raise FaultsynthError("AUC needs both normal and anomaly clips in the evaluation data")
    return {"auc": float(roc_auc_score(y, s)), "pauc": float(roc_auc_score(y, s, max_fpr=max_fpr))}


def min_level(levels: Sequence[tuple[float, float]], *, minimum: float) -> float | None:
    """Lowest level from which on every value is >= ``minimum``.

    Parameters
    ----------
    levels : sequence of (severity, value)
        One value (detection rate or AUC) per tested severity level.
    minimum : float

    Returns
    -------
    float or None
        The severity, or None if the value at the highest level is below ``minimum``.
    """
    found = None
    for severity, value in sorted(levels, key=lambda sv: sv[0], reverse=True):
        if value is None or not value >= minimum:
            break
        found = float(severity)
    return found


def _level_key(severity: float) -> str:
    return "unknown" if not math.isfinite(severity) else f"{severity:g}"


def coverage(faults: Sequence[str], severities: Sequence[float], scores: np.ndarray, *,
             normal_mask: np.ndarray, threshold: float) -> dict[str, Any]:
    """Anomaly-type coverage matrix.

    Parameters
    ----------
    faults : sequence of str, length n
        Fault type per clip (ignored for normal clips).
    severities : sequence of float, length n
        Severity per clip; NaN for an unknown severity (real anomalies).
    scores : ndarray, shape (n,)
        Anomaly scores, higher = more anomalous.
    normal_mask : ndarray, shape (n,), bool
        True for normal clips.
    threshold : float
        Anomalous when score > threshold.

    Returns
    -------
    dict
        ``{"definition", "threshold", "normal_clips", "false_positive_rate",
        "faults": {fault: {"levels": [{"severity", "clips", "auc", "pauc",
        "detection_rate"}...], "min_detectable_severity", "min_separable_severity"}}}``;
        ``severity`` is None for an unknown level (then it is excluded from the minima).
    """
    scores = np.asarray(scores, dtype=np.float64)
    normal_mask = np.asarray(normal_mask, dtype=bool)
    faults = np.asarray(faults, dtype=object)
    severities = np.asarray(severities, dtype=np.float64)
    normal = scores[normal_mask]
    if normal.size == 0:
        raise FaultsynthError("coverage needs normal clips in the evaluation data")
    out: dict[str, Any] = {"definition": COVERAGE_DEFINITION, "threshold": float(threshold),
                           "normal_clips": int(normal.size),
                           "false_positive_rate": float(np.mean(normal > threshold)), "faults": {}}
    anomalous = ~normal_mask
    for fault in sorted(set(faults[anomalous])):
        rows = []
        in_fault = anomalous & (faults == fault)
        keys = sorted({_level_key(s) for s in severities[in_fault]},
                      key=lambda k: (k == "unknown", float(k) if k != "unknown" else 0.0))
        for key in keys:
            mask = in_fault & np.array([_level_key(s) == key for s in severities])
            group = scores[mask]
            y = np.r_[np.zeros(normal.size), np.ones(group.size)]
            m = roc_metrics(y, np.r_[normal, group])
            rows.append({"severity": None if key == "unknown" else float(key), "clips": int(group.size),
                         "auc": m["auc"], "pauc": m["pauc"],
                         "detection_rate": float(np.mean(group > threshold))})
        known = [r for r in rows if r["severity"] is not None]
        out["faults"][str(fault)] = {
            "levels": rows,
            "min_detectable_severity": min_level([(r["severity"], r["detection_rate"]) for r in known],
                                                 minimum=DETECTION_RATE_MIN),
            "min_separable_severity": min_level([(r["severity"], r["auc"]) for r in known], minimum=AUC_MIN),
        }
    return out


@dataclass(frozen=True)
class Evaluation:
    """Scored evaluation clips and their metrics.

    Attributes
    ----------
    records : list of ClipRecord
    scores : ndarray, shape (n,), float64
        Anomaly scores (higher = more anomalous).
    metrics : dict
        What metrics.json holds.
    """

    records: list
    scores: np.ndarray
    metrics: dict


def evaluation_records(records: Sequence[ClipRecord], *, train_files: set[str],
                       machine: str | None = None) -> tuple[list[ClipRecord], int]:
    """Clips to evaluate: the test split (all clips if there is none), minus training clips.

    Returns
    -------
    (records, n_excluded)
        ``n_excluded`` counts clips skipped because the model trained on them.
    """
    if machine is not None:
        records = [r for r in records if r.machine.lower() == machine.lower()]
    chosen = [r for r in records if r.split == "test"] or list(records)
    kept = [r for r in chosen if str(r.file.resolve()) not in train_files]
    return sorted(kept, key=lambda r: (r.root, r.path)), len(chosen) - len(kept)


def evaluate_bundle(bundle, records: Sequence[ClipRecord], *, excluded: int = 0,
                    advance: Callable[[], None] | None = None, cache: dict | None = None) -> Evaluation:
    """Score ``records`` with ``bundle`` and compute every metric.

    Parameters
    ----------
    bundle : pipeline.training.Bundle
    records : sequence of ClipRecord
        Evaluation clips; need both normal and anomaly clips.
    excluded : int
        Clips left out because the model trained on them (reported).
    advance : callable, optional
        Called once per scored clip.
    cache : dict, optional
        Feature cache shared between detectors (see pipeline.training.clip_features).

    Returns
    -------
    Evaluation
    """
    records = list(records)
    if not records:
        raise FaultsynthError("no evaluation clips: expected a test split with normal and anomaly clips")
    labels = np.array([r.label == "anomaly" for r in records])
    if labels.all() or not labels.any():
        raise FaultsynthError(f"evaluation data has {int(labels.sum())} anomaly and {int((~labels).sum())} "
                              "normal clips: expected both")
    scores = bundle.score_clips(records, advance=advance, cache=cache)
    threshold = float(bundle.threshold)
    overall = roc_metrics(labels, scores)
    flagged = scores > threshold
    per_id = {}
    for key in sorted({f"{r.machine}/{r.machine_id}" for r in records}):
        mask = np.array([f"{r.machine}/{r.machine_id}" == key for r in records])
        entry: dict[str, Any] = {"normal_clips": int((mask & ~labels).sum()),
                                 "anomaly_clips": int((mask & labels).sum())}
        if entry["normal_clips"] and entry["anomaly_clips"]:
            entry.update(roc_metrics(labels[mask], scores[mask]))
        else:
            entry.update(auc=None, pauc=None)
        per_id[key] = entry
    cov = coverage([r.fault for r in records], [r.severity for r in records], scores,
                   normal_mask=~labels, threshold=threshold)
    sources: dict[str, int] = {}
    for r in records:
        sources[r.source] = sources.get(r.source, 0) + 1
    metrics = {
        "model": str(bundle.path), "detector": bundle.detector_name,
        "clips": len(records), "normal_clips": int((~labels).sum()), "anomaly_clips": int(labels.sum()),
        "excluded_training_clips": int(excluded), "sources": sources,
        "auc": overall["auc"], "pauc": overall["pauc"], "pauc_max_fpr": MAX_FPR,
        "threshold": threshold, "threshold_convention": bundle.meta.get("threshold_convention", ""),
        "target_fpr": float(bundle.target_fpr),
        "validation_clips": bundle.meta.get("validation", {}).get("clips"),
        "at_threshold": {"false_positive_rate": float(flagged[~labels].mean()),
                         "true_positive_rate": float(flagged[labels].mean())},
        "per_machine_id": per_id,
        "coverage": cov,
    }
    return Evaluation(records=records, scores=scores, metrics=metrics)


def scores_csv(evaluation: Evaluation, threshold: float) -> str:
    """One row per clip: path, machine_id, label, fault, severity, source, score, anomalous."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "machine", "machine_id", "label", "fault", "severity", "source", "anomaly_score",
                     "anomalous"])
    for r, s in zip(evaluation.records, evaluation.scores):
        writer.writerow([r.path, r.machine, r.machine_id, r.label, r.fault, repr(float(r.severity)), r.source,
                         repr(float(s)), int(s > threshold)])
    return buffer.getvalue()


def write_evaluation(evaluation: Evaluation, out_dir: str | Path, *, title: str = "") -> dict[str, Path]:
    """Write metrics.json, scores.csv, the plots and report.md into ``out_dir``.

    Returns
    -------
    dict: name -> written path.
    """
    from pipeline import reports

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluation.metrics
    written = {"metrics": out_dir / "metrics.json", "scores": out_dir / "scores.csv"}
    write_text_atomic(written["metrics"], json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    write_text_atomic(written["scores"], scores_csv(evaluation, metrics["threshold"]))
    written.update(reports.evaluation_plots(evaluation, out_dir))
    written["report"] = reports.write_evaluation_report(metrics, out_dir, plots=written, title=title)
    return written


def evaluate(*, model_dir: str | Path, data: str | Path, out_dir: str | Path, layout: str = "auto",
             machine: str | None = None, progress: Any = None) -> Evaluation:
    """Evaluate the bundle at ``model_dir`` on the dataset at ``data``; write the report.

    Parameters
    ----------
    model_dir : path
        Written by ``train``.
    data : path
        Any dataset the loaders read; its test split (or, with no split, every
        clip the model did not train on) is evaluated.
    out_dir : path
        REPORT_DIR: metrics.json, scores.csv, PNG plots, report.md.
    layout, machine : str
        As ``datasets.loaders.load_records``.
    progress : rich.progress.Progress, optional

    Returns
    -------
    Evaluation
    """
    from datasets.loaders import load_records
    from pipeline.training import load_bundle

    bundle = load_bundle(model_dir)
    records = load_records(data, layout=layout, machine=machine)
    chosen, excluded = evaluation_records(records, train_files=bundle.train_files, machine=machine)
    advance = None
    if progress is not None:
        task = progress.add_task(f"scoring ({bundle.detector_name})", total=len(chosen))
        advance = lambda: progress.advance(task)  # noqa: E731
    evaluation = evaluate_bundle(bundle, chosen, excluded=excluded, advance=advance)
    evaluation.metrics["data"] = str(Path(data).resolve())
    write_evaluation(evaluation, out_dir, title=f"{bundle.detector_name} on {Path(data).name}")
    return evaluation
