"""One record type for every clip, synthetic or real, and the manifest columns."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from errors import FaultsynthError

#: manifest.csv columns, in order (the README's dataset contract); extra columns may follow.
MANIFEST_COLUMNS = ("path", "split", "machine", "machine_id", "label", "fault", "severity", "source",
                    "seed", "sample_rate", "duration_s", "channels", "params", "sha256")

SPLITS = ("train", "test")
LABELS = ("normal", "anomaly")
SOURCES = ("synthetic", "real", "mixed")


@dataclass(frozen=True)
class ClipRecord:
    """Everything known about one clip.

    Attributes
    ----------
    path : str
        File path relative to ``root`` (POSIX separators).
    split : {"train", "test"}
    machine : str
        Machine type, e.g. ``"bearing"``, ``"fan"``.
    machine_id : str
        e.g. ``"id_00"``.
    label : {"normal", "anomaly"}
    fault : str
        Fault type, ``"none"`` for normal clips, ``"unknown"`` for real anomalies of unstated type.
    severity : float
        0..1, 0 for normal clips; NaN for real anomalies of unknown severity.
    source : {"synthetic", "real", "mixed"}
    seed : int or None
        Per-clip seed (synthetic and mixed clips).
    sample_rate : int
        Hz, as stored in the file.
    duration_s : float
        Seconds.
    channels : int
    params : dict
        Every rendered physical parameter (synthetic, mixed), or metadata parsed
        from a real file's name (attributes, rpm...).
    sha256 : str
        Of the file as written ("" when not known).
    root : str
        Dataset root the path is relative to (not written to the manifest).
    """

    path: str
    split: str
    machine: str
    machine_id: str
    label: str
    fault: str
    severity: float
    source: str
    seed: int | None
    sample_rate: int
    duration_s: float
    channels: int
    params: dict = field(default_factory=dict)
    sha256: str = ""
    root: str = ""

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise FaultsynthError(f"{self.path}: split must be one of {SPLITS}, got {self.split!r}")
        if self.label not in LABELS:
            raise FaultsynthError(f"{self.path}: label must be one of {LABELS}, got {self.label!r}")
        if self.source not in SOURCES:
            raise FaultsynthError(f"{self.path}: source must be one of {SOURCES}, got {self.source!r}")

    @property
    def file(self) -> Path:
        """Absolute path of the clip's file."""
        return Path(self.root) / self.path

    def manifest_row(self) -> dict[str, str]:
        """The record as one manifest.csv row (strings; params as JSON)."""
        row = {}
        for name in MANIFEST_COLUMNS:
            value = getattr(self, name)
            if name == "params":
                value = json.dumps(value, sort_keys=True, separators=(",", ":"))
            elif value is None:
                value = ""
            elif isinstance(value, float):
                value = repr(value)
            row[name] = str(value)
        return row

    @classmethod
    def from_manifest_row(cls, row: dict[str, str], *, root: str | Path) -> "ClipRecord":
        """Parse one manifest.csv row (inverse of :meth:`manifest_row`)."""
        missing = [c for c in MANIFEST_COLUMNS if c not in row]
        if missing:
            raise FaultsynthError(f"manifest row lacks columns {missing}: expected {list(MANIFEST_COLUMNS)}")
        try:
            return cls(path=row["path"], split=row["split"], machine=row["machine"],
                       machine_id=row["machine_id"], label=row["label"], fault=row["fault"],
                       severity=float(row["severity"]), source=row["source"],
                       seed=int(row["seed"]) if row["seed"] else None,
                       sample_rate=int(row["sample_rate"]), duration_s=float(row["duration_s"]),
                       channels=int(row["channels"]), params=json.loads(row["params"] or "{}"),
                       sha256=row["sha256"], root=str(root))
        except (ValueError, json.JSONDecodeError) as exc:
            raise FaultsynthError(f"manifest row for {row.get('path')!r} is malformed: {exc}") from None

    def replace(self, **changes: Any) -> "ClipRecord":
        """A copy with ``changes`` applied."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ClipRecord(**values)

    def as_dict(self) -> dict:
        """Plain dict of all fields."""
        return asdict(self)
