"""Reading the project's TOML files (synth configs, experiment and tune specs) with one set of errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

from errors import FaultsynthError


def read_toml(path: str | Path, *, what: str) -> dict:
    """The parsed TOML document at ``path``.

    Parameters
    ----------
    path : path
    what : str
        What the file should be, for the error message (e.g. ``"an experiment spec"``).

    Raises
    ------
    FaultsynthError
        The file is missing, unreadable, or not valid UTF-8 TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise FaultsynthError(f"{path}: no such file: expected {what} (.toml)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FaultsynthError(f"{path}: cannot read it ({exc.strerror}): expected {what} (.toml)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FaultsynthError(f"{path}: not valid TOML ({exc})") from None
