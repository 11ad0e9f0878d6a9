"""Thresholds that keep their false-positive promise on fresh normal data.

A threshold is set from anomaly scores of normal clips that the scoring model
did not train on (out-of-fold scores, :func:`fold_indices`), so the scores
behave like those of fresh normal clips. Two ways, chosen by how many clips
there are for the requested false-positive rate ``target_fpr``:

* ``empirical``: when at least :data:`MIN_EXCEEDANCES` of the ``n`` clips are
  expected above the threshold (``target_fpr * n >= 5``), the smallest score
  that at most ``floor(target_fpr * n)`` clips exceed;
* ``gamma tail``: with fewer clips, a gamma distribution (location 0, the
  scores are positive distances or errors; fitted by maximum likelihood, as
  the DCASE 2021+ baselines do) is fitted to the scores and the threshold is
  its ``1 - target_fpr`` quantile. The fit is extrapolated at most
  :data:`MAX_EXTRAPOLATION` times beyond the ``1 / n`` resolution of the
  data: a smaller target is refused with the smallest target the clips support.

Either way the promise comes with an interval: ``false_positives`` of the
``n`` calibration clips lie above the threshold, and the Clopper-Pearson
interval of that count bounds the true false-positive rate. For ``m`` fresh
normal clips, :func:`predicted_false_positives` gives the range of false
alarms to expect (beta-binomial with the Jeffreys posterior of the rate).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from errors import FaultsynthError
from pipeline.stats import CONFIDENCE, clopper_pearson

#: Expected clips above the threshold from which the empirical quantile is used.
MIN_EXCEEDANCES = 5
#: How far (in multiples of the 1/n resolution) a tail model may extrapolate.
MAX_EXTRAPOLATION = 10.0
#: Fewest normal clips a threshold is calibrated on.
MIN_CLIPS = 4


@dataclass(frozen=True)
class Calibration:
    """A threshold and the false-positive promise behind it.

    Attributes
    ----------
    threshold : float
        A clip is anomalous when its anomaly score is strictly above it.
    target_fpr : float
        The false-positive rate it was set for.
    method : {"empirical", "gamma tail"}
    normal_clips : int
        Normal clips (out-of-fold scores) behind it.
    false_positives : int
        Of those, clips scoring above the threshold.
    fpr_ci : tuple of float
        Clopper-Pearson interval (``confidence``) of the true false-positive rate.
    confidence : float
    tail : dict or None
        Gamma fit (``shape``, ``scale``, ``ks_pvalue`` of a Kolmogorov-Smirnov
        test of the fit) when ``method == "gamma tail"``.
    min_supported_fpr : float
        The smallest target these clips can be calibrated for.
    """

    threshold: float
    target_fpr: float
    method: str
    normal_clips: int
    false_positives: int
    fpr_ci: tuple[float, float]
    confidence: float
    tail: dict | None
    min_supported_fpr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = asdict(self)
        d["fpr_ci"] = [float(v) for v in self.fpr_ci]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        """Inverse of :meth:`to_dict`."""
        values = dict(d)
        values["fpr_ci"] = tuple(values["fpr_ci"])
        return cls(**values)


def min_supported_fpr(n_clips: int) -> float:
    """Smallest target false-positive rate ``n_clips`` normal clips can be calibrated for."""
    return 1.0 / (MAX_EXTRAPOLATION * n_clips)


def empirical_threshold(normal_scores: np.ndarray, *, target_fpr: float) -> float:
    """Smallest threshold that at most ``floor(target_fpr * n)`` of ``normal_scores`` exceed.

    Parameters
    ----------
    normal_scores : ndarray, shape (n,)
        Anomaly scores (higher = more anomalous) of normal clips.
    target_fpr : float
        In (0, 1).

    Returns
    -------
    float
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise FaultsynthError("a threshold needs at least one finite normal score")
    allowed_above = int(np.floor(float(target_fpr) * scores.size + 1e-9))
    return float(scores[scores.size - 1 - allowed_above])


def gamma_tail_threshold(normal_scores: np.ndarray, *, target_fpr: float) -> tuple[float, dict]:
    """``1 - target_fpr`` quantile of a gamma distribution fitted to positive scores.

    Parameters
    ----------
    normal_scores : ndarray, shape (n,)
        Positive anomaly scores of normal clips.
    target_fpr : float

    Returns
    -------
    (threshold, fit)
        ``fit`` holds ``shape``, ``scale`` and ``ks_pvalue``.
    """
    from scipy import stats

    scores = np.asarray(normal_scores, dtype=np.float64)
    if np.any(scores <= 0):
        raise FaultsynthError("the gamma tail model needs positive anomaly scores (distances or errors)")
    if np.ptp(scores) <= 1e-12 * np.max(scores):
        # All equal: no spread to model; anything above them is anomalous.
        return float(scores.max()), {"shape": math.inf, "scale": 0.0, "ks_pvalue": None}
    shape, _, scale = stats.gamma.fit(scores, floc=0.0)
    threshold = float(stats.gamma.isf(float(target_fpr), shape, loc=0.0, scale=scale))
    ks = stats.kstest(scores, "gamma", args=(shape, 0.0, scale))
    return threshold, {"shape": float(shape), "scale": float(scale), "ks_pvalue": float(ks.pvalue)}


def calibrate(normal_scores: np.ndarray, *, target_fpr: float, confidence: float = CONFIDENCE) -> Calibration:
    """Threshold for ``target_fpr`` from out-of-fold normal scores, with its interval.

    Parameters
    ----------
    normal_scores : ndarray, shape (n,)
        Anomaly scores (higher = more anomalous) of normal clips the scoring
        model did not train on.
    target_fpr : float
        In (0, 1).
    confidence : float
        Of the Clopper-Pearson interval.

    Returns
    -------
    Calibration

    Raises
    ------
    FaultsynthError
        Too few clips, non-finite scores, or a target below what ``n`` clips
        support (the message gives the smallest supported target).
    """
    scores = np.asarray(normal_scores, dtype=np.float64).ravel()
    if not (0.0 < float(target_fpr) < 1.0):
        raise FaultsynthError(f"target false-positive rate must be within (0, 1), got {target_fpr!r}")
    if scores.size < MIN_CLIPS:
        raise FaultsynthError(f"a threshold needs at least {MIN_CLIPS} normal clips not used for fitting, got "
                              f"{scores.size}: give more normal recordings")
    if not np.all(np.isfinite(scores)):
        raise FaultsynthError("normal anomaly scores contain NaN or infinity")
    n = scores.size
    lowest = min_supported_fpr(n)
    if target_fpr < lowest * (1 - 1e-9):
        raise FaultsynthError(
            f"{n} normal clips cannot support a false-positive target of {target_fpr:g}: the smallest they "
            f"support is {lowest:.3g} (a tail model extrapolates at most {MAX_EXTRAPOLATION:g}x beyond 1/{n}); "
            f"give about {math.ceil(1 / (MAX_EXTRAPOLATION * target_fpr))} or more normal clips, or a target "
            f">= {lowest:.3g}")
    tail = None
    if target_fpr * n >= MIN_EXCEEDANCES:
        method, threshold = "empirical", empirical_threshold(scores, target_fpr=target_fpr)
    else:
        method = "gamma tail"
        threshold, tail = gamma_tail_threshold(scores, target_fpr=target_fpr)
    above = int(np.sum(scores > threshold))
    return Calibration(threshold=float(threshold), target_fpr=float(target_fpr), method=method,
                       normal_clips=int(n), false_positives=above,
                       fpr_ci=clopper_pearson(above, n, confidence=confidence), confidence=float(confidence),
                       tail=tail, min_supported_fpr=float(lowest))


def predicted_false_positives(calibration: Calibration | dict, n_clips: int, *,
                              confidence: float = CONFIDENCE) -> tuple[int, int]:
    """Range of false alarms to expect on ``n_clips`` fresh normal clips.

    Beta-binomial: the false-positive rate has the Jeffreys posterior
    ``Beta(k + 1/2, n - k + 1/2)`` from ``k`` of ``n`` calibration clips above
    the threshold, and ``n_clips`` fresh clips are Bernoulli trials with that rate.

    Returns
    -------
    (lo, hi) : int
        Central ``confidence`` interval of the count.
    """
    from scipy import stats

    if isinstance(calibration, dict):
        calibration = Calibration.from_dict(calibration)
    if n_clips < 1:
        raise FaultsynthError(f"need at least one fresh normal clip, got {n_clips}")
    k, n = calibration.false_positives, calibration.normal_clips
    dist = stats.betabinom(int(n_clips), k + 0.5, n - k + 0.5)
    tail = (1.0 - confidence) / 2
    return int(dist.ppf(tail)), int(dist.ppf(1.0 - tail))


def fold_indices(groups: np.ndarray, *, folds: int, seed: int) -> list[np.ndarray]:
    """Held-out index sets of a k-fold split that keeps each group in one fold.

    Parameters
    ----------
    groups : ndarray, shape (n,)
        Group label of each item (e.g. its source recording, or a block of
        contiguous segments); items of one group are never split across folds.
    folds : int
        Wanted folds; fewer when there are fewer groups (at least 2).
    seed : int
        Seeds the assignment of groups to folds.

    Returns
    -------
    list of ndarray
        Sorted held-out indices of each fold; every index is in exactly one.
    """
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if unique.size < 2:
        raise FaultsynthError("out-of-fold calibration needs at least 2 groups of clips (recordings or segments)")
    k = int(min(folds, unique.size))
    if k < 2:
        raise FaultsynthError(f"folds must be >= 2, got {folds}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    order = unique[rng.permutation(unique.size)]
    assignment = {g: i % k for i, g in enumerate(order)}
    fold_of = np.array([assignment[g] for g in groups])
    return [np.flatnonzero(fold_of == i) for i in range(k)]
