"""Through the CLI as a user runs it: failed starts, absurd numbers, wrong config types, swapped clips and
environment errors each give one `error:` line, exit 2, no traceback, and leave nothing that blocks a retry."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, run_cli
from errors import FaultsynthError
from datasets.manifest import META_DIR
from test_training import write_toy_dataset

FAN = ("--machine", "fan", "--faults", "unbalance", "--severities", "1", "--count", "1", "--duration", "0.2",
       "--quiet")


def refused(result, *words: str) -> bool:
    """One `error:` line naming ``words``, exit status 2, no traceback."""
    lines = result.stderr.strip().splitlines()
    return (result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:")
            and all(w in lines[0] for w in words) and "Traceback" not in result.stderr)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(root, n_train=10, n_normal_test=4, n_per_level=2)
    return root


@pytest.fixture(scope="module")
def kmeans_model(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "km"
    result = run_cli("train", "--data", toy, "--model", "kmeans", "--features", "tinyml", "--n-clusters", "2",
                     "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    return out


# ---- a failed start leaves nothing that blocks the retry --------------------------------------------------------

def test_a_failed_synth_leaves_nothing_and_the_corrected_command_runs(tmp_path):
    out = tmp_path / "ds"
    assert refused(run_cli("synth", *FAN, "--sensor", "nosuch", "--out", out), "nosuch")
    assert not out.exists()
    # A start killed before its first clip (only the config recorded) does not block another configuration.
    (out / META_DIR).mkdir(parents=True)
    (out / META_DIR / "dataset.json").write_text('{"config": "of a run killed at its start"}\n')
    result = run_cli("synth", *FAN, "--out", out)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / META_DIR / "dataset.json").read_text())["config"]["machine"] == "fan"
    # A dataset with clips is never replaced by another configuration.
    assert refused(run_cli("synth", *FAN, "--seed", "5", "--out", out), "another configuration")


def test_inject_removes_the_staging_a_killed_run_left(tmp_path, shared_data):
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    stale = tmp_path / ".inj.partial"
    (stale / "fan" / "train").mkdir(parents=True)
    (stale / "fan" / "train" / "normal_id_00_00000000.wav").write_bytes(b"RIFF" + bytes(1000))
    result = run_cli("inject", "--input", source, "--machine", "fan", "--faults", "unbalance", "--severities", "1",
                     "--count", "2", "--duration", "0.5", "--out", tmp_path / "inj")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and (tmp_path / "inj" / META_DIR / "manifest.csv").is_file()
    # A second run on the same folder is refused (the dataset is never replaced by inject or mix).
    again = run_cli("inject", "--input", source, "--machine", "fan", "--faults", "unbalance", "--severities", "1",
                    "--count", "2", "--duration", "0.5", "--out", tmp_path / "inj")
    assert refused(again, "not empty")


# ---- numbers and config types ------------------------------------------------------------------------------------

def _cpu_seconds(*args) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI; return its result and the CPU seconds it used (immune to other load on the machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_cli(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.parametrize("args, words", [
    (("synth", "--machine", "fan", "--count", "1000000000"), ("count", "1..100000")),
    (("synth", "--machine", "fan", "--duration", "1000000"), ("duration", "3600")),
    (("synth", "--machine", "fan", "--duration", "1e-9"), ("duration", "0.01")),
    (("synth", "--machine", "fan", "--sample-rate", "1000000000"), ("sample rate", "384000")),
    (("synth", "--machine", "fan", "--sample-rate", "0"), ("sample rate",)),
    (("synth", "--machine", "fan", "--seed", "-1"), ("seed",)),
    (("synth", "--machine", "fan", "--workers", "0"), ("workers",)),
    (("synth", "--machine", "fan", "--count", "100000", "--duration", "3600"), ("disk",)),
    (("inject", "--input", "x.wav", "--machine", "fan", "--faults", "unbalance", "--sample-rate", "0"),
     ("sample rate",)),
    (("mix", "--input", "a", "--noise", "b", "--snrs", "1e6"), ("SNR", "-40..100")),
    (("mix", "--input", "a", "--noise", "b", "--snrs", "6,-1e6"), ("SNR",)),
    (("mix", "--real", "a", "--synthetic", "b", "--real-fraction", "0.5", "--machine-id", "bogus"),
     ("machine id", "bogus")),
])
def test_absurd_numbers_are_refused_before_work_starts(tmp_path, args, words):
    # start-up: the CLI and the fan generator's imports, up to refusing an unknown fault
    startup = _cpu_seconds("synth", "--machine", "fan", "--faults", "nosuch", "--out", tmp_path / "n")[1]
    result, seconds = _cpu_seconds(*args, "--out", tmp_path / "out")
    assert refused(result, *words), result.stderr
    assert seconds < startup + 1.0, f"refused after {seconds:.1f} s of CPU (start-up {startup:.1f} s)"
    assert not (tmp_path / "out").exists()


def test_synth_snr_bounds_and_train_seed(tmp_path, toy):
    assert refused(run_cli("synth", *FAN, "--snr-db", "-400", "--out", tmp_path / "d"), "snr_db", "-40..100")
    assert refused(run_cli("train", "--data", toy, "--model", "kmeans", "--seed", "-1", "--out", tmp_path / "m"),
                   "--seed")
    assert not (tmp_path / "d").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("line, words", [
    ("faults = 3", ("faults = 3", "a string or a list of strings")),
    ('duration = "0.5s"', ("duration", "a number of seconds")),
    ("count = true", ("count = True", "a whole number")),
    ('severities = [0.5, "high"]', ("severities", "list of numbers")),
    ("[params]\nsnr_db = -400", ("snr_db", "-40..100")),
])
def test_config_values_are_type_checked(tmp_path, line, words):
    config = tmp_path / "c.toml"
    config.write_text(f'machine = "fan"\n{line}\n')
    assert refused(run_cli("synth", "--config", config, "--out", tmp_path / "d"), *words)
    assert not (tmp_path / "d").exists()


# ---- checksums ---------------------------------------------------------------------------------------------------

def test_a_swapped_clip_is_refused_by_every_reader(tmp_path, kmeans_model):
    data = tmp_path / "ds"
    assert run_cli("synth", *FAN, "--out", data).returncode == 0
    victim = data / "fan" / "test" / "normal_id_00_00000000.wav"
    victim.write_bytes((data / "fan" / "train" / "normal_id_00_00000000.wav").read_bytes())
    name = str(victim)
    assert refused(run_cli("evaluate", "--model", kmeans_model, "--data", data, "--out", tmp_path / "r",
                           "--quiet"), name, "sha256")
    assert refused(run_cli("mix", "--input", data, "--noise", data / "fan" / "train", "--layout", "wav",
                           "--out", tmp_path / "mixed"), name, "sha256")
    assert refused(run_cli("train", "--data", data, "--model", "gaussian", "--out", tmp_path / "m"),
                   name, "sha256")
    info = run_cli("info", data, "--json")
    assert info.returncode == 1 and any(e.startswith(name) for e in json.loads(info.stdout)["errors"])
    assert not any((tmp_path / n).exists() for n in ("r", "mixed", "m"))


# ---- environment errors ------------------------------------------------------------------------------------------

def test_output_paths_that_cannot_be_written(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert refused(run_cli("synth", *FAN, "--out", afile), "is a file")
    assert refused(run_cli("synth", *FAN, "--out", afile / "sub"), "is a file")
    long_name = tmp_path / ("x" * 300)
    assert refused(run_cli("synth", *FAN, "--out", long_name), "longer than the file system allows")
    # A name that is not UTF-8, given as raw bytes on the command line.
    raw = subprocess.run([sys.executable, str(PROJECT / "cli.py"), "synth", *FAN, "--out",
                          os.fsencode(tmp_path) + b"/bad\xff"], cwd=PROJECT, capture_output=True)
    assert raw.returncode == 2 and b"not valid UTF-8" in raw.stderr and b"Traceback" not in raw.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@contextlib.contextmanager
def tmpfs(where: Path, *options: str):
    """A small tmpfs at ``where`` (skips the test where mounting is not allowed)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_folder_and_a_full_disk(tmp_path, toy):
    with tmpfs(tmp_path / "ro", "size=1m", "ro") as ro:
        assert refused(run_cli("synth", *FAN, "--out", ro / "ds"), "cannot write")
        assert refused(run_cli("train", "--data", toy, "--model", "gaussian", "--out", ro / "m", "--quiet"),
                       "cannot write")
    with tmpfs(tmp_path / "small", "size=256k") as small:
        # synth knows its size: refused before work starts
        assert refused(run_cli("synth", *FAN, "--out", small / "ds"), "disk")
        # train does not: the disk fills while it writes, and nothing half-written is left
        (small / "filler").write_bytes(bytes(200 * 1024))
        result = run_cli("train", "--data", toy, "--model", "kmeans", "--features", "dcase", "--out", small / "m",
                         "--quiet")
        assert refused(result, "No space left on device", "free some disk space")
        assert sorted(p.name for p in small.iterdir() if not p.name.endswith(".lock")) == ["filler"]


def test_unreadable_input_is_one_error_line_or_skipped(tmp_path, shared_data):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    (recordings / "a.wav").write_bytes(source.read_bytes())
    os.symlink("/proc/self/mem", recordings / "b.wav")  # opens, then every read fails (EIO)
    args = ("inject", "--input", recordings, "--layout", "wav", "--machine", "fan", "--faults", "unbalance",
            "--severities", "1", "--count", "2", "--duration", "1")
    assert refused(run_cli(*args, "--out", tmp_path / "x"), "b.wav", "cannot read")
    skipped = run_cli(*args, "--skip-bad", "--out", tmp_path / "y")
    assert skipped.returncode == 0, skipped.stderr
    assert "b.wav: cannot read it" in skipped.stdout and not (tmp_path / "x").exists()


def _refingerprint(model: Path, **changes) -> None:
    """Edit bundle.json and make it self-consistent again (as a bundle damaged by a tool, not by a typo)."""
    from pipeline.training import _bundle_fingerprint
    from provenance import tree_hashes

    meta = json.loads((model / "bundle.json").read_text())
    meta.update(changes)
    meta["detector_files"] = tree_hashes(model / "detector")
    meta["fingerprint"] = _bundle_fingerprint(meta)
    (model / "bundle.json").write_text(json.dumps(meta))


def test_a_nan_threshold_and_a_corrupt_model_file(tmp_path, toy, kmeans_model):
    import shutil

    nan_model = tmp_path / "nan"
    shutil.copytree(kmeans_model, nan_model)
    _refingerprint(nan_model, threshold=float("nan"))
    assert refused(run_cli("evaluate", "--model", nan_model, "--data", toy, "--out", tmp_path / "r", "--quiet"),
                   "threshold nan", "retrain")
    ae = tmp_path / "ae"
    result = run_cli("train", "--data", toy, "--model", "autoencoder", "--tinyml", "--features", "tinyml",
                     "--epochs", "1", "--out", ae, "--quiet")
    assert result.returncode == 0, result.stderr
    (ae / "detector" / "model.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    _refingerprint(ae)
    assert refused(run_cli("evaluate", "--model", ae, "--data", toy, "--out", tmp_path / "r", "--quiet"),
                   "cannot load the saved detector")
    assert not (tmp_path / "r").exists()


def test_failed_export_and_firmware_leave_no_partial_files(tmp_path, toy, kmeans_model):
    import shutil

    assert cli_fails(run_cli("export", "--model", kmeans_model, "--data", tmp_path / "missing",
                             "--out", tmp_path / "export"))
    export = tmp_path / "export"
    result = run_cli("export", "--model", kmeans_model, "--out", export)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "broken_export"
    shutil.copytree(export, broken)
    with open(broken / "c" / "fs_params.c", "a") as handle:
        handle.write("\n#error the C sources were damaged\n")
    result = run_cli("firmware", "--export", broken, "--clips", toy, "--out", tmp_path / "fw", "--max-clips", "2")
    assert cli_fails(result)  # the compiler's own lines may follow the error line
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["broken_export", "export"]
    # A failed rerun into a good firmware folder leaves it as it was (built beside, swapped in whole).
    good = run_cli("firmware", "--export", export, "--clips", toy, "--out", tmp_path / "fw", "--max-clips", "1")
    assert good.returncode == 0, good.stderr
    before = {p.relative_to(tmp_path / "fw"): p.stat().st_mtime_ns for p in (tmp_path / "fw").rglob("*")}
    assert cli_fails(run_cli("firmware", "--export", broken, "--clips", toy, "--out", tmp_path / "fw",
                             "--max-clips", "1"))
    after = {p.relative_to(tmp_path / "fw"): p.stat().st_mtime_ns for p in (tmp_path / "fw").rglob("*")}
    assert after == before and not (tmp_path / ".fw.partial").exists()


def cli_fails(result) -> bool:
    """Exit status 2 with an `error:` line and no traceback."""
    return result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_experiment_and_tune_refuse_a_second_run_and_a_foreign_folder(tmp_path):
    from datasets.output_folder import folder_lock
    from pipeline.experiment import load_spec, run_experiment
    from pipeline.tune import TuneConfig, run_tune

    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "fan_experiment.toml")
    out = tmp_path / "run"
    with folder_lock(out):  # another run holds the folder
        with pytest.raises(FaultsynthError, match="another run is writing"):
            run_experiment(spec, out, progress=False)
        with pytest.raises(FaultsynthError, match="another run is writing"):
            run_tune(["nothing.wav"], TuneConfig(machine="fan"), out, progress=False)
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("a user's file\n")
    with pytest.raises(FaultsynthError, match="holds something else"):
        run_experiment(spec, out, progress=False)
    with pytest.raises(FaultsynthError, match="holds something else"):
        run_tune(["nothing.wav"], TuneConfig(machine="fan"), out, progress=False)
    assert (out / "notes.txt").read_text() == "a user's file\n"


def test_tune_and_firmware_numbers_are_bounded(tmp_path):
    from pipeline.tune import TuneConfig

    for bad in ({"folds": 10**6}, {"segment_s": 1e9}, {"seed": -1}, {"ae_epochs": 10**9}):
        with pytest.raises(FaultsynthError, match="must be a"):
            TuneConfig(machine="fan", **bad)
    result = run_cli("firmware", "--export", str(tmp_path), "--clips", str(tmp_path), "--out", str(tmp_path / "f"),
                     "--max-clips", "0")
    assert result.returncode != 0 and "--max-clips must be a whole number in 1..10000" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "f").exists()

