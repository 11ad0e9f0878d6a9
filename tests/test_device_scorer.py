"""Device scorers, one class per detector kind: the parts every kind must provide alike."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from errors import FaultsynthError
from pipeline import c_sources
from pipeline.device_scorer import SCORERS, AutoencoderScorer, KMeansScorer, scorer_class, scorer_class_of
from pipeline.features import PRESETS
from pipeline.int8_graph import DenseLayer, Int8Graph


def _scorers(dim: int) -> list:
    rng = np.random.default_rng(0)
    gain, bias = np.ones(dim, np.float32), np.zeros(dim, np.float32)
    layers = [DenseLayer(weights=rng.integers(-127, 128, (n_out, n_in)).astype(np.int8),
                         bias=np.zeros(n_out, np.int32), multiplier=np.full(n_out, 1 << 30, np.int32),
                         shift=np.full(n_out, -8, np.int32), in_offset=0, out_offset=-3, act_min=-3, act_max=127,
                         per_channel=True) for n_in, n_out in ((dim, 4), (4, dim))]
    graph = Int8Graph(layers=layers, input_scale=0.05, input_zero_point=-2, output_scale=0.05,
                      output_zero_point=-3, operators=["FULLY_CONNECTED"])
    return [AutoencoderScorer(gain=gain, bias=bias, graph=graph, in_to_out=(1 << 30, 1), threshold_int=1234),
            KMeansScorer(gain=gain, bias=bias, centroids=np.zeros((3, dim), np.int8), threshold_real=2.5)]


def test_every_kind_is_registered_and_fills_the_same_export_fields():
    scorers = _scorers(8)
    assert sorted(SCORERS) == sorted(s.kind for s in scorers)
    keys = {frozenset(s.device_fields()) for s in scorers}
    assert len(keys) == 1  # export.json's "device" has the same keys whatever the detector
    ae, km = scorers
    assert ae.device_fields()["threshold_int"] == 1234 and ae.device_fields()["threshold_real"] is None
    assert km.device_fields()["threshold_real"] == 2.5 and km.device_fields()["in_to_out"] is None
    assert set(km.tables()) == {"gain", "bias", "centroids"} and set(ae.tables()) == {"gain", "bias"}


def test_unknown_kinds_and_detectors_are_refused():
    with pytest.raises(FaultsynthError, match="unknown detector kind 'gmm'.*autoencoder.*kmeans"):
        scorer_class("gmm")
    with pytest.raises(FaultsynthError, match="cannot export a object"):
        scorer_class_of(object())


def test_clip_sums_decode_in_each_kind_s_domain():
    assert AutoencoderScorer.decode_sum((1 << 64) - 5) == -5  # int64 two's complement
    assert KMeansScorer.decode_sum(struct.unpack("<Q", struct.pack("<d", 3.25))[0]) == 3.25  # float64 bits


@pytest.mark.parametrize("index", [0, 1])
def test_a_clip_without_windows_is_an_error(index):
    with pytest.raises(FaultsynthError, match="no complete feature window"):
        _scorers(4)[index].clip_result(np.zeros(0, np.int64))


def test_detector_selector_keeps_its_place_in_fs_params(tmp_path):
    cfg = PRESETS["tinyml"]
    for scorer, flag in zip(_scorers(cfg.dim), (1, 0)):
        out = tmp_path / scorer.kind
        c_sources.write_c_sources(out, cfg, scorer)
        header = (out / "fs_params.h").read_text()
        assert f"#define FS_DETECTOR_AUTOENCODER {flag}\n#define FS_ALARM_N 7\n#define FS_ALARM_M 10\n" in header
        assert header.count("FS_DETECTOR_AUTOENCODER") == 1
