"""tune: candidates scored by faults injected into normal recordings (pipeline/tune.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from errors import FaultsynthError
from pipeline.tune import TuneConfig, load_segments, run_tune, search_space, segment_vectors

RATE = 16000


def write_noise_recordings(folder: Path, *, n: int = 4, seconds: float = 6.0, seed: int = 0) -> Path:
    """``n`` recordings of white noise (a machine whose normal sound has no tones)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"rec{i}.wav", (0.05 * rng.normal(size=int(RATE * seconds))).astype(np.float32), RATE,
                 subtype="FLOAT")
    return folder


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """tune on white-noise recordings with a subtle fan unbalance (a 1x tone below 100 Hz, nothing else)."""
    root = tmp_path_factory.mktemp("tune")
    normals = write_noise_recordings(root / "normals")
    config = TuneConfig(machine="fan", faults=("unbalance",), severities=(0.05, 0.1, 0.2), segment_s=1.0,
                        folds=3, detectors=("kmeans",), target_fpr=0.05)
    return root, normals, config, run_tune([normals], config, root / "out", workers=2, progress=False)


def test_tune_finds_the_band_that_carries_the_fault(tuned):
    """Only the lowest band holds the fault (a 1x tone below 100 Hz): a low band wins, the high band sees nothing."""
    _, _, _, result = tuned
    winner = result.winner.model.features
    assert winner.fmin_hz == 0.0 and winner.fmax_hz is not None and winner.fmax_hz <= 1000.0
    full_band = [r for r in result.ranking if r.model.features.fmax_hz is None and r.model.features.fmin_hz == 0]
    assert result.winner.mean_auc > max(r.mean_auc for r in full_band)
    # Bands that exclude the fault see nothing: chance-level AUC, no detected cell.
    high = [r for r in result.ranking if r.model.features.fmin_hz >= 1000.0]
    assert high and all(r.detected_cells == 0 and r.mean_auc < 0.7 for r in high)
    assert result.winner.detected_cells >= 2 and result.winner.mean_auc > 0.85


def test_tune_writes_a_usable_model_and_its_reports(tuned):
    from pipeline.training import load_bundle

    root, normals, config, result = tuned
    out = root / "out"
    for name in ("leaderboard.csv", "leaderboard.png", "coverage.png", "predicted_coverage.json", "tune.json",
                 "report.md"):
        assert (out / name).is_file(), name
    bundle = load_bundle(out / "model")
    cal = bundle.calibration
    assert bundle.threshold == cal["threshold"] == result.winner.calibration.threshold
    assert cal["normal_clips"] == 24 and bundle.meta["train_summary"]["clip_duration_s"] == 1.0
    assert len(bundle.train_spans) == 24
    rows = (out / "leaderboard.csv").read_text().splitlines()
    assert len(rows) == 1 + len(result.ranking) and rows[1].startswith("1,")
    summary = json.loads((out / "tune.json").read_text())
    assert summary["winner"]["name"] == result.winner.name
    assert "unbalance" in (out / "report.md").read_text()


def test_tune_resumes_from_its_cross_validated_scores(tuned, tmp_path):
    root, normals, config, first = tuned
    again = run_tune([normals], config, root / "out", workers=1, progress=False)
    assert again.reused == len({r.model.key for r in first.ranking})
    assert again.winner.name == first.winner.name and again.winner.mean_auc == first.winner.mean_auc


def test_segments_split_by_recording_never_overlap(tmp_path):
    """Held-out segments of a fold come from recordings no fitted segment came from."""
    from pipeline.calibration import fold_indices

    normals = write_noise_recordings(tmp_path / "n", n=5, seconds=3.0)
    config = TuneConfig(machine="fan", segment_s=1.0, folds=5)
    rate, segments, groups, spans, files, _ = load_segments([normals], config)
    assert rate == RATE and segments.shape == (15, RATE) and len(files) == 5
    for held in fold_indices(groups, folds=5, seed=0):
        fitted = np.setdiff1d(np.arange(len(spans)), held)
        for h in held:
            for f in fitted:
                a, b = spans[h], spans[f]
                assert a[0] != b[0] or a[2] <= b[1] or b[2] <= a[1]
                assert a[0] != b[0]  # five recordings, five folds: whole recordings held out


def test_shared_spectrograms_give_the_extracted_vectors(tmp_path):
    """Candidates share mel spectrograms; the vectors equal pipeline.features.extract_batch's."""
    from pipeline import features as F

    config = TuneConfig(machine="fan", detectors=("kmeans", "gaussian"))
    models = search_space(config, RATE)
    signals = np.random.default_rng(3).normal(size=(3, RATE)).astype(np.float32)
    cache: dict = {}
    kinds = set()
    for model in models:
        kinds.add(model.features.kind)
        assert np.array_equal(segment_vectors(model.features, signals, cache, "x"),
                              F.extract_batch(model.features, signals))
    assert kinds == {"log_mel", "log_mel_stats"}
    assert len(cache) < len(models) / 2


def test_search_space_is_declared_and_large_enough():
    config = TuneConfig(machine="fan")
    models = search_space(config, RATE)
    candidates = sum(len(m.poolings) for m in models)
    assert candidates >= 24
    assert {m.detector for m in models} == {"kmeans", "gaussian", "autoencoder"}
    assert len({m.key for m in models}) == len(models)
    vibration = search_space(TuneConfig(machine="bearing"), 12000)
    assert {m.features.kind for m in vibration} == {"vibration"}


def test_clip_statistics_see_a_tone_that_drops_out():
    """A band that loses its tone moves the clip statistics down: a two-sided detector sees it."""
    from pipeline import features as F

    t = np.arange(RATE) / RATE
    rng = np.random.default_rng(0)
    cfg = F.FeatureConfig(kind="log_mel_stats", sample_rate=RATE, n_mels=16, n_frames=1, fmax_hz=1000.0,
                          center=False)
    with_tone = 0.01 * rng.normal(size=RATE) + 0.1 * np.sin(2 * np.pi * 300 * t)
    without = 0.01 * rng.normal(size=RATE)
    a, b = F.extract(cfg, with_tone), F.extract(cfg, without)
    assert a.shape == b.shape == (1, 64)
    band = int(np.argmax(a[0, 16:32] - b[0, 16:32]))  # median level: the tone's band drops by > 10 dB
    assert a[0, 16 + band] - b[0, 16 + band] > 10.0


def test_bad_input(tmp_path, cli):
    with pytest.raises(FaultsynthError, match="pump, valve|expected one of"):
        TuneConfig(machine="drill")
    with pytest.raises(FaultsynthError, match="unknown fault"):
        TuneConfig(machine="fan", faults=("cracked_blade",))
    short = write_noise_recordings(tmp_path / "short", n=1, seconds=3.0)
    result = cli("tune", "--data", short, "--machine", "fan", "--out", tmp_path / "o", "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tune needs at least 10" in result.stderr and "20 s of normal audio" in result.stderr
    assert not (tmp_path / "o" / "model").exists()
    result = cli("tune", "--data", tmp_path / "none*.wav", "--machine", "fan", "--out", tmp_path / "o2")
    assert result.returncode == 2 and "matches no file" in result.stderr
    result = cli("tune", "--data", short, "--machine", "fan", "--out", tmp_path / "o3", "--budget", "flash=lots")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.txt").write_text("not a tune run")
    result = cli("tune", "--data", short, "--machine", "fan", "--out", tmp_path / "taken")
    assert result.returncode == 2 and "holds something else" in result.stderr


def test_tune_spec_file(tmp_path, cli):
    """A TOML spec with the command's options; data paths relative to it; flags override it."""
    from pipeline.tune_command import load_tune_spec

    write_noise_recordings(tmp_path / "recs", n=3, seconds=4.0)
    spec = tmp_path / "spec.toml"
    spec.write_text('data = ["recs/*.wav"]\nmachine = "fan"\nfaults = ["unbalance"]\nseverities = [0.5, 1.0]\n'
                    'segment = 1.0\nfolds = 3\ndetectors = "kmeans"\ntarget_fpr = 0.05\n')
    doc = load_tune_spec(spec)
    assert doc["data"] == [str(tmp_path / "recs/*.wav")] and doc["severities"] == "0.5,1.0"
    result = cli("tune", "--config", spec, "--out", tmp_path / "out", "--quiet", "--workers", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "tune.json").read_text())
    assert summary["config"]["faults"] == ["unbalance"] and summary["segments"] == 12
    bad = tmp_path / "bad.toml"
    bad.write_text('machine = "fan"\nsegmnet = 1.0\n')
    result = cli("tune", "--config", bad, "--out", tmp_path / "o2")
    assert result.returncode == 2 and "unknown keys ['segmnet']" in result.stderr
