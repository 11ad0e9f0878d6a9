"""Batched per-clip features equal clip-by-clip extraction; feature-config plumbing around them."""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from errors import FaultsynthError

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000


def _signal(rng: np.random.Generator, n_samples: int, channels: int) -> np.ndarray:
    """Noise + a hum, float32, (n_samples,) or (n_samples, channels)."""
    t = np.arange(n_samples) / SAMPLE_RATE
    y = 0.05 * rng.standard_normal((n_samples, channels)) + 0.1 * np.sin(2 * np.pi * 440.0 * t)[:, None]
    y = y.astype(np.float32)
    return y[:, 0] if channels == 1 else y


@pytest.fixture(scope="module")
def wav_records(tmp_path_factory):
    """Records of plain WAVs: several lengths (some equal, to be batched together), mono and stereo."""
    from datasets.loaders import load_records

    root = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(7)
    plan = [(8000, 1), (12000, 1), (8000, 1), (8000, 2), (20000, 1), (8000, 1), (12000, 2), (8000, 2), (9001, 1)]
    for i, (n, channels) in enumerate(plan):
        sf.write(root / f"clip_{i:02d}.wav", _signal(rng, n, channels), SAMPLE_RATE, subtype="FLOAT")
    records = load_records(root, layout="wav")
    assert [r.channels for r in records] == [c for _, c in plan]
    return records


def _configs():
    from pipeline.features import DCASE_BASELINE, TINYML, VIBRATION

    return {
        "tinyml": TINYML,
        "dcase": replace(DCASE_BASELINE, n_mels=32, n_frames=3),
        "mean": replace(TINYML, channel="mean", center=True),
        "vibration": replace(VIBRATION, sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=512, n_frames=2),
    }


@pytest.mark.parametrize("name", ["tinyml", "dcase", "mean", "vibration"])
@pytest.mark.parametrize("batch_size", [32, 2])
def test_batched_clip_features_equal_per_clip_extract(wav_records, name, batch_size):
    from datasets.audio import load_audio
    from pipeline.clip_features import clip_features
    from pipeline.features import extract

    config = _configs()[name]
    calls = []
    got = clip_features(wav_records, config, advance=lambda: calls.append(1), batch_size=batch_size)
    assert len(got) == len(wav_records) == len(calls)
    for record, vectors in zip(wav_records, got):
        expected = extract(config, load_audio(record, channel=None))
        assert vectors.dtype == np.float32 and vectors.shape == expected.shape
        assert expected.shape[1] == config.dim
        np.testing.assert_array_equal(vectors, expected)


def test_clip_features_cache_and_duplicates(wav_records):
    from pipeline.clip_features import clip_features
    from pipeline.features import TINYML

    records = list(wav_records) + [wav_records[1], wav_records[0]]
    cache: dict = {}
    calls = []
    first = clip_features(records, TINYML, cache=cache, advance=lambda: calls.append(1), batch_size=3)
    assert len(calls) == len(records) and len(cache) == len(wav_records)
    assert first[-2] is first[1] and first[-1] is first[0]  # a repeated clip is extracted once
    again = clip_features(records, TINYML, cache=cache)
    assert all(a is b for a, b in zip(first, again))  # all from the cache


def test_features_of_signals_any_lengths_and_dtypes():
    from pipeline.clip_features import features_of_signals
    from pipeline.features import TINYML, extract

    rng = np.random.default_rng(3)
    base = _signal(rng, 6000, 1)
    signals = [base, base.astype(np.float64), _signal(rng, 7000, 1), _signal(rng, 6000, 2),
               _signal(rng, 6000, 1) * 3]
    got = features_of_signals(signals, TINYML, batch_size=2)
    assert len(got) == len(signals)
    for y, vectors in zip(signals, got):
        np.testing.assert_array_equal(vectors, extract(TINYML, y))
    assert features_of_signals([], TINYML) == []


def test_features_of_signals_raises_for_the_first_bad_signal():
    from pipeline.clip_features import features_of_signals
    from pipeline.features import TINYML

    rng = np.random.default_rng(4)
    good = _signal(rng, 6000, 1)
    nan = good.copy()
    nan[100] = np.nan
    with pytest.raises(FaultsynthError, match="too short"):
        features_of_signals([good, good[:500], nan], TINYML)
    with pytest.raises(FaultsynthError, match="NaN"):
        features_of_signals([good, nan, good[:500]], TINYML)
    with pytest.raises(FaultsynthError, match="channel 1"):
        features_of_signals([good], replace(TINYML, channel=1))
    with pytest.raises(FaultsynthError, match="batch_size"):
        features_of_signals([good], TINYML, batch_size=0)


def test_presets_come_from_pipeline_features():
    import pipeline.training as T
    from pipeline.clip_features import feature_presets, resolve_feature_config
    from pipeline.features import PRESETS

    assert feature_presets() == PRESETS
    assert not hasattr(T, "FEATURE_PRESETS")
    config = resolve_feature_config("vibration", sample_rate=SAMPLE_RATE, overrides={"envelope_fmin_hz": 500.0})
    assert config.sample_rate == SAMPLE_RATE and config.envelope_fmin_hz == 500.0
    with pytest.raises(FaultsynthError, match="unknown feature settings"):
        resolve_feature_config("tinyml", sample_rate=SAMPLE_RATE, overrides={"n_melz": 8})


# ---------------------------------------------------------------- experiment [features]

SPEC = {
    "name": "tiny-bearing",
    "seed": 2,
    "data": {"source": "synthetic", "machine": "bearing", "count": 5, "duration_s": 0.5, "sample_rate": 12000,
             "fixed": {"rpm": 1797, "bearing": "6205"}},
    "faults": {"types": ["outer_race"], "severities": [0.4]},
    "features": {"preset": "vibration", "n_mels": 16, "n_frames": 1, "envelope_fmax_hz": 600.0},
    "detectors": {"kmeans": {"n_clusters": 2}},
}


def test_experiment_accepts_every_feature_config_field():
    from pipeline.experiment import spec_from_dict

    doc = copy.deepcopy(SPEC)
    doc["features"]["envelope_fmin_hz"] = 2000.0
    spec = spec_from_dict(doc)
    assert spec.features == "vibration"
    assert spec.train_config("kmeans").feature_overrides["envelope_fmin_hz"] == 2000.0


@pytest.mark.parametrize("key", ["envelope_fmin", "n_mel", "sample_rate"])
def test_experiment_refuses_unknown_feature_keys(key):
    from pipeline.experiment import spec_from_dict

    doc = copy.deepcopy(SPEC)
    doc["features"][key] = 1
    with pytest.raises(FaultsynthError, match=r"unknown keys in \[features\]"):
        spec_from_dict(doc)


# ---------------------------------------------------------------- module structure

def test_vibration_features_does_not_import_pipeline_features():
    code = ("import sys, pipeline.vibration_features, pipeline.framing; "
            "print(sorted(m for m in sys.modules if m.startswith('pipeline.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)  # a printed list of module names
    assert "pipeline.features" not in loaded and "pipeline.framing" in loaded


def test_features_reexports_the_shared_framing():
    import pipeline.features as F
    import pipeline.framing as framing

    assert F.window is framing.window and F.EPS == framing.EPS
    assert set(F.KINDS) == set(F._EXTRACTORS)
    view = framing.frames(np.arange(10.0)[None, :], 4, 2, False)
    np.testing.assert_array_equal(view[0, :, 0], [0, 2, 4, 6])
