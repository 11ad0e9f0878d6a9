"""Plots (matplotlib, Agg) and markdown reports of evaluations and experiments."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from datasets.atomic import atomic_path, write_text_atomic


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Save a figure atomically as PNG and close it."""
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _sev(value: float | None) -> str:
    """A severity level as written in the spec (no rounding), or a dash."""
    return "–" if value is None else f"{value:g}"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def false_positive_summary(cov: Mapping[str, Any]) -> tuple[int, int, float, float, float]:
    """False positives of a coverage dict: (count, normal clips, rate, CI low, CI high).

    Reads ``false_positives`` / ``false_positive_rate_ci``; for a coverage dict
    written before they existed (a reused metrics.json) recomputes them from
    the rate and the number of normal clips.
    """
    from pipeline.stats import clopper_pearson

    n = int(cov["normal_clips"])
    k = int(cov["false_positives"]) if "false_positives" in cov else int(round(cov["false_positive_rate"] * n))
    lo, hi = cov["false_positive_rate_ci"] if "false_positive_rate_ci" in cov else clopper_pearson(k, n)
    return k, n, k / n, float(lo), float(hi)


def fpr_text(cov: Mapping[str, Any], *, digits: int = 3) -> str:
    """``"0.033 [0.001, 0.172]"``: false-positive rate of a coverage dict with its confidence interval."""
    _, _, rate, lo, hi = false_positive_summary(cov)
    return f"{rate:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _confidence(cov: Mapping[str, Any]) -> str:
    """``"95 %"``: the interval's confidence level."""
    from pipeline.stats import CONFIDENCE

    return f"{100 * cov.get('confidence', CONFIDENCE):g} %"


# ---------------------------------------------------------------- plots

def plot_roc(path: Path, labels: np.ndarray, scores: np.ndarray, groups: Mapping[str, np.ndarray], *,
             title: str = "") -> Path:
    """ROC curves: all anomalies, and each group (fault type) against all normal clips.

    Parameters
    ----------
    path : Path
        PNG to write.
    labels : ndarray, shape (n,), bool
        True for anomaly clips.
    scores : ndarray, shape (n,)
        Anomaly scores, higher = more anomalous.
    groups : mapping name -> ndarray (n,), bool
        Anomaly clips of each group.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    normal = ~labels
    curves = [("all anomalies", labels)] + list(groups.items())
    for i, (name, mask) in enumerate(curves):
        sel = normal | mask
        y = mask[sel]
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, scores[sel])
        auc = roc_auc_score(y, scores[sel])
        ax.plot(fpr, tpr, lw=2.2 if i == 0 else 1.2, color="black" if i == 0 else None,
                label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.axvspan(0, 0.1, color="tab:blue", alpha=0.07, label="pAUC region (FPR ≤ 0.1)")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title=title or "ROC")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def _coverage_matrix(cov: Mapping[str, Any], key: str) -> tuple[list[str], list[str], np.ndarray]:
    """(fault names, severity labels, values (faults x levels)); NaN where not tested or ``key`` is absent.

    Booleans (``detected``) become 1.0 / 0.0.
    """
    faults = list(cov["faults"])
    levels = sorted({lv["severity"] for f in faults for lv in cov["faults"][f]["levels"]},
                    key=lambda s: (s is None, s if s is not None else 0.0))
    matrix = np.full((len(faults), len(levels)), np.nan)
    for i, fault in enumerate(faults):
        for lv in cov["faults"][fault]["levels"]:
            if lv.get(key) is not None:
                matrix[i, levels.index(lv["severity"])] = float(lv[key])
    return faults, ["?" if s is None else f"{s:g}" for s in levels], matrix


def draw_coverage(ax, cov: Mapping[str, Any], *, title: str = "") -> Any:
    """Draw a coverage heat map on ``ax``; return the image.

    Colour and first number: detection rate at the threshold; AUC in brackets.
    Cells not detected (detection rate not significantly above the
    false-positive rate, or AUC at chance) are dimmed and hatched; a red box
    marks the minimum detectable severity. The title carries the
    false-positive rate with its confidence interval.
    """
    plt = _pyplot()
    faults, levels, rate = _coverage_matrix(cov, "detection_rate")
    _, _, auc = _coverage_matrix(cov, "auc")
    _, _, detected = _coverage_matrix(cov, "detected")
    image = ax.imshow(np.ma.masked_invalid(rate), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i in range(len(faults)):
        for j in range(len(levels)):
            if np.isfinite(rate[i, j]):
                ax.text(j, i, f"{rate[i, j]:.2f}\n({auc[i, j]:.2f})", ha="center", va="center", fontsize=7,
                        color="white" if rate[i, j] < 0.6 else "black")
            if detected[i, j] == 0.0:  # not detected: dim and hatch
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", alpha=0.45,
                                           edgecolor="none"))
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="grey",
                                           lw=0))
        mds = cov["faults"][faults[i]]["min_detectable_severity"]
        if mds is not None and f"{mds:g}" in levels:
            j = levels.index(f"{mds:g}")
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
    ax.set_xticks(range(len(levels)), levels)
    ax.set_yticks(range(len(faults)), faults)
    ax.set_xlabel("severity")
    _, n_normal, _, _, _ = false_positive_summary(cov)
    ax.set_title(f"{title or 'detection rate at threshold (AUC)'}\nFPR {fpr_text(cov)} on {n_normal} normals "
                 f"({_confidence(cov)} CI)", fontsize=9)
    return image


def plot_coverage(path: Path, cov: Mapping[str, Any], *, title: str = "") -> Path:
    """Coverage heat map: fault type x severity, colour = detection rate at the threshold."""
    plt = _pyplot()
    n_f = max(1, len(cov["faults"]))
    n_l = max(1, len(_coverage_matrix(cov, "auc")[1]))
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * n_l, 1.4 + 0.55 * n_f))
    image = draw_coverage(ax, cov, title=title)
    fig.colorbar(image, ax=ax, label="detection rate (hatched: not detected;\nred box: min. detectable severity)")
    return _save(fig, path)


def plot_coverage_side_by_side(path: Path, coverages: Mapping[str, Mapping[str, Any]], *,
                               title: str = "") -> Path:
    """One coverage heat map per detector, side by side, same colour scale."""
    plt = _pyplot()
    names = list(coverages)
    first = coverages[names[0]]
    n_f = max(1, len(first["faults"]))
    n_l = max(1, len(_coverage_matrix(first, "auc")[1]))
    fig, axes = plt.subplots(1, len(names), figsize=(len(names) * (1.6 + 0.9 * n_l) + 1.2, 1.6 + 0.55 * n_f),
                             squeeze=False, sharey=True)
    image = None
    for ax, name in zip(axes[0], names):
        image = draw_coverage(ax, coverages[name], title=name)
    fig.colorbar(image, ax=list(axes[0]), label="detection rate at threshold\n(hatched: not detected; "
                 "red box: min. detectable severity)")
    if title:
        fig.suptitle(title, y=1.1)  # above the two-line axes titles
    return _save(fig, path)


def plot_histogram(path: Path, labels: np.ndarray, scores: np.ndarray, threshold: float, *,
                   title: str = "") -> Path:
    """Histograms of normal and anomaly clip scores, with the threshold line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    values = np.r_[scores, threshold]
    spread = np.ptp(values)
    scale = max(float(np.median(np.abs(scores[~labels] - np.median(scores[~labels])))), 1e-12)
    log_axis = spread > 50 * scale  # heavy tail (loud faults): symmetric-log axis so normals stay visible
    if log_axis:
        centre = float(np.median(scores[~labels]))
        forward = lambda x: np.sign(x - centre) * np.log1p(np.abs(x - centre) / scale)  # noqa: E731
        backward = lambda t: centre + np.sign(t) * scale * np.expm1(np.abs(t))  # noqa: E731
        bins = backward(np.linspace(forward(values.min()), forward(values.max()), 41))
        ax.set_xscale("function", functions=(forward, backward))
        ticks = backward(np.linspace(forward(values.min()), forward(values.max()), 6))
        ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
    else:
        bins = np.histogram_bin_edges(values, bins=30)
    # Each class as a share of its clips, so a few normal clips stay visible beside many anomalies.
    for mask, name, colour in ((~labels, "normal", "tab:blue"), (labels, "anomaly", "tab:red")):
        if mask.any():
            ax.hist(scores[mask], bins=bins, weights=np.full(mask.sum(), 1.0 / mask.sum()), alpha=0.6,
                    label=f"{name} ({int(mask.sum())} clips)", color=colour)
    ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="anomaly score (higher = more anomalous)" + (", log-like axis" if log_axis else ""),
           ylabel="share of the class's clips", title=title or "clip scores")
    ax.legend(fontsize=8)
    return _save(fig, path)


def evaluation_plots(evaluation, out_dir: Path) -> dict[str, Path]:
    """ROC, coverage heat map and score histogram PNGs of an Evaluation; name -> path."""
    out_dir = Path(out_dir)
    labels = np.array([r.label == "anomaly" for r in evaluation.records])
    faults = np.array([r.fault for r in evaluation.records], dtype=object)
    groups = {str(f): labels & (faults == f) for f in sorted(set(faults[labels]))}
    metrics = evaluation.metrics
    name = metrics.get("detector", "")
    return {
        "roc_png": plot_roc(out_dir / "roc.png", labels, evaluation.scores, groups, title=f"ROC ({name})"),
        "coverage_png": plot_coverage(out_dir / "coverage.png", metrics["coverage"],
                                      title=f"coverage ({name}): detection rate (AUC)"),
        "histogram_png": plot_histogram(out_dir / "scores.png", labels, evaluation.scores, metrics["threshold"],
                                        title=f"clip anomaly scores ({name})"),
    }


# ---------------------------------------------------------------- markdown

def coverage_table(cov: Mapping[str, Any]) -> list[str]:
    """Markdown: the false-positive rate line, then one row per fault type, detection rate (AUC) per level.

    Detected cells (detection rate significantly above the false-positive
    rate, AUC above chance) carry a ✓.
    """
    from pipeline.evaluate import AUC_CHANCE
    from pipeline.stats import ALPHA

    faults, levels, rate = _coverage_matrix(cov, "detection_rate")
    _, _, auc = _coverage_matrix(cov, "auc")
    _, _, detected = _coverage_matrix(cov, "detected")
    _, n_normal, _, _, _ = false_positive_summary(cov)
    lines = [f"False-positive rate on {n_normal} normal clips: {fpr_text(cov)} ({_confidence(cov)} "
             f"Clopper-Pearson). ✓ = detected: detection rate significantly above it (one-sided Fisher exact "
             f"test, p < {cov.get('alpha', ALPHA):g}) and AUC > {AUC_CHANCE:g}.", "",
             "| fault | " + " | ".join(f"sev {lv}" for lv in levels) + " | min. detectable | min. separable |",
             "|---" * (len(levels) + 3) + "|"]
    for i, fault in enumerate(faults):
        cells = [f"{rate[i, j]:.2f} ({auc[i, j]:.2f})" + (" ✓" if detected[i, j] == 1.0 else "")
                 if np.isfinite(rate[i, j]) else "–" for j in range(len(levels))]
        info = cov["faults"][fault]
        lines.append(f"| {fault} | " + " | ".join(cells) + f" | {_sev(info['min_detectable_severity'])} | "
                     f"{_sev(info['min_separable_severity'])} |")
    return lines


def _threshold_warnings(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Per detector: the threshold's calibrated promise against the normal test clips."""
    lines = []
    for name, m in results.items():
        p = m.get("threshold_promise")
        if not p:
            continue
        lo, hi = p["predicted_false_positives"]
        promise = (f"calibrated for FPR {p['target_fpr']:g} ({p['method']}, out-of-fold scores of "
                   f"{p['calibration_clips']} normal clips; true FPR within [{p['fpr_ci'][0]:.3f}, "
                   f"{p['fpr_ci'][1]:.3f}])")
        seen = f"it flags {p['false_positives']} of {p['normal_clips']} normal test clips (expected {lo}-{hi})"
        if p["within_prediction"]:
            lines.append(f"\n> **{name}:** threshold {promise}; {seen}: promise kept.")
        else:
            lines.append(f"\n> **{name}: promise not kept.** Threshold {promise}; {seen}. The normal test clips "
                         "are not like the normal training clips (another machine, operating point or "
                         "background?): retrain on normal data of the conditions it must work in.")
        if not p.get("duration_matches", True):
            lines.append(f"\n> **{name}:** the threshold was calibrated on {p['calibrated_clip_duration_s']:g}-s "
                         "clips; these clips have another length, so the false-positive promise does not carry "
                         "over (cut them to the calibrated length).")
    return lines


def _calibration_text(bundle_meta: Mapping[str, Any]) -> str:
    """e.g. ``gamma tail, 30 out-of-fold clips`` from bundle.json."""
    cal = bundle_meta.get("calibration") or {}
    return f"{cal.get('method', '?')}, {cal.get('normal_clips', '?')} out-of-fold clips"


def _leakage_lines(metrics: Mapping[str, Any]) -> list[str]:
    """Bullet lines on test clips cut from the recordings the model trained on (if any)."""
    lines = []
    if metrics.get("excluded_overlapping_clips"):
        lines.append(f"- {metrics['excluded_overlapping_clips']} test clips were cut from the recordings the model "
                     "trained on (overlapping segments) and were excluded")
    if metrics.get("leaky_clips_included"):
        lines.append(f"- **{metrics['leaky_clips_included']} test clips were cut from the recordings the model "
                     "trained on (overlapping segments) and were kept (`--include-leaky`)**: they share audio "
                     "with the training data, so these results may be optimistic (list: `leaky_clips` in "
                     "metrics.json)")
    return lines


def write_evaluation_report(metrics: Mapping[str, Any], out_dir: Path, *, plots: Mapping[str, Path],
                            title: str = "") -> Path:
    """Write report.md of one evaluation; return its path."""
    out_dir = Path(out_dir)
    cov = metrics["coverage"]
    at = metrics["at_threshold"]
    lines = [f"# Evaluation: {title or metrics.get('detector', '')}", "",
             f"- model: `{metrics.get('model', '')}`", f"- data: `{metrics.get('data', '')}`",
             f"- clips: {metrics['clips']} ({metrics['normal_clips']} normal, {metrics['anomaly_clips']} anomaly; "
             f"sources {metrics.get('sources', {})}); {metrics['excluded_training_clips']} clips skipped because "
             "the model trained on them", *_leakage_lines(metrics), "",
             "## Overall", "",
             f"| AUC | pAUC (FPR ≤ {metrics['pauc_max_fpr']}) | threshold | FPR at threshold [{_confidence(cov)} CI] "
             "| TPR at threshold |",
             "|---|---|---|---|---|",
             f"| {metrics['auc']:.3f} | {metrics['pauc']:.3f} | {metrics['threshold']:.4g} | "
             f"{fpr_text(cov)} on {cov['normal_clips']} normal clips (target {metrics['target_fpr']:g}) | "
             f"{at['true_positive_rate']:.3f} |",
             *_threshold_warnings({metrics.get("detector", "model"): metrics}),
             "", f"Score convention: {metrics.get('threshold_convention', '')}.", "",
             "## Per machine id", "", "| machine id | normal | anomaly | AUC | pAUC |", "|---|---|---|---|---|"]
    for key, entry in metrics["per_machine_id"].items():
        lines.append(f"| {key} | {entry['normal_clips']} | {entry['anomaly_clips']} | {_fmt(entry['auc'])} | "
                     f"{_fmt(entry['pauc'])} |")
    lines += ["", "## Anomaly-type coverage", "",
              "Detection rate at the threshold, AUC in brackets, per fault type and severity level.", ""]
    lines += coverage_table(cov)
    lines += ["", f"Definitions: {cov['definition']}.", "", "## Plots", ""]
    for key, label in (("roc_png", "ROC curves"), ("coverage_png", "Coverage heat map"),
                       ("histogram_png", "Score histograms")):
        if key in plots:
            lines.append(f"![{label}]({Path(plots[key]).name})")
            lines.append("")
    path = out_dir / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def write_experiment_report(path: Path, *, spec: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]],
                            models: Mapping[str, Mapping[str, Any]], plot: Path | None,
                            timings_s: Mapping[str, float], reused: Sequence[str]) -> Path:
    """Combined report.md of an experiment: coverage side by side per detector.

    Parameters
    ----------
    path : Path
    spec : mapping
        The experiment spec (as a dict).
    results : mapping detector -> metrics dict
    models : mapping detector -> bundle.json dict
    plot : Path or None
        Side-by-side coverage PNG.
    timings_s : mapping stage -> seconds
    reused : sequence of str
        Stages reused from a previous run.
    """
    from pipeline.stats import CONFIDENCE

    names = list(results)
    conf = f"{100 * CONFIDENCE:g} %"
    lines = [f"# Fault-injection experiment: {spec.get('name', '')}", "",
             f"- machine: {spec.get('machine')} ({spec.get('source')} normal data"
             + (f" from `{spec.get('real_path')}`" if spec.get("real_path") else "") + ")",
             f"- faults: {', '.join(spec.get('faults', []))}; severities {spec.get('severities')}",
             f"- clips per class: {spec.get('count')}, {spec.get('duration_s')} s at {spec.get('sample_rate')} Hz; "
             f"features `{spec.get('features')}` {spec.get('feature_overrides') or ''}; target FPR "
             f"{spec.get('target_fpr')}; seed {spec.get('seed')}",
             "", "## Detectors", "",
             f"FPR: false-positive rate at the threshold on the normal test clips, with its exact {conf} "
             "(Clopper-Pearson) interval.", "",
             f"| detector | AUC | pAUC | threshold | FPR [{conf} CI] | normal test clips | "
             "TPR at threshold | training clips / vectors | threshold set by |", "|---" * 9 + "|"]
    for name in names:
        m, b = results[name], models[name]
        ts = b.get("train_summary", {})
        lines.append(f"| {name} | {m['auc']:.3f} | {m['pauc']:.3f} | {m['threshold']:.4g} | "
                     f"{fpr_text(m['coverage'])} | {m['coverage']['normal_clips']} | "
                     f"{m['at_threshold']['true_positive_rate']:.3f}"
                     f" | {ts.get('clips')} / {ts.get('vectors')} | {_calibration_text(b)} |")
    lines += _threshold_warnings(results)
    lines += ["", "## Minimum detectable severity", "",
              "| fault | " + " | ".join(f"{n} detectable | {n} separable" for n in names) + " |",
              "|---" * (1 + 2 * len(names)) + "|"]
    faults = list(results[names[0]]["coverage"]["faults"]) if names else []
    for fault in faults:
        cells = []
        for n in names:
            info = results[n]["coverage"]["faults"].get(fault, {})
            cells += [_sev(info.get("min_detectable_severity")), _sev(info.get("min_separable_severity"))]
        lines.append(f"| {fault} | " + " | ".join(cells) + " |")
    for name in names:
        lines += ["", f"## Coverage: {name}", "", *coverage_table(results[name]["coverage"])]
    if names:
        lines += ["", f"Definitions: {results[names[0]]['coverage']['definition']}."]
    if plot is not None:
        lines += ["", "## Side by side", "", f"![coverage side by side]({Path(plot).name})"]
    lines += ["", "## Run", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timings_s.items()]
    if reused:
        lines += ["", f"Reused from a previous run (config and files verified): {', '.join(reused)}."]
    lines += ["", "Per-detector reports (ROC, histograms) are in `eval/<detector>/report.md`."]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
