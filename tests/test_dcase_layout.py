"""A written dataset is read as is by the DCASE 2020 Task 2 baseline's folder and file listing rules.

The baseline (00_train.py / 01_test.py with ``-d``) takes every entry ``glob("<data>/*")`` finds as a
machine type, trains on ``<machine>/train/*.wav``, finds the machine ids in the names of
``<machine>/test/*.wav`` (``id_[0-9][0-9]``) and scores ``normal_<id>*.wav`` (label 0) and
``anomaly_<id>*.wav`` (label 1) of each. The rules are restated here, not imported.
"""

from __future__ import annotations

import glob
import os
import re
import shutil

from datasets.loaders import load_records
from datasets.manifest import META_DIR, read_manifest


def baseline_listing(data: str) -> dict:
    """What the DCASE 2020 baseline would read from ``data``: {machine: {"train": [...], "test": {id: [...]}}}."""
    listing = {}
    for machine_dir in sorted(glob.glob(os.path.abspath(f"{data}/*"))):
        machine = os.path.split(machine_dir)[1]
        train = sorted(glob.glob(f"{machine_dir}/train/*.wav"))
        assert train, f"the baseline finds no training file in {machine_dir} and stops"
        ids = sorted({found for name in glob.glob(f"{machine_dir}/test/*.wav")
                      for found in re.findall("id_[0-9][0-9]", name)})
        test = {}
        for machine_id in ids:
            normal = sorted(glob.glob(f"{machine_dir}/test/normal_{machine_id}*.wav"))
            anomaly = sorted(glob.glob(f"{machine_dir}/test/anomaly_{machine_id}*.wav"))
            test[machine_id] = [(f, 0) for f in normal] + [(f, 1) for f in anomaly]
        listing[machine] = {"train": train, "test": test}
    return listing


def test_synth_output_is_read_by_the_dcase_2020_baseline_rules(cli, tmp_path):
    root = tmp_path / "dev_data"
    result = cli("synth", "--machine", "fan", "--faults", "unbalance,clogging", "--severities", "1",
                 "--count", "2", "--ids", "2", "--duration", "0.2", "--seed", "3", "--out", root, "--quiet")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in root.iterdir()) == [META_DIR, "fan"]  # the dataset's files are hidden
    listing = baseline_listing(str(root))
    assert list(listing) == ["fan"]
    records = read_manifest(root)
    assert listing["fan"]["train"] == sorted(str(r.file.absolute()) for r in records if r.split == "train")
    assert sorted(listing["fan"]["test"]) == ["id_00", "id_02"]
    for machine_id, files in listing["fan"]["test"].items():
        expected = sorted((str(r.file.absolute()), int(r.label == "anomaly")) for r in records
                          if r.split == "test" and r.machine_id == machine_id)
        assert sorted(files) == expected and {label for _, label in files} == {0, 1}
        assert len(files) == 2 + 2 * 2  # normals and one severity of two faults, two clips each


def test_inject_and_mix_outputs_hold_machine_folders_only(cli, tmp_path, shared_data):
    source = shared_data / "dcase2020" / "dev_data" / "unknown" / "train" / "normal_id_00_00000000.wav"
    injected = tmp_path / "injected"
    result = cli("inject", "--input", source, "--machine", "fan", "--faults", "unbalance", "--severities", "1",
                 "--count", "2", "--duration", "0.5", "--out", injected)
    assert result.returncode == 0, result.stderr
    noisy = tmp_path / "noisy"
    result = cli("mix", "--input", injected, "--noise", source.parent, "--snrs", "0", "--out", noisy)
    assert result.returncode == 0, result.stderr
    for root in (injected, noisy):
        assert sorted(p.name for p in root.iterdir()) == [META_DIR, "fan"]
        listing = baseline_listing(str(root))
        assert list(listing) == ["fan"] and len(listing["fan"]["train"]) == 2
        assert sum(len(f) for f in listing["fan"]["test"].values()) == len(read_manifest(root)) - 2


def test_a_dataset_of_the_older_layout_is_still_read(cli, tmp_path):
    root = tmp_path / "old"
    assert cli("synth", "--machine", "fan", "--count", "1", "--duration", "0.2", "--faults", "unbalance",
               "--severities", "1", "--out", root, "--quiet").returncode == 0
    for entry in (root / META_DIR).iterdir():
        shutil.move(entry, root / entry.name)
    (root / META_DIR).rmdir()
    records = load_records(root)
    assert len(records) == 3 and {r.source for r in records} == {"synthetic"}
    result = cli("info", root, "--json")
    assert result.returncode == 0 and '"layout": "faultsynth"' in result.stdout
