"""faultsynth command line: a thin typer layer over the library.

Run ``python cli.py --help``. Bad input prints one clear line on stderr and
exits with status 2; no traceback. Heavy imports (TensorFlow) happen only
inside the commands that need them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

import functools

import typer

from errors import FaultsynthError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic machine-fault data, unsupervised detectors and microcontroller export.")

#: Commands defined in the library's command modules: name -> "module:function".
COMMANDS = {
    "info": "datasets.commands:info",
    "inject": "datasets.commands:inject",
    "mix": "datasets.commands:mix",
    "train": "pipeline.commands:train",
    "evaluate": "pipeline.commands:evaluate",
    "experiment": "pipeline.commands:experiment",
    "tune": "pipeline.tune_command:tune",
    "export": "pipeline.device_commands:export",
    "firmware": "pipeline.device_commands:firmware",
}

#: synth keys accepted in a --config TOML file (besides the [params] table).
CONFIG_KEYS = {"machine", "faults", "severities", "count", "duration", "sample_rate", "seed", "out",
               "workers", "rpm", "bearing", "machine_id", "snr_db", "sensor", "params", "ids", "per_clip"}


def _load_config(path: Path) -> dict:
    """Read a synth TOML config; a clear error if it is unreadable or has unknown keys."""
    from datasets.toml_file import read_toml

    data = read_toml(path, what="a synth config")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise FaultsynthError(f"config file {path}: unknown keys {unknown}; expected some of {sorted(CONFIG_KEYS)}")
    if "params" in data and not isinstance(data["params"], dict):
        raise FaultsynthError(f"config file {path}: [params] must be a table of physical parameters")
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
    out: Optional[Path] = typer.Option(None, help="Output dataset folder."),
    workers: Optional[int] = typer.Option(None, help="Parallel processes (output is identical for any)."),
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
    """Synthesise a labelled dataset (DCASE layout + manifest.csv + dataset.json)."""
    from datasets.synth import SynthConfig, parse_severities, parse_value_or_range, synthesize
    from generators.registry import get_machine

    if list_machines:
        _print_machine_list()
        return
    cfg = _load_config(config) if config else {}
    pick = lambda flag, key, default=None: flag if flag is not None else cfg.get(key, default)  # noqa: E731
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
    records = synthesize(synth_config, Path(out_dir), workers=pick(workers, "workers", 1), progress=not quiet)
    n_anomaly = sum(r.label == "anomaly" for r in records)
    typer.echo(f"wrote {len(records)} clips ({len(records) - n_anomaly} normal, {n_anomaly} anomaly) "
               f"to {out_dir}")


def _friendly(command):
    """Wrap a command so that bad input prints one line on stderr and exits 2, with no traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FaultsynthError as exc:
            typer.secho(f"error: {exc}", err=True, fg="red")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted: run the same command again to resume", err=True)
            raise typer.Exit(130) from None
    return wrapper


def _register() -> None:
    """Attach every command: synth here, the others from the library's command modules."""
    app.command("synth")(_friendly(synth))
    for name, target in COMMANDS.items():
        module_name, function = target.split(":")
        # A command that does not import is a broken installation: fail loudly, never drop it.
        module = importlib.import_module(module_name)
        if not hasattr(module, function):
            raise RuntimeError(f"command {name!r}: {module_name} has no function {function!r}")
        app.command(name)(_friendly(getattr(module, function)))


def main() -> None:
    """Run the CLI (exit status 0 ok, 2 bad input, 130 interrupted)."""
    _register()
    app(prog_name="faultsynth")


if __name__ == "__main__":
    main()
