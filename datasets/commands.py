"""Typer command functions of the datasets area: ``synth``, ``info``, ``inject`` and ``mix``.

cli.py registers them. Each is a thin layer over datasets.synth, datasets.info
and datasets.blend; bad input raises FaultsynthError (printed by cli.main, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from errors import FaultsynthError

_NUMBER = (int, float)
#: synth keys accepted in a --config TOML file: key -> (accepted TOML types, what the message says).
CONFIG_KEYS = {
    "machine": ((str,), "a string"), "faults": ((str, list), "a string or a list of strings"),
    "severities": ((str, list), "a string such as \"0.25,0.5,1\" or \"0.2:0.8\", or a list of numbers"),
    "count": ((int,), "a whole number"), "duration": (_NUMBER, "a number of seconds"),
    "sample_rate": ((int,), "a whole number of Hz"), "seed": ((int,), "a whole number"),
    "out": ((str,), "a string (folder)"), "workers": ((int,), "a whole number"),
    "scheduler": ((str,), "a string: local:N or tcp://HOST:PORT"),
    "rpm": (_NUMBER + (str, list), "a number, \"lo:hi\" or [lo, hi]"), "bearing": ((str, int), "a preset name"),
    "machine_id": ((str,), "a string such as \"id_00\""),
    "snr_db": (_NUMBER + (str, list), "a number, \"lo:hi\" or [lo, hi]"), "sensor": ((str,), "a string"),
    "params": ((dict,), "a table of physical parameters"), "ids": ((int,), "a whole number"),
    "per_clip": ((bool,), "true or false"),
}


def _load_config(path: Path) -> dict:
    """Read a synth TOML config; a clear error if it is unreadable or has unknown keys."""
    from datasets.toml_file import read_toml

    data = read_toml(path, what="a synth config")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise FaultsynthError(f"config file {path}: unknown keys {unknown}; expected some of {sorted(CONFIG_KEYS)}")
    for key, value in data.items():
        types, expected = CONFIG_KEYS[key]
        # TOML booleans are not numbers here, and list items must be of the list's kind
        wrong = isinstance(value, bool) and bool not in types or not isinstance(value, types)
        if isinstance(value, list) and not wrong:
            item_types = (str,) if key == "faults" else _NUMBER
            wrong = any(isinstance(v, bool) or not isinstance(v, item_types) for v in value)
        if wrong:
            raise FaultsynthError(f"config file {path}: {key} = {value!r}: expected {expected}")
    return data


def _print_machine_list() -> None:
    """Print machines x fault types and their physical parameters (from the generators' declarations)."""
    from rich.console import Console
    from rich.table import Table

    from generators.recording import RECORDING_PARAMETERS
    from generators.registry import common_parameters, get_machine, machine_names
    from generators.sensors import SENSORS

    def parameter_table(title, declarations):
        table = Table(title=title, title_justify="left")
        for column in ("parameter", "level", "meaning, unit, default"):
            table.add_column(column)
        for p in declarations:
            level = p.level + (f" (+/-{100 * p.spread:g} %)" if p.spread else "")
            table.add_row(p.name, level, p.describe())
        return table

    console = Console()
    for name in machine_names():
        machine = get_machine(name)
        table = Table(title=f"{name} ({machine.kind}, default {machine.default_sample_rate} Hz)",
                      show_lines=False, title_justify="left")
        table.add_column("fault")
        table.add_column("mechanism")
        table.add_column("severity -> physical parameters")
        for fault in machine.faults.values():
            table.add_row(fault.name + (" *" if fault.time_localised else ""), fault.description,
                          "\n".join(p.describe() for p in fault.parameters))
        console.print(table)
        console.print(parameter_table(f"{name}: parameters (level: build = once per machine id, operating = per "
                                      "clip around the machine's value, recording = per clip)", machine.declarations))
    for kind in ("vibration", "audio"):
        console.print(parameter_table(f"parameters of every {kind} machine", common_parameters(kind)))
    console.print(parameter_table("recording chain of every audio machine (generators/recording.py)",
                                  RECORDING_PARAMETERS))
    console.print("sensors: " + "; ".join(f"{k}: {v}" for k, v in SENSORS.items()))
    console.print("* time-localised: events.csv records each occurrence")


def synth(
    machine: Optional[str] = typer.Option(None, help="Machine: bearing, gearbox, fan, pump, valve, slider, "
                                                     "toycar, toyconveyor (see --list)."),
    faults: Optional[str] = typer.Option(None, help="Comma list of fault types (normal clips are always "
                                                    "included); default: all of the machine's faults."),
    severities: Optional[str] = typer.Option(None, help="Comma list of levels in [0,1], or a range lo:hi "
                                                        "drawn per clip. Default 0.25,0.5,1."),
    count: Optional[int] = typer.Option(None, help="Clips per class (default 10)."),
    duration: Optional[float] = typer.Option(None, help="Clip length in seconds (default 10)."),
    sample_rate: Optional[int] = typer.Option(None, help="Sample rate in Hz (default: the machine's)."),
    seed: Optional[int] = typer.Option(None, help="Root seed (default 0)."),
    out: Optional[str] = typer.Option(None, help="Output dataset folder, or an fsspec URL such as "
                                                 "file:///data/fan or s3://bucket/fan (its file-system package "
                                                 "installed)."),
    workers: Optional[int] = typer.Option(None, help="Parallel processes (output is identical for any)."),
    scheduler: Optional[str] = typer.Option(None, help="Run on a Dask cluster: local:N (N worker processes) or "
                                                        "tcp://HOST:PORT (workers see --out at the same path). "
                                                        "Output is identical; needs faultsynth[dask]."),
    config: Optional[Path] = typer.Option(None, help="TOML file with the same keys plus a [params] table "
                                                     "of machine parameters."),
    rpm: Optional[str] = typer.Option(None, help="Shaft speed in rpm: a value or a range lo:hi."),
    bearing: Optional[str] = typer.Option(None, help="Bearing preset, e.g. 6205, 6203."),
    snr_db: Optional[str] = typer.Option(None, "--snr-db", help="Background-noise SNR in dB: value or lo:hi."),
    sensor: Optional[str] = typer.Option(None, help="Sensor model, e.g. ideal, adxl355, iis3dwb, mp34dt05."),
    machine_id: Optional[str] = typer.Option(None, help="Machine id in file names (default id_00)."),
    ids: Optional[int] = typer.Option(None, help="Number of machines (ids id_00, id_02, ... as DCASE numbers "
                                                 "them), each with --count clips per class (default 1)."),
    per_clip: Optional[bool] = typer.Option(None, "--per-clip/--per-machine",
                                            help="Draw every parameter per clip (domain randomisation) instead "
                                                 "of one machine per id (default: per machine)."),
    list_machines: bool = typer.Option(False, "--list", help="Print machines x fault types and parameters."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Synthesise a labelled dataset (DCASE layout; manifest.csv and dataset.json in .faultsynth/)."""
    from datasets.limits import check_clip_numbers

    if list_machines:
        _print_machine_list()
        return
    cfg = _load_config(config) if config else {}
    pick = lambda flag, key, default=None: flag if flag is not None else cfg.get(key, default)  # noqa: E731
    check_clip_numbers(count=pick(count, "count", 10), duration_s=pick(duration, "duration", 10.0),
                       sample_rate=pick(sample_rate, "sample_rate"), seed=pick(seed, "seed", 0),
                       workers=pick(workers, "workers", 1))
    from datasets.synth import SynthConfig, parse_severities, parse_value_or_range, synthesize
    from datasets.url_folder import is_url
    from generators.registry import get_machine

    machine_name = pick(machine, "machine")
    if machine_name is None:
        raise FaultsynthError("no machine given: expected --machine NAME (see --list)")
    fault_text = pick(faults, "faults")
    if fault_text is None:
        fault_list = tuple(get_machine(machine_name).faults)
    elif isinstance(fault_text, str):
        fault_list = tuple(f.strip() for f in fault_text.split(",") if f.strip())
    else:
        fault_list = tuple(fault_text)
    sev = pick(severities, "severities", "0.25,0.5,1")
    levels, sev_range = (parse_severities(sev) if isinstance(sev, str)
                         else (tuple(float(s) for s in sev), None))
    fixed = dict(cfg.get("params", {}))
    for key, flag in (("rpm", rpm), ("snr_db", snr_db)):
        value = pick(flag, key)
        if value is not None:
            fixed[key] = parse_value_or_range(key, value)
    for key, flag in (("bearing", bearing), ("sensor", sensor)):
        value = pick(flag, key)
        if value is not None:
            fixed[key] = str(value)
    out_dir = pick(out, "out")
    if out_dir is None:
        raise FaultsynthError("no output folder given: expected --out DIR")
    synth_config = SynthConfig(machine=machine_name, faults=fault_list, severities=levels,
                               severity_range=sev_range, count=pick(count, "count", 10),
                               duration_s=float(pick(duration, "duration", 10.0)),
                               sample_rate=pick(sample_rate, "sample_rate"), seed=pick(seed, "seed", 0),
                               machine_id=pick(machine_id, "machine_id", "id_00"), fixed=fixed,
                               ids=pick(ids, "ids", 1), per_clip=pick(per_clip, "per_clip", False))
    records = synthesize(synth_config, out_dir if is_url(out_dir) else Path(out_dir), workers=pick(workers, "workers", 1), progress=not quiet,
                         scheduler=pick(scheduler, "scheduler"))
    n_anomaly = sum(r.label == "anomaly" for r in records)
    typer.echo(f"wrote {len(records)} clips ({len(records) - n_anomaly} normal, {n_anomaly} anomaly) "
               f"to {out_dir}")


def info(
    path: Path = typer.Argument(..., help="Dataset folder (any supported layout) or a .wav/.mat file."),
    json_output: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
    layout: str = typer.Option("auto", help="auto, mimii, toyadmos, dcase2020, dcase2021, cwru, faultsynth, wav."),
    quick: bool = typer.Option(False, help="Headers only: do not decode samples or recompute checksums."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="List unreadable files as skipped, not as errors."),
) -> None:
    """Summarise a dataset (counts, durations, rates, channels) and validate it; exit 1 if errors were found."""
    from datasets.info import dataset_info

    summary = dataset_info(path, layout=layout, read_audio=not quick, skip_bad=skip_bad)
    if json_output:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        _print_info(summary)
    if summary["errors"]:
        typer.secho(f"{len(summary['errors'])} error(s) found in {path}", err=True, fg="red")
        raise typer.Exit(1)


def _print_info(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{summary['path']} ({summary['layout']})", title_justify="left")
    for column in ("machine", "clips", "normal", "anomaly", "ids"):
        table.add_column(column, justify="left" if column in ("machine", "ids") else "right")
    for machine, entry in summary["machines"].items():
        table.add_row(machine, str(entry["clips"]), str(entry["labels"].get("normal", 0)),
                      str(entry["labels"].get("anomaly", 0)), ", ".join(entry["ids"]))
    console.print(table)
    d = summary["duration_s"]
    lines = [
        f"clips: {summary['clips']}  labels: {_counts(summary['labels'])}  splits: {_counts(summary['splits'])}",
        f"faults: {_counts(summary['faults'])}",
        f"severities: {_counts(summary['severities'])}  sources: {_counts(summary['sources'])}",
        f"duration: {d['total']:.1f} s in total, {d['min']:.3f}..{d['max']:.3f} s per clip",
        f"sample rates (Hz): {', '.join(map(str, summary['sample_rates']))}  "
        f"channels: {', '.join(map(str, summary['channels']))}",
    ]
    for line in lines:
        console.print(line, highlight=False)
    _print_problems(console, "skipped", summary["skipped"])
    _print_problems(console, "errors", summary["errors"])
    if not summary["errors"]:
        console.print("no errors found", style="green")


def _print_problems(console, title: str, problems: list[str]) -> None:
    if problems:
        console.print(f"{title} ({len(problems)}):", style="red" if title == "errors" else "yellow")
        for problem in problems:
            console.print(f"  {problem}", highlight=False, markup=False)


def _counts(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def inject(
    input: Path = typer.Option(..., "--input", help="Real normal recordings: a .wav/.mat file, a folder or any "
                                                    "dataset the loaders read (its normal clips are used)."),
    machine: str = typer.Option(..., help="Generator of the fault components, e.g. bearing, gearbox, fan."),
    faults: str = typer.Option(..., help="Comma list of fault types."),
    severities: str = typer.Option("0.25,0.5,1", help="Comma list of severity levels in [0,1]."),
    count: int = typer.Option(10, help="Normal training clips, normal test clips, and anomaly clips per "
                                       "(fault, severity)."),
    duration: float = typer.Option(10.0, help="Clip length in seconds."),
    seed: int = typer.Option(0, help="Root seed."),
    out: str = typer.Option(..., help="Output dataset folder (new or empty), or an fsspec URL (built here, then "
                                      "uploaded, the manifest last)."),
    rpm: Optional[str] = typer.Option(None, help="Known shaft speed in rpm (value or lo:hi)."),
    bearing: Optional[str] = typer.Option(None, help="Bearing preset, e.g. 6205."),
    param: Optional[list[str]] = typer.Option(None, help="Other known machine parameter NAME=VALUE (or lo:hi), "
                                                         "repeatable, e.g. --param gear_teeth=48."),
    workers: int = typer.Option(1, help="Parallel processes (output is identical for any)."),
    scheduler: Optional[str] = typer.Option(None, help="Run on a Dask cluster: local:N (N worker processes) or "
                                                        "tcp://HOST:PORT (workers see --out at the same path). "
                                                        "Output is identical; needs faultsynth[dask]."),
    channel: str = typer.Option("0", help="Channel of multi-channel recordings: index, 'mean', or a CWRU name "
                                          "(DE, FE, BA)."),
    layout: str = typer.Option("auto", help="Layout of --input (auto detects)."),
    sample_rate: Optional[int] = typer.Option(None, help="Resample the recordings to this rate (Hz)."),
    fault_scale: str = typer.Option("machine", help="machine: fault keeps the generator's fault-to-machine "
                                                    "ratio relative to the segment RMS; absolute: gain 1 "
                                                    "(recordings in g)."),
    machine_id: str = typer.Option("id_00", help="Machine id in file names; the synthetic machine whose "
                                                 "faults are injected is drawn once from (seed, id)."),
    per_clip: bool = typer.Option(False, "--per-clip", help="Draw the fault generator's parameters per clip "
                                                            "(domain randomisation) instead of one machine."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable recordings and list them."),
) -> None:
    """Inject synthetic faults into real normal recordings (writes a dataset; source 'mixed')."""
    from datasets.limits import check_clip_numbers

    check_clip_numbers(count=count, duration_s=duration, sample_rate=sample_rate, seed=seed, workers=workers)
    from datasets.blend import InjectConfig
    from datasets.blend import inject as run_inject
    from datasets.synth import parse_value_or_range

    fixed = _parse_params(param or [])
    if rpm is not None:
        fixed["rpm"] = parse_value_or_range("rpm", rpm)
    if bearing is not None:
        fixed["bearing"] = bearing
    config = InjectConfig(machine=machine, faults=_split(faults), severities=_floats("severities", severities),
                          count=count, duration_s=duration, seed=seed, fixed=fixed, channel=_channel(channel),
                          sample_rate=sample_rate, machine_id=machine_id, fault_scale=fault_scale,
                          per_clip=per_clip)
    bad: list | None = [] if skip_bad else None
    records = run_inject(input, config, out, layout=layout, workers=workers, bad=bad, scheduler=scheduler)
    n_anomaly = sum(r.label == "anomaly" for r in records)
    typer.echo(f"wrote {len(records)} clips ({len(records) - n_anomaly} real normal, {n_anomaly} injected) to {out}")
    _report_skipped(bad)


def mix(
    input: Optional[Path] = typer.Option(None, "--input", help="Synthetic dataset to add real noise to."),
    noise: Optional[Path] = typer.Option(None, help="Real background recordings (any layout; normal clips)."),
    snrs: str = typer.Option("6,0,-6", help="Comma list of SNRs in dB (one output clip per input clip and SNR)."),
    real: Optional[Path] = typer.Option(None, help="Mixed training set: real dataset (normal clips used)."),
    synthetic: Optional[Path] = typer.Option(None, help="Mixed training set: synthetic dataset."),
    real_fraction: Optional[float] = typer.Option(None, help="Mixed training set: fraction of real clips (0..1)."),
    count: int = typer.Option(100, help="Mixed training set: number of clips."),
    out: str = typer.Option(..., help="Output dataset folder (new or empty), or an fsspec URL (built here, then "
                                      "uploaded, the manifest last)."),
    seed: int = typer.Option(0, help="Root seed."),
    layout: str = typer.Option("auto", help="Layout of --noise or --real (auto detects)."),
    channel: str = typer.Option("0", help="Channel of multi-channel noise/real recordings: index or 'mean'."),
    sample_rate: Optional[int] = typer.Option(None, help="Mixed training set: resample every clip to this rate."),
    machine_id: str = typer.Option("id_00", help="Mixed training set: machine id in file names."),
    workers: int = typer.Option(1, help="Parallel processes (output is identical for any)."),
    scheduler: Optional[str] = typer.Option(None, help="Run on a Dask cluster: local:N (N worker processes) or "
                                                        "tcp://HOST:PORT (workers see --out at the same path). "
                                                        "Output is identical; needs faultsynth[dask]."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable files and list them."),
) -> None:
    """Add real noise to synthetic clips at SNRs, or build a mixed training set of real and synthetic clips.

    Noise: --input SYNTH --noise PATH --snrs 6,0,-6. Mixed training set: --real DIR --synthetic DIR
    --real-fraction F --count N (normal clips are copied, float32 WAV).
    """
    from datasets import limits

    limits.check_clip_numbers(count=count, sample_rate=sample_rate, seed=seed, workers=workers)
    for snr in _floats("snrs", snrs):
        limits.check_float("SNR", snr, limits.SNR_DB, "dB")
    from datasets.blend import mix_noise, write_mixed_training_set
    from datasets.synth import check_machine_id

    check_machine_id(machine_id)

    noise_mode = input is not None or noise is not None
    set_mode = real is not None or synthetic is not None or real_fraction is not None
    if noise_mode == set_mode:
        raise FaultsynthError("expected either --input SYNTH --noise PATH [--snrs 6,0,-6] (noise mixing) or "
                              "--real DIR --synthetic DIR --real-fraction F (mixed training set)")
    bad: list | None = [] if skip_bad else None
    if noise_mode:
        if input is None or noise is None:
            raise FaultsynthError("noise mixing needs both --input SYNTH_DATASET and --noise PATH")
        records = mix_noise(input, noise, out, snrs_db=_floats("snrs", snrs), seed=seed, noise_layout=layout,
                            noise_channel=_channel(channel), workers=workers, bad=bad,
                            scheduler=scheduler)
        typer.echo(f"wrote {len(records)} clips to {out}")
    else:
        if real is None or synthetic is None or real_fraction is None:
            raise FaultsynthError("a mixed training set needs --real DIR, --synthetic DIR and --real-fraction F")
        records = write_mixed_training_set(real, synthetic, out, real_fraction=real_fraction, n_clips=count,
                                           seed=seed, real_layout=layout, channel=_channel(channel),
                                           sample_rate=sample_rate, machine_id=machine_id, workers=workers,
                                           bad=bad, scheduler=scheduler)
        n_real = sum(r.source == "real" for r in records)
        typer.echo(f"wrote {len(records)} training clips ({n_real} real, {len(records) - n_real} synthetic) "
                   f"to {out}")
    _report_skipped(bad)


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _floats(name: str, text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in _split(text))
    except ValueError:
        raise FaultsynthError(f"{name}: expected a comma list of numbers, got {text!r}") from None


def _channel(text: str):
    """'3' -> 3; 'mean' and channel names stay strings."""
    return int(text) if text.lstrip("-").isdigit() else text


def _parse_params(items: list[str]) -> dict:
    from datasets.synth import parse_value_or_range

    fixed: dict = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise FaultsynthError(f"--param {item!r}: expected NAME=VALUE, e.g. gear_teeth=48")
        name, value = name.strip(), value.strip()
        try:
            fixed[name] = parse_value_or_range(name, value)
        except FaultsynthError:
            fixed[name] = value  # a preset name, e.g. bearing=6205
    return fixed


def _report_skipped(bad: list | None) -> None:
    if bad:
        typer.echo(f"skipped {len(bad)} unreadable file(s):")
        for _, message in bad:
            typer.echo(f"  {message}")
