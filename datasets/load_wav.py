"""WAV-file records: the header-only helper every WAV layout uses, and the bare ``wav`` layout.

The ``wav`` layout reads any folder of WAV files with no known structure:
machine = the ``machine`` argument (else ``"unknown"``), machine_id ``id_00``,
split ``test`` unless asked. The label comes from the path: a folder or file
name token ``abnormal``, ``anomaly`` or ``anomalous`` means anomaly (fault
``"unknown"``, severity NaN); every other file is taken as a normal recording
and says so in ``params["label_assumed"] = True``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from datasets.records import ClipRecord
from errors import FaultsynthError

ANOMALY_TOKENS = {"abnormal", "anomaly", "anomalous"}


def wav_record(file: Path, *, root: Path, **fields) -> ClipRecord:
    """Record of a WAV file: sample rate, channels and duration from its header.

    Parameters
    ----------
    file : Path
    root : Path
        Dataset root; the record path is relative to it.
    **fields
        The other :class:`ClipRecord` fields (split, machine, machine_id,
        label, fault, severity, params); source defaults to ``"real"``.
    """
    import soundfile as sf

    from datasets.audio import check_wav_header

    check_wav_header(file)
    try:
        info = sf.info(str(file))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise FaultsynthError(f"{file}: unreadable audio ({exc}): expected a WAV file") from None
    if info.frames <= 0:
        raise FaultsynthError(f"{file}: no samples: expected a non-empty recording")
    fields.setdefault("source", "real")
    fields.setdefault("seed", None)
    return ClipRecord(path=file.relative_to(root).as_posix(), sample_rate=int(info.samplerate),
                      duration_s=info.frames / info.samplerate, channels=int(info.channels),
                      root=str(root), **fields)


def generic_record(file: Path, *, root: Path, split: str, machine: str | None) -> ClipRecord:
    """Record of a WAV file of the ``wav`` layout (see module docstring)."""
    tokens = {t.lower() for part in file.relative_to(root).parts for t in re.split(r"[_\-.\s]", part)}
    anomaly = bool(tokens & ANOMALY_TOKENS)
    params = {"dataset": "wav"}
    if not anomaly:
        params["label_assumed"] = True
    return wav_record(file, root=root, split=split, machine=(machine or "unknown").lower(), machine_id="id_00",
                      label="anomaly" if anomaly else "normal", fault="unknown" if anomaly else "none",
                      severity=math.nan if anomaly else 0.0, params=params)
