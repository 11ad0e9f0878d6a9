"""CLI command ``tune`` (registered by cli.py): a thin typer layer over :mod:`pipeline.tune`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from errors import FaultsynthError


def _channel(text: str):
    """``0``, ``3``, ``mean`` or a CWRU channel name."""
    return int(text) if text.strip().isdigit() else text.strip()


#: Keys of a tune spec (TOML), the long option names with dashes as underscores.
SPEC_KEYS = {"data", "machine", "faults", "severities", "target_fpr", "budget", "segment", "folds", "detectors",
             "layout", "channel", "fault_scale", "rpm", "bearing", "seed"}
#: Defaults of the options a spec may set.
DEFAULTS = {"severities": "0.25,0.5,0.75,1", "target_fpr": 0.01, "segment": 2.0, "folds": 5,
            "detectors": "kmeans,gaussian,autoencoder", "layout": "auto", "channel": "0", "fault_scale": "machine",
            "seed": 0}


def load_tune_spec(path: Path) -> dict:
    """Read a tune spec: the command's options as TOML keys; ``data`` paths relative to the spec file."""
    from datasets.toml_file import read_toml

    doc = read_toml(path, what="a tune spec")
    unknown = sorted(set(doc) - SPEC_KEYS)
    if unknown:
        raise FaultsynthError(f"{path}: unknown keys {unknown}; expected some of {sorted(SPEC_KEYS)}")
    data = doc.get("data", [])
    data = [data] if isinstance(data, str) else list(data)
    doc["data"] = [d if Path(d).is_absolute() else str(Path(path).parent / d) for d in data]
    for key in ("faults", "severities", "detectors"):
        if isinstance(doc.get(key), list):
            doc[key] = ",".join(str(v) for v in doc[key])
    if "channel" in doc:
        doc["channel"] = str(doc["channel"])
    return doc


def tune(
    out: Annotated[Path, typer.Option("--out", help="Output folder (rerun the same command to resume).")],
    data: Annotated[Optional[List[str]], typer.Option("--data", help="Normal recordings of your machine: a file, "
                                                                     "folder, dataset or glob pattern (quote it); "
                                                                     "repeatable.")] = None,
    machine: Annotated[Optional[str], typer.Option("--machine", help="Machine type whose faults are injected "
                                                                     "(see synth --list).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="Tune spec (.toml) with these options as "
                                                                    "keys; options given here override it.")] = None,
    faults: Annotated[Optional[str], typer.Option(help="Comma list of fault types (default: all of the "
                                                       "machine's).")] = None,
    severities: Annotated[Optional[str], typer.Option(help="Comma list of severity levels in (0, 1] "
                                                           "[default: 0.25,0.5,0.75,1].")] = None,
    target_fpr: Annotated[Optional[float], typer.Option(help="False-positive rate the threshold is set for "
                                                             "[default: 0.01].")] = None,
    budget: Annotated[Optional[str], typer.Option(help="Device budget the winner must meet, e.g. "
                                                       "flash=64KB,ram=32KB,instr=8M.")] = None,
    segment: Annotated[Optional[float], typer.Option(help="Seconds per segment, one detector decision "
                                                          "[default: 2].")] = None,
    folds: Annotated[Optional[int], typer.Option(help="Cross-validation folds [default: 5].")] = None,
    detectors: Annotated[Optional[str], typer.Option(help="Detector families to search "
                                                          "[default: kmeans,gaussian,autoencoder].")] = None,
    layout: Annotated[Optional[str], typer.Option(help="Layout of the recordings (auto, mimii, dcase2020, wav, "
                                                       "...) [default: auto].")] = None,
    channel: Annotated[Optional[str], typer.Option(help="Channel of multi-channel recordings: index, mean, or a "
                                                        "CWRU name (DE, FE, BA) [default: 0].")] = None,
    fault_scale: Annotated[Optional[str], typer.Option(help="machine (fault re the recording's level) or "
                                                            "absolute (recordings in the generator's units, "
                                                            "e.g. g) [default: machine].")] = None,
    rpm: Annotated[Optional[float], typer.Option(help="Known shaft speed, rpm (fault generator).")] = None,
    bearing: Annotated[Optional[str], typer.Option(help="Known bearing preset, e.g. 6205.")] = None,
    per_clip: Annotated[bool, typer.Option("--per-clip", help="Draw the fault generator's parameters per "
                                                              "injected segment instead of one machine.")] = False,
    workers: Annotated[int, typer.Option(help="Processes (results do not depend on it).")] = 2,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Inject and cross-validate on a Dask cluster: local:N or tcp://HOST:PORT (same results; needs "
             "faultsynth[dask]).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of injection, folds and detectors [default: 0].")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Pick front end, detector and threshold from faults injected into your normal recordings.

    Writes OUT/model (for evaluate and export), leaderboard.csv and .png, the
    predicted coverage (coverage.png, predicted_coverage.json), tune.json and report.md.
    """
    from datasets.synth import parse_severities
    from pipeline.device_cost import parse_budget
    from pipeline.tune import TuneConfig, run_tune

    spec = load_tune_spec(config) if config is not None else {}
    given = {"data": data or None, "machine": machine, "faults": faults, "severities": severities,
             "target_fpr": target_fpr, "budget": budget, "segment": segment, "folds": folds,
             "detectors": detectors, "layout": layout, "channel": channel, "fault_scale": fault_scale, "rpm": rpm,
             "bearing": bearing, "seed": seed}
    opt = {k: v if v is not None else spec.get(k, DEFAULTS.get(k)) for k, v in given.items()}
    if not opt["data"]:
        raise FaultsynthError("no normal recordings: expected --data FILE, FOLDER or PATTERN (or data in --config)")
    if not opt["machine"]:
        raise FaultsynthError("no machine type: expected --machine NAME (see synth --list), or machine in --config")
    data, machine, faults, budget, rpm, bearing = (opt[k] for k in ("data", "machine", "faults", "budget", "rpm",
                                                                     "bearing"))
    levels, level_range = parse_severities(str(opt["severities"]))
    if level_range is not None:
        raise FaultsynthError("--severities: expected a comma list of levels such as 0.25,0.5,1, not a range")
    fixed: dict = {}
    if rpm is not None:
        fixed["rpm"] = float(rpm)
    if bearing is not None:
        fixed["bearing"] = bearing
    tune_config = TuneConfig(machine=machine,
                             faults=tuple(f.strip() for f in (faults or "").split(",") if f.strip()),
                             severities=levels, target_fpr=float(opt["target_fpr"]), segment_s=float(opt["segment"]),
                             folds=opt["folds"], seed=opt["seed"], channel=_channel(opt["channel"]),
                             layout=opt["layout"], budget=parse_budget(budget) if budget else None, fixed=fixed,
                             detectors=tuple(d.strip() for d in opt["detectors"].split(",") if d.strip()),
                             fault_scale=opt["fault_scale"], per_clip=per_clip)
    result = run_tune(data, tune_config, out, workers=workers, progress=not quiet, scheduler=scheduler)
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
