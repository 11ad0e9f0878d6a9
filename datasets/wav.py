"""Deterministic, atomic WAV writing.

libsndfile stamps float WAV files with a PEAK chunk holding the time of
writing, so the same samples written twice differ in bytes. Float WAVs are
therefore written with ``scipy.io.wavfile`` (no such chunk) and 16-bit PCM with
soundfile; either way the same samples give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import soundfile as sf

from datasets.atomic import atomic_path
from errors import FaultsynthError

SUBTYPES = ("PCM_16", "FLOAT")


def write_wav(path: str | Path, signal: np.ndarray, sample_rate: int, *, subtype: str = "PCM_16") -> str:
    """Write ``signal`` to ``path`` atomically and return the file's sha256.

    Parameters
    ----------
    path : str or Path
        Destination .wav file (its folder is created).
    signal : ndarray, shape (n_samples,) or (n_samples, channels)
        Samples; full scale is +/-1 for PCM_16 (values beyond are clipped).
    sample_rate : int
        Hz.
    subtype : {"PCM_16", "FLOAT"}
        16-bit integer or 32-bit float samples.

    Returns
    -------
    str
        Hex sha256 of the written file.
    """
    data = wav_bytes(signal, sample_rate, subtype=subtype, name=str(path))
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def wav_bytes(signal: np.ndarray, sample_rate: int, *, subtype: str = "PCM_16", name: str = "WAV") -> bytes:
    """The bytes of ``signal`` as a WAV file (what :func:`write_wav` writes; uploads use them directly).

    Parameters as :func:`write_wav`; ``name`` (the destination) is named in the errors.
    """
    if subtype not in SUBTYPES:
        raise FaultsynthError(f"WAV subtype must be one of {SUBTYPES}, got {subtype!r}")
    signal = np.asarray(signal)
    if not np.all(np.isfinite(signal)):
        raise FaultsynthError(f"{name}: refusing to write NaN or infinite samples")
    buffer = io.BytesIO()
    if subtype == "FLOAT":
        scipy.io.wavfile.write(buffer, int(sample_rate), signal.astype(np.float32))
    else:
        sf.write(buffer, signal, int(sample_rate), subtype="PCM_16", format="WAV")
    return buffer.getvalue()
