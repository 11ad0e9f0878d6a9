"""Thresholds calibrated on normal scores keep their false-positive promise (pipeline.calibration)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from errors import FaultsynthError
from pipeline.calibration import (MAX_EXTRAPOLATION, MIN_EXCEEDANCES, calibrate, empirical_threshold,
                                  fold_indices, min_supported_fpr, predicted_false_positives)

# Normal anomaly scores: a gamma distribution whose true exceedance rates are known exactly.
SHAPE, SCALE = 9.0, 0.5


def true_fpr(threshold: float) -> float:
    return float(stats.gamma.sf(threshold, SHAPE, scale=SCALE))


@pytest.mark.parametrize("n, target", [(30, 0.01), (200, 0.05), (1000, 0.01)])
def test_true_fpr_lies_in_the_interval(n, target):
    """Over many draws the true rate lies in the reported 95 % interval at least ~95 % of the time."""
    rng = np.random.default_rng(n)
    inside, methods = 0, set()
    draws = 200
    for _ in range(draws):
        cal = calibrate(rng.gamma(SHAPE, SCALE, size=n), target_fpr=target)
        methods.add(cal.method)
        inside += cal.fpr_ci[0] <= true_fpr(cal.threshold) <= cal.fpr_ci[1]
    assert inside / draws >= 0.9
    assert methods == {"gamma tail" if target * n < MIN_EXCEEDANCES else "empirical"}


def test_tail_model_hits_the_target_on_average():
    """With 30 clips and a 1 % target the gamma tail gives thresholds whose true rate is near 1 %."""
    rng = np.random.default_rng(1)
    rates = [true_fpr(calibrate(rng.gamma(SHAPE, SCALE, size=30), target_fpr=0.01).threshold) for _ in range(300)]
    assert 0.005 < float(np.median(rates)) < 0.02
    # The empirical quantile of 30 clips cannot resolve 1 %: it is the maximum, true rate about 1/31.
    empirical = [true_fpr(empirical_threshold(rng.gamma(SHAPE, SCALE, size=30), target_fpr=0.01))
                 for _ in range(300)]
    assert float(np.median(empirical)) > 0.015


def test_realised_rate_on_fresh_clips_lies_in_the_predicted_range():
    rng = np.random.default_rng(2)
    inside = 0
    for _ in range(200):
        cal = calibrate(rng.gamma(SHAPE, SCALE, size=100), target_fpr=0.05)
        fresh = rng.gamma(SHAPE, SCALE, size=50)
        lo, hi = predicted_false_positives(cal, 50)
        inside += lo <= int(np.sum(fresh > cal.threshold)) <= hi
    assert inside / 200 >= 0.93


def test_empirical_threshold_counts():
    scores = np.arange(1.0, 101.0)  # 100 clips
    assert empirical_threshold(scores, target_fpr=0.05) == 95.0  # 5 clips above
    assert empirical_threshold(scores, target_fpr=0.049) == 96.0  # 4 above
    cal = calibrate(scores, target_fpr=0.05)
    assert cal.method == "empirical" and cal.false_positives == 5 and cal.normal_clips == 100


def test_refuses_a_target_the_clips_cannot_support():
    scores = np.random.default_rng(3).gamma(SHAPE, SCALE, size=20)
    lowest = min_supported_fpr(20)
    assert lowest == pytest.approx(1 / (MAX_EXTRAPOLATION * 20))
    with pytest.raises(FaultsynthError, match="smallest they support is 0.005"):
        calibrate(scores, target_fpr=0.001)
    assert calibrate(scores, target_fpr=lowest).method == "gamma tail"
    with pytest.raises(FaultsynthError, match="at least 4 normal clips"):
        calibrate(scores[:3], target_fpr=0.2)
    with pytest.raises(FaultsynthError, match="NaN"):
        calibrate(np.r_[scores, np.nan], target_fpr=0.1)


def test_fold_indices_keep_groups_whole_and_cover_everything():
    groups = np.repeat(np.arange(7), 3)
    folds = fold_indices(groups, folds=5, seed=0)
    assert len(folds) == 5
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(groups.size))
    for held in folds:
        inside = set(groups[held])
        outside = set(groups[np.setdiff1d(np.arange(groups.size), held)])
        assert not inside & outside
    assert len(fold_indices(np.array([0, 0, 1, 1]), folds=5, seed=0)) == 2
    with pytest.raises(FaultsynthError):
        fold_indices(np.zeros(4), folds=5, seed=0)
