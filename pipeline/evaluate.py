"""Evaluation of a model bundle: AUC, pAUC, decision at the threshold, anomaly-type coverage.

Definitions (also written into metrics.json and report.md):

* ``auc``, ``pauc``: ``sklearn.metrics.roc_auc_score`` of the anomaly scores
  (higher = more anomalous) with anomaly clips as positives; pAUC with
  ``max_fpr=0.1`` (McClish-standardised, as the DCASE evaluator reports it).
* false-positive rate (FPR): share of the normal evaluation clips whose score
  is above the threshold, with its exact 95 % (Clopper-Pearson) interval.
* coverage cell (fault type, severity level): the clips of that fault at that
  level against *all* normal evaluation clips: AUC, and the detection rate =
  share of those anomaly clips whose score is above the model's threshold
  (with its 95 % Clopper-Pearson interval).
* detected cell: the detection rate is significantly above the FPR (one-sided
  Fisher exact test, p < ``ALPHA`` = 0.05, see :mod:`pipeline.stats`) and the
  AUC is above chance (> ``AUC_CHANCE`` = 0.5).
* minimum detectable severity of a fault type: the lowest tested level from
  which on every higher tested level is a detected cell too; ``None`` if
  there is no such level.
* minimum separable severity: the lowest tested level from which on AUC >=
  ``AUC_MIN`` (0.9): the faults a better-placed threshold could catch.
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
from pipeline.stats import ALPHA, CONFIDENCE, clopper_pearson, rate_above_p_value

MAX_FPR = 0.1
AUC_MIN = 0.9
AUC_CHANCE = 0.5
COVERAGE_DEFINITION = (
    "cell = anomaly clips of one fault type and severity level vs all normal evaluation clips; "
    "detection_rate = share of those clips with anomaly score > threshold, false_positive_rate = share of the "
    f"normal clips above it, each with its exact {100 * CONFIDENCE:g} % Clopper-Pearson interval; detected = "
    f"detection rate significantly above the false-positive rate (one-sided Fisher exact test, p < {ALPHA:g}) "
    f"and AUC > {AUC_CHANCE:g}; min_detectable_severity = lowest tested level from which on every higher "
    f"level is detected; min_separable_severity = lowest tested level from which on AUC >= {AUC_MIN}; "
    "null when no level qualifies")


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
        One value per tested severity level (e.g. AUC, or 1.0 for a detected cell and 0.0 otherwise).
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
        ``{"definition", "threshold", "confidence", "alpha", "normal_clips",
        "false_positives", "false_positive_rate", "false_positive_rate_ci",
        "faults": {fault: {"levels": [{"severity", "clips", "auc", "pauc",
        "detected_clips", "detection_rate", "detection_rate_ci", "p_value",
        "detected"}...], "min_detectable_severity", "min_separable_severity"}}}``;
        rates are shares in [0, 1], ``*_ci`` are ``[lo, hi]`` Clopper-Pearson
        intervals at ``confidence``, ``p_value`` is the one-sided Fisher exact
        test of detection rate > false-positive rate. ``severity`` is None for an
        unknown level (then it is excluded from the minima).
    """
    scores = np.asarray(scores, dtype=np.float64)
    normal_mask = np.asarray(normal_mask, dtype=bool)
    faults = np.asarray(faults, dtype=object)
    severities = np.asarray(severities, dtype=np.float64)
    normal = scores[normal_mask]
    if normal.size == 0:
        raise FaultsynthError("coverage needs normal clips in the evaluation data")
    n_normal, false_pos = int(normal.size), int(np.sum(normal > threshold))
    out: dict[str, Any] = {"definition": COVERAGE_DEFINITION, "threshold": float(threshold),
                           "confidence": CONFIDENCE, "alpha": ALPHA,
                           "normal_clips": n_normal, "false_positives": false_pos,
                           "false_positive_rate": false_pos / n_normal,
                           "false_positive_rate_ci": list(clopper_pearson(false_pos, n_normal)), "faults": {}}
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
            hits = int(np.sum(group > threshold))
            p_value = rate_above_p_value(hits, int(group.size), false_pos, n_normal)
            rows.append({"severity": None if key == "unknown" else float(key), "clips": int(group.size),
                         "auc": m["auc"], "pauc": m["pauc"], "detected_clips": hits,
                         "detection_rate": hits / group.size,
                         "detection_rate_ci": list(clopper_pearson(hits, int(group.size))),
                         "p_value": p_value, "detected": bool(p_value < ALPHA and m["auc"] > AUC_CHANCE)})
        known = [r for r in rows if r["severity"] is not None]
        out["faults"][str(fault)] = {
            "levels": rows,
            # detected -> 1.0: the lowest level from which on every level is detected.
            "min_detectable_severity": min_level([(r["severity"], float(r["detected"])) for r in known],
                                                 minimum=1.0),
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


@dataclass(frozen=True)
class EvaluationSelection:
    """The clips chosen for evaluation and what was left out.

    Attributes
    ----------
    records : list of ClipRecord
        Clips to evaluate, sorted by (root, path).
    excluded_training : int
        Clips skipped because their file is one the model trained on.
    excluded_overlapping : int
        Clips skipped because they were cut from a recording the model trained on
        and their segment overlaps a training segment.
    leaky_included : int
        Such overlapping clips kept anyway (``include_leaky=True``).
    leaky : tuple of str
        Paths (relative to their root) of the overlapping clips, excluded or kept.
    """

    records: list
    excluded_training: int = 0
    excluded_overlapping: int = 0
    leaky_included: int = 0
    leaky: tuple = ()

    @property
    def excluded(self) -> int:
        """All clips left out, for either reason."""
        return self.excluded_training + self.excluded_overlapping


def select_evaluation(records: Sequence[ClipRecord], *, train_files: set[str], train_spans: Sequence = (),
                      machine: str | None = None, include_leaky: bool = False) -> EvaluationSelection:
    """Clips to evaluate: the test split (all clips if there is none), minus what the model trained on.

    Parameters
    ----------
    records : sequence of ClipRecord
    train_files : set of str
        Resolved absolute paths of the training (and validation) clips; such
        clips are always left out.
    train_spans : sequence of (source_file, start_s, end_s)
        Stretches of audio the model trained on (``bundle.meta["train_summary"]["spans"]``);
        a clip whose :func:`pipeline.leakage.clip_span` overlaps one of them is
        leaky (shares samples with training data).
    machine : str, optional
        Keep only this machine type (case-insensitive).
    include_leaky : bool
        Keep leaky clips (counted in ``leaky_included``) instead of excluding them.

    Returns
    -------
    EvaluationSelection
    """
    from pipeline.leakage import overlapping

    if machine is not None:
        records = [r for r in records if r.machine.lower() == machine.lower()]
    chosen = [r for r in records if r.split == "test"] or list(records)
    fresh = [r for r in chosen if str(r.file.resolve()) not in train_files]
    leaky_mask = overlapping(fresh, train_spans) if train_spans else [False] * len(fresh)
    leaky = tuple(r.path for r, bad in zip(fresh, leaky_mask) if bad)
    kept = fresh if include_leaky else [r for r, bad in zip(fresh, leaky_mask) if not bad]
    return EvaluationSelection(records=sorted(kept, key=lambda r: (r.root, r.path)),
                               excluded_training=len(chosen) - len(fresh),
                               excluded_overlapping=0 if include_leaky else len(leaky),
                               leaky_included=len(leaky) if include_leaky else 0, leaky=leaky)


def evaluate_bundle(bundle, records: Sequence[ClipRecord], *, advance: Callable[[], None] | None = None,
                    cache: dict | None = None, selection: EvaluationSelection | None = None) -> Evaluation:
    """Score ``records`` with ``bundle`` and compute every metric.

    Parameters
    ----------
    bundle : pipeline.training.Bundle
    records : sequence of ClipRecord
        Evaluation clips; need both normal and anomaly clips.
    advance : callable, optional
        Called once per scored clip.
    cache : dict, optional
        Feature cache shared between detectors (see pipeline.clip_features.clip_features).
    selection : EvaluationSelection, optional
        How ``records`` were chosen (:func:`select_evaluation`): its exclusion
        counts are reported, and ``excluded_overlapping_clips`` /
        ``leaky_clips_included`` are added when leaky clips were found.

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
        "excluded_training_clips": 0 if selection is None else int(selection.excluded_training),
        "sources": sources,
        "auc": overall["auc"], "pauc": overall["pauc"], "pauc_max_fpr": MAX_FPR,
        "threshold": threshold, "threshold_convention": bundle.meta.get("threshold_convention", ""),
        "target_fpr": float(bundle.target_fpr),
        "threshold_promise": threshold_promise(bundle, records, int(flagged[~labels].sum())),
        "at_threshold": {"false_positive_rate": float(flagged[~labels].mean()),
                         "false_positive_rate_ci": cov["false_positive_rate_ci"],
                         "true_positive_rate": float(flagged[labels].mean())},
        "per_machine_id": per_id,
        "coverage": cov,
    }
    if selection is not None and selection.excluded_overlapping:
        metrics["excluded_overlapping_clips"] = selection.excluded_overlapping
    if selection is not None and selection.leaky_included:
        metrics["leaky_clips_included"] = selection.leaky_included
        metrics["leaky_clips"] = list(selection.leaky)
    return Evaluation(records=records, scores=scores, metrics=metrics)


def threshold_promise(bundle, records: Sequence[ClipRecord], false_positives: int) -> dict[str, Any]:
    """The threshold's calibrated promise against what the normal evaluation clips show.

    Parameters
    ----------
    bundle : pipeline.training.Bundle
    records : sequence of ClipRecord
        The evaluation clips.
    false_positives : int
        Normal evaluation clips above the threshold.

    Returns
    -------
    dict
        ``target_fpr``, ``method``, ``calibration_clips``, ``fpr_ci`` (the
        calibration's interval of the true rate), ``normal_clips``,
        ``false_positives``, ``predicted_false_positives`` ([lo, hi], 95 %
        beta-binomial), ``within_interval`` (realised rate inside ``fpr_ci``),
        ``within_prediction``, ``calibrated_clip_duration_s`` and
        ``duration_matches`` (the promise is for clips of that length).
    """
    from pipeline.calibration import predicted_false_positives

    cal = bundle.calibration
    normals = [r for r in records if r.label == "normal"]
    duration = bundle.meta.get("train_summary", {}).get("clip_duration_s")
    lo, hi = predicted_false_positives(cal, len(normals))
    rate = false_positives / len(normals)
    return {"target_fpr": cal["target_fpr"], "method": cal["method"], "calibration_clips": cal["normal_clips"],
            "fpr_ci": list(cal["fpr_ci"]), "normal_clips": len(normals), "false_positives": int(false_positives),
            "predicted_false_positives": [lo, hi],
            "within_interval": bool(cal["fpr_ci"][0] <= rate <= cal["fpr_ci"][1]),
            "within_prediction": bool(lo <= false_positives <= hi),
            "calibrated_clip_duration_s": duration,
            "duration_matches": duration is None or all(abs(r.duration_s - duration) < 1e-3 for r in normals)}


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
             machine: str | None = None, include_leaky: bool = False, progress: Any = None,
             overwrite: bool = False) -> Evaluation:
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
    include_leaky : bool
        Keep test clips cut from a recording the model trained on whose segment
        overlaps a training segment (flagged in metrics as
        ``leaky_clips_included``); by default they are excluded and counted in
        ``excluded_overlapping_clips``.
    progress : rich.progress.Progress, optional
    overwrite : bool
        Replace an ``out_dir`` that holds something else than a report (it is
        built beside it and swapped in when complete, see datasets.output_folder).

    Returns
    -------
    Evaluation
    """
    from datasets.loaders import load_records
    from datasets.output_folder import replaced_folder
    from pipeline.training import load_bundle

    bundle = load_bundle(model_dir)
    records = load_records(data, layout=layout, machine=machine)
    selection = select_evaluation(records, train_files=bundle.train_files, train_spans=bundle.train_spans,
                                  machine=machine,
                                  include_leaky=include_leaky)
    chosen = selection.records
    advance = None
    if progress is not None:
        task = progress.add_task(f"scoring ({bundle.detector_name})", total=len(chosen))
        advance = lambda: progress.advance(task)  # noqa: E731
    evaluation = evaluate_bundle(bundle, chosen, advance=advance, selection=selection)
    evaluation.metrics["data"] = str(Path(data).resolve())
    with replaced_folder(out_dir, marker="metrics.json", overwrite=overwrite) as staging:
        write_evaluation(evaluation, staging, title=f"{bundle.detector_name} on {Path(data).name}")
    return evaluation
