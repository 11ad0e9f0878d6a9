"""The one clip-path format and the one clip writer every dataset command uses.

Clips live at ``<machine>/<split>/<label>_<machine_id>_<8 digits>.wav`` (the
DCASE 2020 Task 2 layout, DESIGN.md), numbered from 0 within each
(machine, split, label, machine id). Clips are written atomically
(:func:`datasets.wav.write_wav`: a temporary file renamed into place; under an
fsspec URL root the same through :mod:`datasets.url_folder`), so a kill never
leaves a half-written clip under its final name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from datasets.url_folder import is_url
from datasets.wav import write_wav
from errors import FaultsynthError


def clip_path(machine: str, split: str, label: str, machine_id: str, number: int) -> str:
    """Path of clip ``number`` of its class, relative to the dataset root."""
    return f"{machine}/{split}/{label}_{machine_id}_{number:08d}.wav"


class ClipNumbers:
    """Hands out clip paths in order: the next number of each (machine, split, label, machine id)."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str, str, str], int] = {}

    def next_path(self, machine: str, split: str, label: str, machine_id: str) -> str:
        """The path of the next clip of this class."""
        key = (machine, split, label, machine_id)
        n = self._next.get(key, 0)
        self._next[key] = n + 1
        return clip_path(machine, split, label, machine_id, n)


def write_clip(root: str | Path, rel_path: str, signal: np.ndarray, rate: int, *, subtype: str = "FLOAT",
               origin: str = "blending") -> str:
    """Write one mono clip atomically under ``root``; return its sha256.

    Parameters
    ----------
    root : str or Path
        Dataset root (or its staging folder): a local path or an fsspec URL string.
    rel_path : str
        Clip path relative to ``root`` (:func:`clip_path`).
    signal : ndarray, shape (n_samples,)
        Samples (g for vibration, full scale +/-1 for sound).
    rate : int
        Sample rate, Hz.
    subtype : {"FLOAT", "PCM_16"}
        32-bit float or 16-bit PCM samples.
    origin : str
        What produced the samples, named in the error raised for non-finite samples.
    """
    if not np.all(np.isfinite(signal)):
        raise FaultsynthError(f"{rel_path}: non-finite samples after {origin} (a bug: please report)")
    if is_url(root):
        return _write_url_clip(root, rel_path, signal, rate, subtype)
    return write_wav(Path(root) / rel_path, signal, rate, subtype=subtype)


def _write_url_clip(url: str, rel_path: str, signal: np.ndarray, rate: int, subtype: str) -> str:
    """:func:`write_clip` under a URL root: the WAV bytes uploaded whole; their sha256."""
    from datasets.url_folder import url_folder
    from datasets.wav import wav_bytes

    data = wav_bytes(signal, rate, subtype=subtype, name=f"{url}/{rel_path}")
    url_folder(url).write_bytes(rel_path, data)
    return hashlib.sha256(data).hexdigest()
