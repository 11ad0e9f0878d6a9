"""Summarise and validate any dataset the loaders read.

:func:`dataset_info` returns a JSON-serialisable summary (counts per machine,
label, fault, split and source; durations; sample rates; channels) and the
list of problems found: files that cannot be read or do not match their
layout, files listed in a manifest but missing, sha256 mismatches, headers
that disagree with the manifest (sample rate, channels, duration), audio that
is truncated, corrupt, NaN/Inf or all zero.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from datasets.audio import load_audio
from datasets.loaders import layout_of, load_records
from provenance import sha256_file
from datasets.records import ClipRecord
from errors import FaultsynthError

#: Relative tolerance on a clip's duration against its manifest row.
DURATION_TOLERANCE_S = 1e-3


def dataset_info(path: str | Path, *, layout: str = "auto", read_audio: bool = True,
                 skip_bad: bool = False) -> dict:
    """Summary and validation of the dataset at ``path``.

    Parameters
    ----------
    path : str or Path
        Dataset folder or single file.
    layout : str
        ``"auto"`` or a layout name (see :data:`datasets.loaders.LAYOUTS`).
    read_audio : bool
        Read every clip's samples (finds corrupt, NaN/Inf, all-zero audio and,
        for faultsynth datasets, sha256 mismatches). False: headers only.
    skip_bad : bool
        Report unreadable files under ``"skipped"`` instead of ``"errors"``.

    Returns
    -------
    dict
        ``{"path", "layout", "clips", "labels", "splits", "faults", "sources",
        "machines": {machine: {"clips", "labels", "ids"}}, "sample_rates",
        "channels", "duration_s": {"total", "min", "max"}, "errors": [str],
        "skipped": [str]}``.

    Raises
    ------
    FaultsynthError
        No such path, unknown or ambiguous layout, no clips at all.
    """
    path = Path(path)
    name = layout_of(path, layout=layout) if path.exists() else layout
    bad: list = []
    records = load_records(path, layout=layout, bad=bad, verify=False)  # check_record verifies
    problems = [message for _, message in bad]
    for record in records:
        problem = check_record(record, read_audio=read_audio)
        if problem:
            problems.append(problem)
    summary = summarise(records)
    summary = {"path": str(path), "layout": name, **summary}
    summary["errors"] = [] if skip_bad else problems
    summary["skipped"] = problems if skip_bad else []
    return summary


def summarise(records: list[ClipRecord]) -> dict:
    """Counts, rates, channels and durations of ``records`` (JSON-serialisable)."""
    machines: dict[str, dict] = {}
    for record in records:
        entry = machines.setdefault(record.machine, {"clips": 0, "labels": Counter(), "ids": Counter()})
        entry["clips"] += 1
        entry["labels"][record.label] += 1
        entry["ids"][record.machine_id] += 1
    durations = [r.duration_s for r in records]
    labels = Counter({"normal": 0, "anomaly": 0})
    labels.update(r.label for r in records)
    return {
        "clips": len(records),
        "labels": dict(labels),
        "splits": dict(sorted(Counter(r.split for r in records).items())),
        "faults": dict(sorted(Counter(r.fault for r in records).items())),
        "severities": dict(sorted(Counter(_severity_key(r.severity) for r in records).items())),
        "sources": dict(sorted(Counter(r.source for r in records).items())),
        "machines": {m: {"clips": e["clips"], "labels": dict(sorted(e["labels"].items())),
                         "ids": dict(sorted(e["ids"].items()))} for m, e in sorted(machines.items())},
        "sample_rates": sorted({r.sample_rate for r in records}),
        "channels": sorted({r.channels for r in records}),
        "duration_s": {"total": float(sum(durations)), "min": float(min(durations, default=0.0)),
                       "max": float(max(durations, default=0.0))},
    }


def _severity_key(severity: float) -> str:
    return "unknown" if math.isnan(severity) else f"{severity:g}"


def check_record(record: ClipRecord, *, read_audio: bool = True) -> str | None:
    """The first problem with one record's file, or None.

    Checks: the file exists; for WAV files, header sample rate / channels /
    duration against the record; with ``read_audio``, the sha256 (for records
    that have one) and that the samples decode and are finite and not all zero.
    """
    import soundfile as sf

    file = record.file
    if not file.is_file():
        return f"{file}: listed but missing"
    try:
        if file.suffix.lower() == ".wav":
            from datasets.audio import check_wav_header

            check_wav_header(file)
            info = sf.info(str(file))
            if info.samplerate != record.sample_rate:
                return f"{file}: sample rate {info.samplerate} Hz, but the manifest says {record.sample_rate} Hz"
            if info.channels != record.channels:
                return f"{file}: {info.channels} channels, but the manifest says {record.channels}"
            duration = info.frames / info.samplerate
            if abs(duration - record.duration_s) > DURATION_TOLERANCE_S:
                return f"{file}: lasts {duration:.4f} s, but the manifest says {record.duration_s:.4f} s"
        if record.sha256 and read_audio and sha256_file(file) != record.sha256:
            return f"{file}: sha256 differs from the manifest: the file changed or is corrupt"
        if read_audio:
            load_audio(record, channel=None)
    except FaultsynthError as exc:
        return str(exc)
    except (sf.LibsndfileError, RuntimeError) as exc:
        return f"{file}: unreadable audio ({exc})"
    return None
