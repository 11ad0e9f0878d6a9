"""Shared fixtures: the real data samples and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: small samples of real public datasets (read-only)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the real-data samples must sit beside the project")
    return SHARED_DATA


def run_cli(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python cli.py ARGS`` in a subprocess; return the completed process (text output)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, str(PROJECT / "cli.py"), *map(str, args)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout, env=full_env)


@pytest.fixture
def cli():
    """The :func:`run_cli` function."""
    return run_cli
