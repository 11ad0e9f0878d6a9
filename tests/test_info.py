"""datasets.info and ``cli.py info``: summaries of real and written datasets, and the problems they find."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datasets.info import dataset_info
from datasets.loaders import load_records
from provenance import sha256_file
from datasets.manifest import write_manifest
from tests.conftest import run_cli


def _dataset(root: Path, n: int = 3, rate: int = 16000) -> Path:
    """A small faultsynth-style dataset with a manifest and checksums."""
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / "pump" / "train" / f"normal_id_00_{i:08d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, 0.1 * rng.standard_normal(rate // 10), rate, subtype="FLOAT")
    records = [r.replace(source="synthetic", seed=i, sha256=sha256_file(r.file))
               for i, r in enumerate(load_records(root, layout="dcase2020"))]
    write_manifest(root, records)
    return root


def test_summary_of_real_samples(shared_data):
    summary = dataset_info(shared_data / "cwru")
    assert summary["clips"] == 13 and summary["labels"] == {"normal": 1, "anomaly": 12}
    assert summary["sample_rates"] == [12000, 48000] and summary["channels"] == [2, 3]
    assert summary["faults"] == {"ball": 4, "inner_race": 4, "none": 1, "outer_race": 4}
    assert summary["errors"] == [] and summary["layout"] == "cwru"
    mimii = dataset_info(shared_data / "mimii", read_audio=False)
    assert mimii["machines"] == {"fan": {"clips": 20, "labels": {"anomaly": 10, "normal": 10}, "ids": {"id_00": 20}}}
    assert mimii["duration_s"]["total"] == pytest.approx(200.0)


def test_finds_missing_changed_and_disagreeing_files(tmp_path):
    root = _dataset(tmp_path / "ds")
    assert dataset_info(root)["errors"] == []
    files = sorted((root / "pump" / "train").glob("*.wav"))
    files[0].unlink()
    x, rate = sf.read(files[1])
    sf.write(files[1], x * 0.5, rate, subtype="FLOAT")  # same header, different content
    sf.write(files[2], x, 8000, subtype="FLOAT")  # different rate
    errors = dataset_info(root)["errors"]
    assert len(errors) == 3
    assert any("00000000.wav: listed but missing" in e for e in errors)
    assert any("00000001.wav: sha256 differs" in e for e in errors)
    assert any("00000002.wav: sample rate 8000 Hz, but the manifest says 16000 Hz" in e for e in errors)


def test_unreadable_audio_is_an_error_or_skipped(tmp_path):
    root = tmp_path / "mimii"
    good = root / "fan" / "id_00" / "normal" / "00000000.wav"
    good.parent.mkdir(parents=True)
    sf.write(good, 0.1 * np.ones((1600, 2)), 16000)
    (good.parent / "00000001.wav").write_bytes(good.read_bytes()[:1000])
    nan = np.full((1600, 2), 0.1)
    nan[5, 1] = np.inf
    sf.write(good.parent / "00000002.wav", nan, 16000, subtype="FLOAT")
    summary = dataset_info(root)
    assert summary["clips"] == 2 and len(summary["errors"]) == 2
    assert any("00000001.wav: truncated" in e for e in summary["errors"])
    assert any("00000002.wav: contains NaN or Inf" in e for e in summary["errors"])
    skipped = dataset_info(root, skip_bad=True)
    assert skipped["errors"] == [] and len(skipped["skipped"]) == 2


def test_cli_json_and_exit_codes(tmp_path, shared_data):
    done = run_cli("info", shared_data / "dcase2020" / "dev_data", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["clips"] == 21 and summary["labels"] == {"normal": 20, "anomaly": 1}
    assert summary["sample_rates"] == [16000] and summary["channels"] == [1] and summary["errors"] == []
    root = _dataset(tmp_path / "ds")
    next((root / "pump" / "train").glob("*.wav")).unlink()
    broken = run_cli("info", root)
    assert broken.returncode == 1 and "listed but missing" in broken.stdout and "1 error(s)" in broken.stderr
    (tmp_path / "empty").mkdir()
    empty = run_cli("info", tmp_path / "empty")
    assert empty.returncode == 2 and "no .wav or .mat files" in empty.stderr
    assert "Traceback" not in empty.stderr + broken.stderr
    unknown = run_cli("info", shared_data / "mimii", "--layout", "urbansound")
    assert unknown.returncode == 2 and "expected auto or one of" in unknown.stderr
