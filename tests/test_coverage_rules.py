"""Coverage rules: pAUC by hand, the detected-cell rule at its boundary, Clopper-Pearson intervals."""

from __future__ import annotations

import numpy as np
import pytest

from errors import FaultsynthError


# ---------------------------------------------------------------- pAUC

def test_pauc_matches_hand_computed_mcclish():
    """Five normals, four anomalies; one tie makes a diagonal ROC segment through FPR 0.1."""
    from pipeline.evaluate import roc_metrics

    normal = [0.0, 1.0, 2.0, 3.0, 4.0]
    anomaly = [5.0, 4.0, 2.5, 0.5]  # 4.0 ties with a normal clip
    y = np.r_[np.zeros(5), np.ones(4)]
    # ROC, thresholds from the top: 5.0 -> (FPR 0, TPR 1/4); 4.0 (one normal, one anomaly) -> (1/5, 2/4):
    # a straight segment from (0, 0.25) to (0.2, 0.5), so TPR at FPR 0.1 is 0.375.
    max_fpr = 0.1
    partial = max_fpr * (0.25 + 0.375) / 2  # trapezoid under the ROC on [0, 0.1] = 0.03125
    lo, hi = max_fpr ** 2 / 2, max_fpr  # area of the chance diagonal / of a perfect ROC on [0, max_fpr]
    expected = 0.5 * (1 + (partial - lo) / (hi - lo))
    m = roc_metrics(y, np.r_[normal, anomaly])
    assert m["pauc"] == pytest.approx(expected, abs=1e-12)
    assert m["pauc"] == pytest.approx(0.6381578947368421)
    # Full AUC by counting pairs: 5.0 beats 5, 4.0 beats 4 and ties 1, 2.5 beats 3, 0.5 beats 1 -> 13.5 / 20.
    assert m["auc"] == pytest.approx(13.5 / 20)


# ---------------------------------------------------------------- detected-cell rule

def _cell_scores(levels: dict[str, dict[float, tuple[int, int]]], *, n_normal: int = 20, false_pos: int = 1,
                 low: float = 2.2):
    """Scores for coverage(): threshold 2.5; ``levels`` maps fault -> {severity: (clips, flagged)}.

    Normal clips score 0 .. 1.9 except ``false_pos`` at 3.0; flagged anomaly clips score 5.0,
    the others ``low``.
    """
    clips = [("none", 0.0, s) for s in np.linspace(0.0, 1.9, n_normal - false_pos)]
    clips += [("none", 0.0, 3.0)] * false_pos
    for fault, by_level in levels.items():
        for severity, (n, k) in by_level.items():
            clips += [(fault, severity, 5.0)] * k + [(fault, severity, low)] * (n - k)
    faults, sev, scores = zip(*clips)
    return faults, sev, np.array(scores), np.array([f == "none" for f in faults])


def test_detected_flips_at_fisher_p_005():
    """1 of 20 normals flagged. 5 of 16 anomalies: p = 0.0490 < 0.05, detected.
    4 of 12 (a higher rate, fewer clips): p = 0.0531, not detected."""
    from pipeline.evaluate import coverage
    from pipeline.stats import rate_above, rate_above_p_value

    assert rate_above_p_value(5, 16, 1, 20) == pytest.approx(0.04896, abs=1e-5)
    assert rate_above_p_value(4, 12, 1, 20) == pytest.approx(0.05309, abs=1e-5)
    assert rate_above(5, 16, 1, 20) and not rate_above(4, 12, 1, 20)

    levels = {"f": {0.5: (16, 5), 1.0: (12, 4)},   # top level not detected
              "g": {0.5: (12, 4), 1.0: (16, 5)}}   # top level detected, lower not
    cov = coverage(*_cell_scores(levels)[:3], normal_mask=_cell_scores(levels)[3], threshold=2.5)
    assert cov["false_positives"] == 1 and cov["normal_clips"] == 20
    f = {lv["severity"]: lv for lv in cov["faults"]["f"]["levels"]}
    g = {lv["severity"]: lv for lv in cov["faults"]["g"]["levels"]}
    assert f[0.5]["auc"] > 0.5 and f[1.0]["auc"] > 0.5
    assert f[0.5]["detected"] and f[0.5]["p_value"] < 0.05
    assert not f[1.0]["detected"] and f[1.0]["p_value"] > 0.05
    assert f[1.0]["detection_rate"] > f[0.5]["detection_rate"]  # the rate alone would say the opposite
    # A fault whose higher level is not detected has no minimum detectable severity.
    assert cov["faults"]["f"]["min_detectable_severity"] is None
    assert g[1.0]["detected"] and not g[0.5]["detected"]
    assert cov["faults"]["g"]["min_detectable_severity"] == 1.0


def test_auc_exactly_chance_is_not_detected():
    """5 of 10 anomalies flagged vs 0 of 10 normals is significant (p = 0.016), but the other five
    anomalies score below every normal clip: AUC exactly 0.5, so not detected."""
    from pipeline.evaluate import coverage

    def cov_for(low_scores: list[float]):
        scores = np.r_[np.ones(10), np.full(5, 5.0), low_scores]
        faults = ["none"] * 10 + ["f"] * 10
        sev = [0.0] * 10 + [1.0] * 10
        return coverage(faults, sev, scores, normal_mask=np.arange(20) < 10, threshold=2.5)

    chance = cov_for([0.0] * 5)["faults"]["f"]
    level = chance["levels"][0]
    assert level["auc"] == 0.5 and level["p_value"] < 0.05
    assert not level["detected"] and chance["min_detectable_severity"] is None
    # One low anomaly ties with the normals (all at 1.0) instead: AUC (50 + 10 * 0.5) / 100 = 0.55, detected.
    tied = cov_for([0.0] * 4 + [1.0])["faults"]["f"]
    assert tied["levels"][0]["auc"] == pytest.approx(0.55)
    assert tied["levels"][0]["detected"] and tied["min_detectable_severity"] == 1.0


def test_min_detectable_severity_is_lowest_of_an_unbroken_run():
    from pipeline.evaluate import coverage

    # 0 of 20 normals flagged; 8 of 8 flagged is clearly detected, 0 of 8 is not.
    levels = {"f": {0.1: (8, 8), 0.2: (8, 0), 0.4: (8, 8), 0.8: (8, 8)}}
    faults, sev, scores, normal = _cell_scores(levels, false_pos=0)
    info = coverage(faults, sev, scores, normal_mask=normal, threshold=2.5)["faults"]["f"]
    assert [lv["detected"] for lv in info["levels"]] == [True, False, True, True]
    assert info["min_detectable_severity"] == 0.4


# ---------------------------------------------------------------- Clopper-Pearson

def test_clopper_pearson_known_values():
    from pipeline.stats import clopper_pearson

    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert clopper_pearson(5, 10) == pytest.approx((0.187086, 0.812914), abs=1e-5)
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10), abs=1e-12)
    # Wider at higher confidence.
    lo99, hi99 = clopper_pearson(5, 10, confidence=0.99)
    assert lo99 < 0.187086 and hi99 > 0.812914


@pytest.mark.parametrize("k, n", [(0, 0), (3, 2), (-1, 5), (1.5, 4)])
def test_clopper_pearson_refuses_bad_counts(k, n):
    from pipeline.stats import clopper_pearson

    with pytest.raises(FaultsynthError, match="expected|integer"):
        clopper_pearson(k, n)


def test_rate_above_refuses_empty_groups():
    from pipeline.stats import rate_above

    with pytest.raises(FaultsynthError, match="at least one clip"):
        rate_above(0, 0, 1, 10)


def _coverage_of_true_fpr(confidence: float, *, draws: int = 200, n: int = 30, seed: int = 7) -> float:
    """Share of draws whose CP interval holds the true FPR of a threshold set on other normals.

    Each draw: n validation normals (standard normal scores) set the threshold at their empirical
    90 % quantile; the true FPR of that threshold is the normal tail above it; n fresh test normals
    give the count above it.
    """
    from scipy.stats import norm

    from pipeline.stats import clopper_pearson

    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):
        threshold = np.quantile(rng.standard_normal(n), 0.9)
        true_fpr = norm.sf(threshold)
        k = int(np.sum(rng.standard_normal(n) > threshold))
        lo, hi = clopper_pearson(k, n, confidence=confidence)
        hits += lo <= true_fpr <= hi
    return hits / draws


def test_clopper_pearson_covers_true_fpr_in_simulation():
    assert _coverage_of_true_fpr(0.95) >= 0.90
    # The check has teeth: a 50 % interval misses the true FPR far more often.
    assert _coverage_of_true_fpr(0.5) < 0.90
