"""Weights fitted to outcomes, pure: a matrix of measure scores and the events that followed
in, non-negative weights that sum to 1 out. No store, no clock.

The model is the scorecard's own arithmetic, a weighted mean of measure scores, passed through
a logistic link so it can be fitted by maximum likelihood::

    P(event) = 1 / (1 + exp(-(a + s · b · Σ w_m x_m / 100)))

with ``s`` = −1 when a low score should precede the event (churn) and +1 when a high one
should (expansion), ``b ≥ 0``, ``w ≥ floor`` and ``Σ w = 1``. A small ridge pulls the weights
toward the scorecard's own (``prior``), so measures the data cannot tell apart keep the
shares the scorecard gave them instead of an arbitrary split. Missing scores are filled with
the measure's mean for the fit (the scorecard leaves them out and shares their weight; the
suggestion is then scored exactly, see :mod:`healthscore.validation.weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

#: Weights below this share of the total are no support: set to 0 (or to the floor).
NEGLIGIBLE = 0.005


@dataclass(frozen=True)
class Fit:
    """Fitted shares of the score (``weights``, summing to 1), the logistic intercept and
    slope, the mean log-loss on the rows fitted, and whether the optimiser converged."""

    weights: np.ndarray
    intercept: float
    slope: float
    loss: float
    converged: bool


def filled(x: np.ndarray) -> np.ndarray:
    """``x`` with each column's missing values (NaN) replaced by the column's mean (50 for an
    all-missing column)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.where(np.isnan(x).all(axis=0), 50.0, x), axis=0)
    return np.where(np.isnan(x), means, x)


def fit_weights(x: np.ndarray, event: np.ndarray, *, rises: bool = False,
                prior: np.ndarray | None = None, floors: np.ndarray | None = None,
                allowed: np.ndarray | None = None, ridge: float = 0.002) -> Fit:
    """Fit the shares of ``m`` measures in a weighted-mean score to ``event``.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, m)`` measure scores 0-100 (NaN: no data).
    event : numpy.ndarray
        ``(n,)`` whether the event followed.
    rises
        True when a higher score should precede the event (expansion); False for churn.
    prior
        ``(m,)`` the current shares (sums to 1): the ridge pulls toward them. Default equal.
    floors
        ``(m,)`` the least share each measure keeps (0 for most; the floor for measures marked
        actionable). Their sum must be below 1.
    allowed
        ``(m,)`` False for measures that must weigh 0 (too little data). Default all.
    ridge
        Strength of the pull toward ``prior`` (per unit of squared share).

    Returns
    -------
    Fit
        Shares ≥ their floors, 0 where not allowed, summing to 1; shares below
        :data:`NEGLIGIBLE` (and above no floor) are set to 0 and the rest rescaled.

    Examples
    --------
    The event follows a low first measure; the second is noise:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 100, (400, 2))
    >>> churn = rng.uniform(0, 100, 400) > x[:, 0] + 20
    >>> f = fit_weights(x, churn)
    >>> bool(f.weights[0] > 0.8), round(float(f.weights.sum()), 6)
    (True, 1.0)
    """
    x = filled(x)
    y = np.asarray(event, dtype=float)
    n, m = x.shape
    prior = np.full(m, 1.0 / m) if prior is None else np.asarray(prior, dtype=float)
    floors = np.zeros(m) if floors is None else np.asarray(floors, dtype=float)
    allowed = np.ones(m, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    floors = np.where(allowed, floors, 0.0)
    if floors.sum() >= 1:
        raise ValueError(f"the floors sum to {floors.sum():.2f}: they must leave room (< 1)")
    if not allowed.any():
        raise ValueError("no measure may weigh anything")
    sign = 1.0 if rises else -1.0
    xs = x / 100.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, a, b = theta[:m], theta[m], theta[m + 1]
        mean = xs @ w
        z = a + sign * b * mean
        # log(1 + e^z) computed stably; p = sigmoid(z)
        nll = np.logaddexp(0.0, z) - y * z
        p = np.exp(-np.logaddexp(0.0, -z))
        r = (p - y) / n
        pull = w - prior
        value = nll.mean() + ridge * (pull @ pull)
        grad = np.empty(m + 2)
        grad[:m] = sign * b * (xs.T @ r) + 2 * ridge * pull
        grad[m] = r.sum()
        grad[m + 1] = sign * (mean @ r)
        return float(value), grad

    start_w = np.where(allowed, np.maximum(prior, floors), 0.0)
    start_w = start_w / start_w.sum()
    rate = min(max(y.mean(), 1e-3), 1 - 1e-3)
    start = np.r_[start_w, np.log(rate / (1 - rate)), 1.0]
    bounds = [(f, 1.0) if ok else (0.0, 0.0) for f, ok in zip(floors, allowed, strict=True)]
    bounds += [(None, None), (0.0, None)]
    result = minimize(loss, start, jac=True, method="SLSQP", bounds=bounds,
                      constraints=[{"type": "eq", "fun": lambda t: t[:m].sum() - 1.0,
                                    "jac": lambda t: np.r_[np.ones(m), 0.0, 0.0]}],
                      options={"maxiter": 500, "ftol": 1e-10})
    w = np.clip(result.x[:m], floors, 1.0)
    w = np.where(allowed & ((w >= NEGLIGIBLE) | (floors > 0)), w, 0.0)
    w = _rescale(w, floors)
    value, _ = loss(np.r_[w, result.x[m], result.x[m + 1]])
    return Fit(w, float(result.x[m]), float(result.x[m + 1]), value, bool(result.success))


def _rescale(w: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """``w`` scaled to sum to 1 while every share stays at or above its floor: the shares
    above their floors give or take the difference in proportion."""
    total = w.sum()
    if total <= 0:
        return w
    free = w - floors
    room = 1.0 - floors.sum()
    if free.sum() <= 0:
        return floors / floors.sum()
    return floors + free * (room / free.sum())
