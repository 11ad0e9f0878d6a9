"""Output folders of train, evaluate and export: built beside, swapped in whole, never clobbering other data."""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROJECT
from test_training import write_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(root)
    return root


def _train(cli, data, out, *extra):
    return cli("train", "--data", data, "--model", "kmeans", "--features", "tinyml", "--n-clusters", "4",
               "--out", out, "--quiet", *extra)


def test_a_folder_holding_something_else_is_refused_unless_overwrite(cli, toy, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("years of work")
    result = _train(cli, toy, out)
    assert result.returncode == 2 and "holds something else" in result.stderr and "--overwrite" in result.stderr
    assert (out / "chapter1.tex").read_text() == "years of work" and not (out / "bundle.json").exists()
    result = _train(cli, toy, out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (out / "bundle.json").is_file() and not (out / "chapter1.tex").exists()


def test_a_failed_rerun_keeps_the_previous_result(cli, toy, tmp_path):
    from pipeline.training import load_bundle

    out = tmp_path / "model"
    assert _train(cli, toy, out).returncode == 0
    before = (out / "bundle.json").read_text()
    result = cli("train", "--data", toy, "--model", "kmeans", "--features", "nonsense", "--out", out, "--quiet")
    assert result.returncode == 2
    assert (out / "bundle.json").read_text() == before and load_bundle(out).threshold > 0
    assert not list(tmp_path.glob(".model.partial*"))
    # export: a failing re-export (missing data) leaves the previous export.json.
    export = tmp_path / "export"
    assert cli("export", "--model", out, "--out", export).returncode == 0
    saved = (export / "export.json").read_text()
    result = cli("export", "--model", out, "--out", export, "--data", tmp_path / "missing")
    assert result.returncode == 2 and (export / "export.json").read_text() == saved
    # evaluate: a report folder is replaced whole (no stale plot of an earlier run survives).
    report = tmp_path / "report"
    assert cli("evaluate", "--model", out, "--data", toy, "--out", report, "--quiet").returncode == 0
    (report / "old_plot.png").write_bytes(b"stale")
    assert cli("evaluate", "--model", out, "--data", toy, "--out", report, "--quiet").returncode == 0
    assert not (report / "old_plot.png").exists() and json.loads((report / "metrics.json").read_text())["auc"]


def test_a_second_run_on_the_same_folder_stops(cli, toy, tmp_path):
    out = tmp_path / "model"
    with open(tmp_path / ".model.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = _train(cli, toy, out)
    assert result.returncode == 2 and "another run is writing" in result.stderr
    assert _train(cli, toy, out).returncode == 0  # the lock went with its holder


def test_a_killed_run_leaves_the_previous_result_and_the_next_run_cleans_up(cli, toy, tmp_path):
    from pipeline.training import load_bundle

    out = tmp_path / "model"
    assert _train(cli, toy, out).returncode == 0
    before = (out / "bundle.json").read_text()
    slow = subprocess.Popen([sys.executable, str(PROJECT / "cli.py"), "train", "--data", str(toy), "--model",
                             "autoencoder", "--epochs", "400", "--features", "tinyml", "--out", str(out), "--quiet"],
                            cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / ".model.partial"
    deadline = time.time() + 60
    while not staging.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    assert staging.exists()  # killed while building beside the old result
    assert (out / "bundle.json").read_text() == before and load_bundle(out).threshold > 0
    assert _train(cli, toy, out).returncode == 0
    assert not staging.exists()


def _kill_when(proc, path, timeout_s=120.0):
    """SIGKILL ``proc`` as soon as ``path`` exists; True if it was killed while still running."""
    deadline = time.time() + timeout_s
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running


def test_kill_during_export_keeps_the_previous_export(cli, toy, tmp_path):
    model, export = tmp_path / "model", tmp_path / "export"
    assert _train(cli, toy, model).returncode == 0
    assert cli("export", "--model", model, "--out", export).returncode == 0
    saved = (export / "export.json").read_text()
    proc = subprocess.Popen([sys.executable, str(PROJECT / "cli.py"), "export", "--model", str(model), "--out",
                             str(export)], cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, tmp_path / ".export.partial")
    assert (export / "export.json").read_text() == saved  # never a half state
    assert cli("export", "--model", model, "--out", export).returncode == 0
    assert not (tmp_path / ".export.partial").exists() and json.loads((export / "export.json").read_text())
    if not killed:
        pytest.skip("export finished before it could be killed")


def test_kill_during_inject_leaves_nothing_and_the_next_run_cleans_up(cli, tmp_path):
    source = PROJECT.parent / "shared" / "data" / "mimii" / "fan" / "id_00" / "normal" / "00000000.wav"
    args = ["inject", "--input", str(source), "--machine", "fan", "--faults", "unbalance,clogging", "--severities",
            "0.25,0.5,1", "--count", "4", "--duration", "1", "--out", str(tmp_path / "inj")]
    proc = subprocess.Popen([sys.executable, str(PROJECT / "cli.py"), *args], cwd=PROJECT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, tmp_path / ".inj.partial")
    assert not (tmp_path / "inj").exists()  # nothing half-written where the result goes
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".inj.partial").exists() and (tmp_path / "inj" / ".faultsynth" / "manifest.csv").is_file()
    if not killed:
        pytest.skip("inject finished before it could be killed")
