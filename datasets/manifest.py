"""Reading and writing manifest.csv and events.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from datasets.atomic import write_text_atomic
from datasets.records import MANIFEST_COLUMNS, ClipRecord
from errors import FaultsynthError

MANIFEST_NAME = "manifest.csv"
EVENTS_NAME = "events.csv"
EVENT_COLUMNS = ("path", "onset_s", "offset_s", "fault")


def write_manifest(root: str | Path, records: Iterable[ClipRecord]) -> Path:
    """Write ``<root>/manifest.csv`` atomically, one row per record, sorted by path."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in sorted(records, key=lambda r: r.path):
        writer.writerow(record.manifest_row())
    path = Path(root) / MANIFEST_NAME
    write_text_atomic(path, buffer.getvalue())
    return path


def read_manifest(root: str | Path) -> list[ClipRecord]:
    """Records of the faultsynth dataset at ``root`` (from its manifest.csv)."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise FaultsynthError(f"{root}: no {MANIFEST_NAME}: expected a faultsynth dataset folder")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise FaultsynthError(f"{path} is empty: expected a header with columns {list(MANIFEST_COLUMNS)}")
        return [ClipRecord.from_manifest_row(row, root=root) for row in reader]


def write_events(root: str | Path, events: Iterable[tuple[str, float, float, str]]) -> Path:
    """Write ``<root>/events.csv`` atomically: rows of (path, onset_s, offset_s, fault)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for path, onset, offset, fault in sorted(events):
        writer.writerow([path, repr(float(onset)), repr(float(offset)), fault])
    out = Path(root) / EVENTS_NAME
    write_text_atomic(out, buffer.getvalue())
    return out
