"""Weights and the missing-data policy: measure scores → one 0-100 score per account; bands.

Measures are weighted inside groups and groups inside the scorecard. Per account, a measure
without data either takes a fixed score (and keeps its weight) or is left out, its group's other
measures sharing the group weight; a group left with nothing is left out and the other groups
share. Coverage records how much of the nominal weight was backed by real data.

All functions are pure and vectorised over accounts (rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.config.scorecard import Bands

__all__ = ["Combined", "band", "combine", "grade"]


@dataclass(frozen=True)
class Combined:
    """The combined score of ``n`` accounts over ``m`` measures in ``g`` groups.

    Attributes
    ----------
    score : numpy.ndarray
        ``(n,)`` score 0-100; NaN when no measure has data and no fixed score applies.
    coverage : numpy.ndarray
        ``(n,)`` 0-1: share of the nominal weight backed by real data (fixed scores are not data).
    weights : numpy.ndarray
        ``(n, m)`` effective weight of each measure; sums to 1 on every scored row, 0 for
        measures left out.
    points : numpy.ndarray
        ``(n, m)`` ``weights ×`` measure score, NaN-free (0 for measures left out); each row
        sums to ``score`` (0 on unscored rows).
    group_scores : numpy.ndarray
        ``(n, g)`` weighted mean score of each group's measures; NaN where the group was left out
        (no measure with data or a fixed score, or a zero weight).
    group_weights : numpy.ndarray
        ``(n, g)`` effective weight of each group; sums to 1 on every scored row.
    """

    score: np.ndarray
    coverage: np.ndarray
    weights: np.ndarray
    points: np.ndarray
    group_scores: np.ndarray
    group_weights: np.ndarray


def combine(scores: np.ndarray, measure_weights: np.ndarray, measure_group: np.ndarray,
            group_weights: np.ndarray, fixed: np.ndarray) -> Combined:
    """Combine measure scores into one score per account, with weights and missing data.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(n, m)`` measure scores 0-100; NaN means the account has no data for the measure.
    measure_weights : numpy.ndarray
        ``(m,)`` relative weights (≥ 0) of the measures inside their group.
    measure_group : numpy.ndarray
        ``(m,)`` group index (0 … g−1) of each measure.
    group_weights : numpy.ndarray
        ``(g,)`` relative weights (≥ 0) of the groups.
    fixed : numpy.ndarray
        ``(m,)`` missing-data policy per measure: NaN to leave the measure out and renormalise,
        else the score (0-100) a missing value gets.

    Returns
    -------
    Combined
        Score, coverage, and the per-measure and per-group breakdown that explains the score.

    Notes
    -----
    The nominal weight of a measure is ``(group weight / Σ group weights) × (measure weight /
    Σ measure weights in its group)``, the sums running over groups and measures with weight
    > 0; a group whose measures all weigh 0 counts as weight 0. Zero weights change nothing:
    a zero-weight measure or group never receives weight and never counts for coverage.
    An account with nothing left to score gets score NaN and coverage 0.

    Examples
    --------
    Two groups weighted 2:1; the first has two equal measures, one of them missing:

    >>> import numpy as np
    >>> c = combine(np.array([[80.0, np.nan, 50.0]]), np.array([1.0, 1.0, 1.0]),
    ...             np.array([0, 0, 1]), np.array([2.0, 1.0]), np.full(3, np.nan))
    >>> round(float(c.score[0]), 6), round(float(c.coverage[0]), 6)
    (70.0, 0.666667)
    """
    s = np.asarray(scores, dtype=float)
    mw, mg, gw, fx = _check(s, measure_weights, measure_group, group_weights, fixed)
    m = s.shape[1]
    g = len(gw)
    onehot = np.zeros((m, g))
    onehot[np.arange(m), mg] = 1.0

    # Groups count only if they weigh something and hold a measure that does.
    group_mw = mw @ onehot
    group_on = (gw > 0) & (group_mw > 0)
    gw_on = np.where(group_on, gw, 0.0)
    measure_on = (mw > 0) & group_on[mg]
    total_gw = gw_on.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        nominal = np.where(measure_on, (gw_on / total_gw)[mg] * mw / group_mw[mg], 0.0)

    has_data = ~np.isnan(s)
    value = np.where(has_data, s, fx)  # fixed scores stand in for missing data
    used = ~np.isnan(value) & measure_on
    value = np.where(used, value, 0.0)
    used_w = used * mw                                   # (n, m)
    group_used_w = _group_sums(used_w, mg, g)            # (n, g)
    group_in = group_used_w > 0
    group_eff = group_in * gw_on
    row_total = group_eff.sum(axis=1)
    scored = row_total > 0
    group_eff *= _safe_divide(1.0, row_total, scored)[:, None]

    # Spread each group's weight over its used measures. `@ onehot.T` gathers the per-group
    # factor into measure columns (exactly: one term is non-zero), much faster than [:, mg].
    per_unit = _safe_divide(group_eff, group_used_w, group_in)
    weights = used_w * (per_unit @ onehot.T)
    points = weights * value
    score = np.where(scored, np.clip(_row_sums(points), 0.0, 100.0), np.nan)
    group_scores = _safe_divide(_group_sums(used_w * value, mg, g), group_used_w, group_in,
                                np.nan)

    coverage = _row_sums(has_data * nominal)
    coverage = np.where(scored, np.clip(coverage, 0.0, 1.0), 0.0)
    return Combined(score=score, coverage=coverage, weights=weights, points=points,
                    group_scores=group_scores, group_weights=group_eff)


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Each row's sum, adding the columns left to right: the same bits for a row whatever
    the other rows (a snapshot's explanation is recomputed for one account on read)."""
    out = np.zeros(a.shape[0])
    for j in range(a.shape[1]):
        out += a[:, j]
    return out


def _group_sums(a: np.ndarray, group: np.ndarray, g: int) -> np.ndarray:
    """``(n, g)`` sums of the columns of ``a`` by group, left to right (see :func:`_row_sums`;
    a matrix product may add in another order for another number of rows)."""
    out = np.zeros((a.shape[0], g))
    for j in range(a.shape[1]):
        out[:, group[j]] += a[:, j]
    return out


def _safe_divide(num, den: np.ndarray, where: np.ndarray, fill: float = 0.0) -> np.ndarray:
    out = np.full(np.broadcast_shapes(np.shape(num), den.shape), fill)
    return np.divide(num, den, out=out, where=where)


def _check(s: np.ndarray, measure_weights, measure_group, group_weights, fixed):
    if s.ndim != 2:
        raise ValueError(f"scores must be (accounts, measures), got shape {s.shape}")
    m = s.shape[1]
    mw = np.asarray(measure_weights, dtype=float)
    mg = np.asarray(measure_group)
    gw = np.asarray(group_weights, dtype=float)
    fx = np.asarray(fixed, dtype=float)
    for name, arr in (("measure_weights", mw), ("measure_group", mg), ("fixed", fx)):
        if arr.shape != (m,):
            raise ValueError(f"{name} must have shape ({m},) like the score columns, "
                             f"got {arr.shape}")
    if gw.ndim != 1:
        raise ValueError(f"group_weights must be one-dimensional, got shape {gw.shape}")
    if not np.issubdtype(mg.dtype, np.integer) or (m and (mg.min() < 0 or mg.max() >= len(gw))):
        raise ValueError(f"measure_group must hold group indexes 0..{len(gw) - 1}")
    for name, arr in (("measure_weights", mw), ("group_weights", gw)):
        if not np.all(np.isfinite(arr) & (arr >= 0)):
            raise ValueError(f"{name} must be finite and ≥ 0, got {arr.tolist()}")
    return mw, mg.astype(np.int64), gw, fx


def band(score: np.ndarray, bands: Bands) -> np.ndarray:
    """Name the traffic-light band of each score.

    Parameters
    ----------
    score : numpy.ndarray
        ``(n,)`` scores 0-100, NaN for unscored accounts.
    bands : Bands
        Thresholds: below ``red`` is ``"red"``, below ``yellow`` is ``"yellow"``, else
        ``"green"``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` object array of ``"red"``, ``"yellow"``, ``"green"``, or None where the score
        is NaN.

    Examples
    --------
    >>> from healthscore.config.scorecard import Bands
    >>> band(np.array([10.0, 40.0, 70.0, np.nan]), Bands(red=40, yellow=70)).tolist()
    ['red', 'yellow', 'green', None]
    """
    s = np.asarray(score, dtype=float)
    out = np.full(s.shape, None, dtype=object)
    out[s >= bands.yellow] = "green"
    out[(s >= bands.red) & (s < bands.yellow)] = "yellow"
    out[s < bands.red] = "red"
    return out


def grade(score: np.ndarray, grades: dict[str, float]) -> np.ndarray:
    """Give each score its letter grade: the grade with the highest minimum ≤ the score.

    Parameters
    ----------
    score : numpy.ndarray
        ``(n,)`` scores 0-100, NaN for unscored accounts.
    grades : dict of str to float
        Grade → minimum score, e.g. ``{"A": 85, "B": 70, "C": 55, "D": 40, "F": 0}``. When two
        grades share a minimum, the first listed wins.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` object array of grade names; None where the score is NaN or below every minimum.

    Examples
    --------
    >>> grade(np.array([90.0, 85.0, 12.0, np.nan]), {"A": 85, "B": 70, "F": 0}).tolist()
    ['A', 'A', 'F', None]
    """
    s = np.asarray(score, dtype=float)
    # Among equal minimums keep the first listed: sort is stable, so put it last in its run.
    items = sorted(reversed(list(grades.items())), key=lambda kv: kv[1])
    names = np.array([None] + [k for k, _ in items], dtype=object)
    mins = np.array([v for _, v in items], dtype=float)
    idx = np.searchsorted(mins, s, side="right")
    out = names[idx]
    out[np.isnan(s)] = None
    return out
