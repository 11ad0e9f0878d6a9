"""Shared fixtures: the real data samples and a CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def kill_synth_mid_run(*args: str, out: Path, clips: int, timeout: float = 120) -> None:
    """Start ``python cli.py synth ARGS --out OUT`` and SIGKILL it once its journal lists ``clips`` clips.

    Fails if the run finished first, or if a manifest was written (it comes last).
    """
    from datasets.manifest import META_DIR
    from datasets.synth import JOURNAL

    proc = subprocess.Popen([sys.executable, str(PROJECT / "cli.py"), *map(str, args), "--out", str(out)],
                            cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / META_DIR / JOURNAL
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= clips:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "synth finished before it could be killed; make the run longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / META_DIR / "manifest.csv").exists()


@pytest.fixture
def cli():
    """The :func:`run_cli` function."""
    return run_cli
