"""Device export: int8 TFLite, its integer semantics, TFLM arena, C sources, export.json."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from errors import FaultsynthError
from pipeline import device_scorer as D
from pipeline import export as E
from pipeline import int8_graph as G
from pipeline import interpreters as I
from pipeline.c_sources import mel_sparse, op_resolver_header

DCASE2023 = ("dcase2023", "dev_data", "raw")


def _train(data: Path, out: Path, detector: str, params: dict) -> Path:
    from pipeline.training import TrainConfig, train

    config = TrainConfig(detector=detector, features="tinyml", seed=1, target_fpr=0.1,
                         detector_params=params)
    train(config, data=data, out_dir=out)
    return out


#: Exports built in this session, shared with tests/test_firmware.py (which imports the fixtures:
#: pytest would otherwise build them again for that module).
_BUILT: dict[str, tuple] = {}


def _built(kind: str, tmp_path_factory, shared_data) -> tuple:
    if kind not in _BUILT:
        root = tmp_path_factory.mktemp(kind)
        params = {"tinyml": True, "epochs": 8} if kind == "autoencoder" else {"n_clusters": 4}
        model = _train(shared_data.joinpath(*DCASE2023), root / "model", kind, params)
        _BUILT[kind] = (model, root / "export", E.export_bundle(model_dir=model, out_dir=root / "export"))
    return _BUILT[kind]


@pytest.fixture(scope="session")
def ae_export(tmp_path_factory, shared_data):
    """(model_dir, export_dir, export.json) of a TinyML autoencoder trained on real DCASE 2023 clips."""
    return _built("autoencoder", tmp_path_factory, shared_data)


@pytest.fixture(scope="session")
def kmeans_export(tmp_path_factory, shared_data):
    """(model_dir, export_dir, export.json) of a k-means detector on the same data."""
    return _built("kmeans", tmp_path_factory, shared_data)


def _eval_features(model_dir: Path, shared_data: Path, n_clips: int = 4) -> list[np.ndarray]:
    from datasets.loaders import load_records
    from pipeline.clip_features import clip_features
    from pipeline.training import load_bundle

    bundle = load_bundle(model_dir)
    records = [r for r in load_records(shared_data.joinpath(*DCASE2023)) if r.split == "test"][:n_clips]
    return clip_features(records, bundle.feature_config)


# ---------------------------------------------------------------- fixed-point arithmetic

def test_quantize_multiplier_represents_the_real_scale():
    rng = np.random.default_rng(0)
    for real in np.exp(rng.uniform(np.log(1e-7), np.log(50.0), size=500)):
        m, shift = G.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (shift - 31) - real) <= real * 2.0 ** -30


def test_requantisation_error_bounds():
    """Single rounding is within 1/2 of x * real; double rounding within 1/2 + 1/2**(right shift + 1)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-(1 << 24), 1 << 24, size=4000)
    for real in (0.000731, 0.0123, 0.4999, 0.75, 1.9):
        m, s = G.quantize_multiplier(real)
        exact = x * (m * 2.0 ** (s - 31))
        double = G.multiply_by_quantized_multiplier(x, m, s)
        single = G.multiply_by_quantized_multiplier_single(x, m, s)
        # Double rounding: high-mul error <= 1/2 step of 2**-right, then <= 1/2 for the shift.
        right = max(0, -s)
        assert np.all(np.abs(double - exact) <= 0.5 + 0.5 * 2.0 ** -right + 1e-9)
        assert np.all(np.abs(single - exact) <= 0.5 + 1e-9)
        # Single rounding is floor(x * m / 2**(31 - s) + 1/2), computed exactly with Python integers.
        ref = [(int(v) * m + (1 << (30 - s))) >> (31 - s) for v in x[:200]]
        assert single[:200].tolist() == ref


# ---------------------------------------------------------------- the autoencoder export

def test_export_files_and_json_agree(ae_export):
    _, out, info = ae_export
    saved = json.loads((out / "export.json").read_text())
    assert saved["models"]["int8"]["bytes"] == (out / "model_int8.tflite").stat().st_size
    assert saved["models"]["float"]["bytes"] == (out / "model_float.tflite").stat().st_size
    # Full-integer: the int8 model is about 4x smaller than float (weights dominate).
    assert saved["models"]["int8"]["bytes"] < 0.5 * saved["models"]["float"]["bytes"]
    assert saved["models"]["int8"]["operators"] == ["FULLY_CONNECTED"]
    graph = G.read_int8_graph((out / "model_int8.tflite").read_bytes())
    assert len(graph.layers) == 4 and all(layer.weights.dtype == np.int8 for layer in graph.layers)
    assert saved == info
    # The device cost is the one tune ranks with: the TinyML AE on `tinyml` features, as in the README.
    cost = saved["device_cost_estimate"]
    assert cost["supported"] and abs(cost["flash_bytes"] - 35980) < 0.1 * 35980
    # README: 2.48 M measured on 2 s clips; steady streaming (a window every hop) costs a little more.
    assert 2.4e6 < cost["instructions_per_second"] < 2.8e6


def test_int8_io_and_quantisation_folded_standardisation(ae_export, shared_data):
    """gain/bias quantise raw features exactly as standardise-then-quantise does."""
    model, out, _ = ae_export
    from pipeline.training import load_bundle

    bundle = load_bundle(model)
    scorer = D.load_scorer(out)
    x = _eval_features(model, shared_data, 1)[0]
    z = G.standardise(bundle.detector, x)
    g = scorer.graph
    direct = np.clip(np.round(z / g.input_scale) + g.input_zero_point, -128, 127)
    q = scorer.quantize(x).astype(int)
    # Folding changes float rounding only: at most one step, and rarely.
    assert np.max(np.abs(q - direct)) <= 1
    assert np.mean(q == direct) > 0.99


def test_c_integer_semantics_equal_tflm_and_litert_equals_single_rounding(ae_export, shared_data):
    model, out, info = ae_export
    scorer = D.load_scorer(out)
    feats = _eval_features(model, shared_data, 3)
    q = np.concatenate([scorer.quantize(f) for f in feats])
    rng = np.random.default_rng(2)
    q = np.concatenate([q, rng.integers(-128, 128, size=(200, q.shape[1])).astype(np.int8)])  # saturating inputs
    tflm = I.tflm_run(scorer.model_bytes, q)
    litert = I.litert_run(scorer.model_bytes, q)
    assert np.array_equal(G.run_dense_int8(scorer.graph, q), tflm)
    assert np.array_equal(G.run_dense_int8(scorer.graph, q, single_rounding=True), litert)
    # The two interpreters round differently, by a step on a small share of outputs.
    diff = np.abs(tflm.astype(int) - litert.astype(int))
    assert np.mean(diff == 0) > 0.9
    checks = info["interpreters"]
    assert checks["tflm_equals_c_runtime"] and checks["litert_equals_c_runtime_single_rounding"]
    assert checks["litert_tflm_clip_decisions_agree_fraction"] == 1.0


def test_tflm_arena_is_the_smallest_that_runs(ae_export):
    _, out, info = ae_export
    arena = info["models"]["int8"]["tflm_arena_bytes"]
    # The allocator report leaves out temporary allocations made while preparing operators.
    assert arena >= info["models"]["int8"]["tflm_arena"]["total"]
    path = out / "model_int8.tflite"
    assert I._arena_works(path, arena)
    assert not I._arena_works(path, arena - 16)


def test_int8_loses_at_most_001_auc_and_threshold_converts(ae_export):
    _, _, info = ae_export
    ev = info["evaluation"]
    n_pos = ev["anomalies"]
    n_neg = ev["clips"] - n_pos
    assert n_neg > 0 and n_pos > 0
    # 0.01 AUC, or one swapped (anomaly, normal) pair on this small real set (14 clips: 1/45).
    assert ev["float"]["auc"] - ev["int8"]["auc"] <= max(0.01, 1.0 / (n_pos * n_neg)) + 1e-12
    unit = info["device"]["score_unit"]
    t = info["threshold_int8"]
    assert t * unit <= info["threshold_float"] < (t + 1) * unit


def test_int8_scores_track_float_scores(ae_export, shared_data):
    """Device scores (dequantised) are the float mean squared error up to quantisation noise."""
    model, out, _ = ae_export
    from pipeline.training import load_bundle

    bundle = load_bundle(model)
    scorer = D.load_scorer(out)
    feats = _eval_features(model, shared_data, 4)
    float_scores = bundle.score_features(feats)
    int8_scores = np.array([scorer.score_clip(f)[0] * scorer.score_unit for f in feats])
    assert np.all(np.abs(int8_scores - float_scores) <= 0.1 * float_scores + 0.05)
    assert np.corrcoef(int8_scores, float_scores)[0, 1] > 0.95


# ---------------------------------------------------------------- generated C sources

def test_model_data_array_is_the_int8_model(ae_export):
    _, out, _ = ae_export
    src = (out / "c" / "model_data.c").read_text()
    assert "aligned(16)" in src
    body = src[src.index("fs_model_data["):]
    values = bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))
    assert values == (out / "model_int8.tflite").read_bytes()
    assert f"FS_MODEL_DATA_LEN {len(values)}u" in (out / "c" / "model_data.h").read_text()


def test_sparse_mel_rows_rebuild_the_filterbank():
    from pipeline.features import TINYML, mel_filterbank

    fb = mel_filterbank(sample_rate=TINYML.sample_rate, n_fft=TINYML.n_fft, n_mels=TINYML.n_mels)
    starts, lens, offsets, weights = mel_sparse(fb)
    rebuilt = np.zeros_like(fb)
    for m in range(fb.shape[0]):
        rebuilt[m, starts[m]:starts[m] + lens[m]] = weights[offsets[m]:offsets[m] + lens[m]]
    assert np.array_equal(rebuilt, fb)
    assert weights.size < fb.size / 4  # sparse: far fewer weights than the dense matrix


def test_params_header_matches_config_and_model(ae_export):
    _, out, info = ae_export
    h = (out / "c" / "fs_params.h").read_text()
    defs = dict(re.findall(r"#define (FS_\w+) (.+)", h))
    cfg = info["feature_config"]
    assert int(defs["FS_N_FFT"]) == cfg["n_fft"] and int(defs["FS_HOP"]) == cfg["hop_length"]
    assert int(defs["FS_DIM"]) == cfg["n_mels"] * cfg["n_frames"] == info["feature_dim"]
    assert int(defs["FS_CENTER"]) == int(cfg["center"])
    assert str(info["device"]["threshold_int"]) in defs["FS_THRESHOLD_INT"]
    assert int(defs["FS_N_LAYERS"]) == 4


def test_tflm_template_registers_exactly_the_model_operators(ae_export):
    _, out, info = ae_export
    header = (out / "tflm" / "fs_tflm_config.h").read_text()
    ops = info["models"]["int8"]["operators"]
    adds = re.findall(r"r\.(Add\w+)\(\)", header)
    assert adds == ["AddFullyConnected"] and len(adds) == len(ops)
    assert re.search(r"kFsNumOps = (\d+);", header).group(1) == str(len(ops))
    arena = int(re.search(r"kFsArenaBytes = (\d+);", header).group(1))
    assert info["models"]["int8"]["tflm_arena_bytes"] <= arena < info["models"]["int8"]["tflm_arena_bytes"] + 16
    assert (out / "tflm" / "fs_tflm_app.cc").is_file()
    with pytest.raises(FaultsynthError, match="no TFLM resolver"):
        op_resolver_header(["FULLY_CONNECTED", "SOME_UNKNOWN_OP"], 1000)


# ---------------------------------------------------------------- k-means

def test_kmeans_exported_as_c_tables_with_int8_distances(kmeans_export, shared_data):
    model, out, info = kmeans_export
    from pipeline.training import load_bundle

    assert not (out / "model_int8.tflite").exists()
    assert info["models"]["kmeans"]["n_clusters"] == 4
    bundle = load_bundle(model)
    scorer = D.load_scorer(out)
    x = _eval_features(model, shared_data, 1)[0]
    z = G.standardise(bundle.detector, x)
    centers = bundle.detector.cluster_centers_
    d_float = np.sqrt(((z[:, None, :] - centers[None]) ** 2).sum(axis=2)).min(axis=1)
    d_int8 = np.sqrt(scorer.window_scores(x).astype(np.float64)) * scorer.score_unit
    # Each coordinate is off by at most half a step in input and in centroid.
    bound = math.sqrt(x.shape[1]) * scorer.score_unit
    assert np.all(np.abs(d_int8 - d_float) <= bound)
    ev = info["evaluation"]
    n_pos = ev["anomalies"]
    assert ev["float"]["auc"] - ev["int8"]["auc"] <= max(0.01, 1.0 / (n_pos * (ev["clips"] - n_pos))) + 1e-12
    assert "fs_centroids" in (out / "c" / "fs_params.c").read_text()


def test_unsupported_detector_and_front_end_are_rejected():
    from pipeline.detectors import GaussianDetector
    from pipeline.features import FeatureConfig

    with pytest.raises(FaultsynthError, match="autoencoder and k-means"):
        D.detector_kind(GaussianDetector())
    with pytest.raises(FaultsynthError, match="power of two"):
        E.check_feature_config(FeatureConfig(n_fft=1000, hop_length=500, center=False))
    with pytest.raises(FaultsynthError, match="log_mel and vibration"):
        E.check_feature_config(FeatureConfig(kind="log_mel_stats", n_frames=1, center=False))
    E.check_feature_config(FeatureConfig(kind="vibration", center=False))  # the C vibration front end


def test_export_of_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FaultsynthError, match="bundle.json"):
        E.export_bundle(model_dir=tmp_path / "nope", out_dir=tmp_path / "out")
