"""The files of an export folder: their names, the format version and reading export.json."""

from __future__ import annotations

import json
from pathlib import Path

from errors import FaultsynthError

EXPORT_NAME = "export.json"
TABLES_NAME = "device_tables.npz"
FLOAT_NAME = "model_float.tflite"
INT8_NAME = "model_int8.tflite"
FORMAT_VERSION = 1


def read_export_json(export_dir: str | Path) -> dict:
    """export.json of an export folder (FaultsynthError when missing or of another version)."""
    path = Path(export_dir) / EXPORT_NAME
    if not path.is_file():
        raise FaultsynthError(f"{export_dir}: no {EXPORT_NAME}: expected a folder written by `export`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FaultsynthError(f"{path} is not valid JSON ({exc}): export again") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise FaultsynthError(f"{path}: format version {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    return meta
