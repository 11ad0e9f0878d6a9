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
    seed: Annotated[int, typer.Option(help="Seed of the split, clip choice and detector.")] = 0,
    target_fpr: Annotated[float, typer.Option(help="False-positive rate on normal validation clips "
                                                   "that sets the threshold.")] = 0.01,
    validation_fraction: Annotated[float, typer.Option(help="Share of normal training clips held out "
                                                            "for the threshold.")] = 0.2,
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
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a detector on normal clips; write MODEL_DIR (bundle.json, detector/, representative.npy).

    Uses the normal clips of the training split; a dataset with no training split
    (MIMII, CWRU, plain WAV folders) trains on its normal clips, chosen with
    --train-count / --train-ids, and `evaluate` skips the clips used here.
    """
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
                         validation_fraction=validation_fraction, detector_params=params, machine=machine,
                         train_ids=_ids(train_ids), train_count=train_count, layout=layout)
    if quiet:
        bundle = run_train(config, data=data, out_dir=out)
    else:
        with _progress() as bar:
            bundle = run_train(config, data=data, out_dir=out, progress=bar)
    summary = bundle.meta["train_summary"]
    validation = bundle.meta["validation"]
    typer.echo(f"trained {model} on {summary['clips']} clips + {summary['validation_clips']} validation clips "
               f"({summary['vectors']} vectors; sources {summary['sources']}); threshold {bundle.threshold:.6g} at target FPR {target_fpr:g} "
               f"(validation FPR {validation['fpr_at_threshold']:.3f} on {validation['clips']} clips) -> {out}")


def evaluate(
    model: Annotated[Path, typer.Option("--model", help="MODEL_DIR written by train.")],
    data: Annotated[Path, typer.Option("--data", help="Dataset folder to evaluate on (its test split).")],
    out: Annotated[Path, typer.Option("--out", help="REPORT_DIR for metrics.json, plots and report.md.")],
    layout: Annotated[str, typer.Option(help="Dataset layout (auto, faultsynth, dcase2020, mimii, ...).")] = "auto",
    machine: Annotated[Optional[str], typer.Option(help="Use only this machine type's clips.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Evaluate a model: AUC, pAUC, per machine id, anomaly-type coverage, plots and report.md."""
    from pipeline.evaluate import evaluate as run_evaluate

    if quiet:
        evaluation = run_evaluate(model_dir=model, data=data, out_dir=out, layout=layout, machine=machine)
    else:
        with _progress() as bar:
            evaluation = run_evaluate(model_dir=model, data=data, out_dir=out, layout=layout, machine=machine,
                                      progress=bar)
    m = evaluation.metrics
    typer.echo(f"AUC {m['auc']:.3f}  pAUC {m['pauc']:.3f}  on {m['normal_clips']} normal + "
               f"{m['anomaly_clips']} anomaly clips; FPR {m['at_threshold']['false_positive_rate']:.3f} "
               f"TPR {m['at_threshold']['true_positive_rate']:.3f} at the threshold -> {out / 'report.md'}")
    for fault, info in m["coverage"]["faults"].items():
        mds = info["min_detectable_severity"]
        typer.echo(f"  {fault}: minimum detectable severity {'none' if mds is None else f'{mds:g}'}")


def experiment(
    spec: Annotated[Path, typer.Argument(help="Experiment spec (.toml); see examples/*.toml.")],
    out: Annotated[Path, typer.Option("--out", help="Experiment folder (rerun the same command to resume).")],
    workers: Annotated[int, typer.Option(help="Processes for synthesis (results do not depend on it).")] = 2,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fault-injection experiment: data, k-means + autoencoder, coverage side by side."""
    from pipeline.experiment import load_spec, run_experiment

    if workers < 1:
        raise FaultsynthError(f"--workers must be >= 1, got {workers}")
    parsed = load_spec(spec)
    result = run_experiment(parsed, out, workers=workers, progress=not quiet)
    for name, m in result.metrics.items():
        typer.echo(f"{name}: AUC {m['auc']:.3f} pAUC {m['pauc']:.3f}")
    _print_coverage(result.metrics)
    if result.reused:
        typer.echo(f"reused: {', '.join(result.reused)}")
    typer.echo(f"report: {result.report}")


def _print_coverage(metrics: dict) -> None:
    """Coverage table on the terminal: per fault and severity, detection rate (AUC) of each detector."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="coverage: detection rate at the threshold (AUC)", title_justify="left")
    table.add_column("fault")
    table.add_column("severity", justify="right")
    for name in metrics:
        table.add_column(name, justify="right")
    first = next(iter(metrics.values()))
    for fault, info in first["coverage"]["faults"].items():
        for i, level in enumerate(info["levels"]):
            cells = []
            for m in metrics.values():
                cell = m["coverage"]["faults"][fault]["levels"][i]
                cells.append(f"{cell['detection_rate']:.2f} ({cell['auc']:.2f})")
            table.add_row(fault if i == 0 else "", f"{level['severity']:g}", *cells)
        minimum = [m["coverage"]["faults"][fault]["min_detectable_severity"] for m in metrics.values()]
        table.add_row("", "min. detectable", *("none" if v is None else f"{v:g}" for v in minimum),
                      end_section=True)
    Console().print(table)
