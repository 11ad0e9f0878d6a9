"""Detectors: they find outliers, follow scikit-learn's conventions, reproduce and persist."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from errors import FaultsynthError
from pipeline.detectors import (AutoencoderDetector, GaussianDetector, KMeansDetector, aggregate_scores,
                                clip_scores, load_detector, make_detector, save_detector)

DIM = 16


def _data(seed=0, n=1500):
    """Inliers on a 3-dimensional subspace (+ small noise) of R^16; outliers off it."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((3, DIM))
    inliers = rng.standard_normal((n, 3)) @ basis + 0.05 * rng.standard_normal((n, DIM))
    test_in = rng.standard_normal((200, 3)) @ basis + 0.05 * rng.standard_normal((200, DIM))
    # outliers: same spread, but leaving the subspace
    test_out = rng.standard_normal((200, 3)) @ basis + 2.0 * rng.standard_normal((200, DIM))
    return inliers, test_in, test_out


FACTORIES = {
    "kmeans": lambda seed=0: KMeansDetector(n_clusters=8, random_state=seed),
    "gaussian": lambda seed=0: GaussianDetector(),
    "autoencoder": lambda seed=0: AutoencoderDetector(hidden_units=(32,), bottleneck=3, batch_norm=False,
                                                      epochs=25, batch_size=64, learning_rate=3e-3,
                                                      random_state=seed),
}


@pytest.fixture(scope="module")
def fitted():
    train, _, _ = _data()
    return {name: make().fit(train) for name, make in FACTORIES.items()}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_outliers_score_lower(fitted, name):
    _, test_in, test_out = _data()
    det = fitted[name]
    s_in, s_out = det.score_samples(test_in), det.score_samples(test_out)
    auc = roc_auc_score(np.r_[np.zeros(200), np.ones(200)], -np.r_[s_in, s_out])
    assert auc > 0.95, f"{name}: AUC {auc:.3f}"
    # sklearn conventions: decision_function = score_samples - offset_, predict from its sign
    np.testing.assert_allclose(det.decision_function(test_out), s_out - det.offset_)
    pred = det.predict(np.r_[test_in, test_out])
    assert set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, det.decision_function(np.r_[test_in, test_out]) < 0)
    assert (det.predict(test_out) == -1).mean() > 0.8
    assert (det.predict(test_in) == 1).mean() > 0.9


@pytest.mark.parametrize("name", list(FACTORIES))
def test_offset_is_the_contamination_quantile(fitted, name):
    train, _, _ = _data()
    det = fitted[name]
    outside = (det.predict(train) == -1).mean()
    assert abs(outside - det.contamination) < 0.005
    assert det.mean_.shape == det.scale_.shape == (DIM,)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_reproducible_with_same_random_state(fitted, name):
    train, test_in, _ = _data()
    again = FACTORIES[name]().fit(train)
    np.testing.assert_array_equal(again.score_samples(test_in), fitted[name].score_samples(test_in))


def test_random_state_matters():
    train, test_in, _ = _data()
    a = FACTORIES["autoencoder"](0).set_params(epochs=3).fit(train[:300]).score_samples(test_in)
    b = FACTORIES["autoencoder"](1).set_params(epochs=3).fit(train[:300]).score_samples(test_in)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_save_load_roundtrip_identical_scores(fitted, name, tmp_path):
    _, test_in, test_out = _data()
    det = fitted[name]
    save_detector(det, tmp_path / name)
    back = load_detector(tmp_path / name)
    assert type(back) is type(det) and back.get_params() == det.get_params()
    X = np.r_[test_in, test_out]
    np.testing.assert_array_equal(back.score_samples(X), det.score_samples(X))
    assert back.offset_ == det.offset_


def test_kmeans_score_is_minus_distance_to_nearest_centroid(fitted):
    det = fitted["kmeans"]
    _, _, X = _data()
    Z = (X - det.mean_) / det.scale_
    d = np.linalg.norm(Z[:, None, :] - det.cluster_centers_[None, :, :], axis=2).min(axis=1)
    np.testing.assert_allclose(det.score_samples(X), -d, rtol=1e-9, atol=1e-9)
    assert det.cluster_centers_.shape == (8, DIM)


def test_gaussian_uses_the_covariance():
    """Same Euclidean distance: a step along the wide axis is more normal than one along the narrow axis."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5000, 2)) @ np.array([[3.0, 0.0], [0.0, 0.3]]) @ np.array([[0.8, 0.6], [-0.6, 0.8]])
    det = GaussianDetector().fit(X)
    wide, narrow = np.array([0.8, 0.6]), np.array([-0.6, 0.8])
    s = det.score_samples(np.stack([2.0 * wide, 2.0 * narrow]) + X.mean(axis=0))
    assert s[0] > s[1]
    # Mahalanobis distance of a point 1 sigma along the wide axis ~ 1 (standardisation + shrinkage barely matter)
    assert -det.score_samples((3.0 * wide + X.mean(axis=0))[None])[0] == pytest.approx(1.0, abs=0.1)


def test_autoencoder_architectures():
    pytest.importorskip("keras")
    X = np.random.default_rng(0).standard_normal((256, 640))
    base = AutoencoderDetector(epochs=1).fit(X)
    kinds = [type(layer).__name__ for layer in base.model_.layers]
    assert kinds.count("Dense") == 10 and kinds.count("BatchNormalization") == 9
    assert [layer.units for layer in base.model_.layers if type(layer).__name__ == "Dense"] == \
        [128, 128, 128, 128, 8, 128, 128, 128, 128, 640]
    tiny = AutoencoderDetector.tinyml(epochs=1).fit(X[:, :128])
    assert {type(layer).__name__ for layer in tiny.model_.layers} == {"Dense"}
    assert [layer.units for layer in tiny.model_.layers] == [32, 8, 32, 128]
    assert make_detector("autoencoder", tinyml=True, epochs=2).get_params()["hidden_units"] == (32,)


def test_clip_scores_aggregate_vector_scores(fitted):
    det = fitted["kmeans"]
    _, test_in, test_out = _data()
    clean = test_in[:50]
    spiky = np.r_[test_in[50:95], test_out[:5]]  # a clip with a short anomalous event
    s = clip_scores(det, [clean, spiky])
    np.testing.assert_allclose(s, [det.score_samples(clean).mean(), det.score_samples(spiky).mean()])
    s_min = clip_scores(det, [clean, spiky], aggregate="min")
    assert s_min[1] < s_min[0]
    low = clip_scores(det, [clean, spiky], aggregate="low_mean", fraction=0.1)
    assert low[1] == pytest.approx(np.sort(det.score_samples(spiky))[:5].mean())
    assert aggregate_scores(np.array([3.0, 1.0, 2.0]), "median") == 2.0
    with pytest.raises(FaultsynthError, match="n_vectors"):
        clip_scores(det, [clean, clean[:0]])
    with pytest.raises(FaultsynthError, match="aggregate"):
        clip_scores(det, [clean], aggregate="max")


def test_bad_input_raises(fitted):
    with pytest.raises(FaultsynthError, match="kmeans, autoencoder, gaussian"):
        make_detector("isolation_forest")
    with pytest.raises(FaultsynthError, match="unknown kmeans parameters"):
        make_detector("kmeans", n_cluster=3)
    with pytest.raises(FaultsynthError, match="autoencoder only"):
        make_detector("kmeans", tinyml=True)
    X = np.random.default_rng(0).standard_normal((100, DIM))
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(FaultsynthError, match="NaN"):
        KMeansDetector().fit(X_nan)
    with pytest.raises(FaultsynthError, match="NaN"):
        fitted["gaussian"].score_samples(X_nan)
    with pytest.raises(FaultsynthError, match="16-dimensional"):
        fitted["kmeans"].score_samples(X[:, :8])
    with pytest.raises(FaultsynthError, match="not fitted"):
        GaussianDetector().score_samples(X)
    with pytest.raises(FaultsynthError, match="n_clusters"):
        KMeansDetector(n_clusters=200).fit(X)
    with pytest.raises(FaultsynthError, match="contamination"):
        GaussianDetector(contamination=0.7).fit(X)
    with pytest.raises(FaultsynthError, match="shape"):
        KMeansDetector().fit(X[0])
