"""Training bundles: threshold at a target FPR, bundle contents, refusal of stale or mismatched input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datasets.manifest import write_manifest
from datasets.records import ClipRecord
from errors import FaultsynthError

WHINE_HZ = 3000.0


def tone_clip(rng: np.random.Generator, *, sample_rate: int, duration_s: float, whine: float) -> np.ndarray:
    """A toy machine: white noise + a 500 Hz hum; a fault adds a 3 kHz whine of amplitude ``whine``."""
    t = np.arange(int(sample_rate * duration_s)) / sample_rate
    hum = 0.1 * np.sin(2 * np.pi * 500.0 * (1 + 0.01 * rng.standard_normal()) * t + rng.uniform(0, 2 * np.pi))
    fault = whine * np.sin(2 * np.pi * WHINE_HZ * t + rng.uniform(0, 2 * np.pi))
    return (0.05 * rng.standard_normal(t.size) + hum + fault).astype(np.float32)


def write_toy_dataset(root: Path, *, n_train: int = 10, n_normal_test: int = 8, n_per_level: int = 6,
                      levels: dict | None = None, sample_rate: int = 16000, duration_s: float = 0.5,
                      seed: int = 0, machine_id: str = "id_00", source: str = "synthetic") -> list[ClipRecord]:
    """Write a small faultsynth-layout dataset of :func:`tone_clip` clips with its manifest.

    ``levels`` maps fault name -> {severity: whine amplitude}; a fault whose
    amplitudes are all 0 is indistinguishable from normal ("placebo").
    """
    levels = {"whine": {0.1: 0.002, 0.5: 0.05, 1.0: 0.2}} if levels is None else levels
    rng = np.random.default_rng(seed)
    plan = [("train", "normal", "none", 0.0, 0.0)] * n_train + [("test", "normal", "none", 0.0, 0.0)] * n_normal_test
    for fault, amps in levels.items():
        for severity, amp in amps.items():
            plan += [("test", "anomaly", fault, severity, amp)] * n_per_level
    records, counters = [], {}
    for split, label, fault, severity, amp in plan:
        n = counters.setdefault((split, label), 0)
        counters[(split, label)] = n + 1
        rel = f"toy/{split}/{label}_{machine_id}_{n:08d}.wav"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        clip_seed = int(rng.integers(2**31))
        y = tone_clip(np.random.default_rng(clip_seed), sample_rate=sample_rate, duration_s=duration_s, whine=amp)
        sf.write(root / rel, y, sample_rate, subtype="FLOAT")
        records.append(ClipRecord(path=rel, split=split, machine="toy", machine_id=machine_id, label=label,
                                  fault=fault, severity=float(severity), source=source, seed=clip_seed,
                                  sample_rate=sample_rate, duration_s=duration_s, channels=1,
                                  params={"whine_amplitude": amp},
                                  sha256=hashlib.sha256((root / rel).read_bytes()).hexdigest(), root=str(root)))
    write_manifest(root, records)
    return records


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(root)
    return root


@pytest.fixture(scope="module")
def kmeans_model(toy_data, tmp_path_factory) -> Path:
    from pipeline.training import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "kmeans"
    train(TrainConfig(detector="kmeans", features="tinyml", seed=1, detector_params={"n_clusters": 4}),
          data=toy_data, out_dir=out)
    return out


def test_clip_groups_keep_recordings_together_when_there_are_enough():
    from datasets.records import ClipRecord
    from pipeline.training import clip_groups

    def clip(i, source):
        params = {} if source is None else {"source_path": source, "segment_start_s": i, "segment_end_s": i + 1}
        return ClipRecord(path=f"c{i}.wav", split="train", machine="fan", machine_id="id_00", label="normal",
                          fault="none", severity=0.0, source="mixed", seed=None, sample_rate=16000,
                          duration_s=1.0, channels=1, params=params, root="/data")

    many = [clip(i, f"/rec/{i % 6}.wav") for i in range(12)]
    groups = clip_groups(many, folds=5)
    assert len(set(groups)) == 6 and all(groups[i] == groups[i + 6] for i in range(6))
    few = [clip(i, f"/rec/{i % 2}.wav") for i in range(12)]
    assert list(clip_groups(few, folds=5)) == list(range(12))  # each segment its own group
    assert len(set(clip_groups([clip(i, None) for i in range(4)], folds=5))) == 4


def test_bundle_contents_and_threshold_meets_target(kmeans_model, toy_data):
    from pipeline.training import load_bundle

    meta = json.loads((kmeans_model / "bundle.json").read_text())
    assert meta["train_summary"]["clips"] == 10 and len(meta["train_summary"]["spans"]) == 10
    assert meta["train_summary"]["sources"] == {"real": 0, "synthetic": 10, "mixed": 0}
    rep = np.load(kmeans_model / "representative.npy")
    assert rep.dtype == np.float32 and rep.shape[1] == meta["feature_dim"]
    assert rep.shape[0] == min(2000, meta["train_summary"]["vectors"])
    bundle = load_bundle(kmeans_model)
    cal = bundle.calibration
    # 10 out-of-fold scores cannot resolve 1 % empirically: the gamma tail sets it, with the interval of 10 clips.
    assert cal["normal_clips"] == 10 and cal["method"] == "gamma tail" and cal["target_fpr"] == 0.01
    assert cal["threshold"] == bundle.threshold
    from pipeline.stats import clopper_pearson

    assert cal["fpr_ci"] == list(clopper_pearson(cal["false_positives"], 10))
    # The threshold lies above the bulk of the (refitted model's) training scores.
    from datasets.loaders import load_records

    records = load_records(toy_data)
    train_normals = [r for r in records if r.split == "train"]
    scores = bundle.score_clips(train_normals)
    assert np.all(np.isfinite(scores))
    assert np.mean(scores > bundle.threshold) <= 0.2


def test_out_of_fold_scores_exceed_in_sample_scores(toy_data):
    """A clip scored by a model that never saw it looks less normal than by one fitted on it."""
    from datasets.loaders import load_records
    from pipeline.clip_features import clip_features
    from pipeline.features import TINYML
    from pipeline.training import TrainConfig, _make, out_of_fold_scores
    from pipeline.detectors import clip_scores

    clips = clip_features([r for r in load_records(toy_data) if r.split == "train"], TINYML)
    config = TrainConfig(detector="kmeans", seed=1, detector_params={"n_clusters": 4})
    oof = out_of_fold_scores(config, clips, np.arange(len(clips)))
    in_sample = -clip_scores(_make(config).fit(np.concatenate(clips)), clips)
    assert np.all(np.isfinite(oof)) and oof.mean() > in_sample.mean()


def test_loud_fault_scores_above_threshold(kmeans_model, toy_data):
    from datasets.loaders import load_records
    from pipeline.training import load_bundle

    bundle = load_bundle(kmeans_model)
    records = load_records(toy_data)
    loud = [r for r in records if r.fault == "whine" and r.severity == 1.0]
    normal = [r for r in records if r.split == "test" and r.label == "normal"]
    loud_scores, normal_scores = bundle.score_clips(loud), bundle.score_clips(normal)
    assert loud_scores.min() > normal_scores.max()
    assert np.all(bundle.is_anomalous(loud_scores))


def test_refuses_other_sample_rate(kmeans_model, tmp_path):
    from datasets.loaders import load_records
    from pipeline.training import load_bundle

    write_toy_dataset(tmp_path, n_train=2, n_normal_test=2, n_per_level=1, sample_rate=8000)
    with pytest.raises(FaultsynthError, match="16000 Hz"):
        load_bundle(kmeans_model).score_clips(load_records(tmp_path))


def test_refuses_edited_or_stale_bundle(kmeans_model, tmp_path):
    import shutil

    from pipeline.training import load_bundle

    copy = tmp_path / "m"
    shutil.copytree(kmeans_model, copy)
    meta = json.loads((copy / "bundle.json").read_text())
    meta["feature_config"]["n_mels"] = 64  # feature config no longer the one the detector was trained on
    (copy / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(FaultsynthError, match="edited"):
        load_bundle(copy)
    shutil.rmtree(copy)
    shutil.copytree(kmeans_model, copy)
    victim = sorted(p for p in (copy / "detector").rglob("*") if p.is_file())[0]
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(FaultsynthError, match="stale"):
        load_bundle(copy)
    (copy / "bundle.json").unlink()
    with pytest.raises(FaultsynthError, match="bundle.json"):
        load_bundle(copy)


def test_train_count_without_train_split(tmp_path):
    """A folder whose clips are all in the test split (like MIMII): train on a chosen subset."""
    from datasets.loaders import load_records
    from pipeline.training import TrainConfig, select_training

    records = [r.replace(split="test") for r in write_toy_dataset(tmp_path, n_train=4, n_normal_test=4,
                                                                   n_per_level=1)]
    chosen = select_training(records, TrainConfig(detector="kmeans", train_count=5, seed=0))
    assert len(chosen) == 5 and all(r.label == "normal" for r in chosen)
    with pytest.raises(FaultsynthError, match="exceeds"):
        select_training(records, TrainConfig(detector="kmeans", train_count=9))
    with pytest.raises(FaultsynthError, match="train ids"):
        select_training(records, TrainConfig(detector="kmeans", train_ids=("id_07",)))
    assert load_records(tmp_path)  # the dataset itself is readable


def test_train_config_validation():
    from pipeline.training import TrainConfig

    for bad in ({"detector": "svm"}, {"detector": "kmeans", "target_fpr": 0.0},
                {"detector": "kmeans", "folds": 1}, {"detector": "kmeans", "train_count": 3}):
        with pytest.raises(FaultsynthError):
            TrainConfig(**bad)


def test_cli_train_bad_input(cli, toy_data, tmp_path):
    result = cli("train", "--data", toy_data, "--model", "svm", "--out", tmp_path / "m")
    assert result.returncode == 2 and "unknown detector" in result.stderr and "Traceback" not in result.stderr
    result = cli("train", "--data", tmp_path / "missing", "--model", "kmeans", "--out", tmp_path / "m")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = cli("train", "--data", toy_data, "--model", "kmeans", "--out", tmp_path / "m",
                 "--features", "nonsense")
    assert result.returncode == 2 and "unknown features" in result.stderr and "Traceback" not in result.stderr


def test_mixed_real_and_synthetic_training_set(tmp_path):
    """A manifest mixing sources trains through the same path; the summary counts each source."""
    from datasets.loaders import load_records
    from pipeline.training import TrainConfig, train

    records = write_toy_dataset(tmp_path / "mixed", n_train=6, n_normal_test=2, n_per_level=1)
    relabelled = [r.replace(source="real") if r.split == "train" and i % 2 == 0 else r
                  for i, r in enumerate(records)]
    write_manifest(tmp_path / "mixed", relabelled)
    bundle = train(TrainConfig(detector="gaussian", features="tinyml", target_fpr=0.05), data=tmp_path / "mixed",
                   out_dir=tmp_path / "model")
    sources = bundle.meta["train_summary"]["sources"]
    assert sources == {"real": 3, "synthetic": 3, "mixed": 0}
    assert {r.source for r in load_records(tmp_path / "mixed") if r.split == "train"} == {"real", "synthetic"}
