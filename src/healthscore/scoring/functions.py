"""Scoring functions: raw measure values → 0-100 measure scores, for all accounts at once.

Everything here is pure and vectorised: one call scores a whole column of accounts, with NaN
meaning "no data" on the way in and on the way out. Loops run over tiers or distinct values,
never over accounts.
"""

from __future__ import annotations

import numpy as np

from healthscore.config.scorecard import Boolean, Linear, Log, Percentile, Scoring, Tier

__all__ = ["score_values"]


def score_values(values: np.ndarray, scoring: Scoring, *,
                 within: np.ndarray | None = None) -> np.ndarray:
    """Score raw measure values 0-100 with one scorecard scoring function.

    Parameters
    ----------
    values : numpy.ndarray
        Raw values, one per account, shape ``(n,)``; NaN means the account has no data.
    scoring : Scoring
        The measure's scoring: exactly one of ``linear``, ``log``, ``tiers``, ``percentile``,
        ``boolean``, ``map``.
    within : numpy.ndarray, optional
        For ``percentile`` only: the segment of each account, shape ``(n,)``, any labels
        (strings, numbers, None). Accounts are ranked against accounts with the same label;
        accounts whose label is missing (None/NaN) are ranked among themselves. ``None`` ranks
        every account against the whole portfolio. Ignored by the other scorings.

    Returns
    -------
    numpy.ndarray
        Float scores in [0, 100], shape ``(n,)``. NaN where the value is missing, where no tier
        holds (``tiers`` without a catch-all), or where a ``map`` has no entry for the value.

    Notes
    -----
    - ``linear``: ``from`` scores 0, ``to`` scores 100, linear between, clamped outside.
    - ``log``: the same on ``ln(value)`` between ``ln(from)`` and ``ln(to)``; values at or
      below the smaller bound score as that bound.
    - ``tiers``: the first tier whose ``at_least`` (value ≥) or ``at_most`` (value ≤) holds;
      a tier with neither holds for every non-missing value.
    - ``percentile``: ``100 × (lower + ½ × equal) / (n − 1)``, where ``lower`` counts accounts of
      the same group with a strictly lower value, ``equal`` the *other* accounts with an equal
      value and ``n`` the accounts of the group with a value; 50 when ``n = 1``.
      ``higher_is_better: false`` gives ``100 −`` that.
    - ``boolean``: non-zero scores ``true``, zero scores ``false``.
    - ``map``: a value is looked up by its text form ``format(value, "g")`` (3.0 → ``"3"``,
      0.5 → ``"0.5"``); failing that, by numeric equality with keys that parse as numbers
      (so ``"3.0"`` or ``"1000000"`` match too).

    Examples
    --------
    >>> import numpy as np
    >>> from healthscore.config.scorecard import Scoring
    >>> s = Scoring.model_validate({"linear": {"from": 30, "to": 0}})
    >>> score_values(np.array([0.0, 15.0, 45.0, np.nan]), s).tolist()
    [100.0, 50.0, 0.0, nan]
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {v.shape}")
    kind = scoring.kind
    if kind == "linear":
        return _linear(v, scoring.linear)
    if kind == "log":
        return _log(v, scoring.log)
    if kind == "tiers":
        return _tiers(v, scoring.tiers)
    if kind == "percentile":
        return _percentile(v, scoring.percentile, within)
    if kind == "boolean":
        return _boolean(v, scoring.boolean)
    return _map(v, scoring.map)


def _linear(v: np.ndarray, p: Linear) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        # np.clip keeps NaN, so missing stays missing.
        return np.clip((v - p.from_) / (p.to - p.from_) * 100.0, 0.0, 100.0)


def _log(v: np.ndarray, p: Log) -> np.ndarray:
    low = min(p.from_, p.to)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.log(np.where(np.isnan(v), np.nan, np.maximum(v, low)))
        return np.clip((x - np.log(p.from_)) / (np.log(p.to) - np.log(p.from_)) * 100.0,
                       0.0, 100.0)


def _tiers(v: np.ndarray, tiers: list[Tier]) -> np.ndarray:
    out = np.full(v.shape, np.nan)
    undecided = ~np.isnan(v)
    for tier in tiers:
        holds = undecided.copy()
        if tier.at_least is not None:
            holds &= v >= tier.at_least
        if tier.at_most is not None:
            holds &= v <= tier.at_most
        out[holds] = tier.score
        undecided &= ~holds
    return out


def _boolean(v: np.ndarray, p: Boolean) -> np.ndarray:
    return np.where(np.isnan(v), np.nan, np.where(v != 0, p.when_true, p.when_false))


def _map(v: np.ndarray, table: dict[str, float]) -> np.ndarray:
    numeric: dict[float, float] = {}
    for key, score in table.items():
        try:
            numeric.setdefault(float(key), score)
        except ValueError:
            continue
    out = np.full(v.shape, np.nan)
    ok = ~np.isnan(v)
    uniques, inverse = np.unique(v[ok], return_inverse=True)
    found = np.array([table.get(format(u, "g"), numeric.get(float(u), np.nan))
                      for u in uniques], dtype=float)
    out[ok] = found[inverse] if len(uniques) else np.empty(0)
    return out


def _group_codes(labels: np.ndarray) -> np.ndarray:
    """A code per label, equal labels equal codes; NaN/None labels share a code of their own
    (those accounts are ranked together)."""
    codes: dict = {}
    return np.fromiter(
        (codes.setdefault(None if x is None or (isinstance(x, float) and x != x) else x,
                          len(codes)) for x in labels), np.int64, len(labels))


def _percentile(v: np.ndarray, p: Percentile, within: np.ndarray | None) -> np.ndarray:
    n = len(v)
    if within is None:
        codes = np.zeros(n, dtype=np.int64)
    else:
        labels = np.asarray(within, dtype=object)
        if labels.shape != v.shape:
            raise ValueError(f"`within` has shape {labels.shape}, values have {v.shape}")
        codes = _group_codes(labels)
    out = np.full(n, np.nan)
    ok = ~np.isnan(v)
    if not ok.any():
        return out
    val, grp = v[ok], codes[ok]
    order = np.lexsort((val, grp))
    sv, sg = val[order], grp[order]
    k = len(sv)
    pos = np.arange(k)
    new_group = np.r_[True, sg[1:] != sg[:-1]]
    new_run = new_group | np.r_[True, sv[1:] != sv[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    group_id = np.cumsum(new_group) - 1
    run_id = np.cumsum(new_run) - 1
    group_n = np.bincount(group_id)[group_id]
    run_len = np.bincount(run_id)[run_id]
    lower = run_start - group_start
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * (lower + 0.5 * (run_len - 1)) / (group_n - 1)
    pct = np.where(group_n == 1, 50.0, pct)
    if not p.higher_is_better:
        pct = 100.0 - pct
    ranked = np.empty(k)
    ranked[order] = pct
    out[ok] = ranked
    return out
