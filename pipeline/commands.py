"""CLI commands ``train``, ``evaluate`` and ``experiment`` (registered by cli.py).

Plain typer-annotated functions; heavy modules (TensorFlow, matplotlib,
scikit-learn) are imported inside them so that other commands start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from errors import FaultsynthError


def _progress():
    """A rich progress display for long work (features, scoring)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=False)


def _ids(text: Optional[str]) -> tuple[str, ...]:
    if not text:
        return ()
    ids = tuple(t.strip() for t in text.split(",") if t.strip())
    if not ids:
        raise FaultsynthError(f"--train-ids: expected a comma list such as id_00,id_02, got {text!r}")
    return ids


def train(
    data: Annotated[Path, typer.Option("--data", help="Dataset folder (any layout the loaders read).")],
    model: Annotated[str, typer.Option("--model", help="Detector: kmeans, autoencoder or gaussian.")],
    out: Annotated[Path, typer.Option("--out", help="MODEL_DIR to write the bundle into.")],
    features: Annotated[str, typer.Option(help="Feature preset (dcase, tinyml, fan_lowband, vibration) or a FeatureConfig .json.")] = "dcase",
    seed: Annotated[int, typer.Option(help="Seed of the folds, clip choice and detector.")] = 0,
    target_fpr: Annotated[float, typer.Option(help="False-positive rate on fresh normal clips the "
                                                   "threshold is set for.")] = 0.01,
    folds: Annotated[int, typer.Option(help="Folds of the out-of-fold scores that calibrate the "
                                            "threshold.")] = 5,
    layout: Annotated[str, typer.Option(help="Dataset layout (auto, faultsynth, dcase2020, mimii, ...).")] = "auto",
    machine: Annotated[Optional[str], typer.Option(help="Use only this machine type's clips.")] = None,
    train_ids: Annotated[Optional[str], typer.Option(help="Comma list of machine ids to train on, "
                                                          "e.g. id_00,id_02.")] = None,
    train_count: Annotated[Optional[int], typer.Option(help="Train on this many normal clips (seeded "
                                                            "choice). For datasets without a training split "
                                                            "(MIMII) the rest stays for evaluation.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Autoencoder training epochs.")] = None,
    n_clusters: Annotated[Optional[int], typer.Option(help="k-means clusters.")] = None,
    tinyml: Annotated[bool, typer.Option(help="Autoencoder: the small microcontroller-sized network.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an --out folder that holds something else than a "
                                                 "model (a previous model is always replaced).")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a detector on normal clips; write MODEL_DIR (bundle.json, detector/, representative.npy).

    Uses the normal clips of the training split; a dataset with no training split
    (MIMII, CWRU, plain WAV folders) trains on its normal clips, chosen with
    --train-count / --train-ids, and `evaluate` skips the clips used here. The
    threshold is calibrated on out-of-fold scores of every training clip.
    """
    from datasets import limits

    limits.check_int("--seed", seed, limits.SEED)
    limits.check_int("--folds", folds, (2, 100))
    if epochs is not None:
        limits.check_int("--epochs", epochs, (1, 10_000))
    if n_clusters is not None:
        limits.check_int("--n-clusters", n_clusters, (1, 4096))
    if train_count is not None:
        limits.check_int("--train-count", train_count, (1, 10_000_000))
    from pipeline.training import TrainConfig, train as run_train

    params: dict = {}
    if epochs is not None:
        params["epochs"] = epochs
    if n_clusters is not None:
        params["n_clusters"] = n_clusters
    if tinyml:
        if model != "autoencoder":
            raise FaultsynthError("--tinyml applies to --model autoencoder only")
        params["tinyml"] = True
    config = TrainConfig(detector=model, features=features, seed=seed, target_fpr=target_fpr,
                         folds=folds, detector_params=params, machine=machine,
                         train_ids=_ids(train_ids), train_count=train_count, layout=layout)
    if quiet:
        bundle = run_train(config, data=data, out_dir=out, overwrite=overwrite)
    else:
        with _progress() as bar:
            bundle = run_train(config, data=data, out_dir=out, progress=bar, overwrite=overwrite)
    summary = bundle.meta["train_summary"]
    cal = bundle.calibration
    typer.echo(f"trained {model} on {summary['clips']} clips ({summary['vectors']} vectors; sources "
               f"{summary['sources']}) -> {out}")
    typer.echo(f"threshold {bundle.threshold:.6g} for FPR {target_fpr:g} ({cal['method']}, out-of-fold scores of "
               f"{cal['normal_clips']} clips, {cal['false_positives']} above): true FPR within "
               f"[{cal['fpr_ci'][0]:.3f}, {cal['fpr_ci'][1]:.3f}] ({cal['confidence']:.0%} Clopper-Pearson)")


def evaluate(
    model: Annotated[Path, typer.Option("--model", help="MODEL_DIR written by train.")],
    data: Annotated[Path, typer.Option("--data", help="Dataset folder to evaluate on (its test split).")],
    out: Annotated[Path, typer.Option("--out", help="REPORT_DIR for metrics.json, plots and report.md.")],
    layout: Annotated[str, typer.Option(help="Dataset layout (auto, faultsynth, dcase2020, mimii, ...).")] = "auto",
    machine: Annotated[Optional[str], typer.Option(help="Use only this machine type's clips.")] = None,
    include_leaky: Annotated[bool, typer.Option("--include-leaky", help="Keep test clips cut from the "
                                                "recordings the model trained on with overlapping segments "
                                                "(excluded by default; flagged in metrics.json).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an --out folder that holds something else than a "
                                                 "report (a previous report is always replaced).")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Evaluate a model: AUC, pAUC, per machine id, anomaly-type coverage, plots and report.md."""
    from pipeline.evaluate import evaluate as run_evaluate
    from pipeline.reports import fpr_text

    if quiet:
        evaluation = run_evaluate(model_dir=model, data=data, out_dir=out, layout=layout, machine=machine,
                                  include_leaky=include_leaky, overwrite=overwrite)
    else:
        with _progress() as bar:
            evaluation = run_evaluate(model_dir=model, data=data, out_dir=out, layout=layout, machine=machine,
                                      include_leaky=include_leaky, progress=bar, overwrite=overwrite)
    m = evaluation.metrics
    typer.echo(f"AUC {m['auc']:.3f}  pAUC {m['pauc']:.3f}  on {m['normal_clips']} normal + "
               f"{m['anomaly_clips']} anomaly clips; at the threshold FPR {fpr_text(m['coverage'])} "
               f"(target {m['target_fpr']:g}) TPR {m['at_threshold']['true_positive_rate']:.3f} "
               f"-> {out / 'report.md'}")
    if m.get("excluded_overlapping_clips"):
        typer.echo(f"  excluded {m['excluded_overlapping_clips']} test clips cut from the recordings the model "
                   "trained on (overlapping segments); --include-leaky keeps them")
    if m.get("leaky_clips_included"):
        typer.echo(f"  warning: kept {m['leaky_clips_included']} test clips that overlap the training recordings "
                   "(--include-leaky): results may be optimistic")
    promise = m["threshold_promise"]
    lo, hi = promise["predicted_false_positives"]
    typer.echo(f"  threshold promise {'kept' if promise['within_prediction'] else 'NOT kept'}: "
               f"{promise['false_positives']} of {promise['normal_clips']} normal clips flagged, {lo}-{hi} expected "
               f"from its calibration ({promise['method']}, {promise['calibration_clips']} clips)")
    for fault, info in m["coverage"]["faults"].items():
        levels = [lv for lv in info["levels"] if lv["severity"] is None]
        for lv in levels:  # real anomalies of unknown severity
            typer.echo(f"  {fault}: detection rate {lv['detection_rate']:.2f} (AUC {lv['auc']:.2f}), "
                       f"{'detected' if lv['detected'] else 'not significantly above the FPR'}")
        if len(levels) < len(info["levels"]):
            mds = info["min_detectable_severity"]
            typer.echo(f"  {fault}: minimum detectable severity {'none' if mds is None else f'{mds:g}'}")


def experiment(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (.toml); see examples/*.toml.")],
    out: Annotated[Path, typer.Option("--out", help="Experiment folder (rerun the same command to resume).")],
    workers: Annotated[int, typer.Option(help="Processes for synthesis (results do not depend on it).")] = 2,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Run on a Dask cluster: local:N or tcp://HOST:PORT (workers see --out at the same path): the "
             "data stage's clips, then one task per detector (training and evaluation). Same files and metrics; "
             "needs faultsynth[dask].")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fault-injection experiment: data, k-means + autoencoder, coverage side by side."""
    from pipeline.experiment import load_spec, run_experiment

    from datasets import limits
    from datasets.output_folder import check_output_path

    from datasets.executor import check_scheduler

    limits.check_int("--workers", workers, limits.WORKERS)
    check_scheduler(scheduler)
    check_output_path(out)
    parsed = load_spec(spec)
    result = run_experiment(parsed, out, workers=workers, progress=not quiet, scheduler=scheduler)
    for name, m in result.metrics.items():
        typer.echo(f"{name}: AUC {m['auc']:.3f} pAUC {m['pauc']:.3f}")
    _print_coverage(result.metrics)
    if result.reused:
        typer.echo(f"reused: {', '.join(result.reused)}")
    typer.echo(f"report: {result.report}")


def _print_coverage(metrics: dict) -> None:
    """Coverage table on the terminal: per fault and severity, detection rate (AUC) of each detector.

    The first row gives each detector's false-positive rate with its 95 %
    interval; a ✓ marks detected cells (rate significantly above that FPR).
    """
    from rich.console import Console
    from rich.table import Table

    from pipeline.reports import false_positive_summary, fpr_text

    table = Table(title="coverage: detection rate at the threshold (AUC); false-positive rate (FPR) with its 95 % "
                        "CI; ✓ = significantly above the FPR", title_justify="left")
    table.add_column("fault")
    table.add_column("severity", justify="right")
    for name in metrics:
        table.add_column(name, justify="right", no_wrap=True)
    n_normal = {name: false_positive_summary(m["coverage"])[1] for name, m in metrics.items()}
    same_n = len(set(n_normal.values())) == 1
    table.add_row("normal", f"{next(iter(n_normal.values()))} clips" if same_n else "",
                  *(f"FPR {fpr_text(m['coverage'], digits=2)}" + ("" if same_n else f" on {n_normal[name]}")
                    for name, m in metrics.items()), end_section=True)
    first = next(iter(metrics.values()))
    for fault, info in first["coverage"]["faults"].items():
        for i, level in enumerate(info["levels"]):
            cells = []
            for m in metrics.values():
                cell = m["coverage"]["faults"][fault]["levels"][i]
                mark = " ✓" if cell.get("detected") else "  "
                cells.append(f"{cell['detection_rate']:.2f} ({cell['auc']:.2f}){mark}")
            severity = "?" if level["severity"] is None else f"{level['severity']:g}"
            table.add_row(fault if i == 0 else "", severity, *cells)
        minimum = [m["coverage"]["faults"][fault]["min_detectable_severity"] for m in metrics.values()]
        table.add_row("", "min. detectable", *("none" if v is None else f"{v:g}" for v in minimum),
                      end_section=True)
    Console().print(table)
