"""CLI command ``tune`` (registered by cli.py): a thin typer layer over :mod:`pipeline.tune`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from errors import FaultsynthError


def _channel(text: str):
    """``0``, ``3``, ``mean`` or a CWRU channel name."""
    return int(text) if text.strip().isdigit() else text.strip()


def tune(
    data: Annotated[List[str], typer.Option("--data", help="Normal recordings of your machine: a file, folder, "
                                                           "dataset or glob pattern (quote it); repeatable.")],
    machine: Annotated[str, typer.Option("--machine", help="Machine type whose faults are injected (see "
                                                           "synth --list).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (rerun the same command to resume).")],
    faults: Annotated[Optional[str], typer.Option(help="Comma list of fault types (default: all of the "
                                                       "machine's).")] = None,
    severities: Annotated[str, typer.Option(help="Comma list of severity levels in (0, 1].")] = "0.25,0.5,0.75,1",
    target_fpr: Annotated[float, typer.Option(help="False-positive rate the threshold is set for.")] = 0.01,
    budget: Annotated[Optional[str], typer.Option(help="Device budget the winner must meet, e.g. "
                                                       "flash=64KB,ram=32KB,instr=8M.")] = None,
    segment: Annotated[float, typer.Option(help="Seconds per segment (one detector decision).")] = 2.0,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    detectors: Annotated[str, typer.Option(help="Detector families to search.")] = "kmeans,gaussian,autoencoder",
    layout: Annotated[str, typer.Option(help="Layout of the recordings (auto, mimii, dcase2020, wav, ...).")] = "auto",
    channel: Annotated[str, typer.Option(help="Channel of multi-channel recordings: index, mean, or a CWRU "
                                              "name (DE, FE, BA).")] = "0",
    fault_scale: Annotated[str, typer.Option(help="machine (fault re the recording's level) or absolute "
                                                  "(recordings in the generator's units, e.g. g).")] = "machine",
    rpm: Annotated[Optional[float], typer.Option(help="Known shaft speed, rpm (fault generator).")] = None,
    bearing: Annotated[Optional[str], typer.Option(help="Known bearing preset, e.g. 6205.")] = None,
    workers: Annotated[int, typer.Option(help="Processes (results do not depend on it).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of injection, folds and detectors.")] = 0,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Pick front end, detector and threshold from faults injected into your normal recordings.

    Writes OUT/model (for evaluate and export), leaderboard.csv and .png, the
    predicted coverage (coverage.png, predicted_coverage.json), tune.json and report.md.
    """
    from datasets.synth import parse_severities
    from pipeline.device_cost import parse_budget
    from pipeline.tune import TuneConfig, run_tune

    levels, level_range = parse_severities(severities)
    if level_range is not None:
        raise FaultsynthError("--severities: expected a comma list of levels such as 0.25,0.5,1, not a range")
    fixed: dict = {}
    if rpm is not None:
        fixed["rpm"] = float(rpm)
    if bearing is not None:
        fixed["bearing"] = bearing
    config = TuneConfig(machine=machine,
                        faults=tuple(f.strip() for f in (faults or "").split(",") if f.strip()),
                        severities=levels, target_fpr=target_fpr, segment_s=segment, folds=folds, seed=seed,
                        channel=_channel(channel), layout=layout,
                        budget=parse_budget(budget) if budget else None, fixed=fixed,
                        detectors=tuple(d.strip() for d in detectors.split(",") if d.strip()),
                        fault_scale=fault_scale)
    result = run_tune(data, config, out, workers=workers, progress=not quiet)
    w = result.winner
    cal = w.calibration
    typer.echo(f"searched {len(result.ranking)} candidates in {sum(result.timings_s.values()):.0f} s"
               + (f" ({result.reused} models reused)" if result.reused else ""))
    typer.echo(f"winner: {w.name}")
    typer.echo(f"  detects {w.detected_cells} of {w.cells} (fault, severity) cells, mean AUC {w.mean_auc:.3f}; "
               f"threshold for FPR {cal.target_fpr:g} ({cal.method}): {cal.false_positives} of "
               f"{cal.normal_clips} normal segments above, FPR [{cal.fpr_ci[0]:.3f}, {cal.fpr_ci[1]:.3f}] "
               f"({cal.confidence:.0%} CI)")
    for fault, info in w.coverage["faults"].items():
        mds = info["min_detectable_severity"]
        typer.echo(f"  {fault}: minimum detectable severity {'none' if mds is None else f'{mds:g}'}")
    typer.echo(f"model: {out / 'model'}; report: {out / 'report.md'}")
