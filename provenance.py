"""One place for what records where a result came from: the faultsynth version, file and content hashes,
and turning numpy values into JSON.

Datasets (dataset.json, manifest sha256), model bundles and experiment stages all use these, so a
digest or a version string means the same thing wherever it is written or checked.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=1)
def version() -> str:
    """faultsynth's version: from the source tree's pyproject.toml, else the installed package, else "unknown"."""
    from importlib import metadata

    try:
        import tomllib

        project = Path(__file__).resolve().parent / "pyproject.toml"
        return str(tomllib.loads(project.read_text(encoding="utf-8"))["project"]["version"])
    except (ImportError, OSError, KeyError, ValueError):
        pass
    try:
        return metadata.version("faultsynth")
    except metadata.PackageNotFoundError:
        return "unknown"


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python values, recursively (dict keys as str)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_hash(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (sorted keys, no spaces, unknown types as str)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_hashes(folder: str | Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 of every file under ``folder`` (sorted)."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}
