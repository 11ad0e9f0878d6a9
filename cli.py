"""faultsynth command line: a thin typer layer over the library.

Run ``python cli.py --help``. Bad input prints one clear line on stderr and
exits with status 2; no traceback. Heavy imports (TensorFlow) happen only
inside the commands that need them.
"""

from __future__ import annotations

import functools
import importlib

import typer

from errors import FaultsynthError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic machine-fault data, unsupervised detectors and microcontroller export.")

#: Commands defined in the library's command modules: name -> "module:function".
COMMANDS = {
    "synth": "datasets.commands:synth",
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


def _friendly(command):
    """Wrap a command so that bad input prints one line on stderr and exits 2, with no traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FaultsynthError as exc:
            typer.secho(f"error: {exc}", err=True, fg="red")
            raise typer.Exit(2) from None
        except OSError as exc:  # the environment: permissions, a full or read-only disk, bad names
            typer.secho(f"error: {_os_error_text(exc)}", err=True, fg="red")
            raise typer.Exit(2) from None
        except MemoryError:
            typer.secho("error: out of memory: expected a smaller request (fewer or shorter clips, fewer "
                        "workers)", err=True, fg="red")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted: run the same command again to resume", err=True)
            raise typer.Exit(130) from None
    return wrapper


def _os_error_text(exc: OSError) -> str:
    """One line for an operating-system error: the file, what happened, what to do."""
    import errno

    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None) or "a file"
    advice = {errno.ENOSPC: "free some disk space or write elsewhere",
              errno.EDQUOT: "free some disk space or write elsewhere",
              errno.EROFS: "the file system is read-only: write elsewhere",
              errno.EACCES: "choose a folder you can write (or a file you can read)",
              errno.EPERM: "choose a folder you can write (or a file you can read)",
              errno.ENAMETOOLONG: "choose a shorter name"}.get(exc.errno, "check the path and try again")
    return f"{where}: {exc.strerror or exc}: {advice}"


def _register() -> None:
    """Attach every command from the library's command modules."""
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
