"""`synth`: layout and manifest contract, determinism across workers, resume after a kill, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datasets.manifest import META_DIR, read_manifest
from datasets.records import MANIFEST_COLUMNS
from datasets.synth import JOURNAL, SynthConfig, clip_seed, synthesize
from errors import FaultsynthError
from tests.conftest import PROJECT, kill_synth_mid_run, run_cli

SMALL = dict(machine="bearing", faults=("outer_race", "imbalance"), severities=(0.5, 1.0), count=2,
             duration_s=0.5, sample_rate=12000, seed=7, fixed={"rpm": 1797.0, "bearing": "6205"})


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_manifest_follow_the_contract(tmp_path):
    records = synthesize(SynthConfig(**SMALL), tmp_path / "ds", progress=False)
    root = tmp_path / "ds"
    # 2 train normal + 2 test normal + 2 faults x 2 severities x 2 clips
    assert len(records) == 12
    with open(root / META_DIR / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys())[:len(MANIFEST_COLUMNS)] == MANIFEST_COLUMNS
    for row in rows:
        assert (root / row["path"]).is_file()
        assert hashlib.sha256((root / row["path"]).read_bytes()).hexdigest() == row["sha256"]
        split, name = row["path"].split("/")[1:]
        assert split == row["split"] and name.startswith(row["label"] + "_id_00_")
        params = json.loads(row["params"])
        assert params["rpm"] == 1797.0 and params["fault"] == row["fault"]
        info = sf.info(root / row["path"])
        assert info.samplerate == 12000 and info.channels == 1 and int(row["channels"]) == 1
        assert float(row["duration_s"]) == pytest.approx(0.5)
    train = [r for r in records if r.split == "train"]
    assert {r.label for r in train} == {"normal"}
    anomalies = [r for r in records if r.label == "anomaly"]
    assert {(r.fault, r.severity) for r in anomalies} == {(f, s) for f in SMALL["faults"] for s in (0.5, 1.0)}
    meta = json.loads((root / META_DIR / "dataset.json").read_text())
    assert meta["seed"] == 7 and meta["config"]["faults"] == ["outer_race", "imbalance"]
    assert not (root / META_DIR / JOURNAL).exists()
    assert [r.path for r in read_manifest(root)] == sorted(r.path for r in records)


def test_clip_seeds_are_distinct_and_a_function_of_index():
    seeds = [clip_seed(7, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert clip_seed(7, 5) == seeds[5] and clip_seed(8, 5) != seeds[5]


def test_output_is_byte_identical_for_1_and_2_workers(tmp_path):
    synthesize(SynthConfig(**SMALL), tmp_path / "one", workers=1, progress=False)
    synthesize(SynthConfig(**SMALL), tmp_path / "two", workers=2, progress=False)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")


def test_severity_range_draws_within_range(tmp_path):
    config = SynthConfig(**{**SMALL, "severities": (), "severity_range": (0.2, 0.4), "count": 4})
    records = synthesize(config, tmp_path / "ds", progress=False)
    sev = [r.severity for r in records if r.label == "anomaly"]
    assert len(sev) == 8 and all(0.2 <= s <= 0.4 for s in sev) and len(set(sev)) == 8


def test_interrupted_run_resumes_to_identical_files(tmp_path):
    args = ["synth", "--machine", "bearing", "--faults", "outer_race,inner_race", "--severities", "0.5,1",
            "--count", "12", "--duration", "3", "--sample-rate", "12000", "--seed", "11", "--quiet"]
    reference = tmp_path / "reference"
    assert run_cli(*args, "--out", reference).returncode == 0
    target = tmp_path / "killed"
    kill_synth_mid_run(*args, out=target, clips=3)
    # a torn journal line and a half-written clip, as left by a kill in the middle of a write
    with (target / META_DIR / JOURNAL).open("a") as handle:
        handle.write('{"index": 3, "rec')
    (target / "bearing" / "train" / ".normal_id_00_00000009.wav.x1y2.part").write_bytes(b"RIFF")
    done = run_cli(*args, "--out", target)
    assert done.returncode == 0, done.stderr
    assert tree_digest(target) == tree_digest(reference)
    assert not list(target.rglob("*.part"))


def test_synth_does_not_import_tensorflow(tmp_path):
    code = ("import sys, cli\n"
            f"sys.argv = ['faultsynth', 'synth', '--machine', 'fan', '--count', '1', '--duration', '0.2', "
            f"'--quiet', '--out', {str(tmp_path / 'ds')!r}]\n"
            "try:\n    cli.main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            "assert 'tensorflow' not in sys.modules, 'synth imported tensorflow'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ds" / META_DIR / "manifest.csv").is_file()


def test_config_file_and_list(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('machine = "bearing"\nfaults = ["inner_race"]\nseverities = [1.0]\ncount = 1\n'
                      'duration = 0.25\nsample_rate = 12000\nseed = 3\n[params]\nrpm = [1700, 1800]\n'
                      'bearing = "6203"\n')
    result = run_cli("synth", "--config", config, "--out", tmp_path / "ds", "--quiet")
    assert result.returncode == 0, result.stderr
    records = read_manifest(tmp_path / "ds")
    assert all(1700 <= r.params["rpm"] <= 1800 and r.params["bearing"] == "6203" for r in records)
    listing = run_cli("synth", "--list")
    assert listing.returncode == 0
    for name in ("bearing", "gearbox", "fan", "pump", "valve", "slider", "toycar", "toyconveyor",
                 "outer_race", "tooth_chip", "broken_rotor_bar", "cavitation", "attached_object"):
        assert name in listing.stdout


@pytest.mark.parametrize("extra,expected", [
    (["--machine", "blender"], "unknown machine 'blender'"),
    (["--machine", "bearing", "--faults", "meltdown"], "unknown fault 'meltdown'"),
    (["--machine", "bearing", "--rpm", "-100"], "rpm"),
    (["--machine", "bearing", "--sample-rate", "0"], "sample rate"),
    (["--machine", "bearing", "--faults", "inner_race", "--rpm", "12000", "--sample-rate", "1000"], "Nyquist"),
    (["--machine", "bearing", "--severities", "0.5,1.5"], "severity"),
    (["--machine", "bearing", "--severities", "high"], "severities"),
    (["--machine", "bearing", "--bearing", "9999"], "9999"),
    (["--machine", "bearing", "--count", "0"], "count"),
])
def test_bad_input_gives_clear_error_and_writes_nothing(tmp_path, extra, expected):
    out = tmp_path / "ds"
    result = run_cli("synth", *extra, "--count" if "--count" not in extra else "--seed",
                     "1", "--duration", "0.25", "--out", out, "--quiet")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_broken_config_and_foreign_output_folder_are_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("machine = \n")
    result = run_cli("synth", "--config", config, "--out", tmp_path / "ds")
    assert result.returncode == 2 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr
    config.write_text('machine = "fan"\ncolour = "red"\n')
    result = run_cli("synth", "--config", config, "--out", tmp_path / "ds")
    assert result.returncode == 2 and "unknown keys ['colour']" in result.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = run_cli("synth", "--machine", "fan", "--count", "1", "--duration", "0.2", "--out", other)
    assert result.returncode == 2 and "not a faultsynth dataset" in result.stderr
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_rerun_with_other_config_is_refused(tmp_path):
    synthesize(SynthConfig(**SMALL), tmp_path / "ds", progress=False)
    with pytest.raises(FaultsynthError, match="another configuration"):
        synthesize(SynthConfig(**{**SMALL, "seed": 8}), tmp_path / "ds", progress=False)


def test_written_signal_is_the_rendered_signal(tmp_path):
    from generators.registry import render_clip

    records = synthesize(SynthConfig(**SMALL), tmp_path / "ds", progress=False)
    r = next(r for r in records if r.fault == "outer_race")
    from datasets.synth import clip_parameters

    clip = render_clip("bearing", fault="outer_race", severity=r.severity, duration_s=0.5, sample_rate=12000,
                       seed=r.seed, fixed=clip_parameters(SynthConfig(**SMALL), r.machine_id))
    written, _ = sf.read(r.file, dtype="float64")
    np.testing.assert_allclose(written, clip.signal.astype(np.float32), rtol=0, atol=0)
