"""Small-sample statistics of clip counts: exact binomial intervals and a rate comparison.

A threshold's false-positive rate and a coverage cell's detection rate are
both a count ``k`` of flagged clips out of ``n``. With tens of clips these
rates are coarse, so every rate is reported with an exact (Clopper-Pearson)
confidence interval, and a cell counts as detected only when its detection
rate is significantly above the false-positive rate (one-sided Fisher exact
test on the 2x2 table of flagged / not flagged clips, anomaly vs normal).
"""

from __future__ import annotations

import math
import numbers

from errors import FaultsynthError

#: Confidence level of every reported interval.
CONFIDENCE = 0.95
#: Significance level of "detection rate above the false-positive rate".
ALPHA = 0.05


def _count(k, n, what: str) -> tuple[int, int]:
    """Validate ``k`` successes out of ``n`` trials (non-negative integers, 0 <= k <= n, n >= 1)."""
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise FaultsynthError(f"{what}: {name} must be an integer count, got {value!r}")
    k, n = int(k), int(n)
    if n < 1:
        raise FaultsynthError(f"{what}: expected at least one clip (n >= 1), got n={n}")
    if not 0 <= k <= n:
        raise FaultsynthError(f"{what}: expected 0 <= k <= n, got k={k}, n={n}")
    return k, n


def clopper_pearson(k: int, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided confidence interval of a binomial proportion.

    Parameters
    ----------
    k : int
        Successes (e.g. clips above the threshold), ``0 <= k <= n``.
    n : int
        Trials (clips), ``n >= 1``.
    confidence : float
        Confidence level in (0, 1); each tail holds ``(1 - confidence) / 2``.

    Returns
    -------
    (lo, hi) : tuple of float
        Bounds of the proportion, in [0, 1]; ``lo = 0`` when ``k = 0`` and
        ``hi = 1`` when ``k = n``.

    Raises
    ------
    FaultsynthError
        If ``n < 1``, ``k`` is outside [0, n], or ``confidence`` is outside (0, 1).
    """
    from scipy.stats import beta

    k, n = _count(k, n, "clopper_pearson")
    if not (isinstance(confidence, numbers.Real) and 0.0 < confidence < 1.0):
        raise FaultsynthError(f"clopper_pearson: confidence must lie in (0, 1), got {confidence!r}")
    tail = (1.0 - confidence) / 2.0
    lo = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return lo, hi


def rate_above_p_value(k_anomaly: int, n_anomaly: int, k_normal: int, n_normal: int) -> float:
    """One-sided p-value that the anomaly detection rate exceeds the normal false-positive rate.

    Fisher's exact test (``scipy.stats.fisher_exact``, ``alternative="greater"``)
    on the 2x2 table ``[[k_anomaly, n_anomaly - k_anomaly], [k_normal,
    n_normal - k_normal]]`` (rows: anomaly / normal clips; columns: above /
    not above the threshold). Conditional on the margins, the p-value is the
    hypergeometric probability of ``k_anomaly`` or more flagged anomaly clips
    if flags fell on anomaly and normal clips alike. It is exact, so valid for
    the small counts of a coverage cell (conservative rather than liberal).

    Parameters
    ----------
    k_anomaly, n_anomaly : int
        Anomaly clips above the threshold, anomaly clips in the cell.
    k_normal, n_normal : int
        Normal clips above the threshold (false positives), normal clips.

    Returns
    -------
    float
        p-value in (0, 1].
    """
    from scipy.stats import fisher_exact

    k_a, n_a = _count(k_anomaly, n_anomaly, "rate_above (anomaly clips)")
    k_n, n_n = _count(k_normal, n_normal, "rate_above (normal clips)")
    _, p = fisher_exact([[k_a, n_a - k_a], [k_n, n_n - k_n]], alternative="greater")
    p = float(p)
    return 1.0 if math.isnan(p) else min(p, 1.0)


def rate_above(k_anomaly: int, n_anomaly: int, k_normal: int, n_normal: int, *, alpha: float = ALPHA) -> bool:
    """True if the detection rate ``k_anomaly / n_anomaly`` is significantly above ``k_normal / n_normal``.

    One-sided Fisher exact test at level ``alpha`` (see :func:`rate_above_p_value`):
    significant when ``p < alpha``.

    Parameters
    ----------
    k_anomaly, n_anomaly : int
        Anomaly clips above the threshold, anomaly clips.
    k_normal, n_normal : int
        Normal clips above the threshold, normal clips.
    alpha : float
        Significance level in (0, 1).

    Returns
    -------
    bool
    """
    if not (isinstance(alpha, numbers.Real) and 0.0 < alpha < 1.0):
        raise FaultsynthError(f"rate_above: alpha must lie in (0, 1), got {alpha!r}")
    return rate_above_p_value(k_anomaly, n_anomaly, k_normal, n_normal) < alpha
