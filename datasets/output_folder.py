"""One output-folder contract for commands that write a whole result folder (train, evaluate, export).

* The new result is built in a staging folder beside ``out`` and swapped in only
  when complete: an error or a kill leaves the previous result (or nothing).
* ``out`` must be new, empty, or hold a previous result of the same kind (it
  contains the command's marker file, e.g. ``bundle.json``); anything else is
  refused unless the user says ``overwrite``.
* A lock beside ``out`` (the hidden file ``.<name>.lock``, held with ``flock``:
  released by the kernel when a run dies) makes a second run on the same folder
  stop with a clear message.
* Staging and half-swapped folders left by a killed run are cleaned up (or
  restored) by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Iterator

from errors import FaultsynthError


def _siblings(out: Path) -> tuple[Path, Path, Path]:
    """(staging, previous, lock) paths beside ``out``."""
    return (out.with_name(f".{out.name}.partial"), out.with_name(f".{out.name}.previous"),
            out.with_name(f".{out.name}.lock"))


@contextlib.contextmanager
def replaced_folder(out: str | Path, *, marker: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``out`` whole.

    Parameters
    ----------
    out : path
        The result folder.
    marker : str
        A file every complete result of this kind holds (e.g. ``"bundle.json"``).
    overwrite : bool
        Replace a folder that holds something else.

    Raises
    ------
    FaultsynthError
        ``out`` is a file, holds something else (without ``overwrite``), or
        another run is writing it.
    """
    out = Path(out)
    staging, previous, lock_path = _siblings(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "w")
    except OSError as exc:
        raise FaultsynthError(f"{out}: cannot write there ({exc.strerror}): choose another folder") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FaultsynthError(f"{out}: another run is writing this folder; wait for it to finish or choose "
                                  "another folder") from None
        if previous.exists():  # a run was killed mid-swap
            if out.exists():
                shutil.rmtree(previous)
            else:
                os.replace(previous, out)
        if staging.exists():
            shutil.rmtree(staging)
        if out.exists():
            if not out.is_dir():
                raise FaultsynthError(f"{out} is a file: expected a folder for the result")
            if any(out.iterdir()) and not (out / marker).is_file() and not overwrite:
                raise FaultsynthError(f"{out} holds something else (no {marker}): choose a new folder, or pass "
                                      "--overwrite to replace it")
        staging.mkdir()
        try:
            yield staging
            if out.exists():
                os.replace(out, previous)
            os.replace(staging, out)
            if previous.exists():
                shutil.rmtree(previous)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
