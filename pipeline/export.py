"""Device export: int8 TensorFlow Lite model, device tables, C sources and export.json.

What is exported
----------------
* autoencoder: ``model_float.tflite`` and ``model_int8.tflite`` (full-integer,
  int8 input and output, calibrated on the bundle's standardised
  ``representative.npy``; :mod:`pipeline.tflite_convert`). The graph maps
  *standardised* feature vectors to their reconstruction: the standardisation
  (mean/scale) is **not** in the graph but folded into the C front end's
  per-feature input quantisation (``q = clamp(floor(x * gain + bias + 0.5),
  -128, 127)`` with ``gain = 1 / (scale * s_in)``, ``bias = zp_in - mean *
  gain``, float32; :mod:`pipeline.int8_graph`).
* k-means: C tables (centroids quantised on the same kind of input grid); no
  TFLite graph.

What the device computes from features on is mirrored bit-exactly by the
scorers of :mod:`pipeline.device_scorer` (one per detector kind); the int8
model is checked in the TFLM and LiteRT interpreters (:mod:`pipeline.interpreters`).
This module puts an export folder together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from errors import FaultsynthError
from pipeline.device_scorer import scorer_class_of
from pipeline.export_files import EXPORT_NAME, FORMAT_VERSION, TABLES_NAME
from pipeline.streaming import AlarmRule, min_latency_s

#: Feature kinds the C runtime's front end computes (firmware/src/fs_frontend.c, fs_vibration.c).
C_FEATURE_KINDS = ("log_mel", "vibration")


def check_feature_config(config) -> None:
    """Raise unless the C front end can compute ``config`` (log-mel or vibration, power-of-2 FFT, hop <= n_fft)."""
    if config.kind not in C_FEATURE_KINDS:
        raise FaultsynthError(f"the C front end computes {' and '.join(C_FEATURE_KINDS)} features; the model "
                              f"uses {config.kind!r}")
    n = int(config.n_fft)
    if n < 8 or n & (n - 1):
        raise FaultsynthError(f"the C front end needs n_fft a power of two >= 8, got {n}")
    if not 1 <= int(config.hop_length) <= n:
        raise FaultsynthError(f"the C front end needs 1 <= hop_length <= n_fft, got {config.hop_length}")



# ---------------------------------------------------------------- export

def _evaluation(bundle, data: str | Path | None) -> tuple[list, list[np.ndarray], np.ndarray]:
    """Test-split records, their raw feature vectors and labels (1 = anomaly)."""
    from datasets.loaders import load_records
    from pipeline.evaluate import select_evaluation
    from pipeline.clip_features import clip_features

    if data is None:
        data = bundle.meta.get("train_summary", {}).get("data") or None
        if data is None:
            raise FaultsynthError("the bundle records no dataset: pass --data DIR for the evaluation clips")
    records = load_records(data)
    machines = {m.split("/")[0] for m in bundle.meta.get("train_summary", {}).get("machines", [])}
    if machines:
        records = [r for r in records if r.machine in machines] or records
    chosen = select_evaluation(records, train_files=bundle.train_files, train_spans=bundle.train_spans).records
    if not chosen:
        raise FaultsynthError(f"{data}: no evaluation clips")
    feats = clip_features(chosen, bundle.feature_config)
    labels = np.array([r.label == "anomaly" for r in chosen], dtype=int)
    return chosen, feats, labels



def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    from pipeline.evaluate import roc_metrics

    if labels.min(initial=1) == labels.max(initial=0):
        return {"auc": None, "pauc": None, "note": "evaluation data has one class only"}
    return roc_metrics(labels, scores)


def export_bundle(*, model_dir: str | Path, out_dir: str | Path, data: str | Path | None = None,
                  overwrite: bool = False, budget: Any = "default", alarm: AlarmRule | None = None) -> dict:
    """Export a trained bundle for devices; write OUT files and return export.json's dict.

    The export is built beside ``out_dir`` and replaces it only when complete
    (datasets.output_folder): a failed export leaves the previous one; a folder
    that holds something else is refused unless ``overwrite``.

    Parameters
    ----------
    budget : pipeline.export_budget.ExportBudget, None or "default"
        Device budget (flash, RAM, instructions per audio second, int8 AUC
        loss); "default" = :data:`pipeline.export_budget.DEFAULT_BUDGET` (the
        TinyML targets), None = no budget. A model whose estimated cost exceeds
        it is refused before anything is built; one whose int8 AUC loss exceeds
        it, once measured.
    alarm : pipeline.streaming.AlarmRule, optional
        Streaming N-of-M alarm (default 7 of 10 windows, justified in
        :mod:`pipeline.streaming`); recorded in export.json and the C tables.
    """
    from datasets.output_folder import replaced_folder
    from pipeline.export_budget import DEFAULT_BUDGET

    budget = DEFAULT_BUDGET if isinstance(budget, str) and budget == "default" else budget
    with replaced_folder(out_dir, marker=EXPORT_NAME, overwrite=overwrite) as staging:
        return _export_into(model_dir=model_dir, out_dir=staging, data=data, budget=budget,
                            alarm=AlarmRule() if alarm is None else alarm)


def _export_into(*, model_dir: str | Path, out_dir: Path, data: str | Path | None, budget: Any,
                 alarm: AlarmRule) -> dict:
    """Write every export file into the (empty) folder ``out_dir``; return export.json's dict.

    Writes ``model_float.tflite`` / ``model_int8.tflite`` (autoencoder),
    ``device_tables.npz``, ``c/`` (generated C sources, :mod:`pipeline.c_sources`),
    ``tflm/`` (TFLM application files) and ``export.json``.
    """
    from pipeline import c_sources
    from pipeline.training import REPRESENTATIVE_NAME, load_bundle

    bundle = load_bundle(model_dir)
    aggregate = getattr(bundle.detector, "aggregate", "mean")
    if aggregate != "mean":
        raise FaultsynthError(f"{model_dir}: the model pools window scores by {aggregate!r}, but the device "
                              "scorer and the C runtime pool them by the mean: choose a mean-pooled model (tune "
                              "with --budget lets only device-runnable candidates win)")
    try:
        check_feature_config(bundle.feature_config)
        frontend_problem = None
    except FaultsynthError as exc:
        frontend_problem = str(exc)
    detector = bundle.detector
    scorer_cls = scorer_class_of(detector)
    rep_path = Path(model_dir) / REPRESENTATIVE_NAME
    if not rep_path.is_file():
        raise FaultsynthError(f"{model_dir}: no {REPRESENTATIVE_NAME}: int8 calibration needs the training "
                              "vectors; retrain the model")
    from pipeline.device_cost import detector_spec_of, estimate_cost
    from pipeline.export_budget import check_auc_loss, check_device_cost

    # The cost model `tune` ranks candidates with, checked before anything is built; `firmware` measures.
    cost = estimate_cost(bundle.feature_config, detector_spec_of(detector))
    margins = check_device_cost(cost, budget)
    representative = np.load(rep_path).astype(np.float32)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EXPORT_NAME).unlink(missing_ok=True)

    info: dict[str, Any] = {"format_version": FORMAT_VERSION, "detector": scorer_cls.kind,
                            "model_dir": str(Path(model_dir).resolve()),
                            "feature_config": bundle.feature_config.to_dict(),
                            "feature_dim": int(np.asarray(detector.mean_).size),
                            "threshold_float": float(bundle.threshold),
                            "standardisation": "C front end: folded into the per-feature int8 input quantisation "
                                               "(gain, bias); the TFLite graph takes standardised vectors"}
    info["models"], int8_bytes = scorer_cls.export_model(detector, representative, out_dir)
    scorer = scorer_cls.from_detector(detector, representative, threshold=float(bundle.threshold),
                                      int8_bytes=int8_bytes)
    scorer.alarm = alarm
    np.savez(out_dir / TABLES_NAME, **scorer.tables())
    info["device"] = {**scorer.device_fields(),
                      "alarm": {**alarm.to_dict(),
                                "min_latency_s": min_latency_s(bundle.feature_config, alarm),
                                "rule": (f"alarm while at least {alarm.n} of the last {alarm.m} windows score "
                                         "above the threshold (per window, same score domain)"),
                                "min_latency_note": "from a fault's onset at a window boundary: one whole "
                                                    "window, then n - 1 hops"}}

    # Evaluation: float detector vs int8 device scoring on the test split.
    records, feats, labels = _evaluation(bundle, data)
    float_scores = bundle.score_features(feats)
    int8_scores = np.array([scorer.score_clip(f)[0] * scorer.score_unit for f in feats])
    interpreters = scorer.interpreter_check(feats)
    if interpreters is not None:
        info["interpreters"] = interpreters
    fm, qm = _metrics(labels, float_scores), _metrics(labels, int8_scores)
    info["evaluation"] = {
        "data": str(data) if data is not None else bundle.meta.get("train_summary", {}).get("data", ""),
        "clips": len(records), "anomalies": int(labels.sum()),
        "float": fm, "int8": qm,
        "auc_loss": (None if fm.get("auc") is None else fm["auc"] - qm["auc"]),
        "decisions_agree": float(np.mean((float_scores > bundle.threshold)
                                         == (int8_scores > scorer.decision_threshold(bundle.threshold)))),
    }
    info["threshold_int8"] = scorer.device_threshold
    info["device_cost_estimate"] = cost.to_dict()
    auc_margin = check_auc_loss(info["evaluation"]["auc_loss"], budget)
    info["budget"] = None if budget is None else budget.to_dict()
    info["budget_margins"] = None if margins is None else {
        **margins, "auc_loss": auc_margin,
        "note": "budget minus the estimate (device figures) or the measured int8 AUC loss; auc_loss None when "
                "not checked (no auc_loss in the budget, or evaluation data of one class)"}
    if frontend_problem is None:
        c_files = c_sources.write_c_sources(out_dir / "c", bundle.feature_config, scorer,
                                            model_bytes=int8_bytes)
        info["c_sources"] = sorted(str(p.relative_to(out_dir)) for p in c_files)
    else:
        info["c_sources"] = None
        info["c_sources_skipped"] = f"no C runtime sources: {frontend_problem}"
        if int8_bytes is not None:
            (out_dir / "c").mkdir(exist_ok=True)
            info["model_data_sources"] = sorted(str(p.relative_to(out_dir))
                                                for p in c_sources.write_model_data(out_dir / "c", int8_bytes))
    if int8_bytes is not None:
        tflm_files = c_sources.write_tflm_app(out_dir / "tflm", operators=info["models"]["int8"]["operators"],
                                              arena_bytes=info["models"]["int8"]["tflm_arena_bytes"])
        info["tflm_app"] = sorted(str(p.relative_to(out_dir)) for p in tflm_files)
    from datasets.atomic import write_text_atomic

    # Written last: a folder without export.json is an unfinished export.
    write_text_atomic(out_dir / EXPORT_NAME, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info

