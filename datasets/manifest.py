"""Where a faultsynth dataset keeps its own files, and reading and writing manifest.csv and events.csv.

A dataset root holds machine folders only (``<root>/<machine>/{train,test}/*.wav``),
so tools that list the root's entries as machine types (the DCASE baselines)
read it unchanged. The dataset's own files sit in the hidden folder
``<root>/.faultsynth/``: ``manifest.csv``, ``dataset.json``, ``events.csv`` and,
while ``synth`` runs, its journal. Paths in them stay relative to the root.
Datasets written before this layout (those files at the root) are still read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from datasets.atomic import write_text_atomic
from datasets.records import MANIFEST_COLUMNS, ClipRecord
from errors import FaultsynthError

META_DIR = ".faultsynth"
MANIFEST_NAME = "manifest.csv"
EVENTS_NAME = "events.csv"
DATASET_JSON = "dataset.json"
EVENT_COLUMNS = ("path", "onset_s", "offset_s", "fault")


def meta_file(root: str | Path, name: str) -> Path:
    """Where a dataset's own file ``name`` is written: ``<root>/.faultsynth/<name>``."""
    return Path(root) / META_DIR / name


def find_meta_file(root: str | Path, name: str) -> Path | None:
    """The dataset's file ``name`` if present: in ``<root>/.faultsynth/``, else at the root (older layout)."""
    for candidate in (meta_file(root, name), Path(root) / name):
        if candidate.is_file():
            return candidate
    return None


def is_faultsynth_dataset(root: str | Path) -> bool:
    """True if ``root`` is a folder holding a faultsynth manifest (either layout)."""
    return Path(root).is_dir() and find_meta_file(root, MANIFEST_NAME) is not None


def manifest_text(records: Iterable[ClipRecord]) -> str:
    """The text of manifest.csv: a header, then one row per record, sorted by path."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in sorted(records, key=lambda r: r.path):
        writer.writerow(record.manifest_row())
    return buffer.getvalue()


def write_manifest(root: str | Path, records: Iterable[ClipRecord]) -> Path:
    """Write ``<root>/.faultsynth/manifest.csv`` atomically (:func:`manifest_text`)."""
    path = meta_file(root, MANIFEST_NAME)
    write_text_atomic(path, manifest_text(records))
    return path


def read_manifest(root: str | Path) -> list[ClipRecord]:
    """Records of the faultsynth dataset at ``root`` (from its manifest.csv)."""
    path = find_meta_file(root, MANIFEST_NAME)
    if path is None:
        raise FaultsynthError(f"{root}: no {MANIFEST_NAME}: expected a faultsynth dataset folder")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise FaultsynthError(f"{path} is empty: expected a header with columns {list(MANIFEST_COLUMNS)}")
        return [ClipRecord.from_manifest_row(row, root=root) for row in reader]


def events_text(events: Iterable[tuple[str, float, float, str]]) -> str:
    """The text of events.csv: a header, then rows of (path, onset_s, offset_s, fault), sorted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for path, onset, offset, fault in sorted(events):
        writer.writerow([path, repr(float(onset)), repr(float(offset)), fault])
    return buffer.getvalue()


def write_events(root: str | Path, events: Iterable[tuple[str, float, float, str]]) -> Path:
    """Write ``<root>/.faultsynth/events.csv`` atomically (:func:`events_text`)."""
    out = meta_file(root, EVENTS_NAME)
    write_text_atomic(out, events_text(events))
    return out
