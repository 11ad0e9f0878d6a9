"""One output-folder contract for commands that write a whole result folder (train, evaluate, export,
inject, mix), and the checks every writing command makes on its output path before work starts.

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
import re
import shutil
from pathlib import Path
from typing import Iterator

from datasets.url_folder import is_url
from errors import FaultsynthError


def _siblings(out: Path) -> tuple[Path, Path, Path]:
    """(staging, previous, lock) paths beside ``out``."""
    return (out.with_name(f".{out.name}.partial"), out.with_name(f".{out.name}.previous"),
            out.with_name(f".{out.name}.lock"))


#: A URL as a Path has folded it: ``Path("memory://x")`` is ``memory:/x`` (schemes of one letter are drive letters).
_FOLDED_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:(/|$)")


def looks_like_url(out: str | Path) -> bool:
    """True if ``out`` is a URL, also one that a command-line Path option has already folded into a path."""
    return is_url(out) or (isinstance(out, Path) and _FOLDED_URL.match(str(out)) is not None)


def check_output_path(out: str | Path) -> None:
    """Refuse an output folder that cannot be made, before any work starts.

    Raises
    ------
    FaultsynthError
        ``out`` is a URL (only ``synth``, ``inject`` and ``mix`` write datasets to URLs), a file (or under one), a name
        in it is not valid UTF-8 or is too long for the file system, or its nearest existing
        folder is not writable.
    """
    if looks_like_url(out):
        raise FaultsynthError(f"{out}: this command writes a local (or shared) folder, not a URL: expected a "
                              "folder path (only synth, inject and mix write datasets to fsspec URLs)")
    out = Path(out)
    try:
        str(out).encode("utf-8")
    except UnicodeEncodeError:
        raise FaultsynthError(f"{os.fsencode(out)!r}: the name is not valid UTF-8: choose a plain name") from None
    existing, limit, found = Path(out.anchor or "."), 255, True
    parts = out.parts[1 if out.anchor else 0:]
    for i, part in enumerate(parts):
        if found and existing.is_dir():
            limit = os.pathconf(existing, "PC_NAME_MAX")
        reserve = len(".previous.") if i == len(parts) - 1 else 0  # the siblings of the result folder
        if len(os.fsencode(part)) + reserve > limit:
            raise FaultsynthError(f"{out}: the name {part[:40]!r}... is longer than the file system allows "
                                  f"({limit - reserve} bytes here): choose a shorter name")
        found = found and (existing / part).exists()
        if found:
            existing = existing / part
    if existing.exists() and not existing.is_dir():
        raise FaultsynthError(f"{existing} is a file: expected a folder for {out}")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise FaultsynthError(f"{out}: cannot write in {existing} (permission denied): choose another folder")


@contextlib.contextmanager
def folder_lock(out: str | Path) -> Iterator[None]:
    """Hold the lock beside ``out`` (``.<name>.lock``) for one run; refuse a second, concurrent run.

    ``out`` is checked first (:func:`check_output_path`): a folder that cannot be made is refused.

    ``flock``: the kernel releases it when the holder dies, so a killed run never blocks the next one.
    """
    out = Path(out)
    check_output_path(out)
    lock_path = _siblings(out)[2]
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
        yield


@contextlib.contextmanager
def replaced_folder(out: str | Path, *, marker: str | None, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``out`` whole.

    Parameters
    ----------
    out : path
        The result folder.
    marker : str or None
        A file every complete result of this kind holds (e.g. ``"bundle.json"``);
        None: ``out`` must be new or empty (a previous result is never replaced).
    overwrite : bool
        Replace a folder that holds something else.

    Raises
    ------
    FaultsynthError
        ``out`` is a file, holds something else (without ``overwrite``), or
        another run is writing it.
    """
    out = Path(out)
    staging, previous, _ = _siblings(out)
    with folder_lock(out):
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
            if marker is None and any(out.iterdir()):
                raise FaultsynthError(f"{out} exists and is not empty: expected a new or empty output folder")
            if any(out.iterdir()) and not (out / marker).is_file() and not overwrite:
                raise FaultsynthError(f"{out} holds something else (no {marker}): choose a new folder, or pass "
                                      "--overwrite to replace it")
        try:
            staging.mkdir()
        except OSError as exc:
            raise FaultsynthError(f"{out}: cannot write there ({exc.strerror}): choose another folder") from None
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
