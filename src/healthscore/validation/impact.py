"""What a scorecard change would do, before it ships: both versions evaluated on the same data
(nothing written), the band transition matrix with counts and ARR, the accounts that move and
the measures that moved them, and — when history is stored — the backtest before and after
on the same sample dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from healthscore.config.scorecard import LoadedScorecard
from healthscore.engine import Evaluator
from healthscore.errors import NotFound
from healthscore.read.outcomes import observations
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card, measure_labels
from healthscore.validation.backtest import sample_dates, target_of
from healthscore.validation.weights import evaluate_scores

BANDS = ("red", "yellow", "green")
#: A score change of at least this many points lists an account among the movers.
MOVE = 5.0


@dataclass
class ImpactPreview:
    """The change from ``current`` to ``candidate`` on ``as_of`` (``summary``, JSON-ready:
    ``transitions``, ``movers``, ``backtest``); nothing was written."""

    scorecard: str
    current_version: str
    candidate_version: str
    as_of: date
    summary: dict = field(repr=False)


def _arr(r: Reader, as_of: date) -> pd.DataFrame:
    return r.arrow("""
        SELECT account_id, name, coalesce(arr, 0) AS arr FROM accounts
        WHERE (_valid_from IS NULL OR _valid_from < ?::DATE + 1)
          AND (_valid_to IS NULL OR _valid_to >= ?::DATE + 1)""", [as_of, as_of]).to_pandas()


def _points(ev) -> pd.DataFrame:
    m = ev.measures.to_pandas()
    return m.groupby(["account_id", "group", "measure"], sort=False)["points"].sum()


def transitions(old: pd.DataFrame, new: pd.DataFrame, arr: pd.DataFrame) -> dict:
    """Accounts (and ARR) by old band × new band, over the accounts either version scores
    (a band of None: unscored)."""
    both = old.merge(new, on="account_id", how="outer", suffixes=("_old", "_new")).merge(
        arr[["account_id", "arr"]], on="account_id", how="left")
    both["arr"] = both["arr"].fillna(0.0)
    rows = []
    for b_old in (*BANDS, None):
        for b_new in (*BANDS, None):
            mask = ((both["band_old"] == b_old) if b_old else both["band_old"].isna()) & (
                (both["band_new"] == b_new) if b_new else both["band_new"].isna())
            if mask.any():
                rows.append({"from": b_old, "to": b_new, "accounts": int(mask.sum()),
                             "arr": float(both.loc[mask, "arr"].sum())})
    moved = both["band_old"].fillna("-") != both["band_new"].fillna("-")
    return {"cells": rows, "accounts": int(len(both)), "changed_band": int(moved.sum()),
            "changed_band_arr": float(both.loc[moved, "arr"].sum())}


def preview_change(r: Reader, backend, current: LoadedScorecard, candidate: LoadedScorecard,
                   as_of: date, *, history: bool = True, horizon: int = 90, every: int = 30,
                   top: int = 20, resamples: int = 100) -> ImpactPreview:
    """Evaluate ``current`` and ``candidate`` on ``as_of`` from the store's data (read only)
    and compare; with ``history``, also score the candidate on the sample dates where the
    current version is stored and backtest both on them."""
    evs = {k: Evaluator(backend, sc.scorecard).evaluate(as_of)
           for k, sc in (("old", current), ("new", candidate))}
    acc = {k: ev.accounts.to_pandas()[["account_id", "score", "band"]] for k, ev in evs.items()}
    arr = _arr(r, as_of)
    summary: dict = {"scorecard": current.name, "as_of": as_of,
                     "current_version": current.scorecard.version,
                     "candidate_version": candidate.scorecard.version,
                     "transitions": transitions(acc["old"], acc["new"], arr)}
    both = acc["old"].merge(acc["new"], on="account_id", how="outer",
                            suffixes=("_old", "_new")).merge(arr, on="account_id", how="left")
    both["delta"] = both["score_new"] - both["score_old"]
    moving = both[(both["band_old"].fillna("-") != both["band_new"].fillna("-"))
                  | (both["delta"].abs() >= MOVE)].copy()
    moving = moving.assign(size=moving["delta"].abs().fillna(np.inf)).sort_values(
        ["size", "account_id"], ascending=[False, True]).head(top)
    points = {k: _points(ev) for k, ev in evs.items()}
    labels = {**measure_labels(current.scorecard), **measure_labels(candidate.scorecard)}
    movers = []
    for row in moving.itertuples(index=False):
        old = points["old"].get(row.account_id, pd.Series(dtype=float))
        new = points["new"].get(row.account_id, pd.Series(dtype=float))
        diff = new.sub(old, fill_value=0.0)
        diff = diff[diff.abs() >= 0.05].sort_values(key=np.abs, ascending=False).head(3)
        movers.append({
            "account_id": row.account_id, "name": row.name if isinstance(row.name, str) else None,
            "arr": None if pd.isna(row.arr) else float(row.arr),
            "old_score": None if pd.isna(row.score_old) else float(row.score_old),
            "new_score": None if pd.isna(row.score_new) else float(row.score_new),
            "old_band": row.band_old if isinstance(row.band_old, str) else None,
            "new_band": row.band_new if isinstance(row.band_new, str) else None,
            "measures": [{"group": g, "measure": mid, "label": labels.get(mid, mid),
                          "points": float(v)} for (g, mid), v in diff.items()]})
    summary["movers"] = movers
    summary["movers_total"] = int(((both["band_old"].fillna("-") != both["band_new"].fillna(
        "-")) | (both["delta"].abs() >= MOVE)).sum())
    summary["backtest"] = _history(r, backend, current, candidate, horizon, every,
                                   resamples) if history else None
    return ImpactPreview(current.name, current.scorecard.version,
                         candidate.scorecard.version, as_of, summary)


def _history(r: Reader, backend, current: LoadedScorecard, candidate: LoadedScorecard,
             horizon: int, every: int, resamples: int) -> dict | None:
    """Both versions backtested on the same sample dates: the current from its stored
    snapshots, the candidate evaluated on each date (nothing stored). None without stored
    history or outcomes."""
    card = Card.of(current)
    goal = target_of(card)
    try:
        dates = sample_dates(r, card, start=None, end=None, every=every)
    except NotFound:  # nothing stored yet: the preview of the date stands alone
        return None
    obs = observations(r, card, dates, horizon, goal.outcome).to_pandas()
    obs = obs[obs["observed"]].reset_index(drop=True)
    if obs.empty or obs["event"].all() or not obs["event"].any():
        return None
    evaluator = Evaluator(backend, candidate.scorecard)
    evaluator.prepare(dates)
    new = pd.concat([evaluator.evaluate(d).accounts.to_pandas()[["account_id", "score", "band"]]
                     .assign(as_of=d) for d in dates])
    joined = obs.merge(new, on=["account_id", "as_of"], how="left", suffixes=("", "_new"))
    before = evaluate_scores(obs, obs["score"].to_numpy(float),
                             obs["band"].to_numpy(object), goal, resamples)
    after = evaluate_scores(joined, joined["score_new"].to_numpy(float),
                            joined["band_new"].to_numpy(object), goal, resamples)
    return {"horizon": horizon, "every": every,
            "dates": {"first": dates[0], "last": dates[-1], "count": len(dates)},
            "before": before, "after": after}
