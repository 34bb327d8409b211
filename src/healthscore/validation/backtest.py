"""The backtest: does the stored score predict churn?

Each account scored on a sample date d is labelled by what happened in (d, d + horizon]: a churn
(a renewal with the outcome ``churned``, or the account's ``churned_at``), or another outcome
(renewed, expanded, contracted; a contraction is also counted apart); an account with no outcome
in the window is censored and left out — it is not counted as renewed. Only stored snapshots
are read, so every score is point-in-time by construction. The metrics are in
:mod:`healthscore.validation.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from healthscore.errors import InputError, NotFound
from healthscore.read.dates import scored_dates
from healthscore.read.outcomes import (
    at_renewal,
    churn_histories,
    group_scores,
    measure_values,
    observations,
    outcome_span,
    renewal_dates,
    timelines,
)
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.validation import metrics as m

#: How many churned accounts' score timelines the report shows (the latest churns).
TIMELINES = 24

#: An AUC above this is too good to be true for a health score: look for a measure that reads
#: the outcome (leakage).
LEAKAGE_AUC = 0.9


@dataclass
class Backtest:
    """A backtest's parameters, its metrics (``summary``, JSON-ready) and the per-account
    observations it rests on (``observations``: one row per account and sample date)."""

    scorecard: str
    version: str
    horizon: int
    dates: list[date]
    summary: dict
    observations: pd.DataFrame = field(repr=False)
    warnings: list[str] = field(default_factory=list)
    #: the run that recorded it (set by :func:`healthscore.pipeline.backtest`)
    run_id: int | None = None


def sample_dates(r: Reader, card: Card, *, start: date | None, end: date | None,
                 every: int) -> list[date]:
    """Every ``every``-th day from ``start`` to ``end`` (default: the first and the latest
    scored dates); raises :class:`NotFound` naming the dates without a snapshot and the
    backfill command that scores them."""
    if every < 1:
        raise InputError("every", f"{every} is not a positive number of days")
    scored = _scored(r, card)
    start, end = start or scored[0], end or scored[-1]
    if end < start:
        raise InputError("to", f"{end} is before --from {start}")
    wanted = [start + timedelta(days=k) for k in range(0, (end - start).days + 1, every)]
    _all_scored(card, wanted, scored, "sample dates", f" --step {every}",
                ", or sample only scored dates (--from/--to/--every)")
    return wanted


def _scored(r: Reader, card: Card) -> list[date]:
    """The card's scored dates; :class:`NotFound` when there are none."""
    scored = scored_dates(r, card)
    if not scored:
        raise NotFound(f"no {card.name} snapshots to backtest",
                       hint="score a year of history first: healthscore backfill --days 365")
    return scored


def _all_scored(card: Card, wanted: list[date], scored: list[date], what: str,
                step: str = "", more: str = "") -> None:
    """:class:`NotFound` naming the ``wanted`` dates without a snapshot and the backfill that
    scores them."""
    have = set(scored)
    missing = [d for d in wanted if d not in have]
    if missing:
        raise NotFound(
            f"{len(missing)} of the {len(wanted)} {what} have no {card.name} snapshot "
            f"(first: {missing[0]}, last: {missing[-1]})",
            hint=f"score them: healthscore backfill --from {missing[0]} --to {missing[-1]}"
                 f"{step}{more}")


def _at_renewal(r: Reader, card: Card, days: int, start: date | None, end: date | None
                ) -> tuple[list[date], pd.DataFrame]:
    """The dates ``days`` before the renewals in range, each scored (else :class:`NotFound`
    naming the dates and the backfill that scores them), and their observations."""
    if days < 0:
        raise InputError("at_renewal", f"{days} is negative", hint="give 0 days or more")
    scored = _scored(r, card)
    first, last = start or scored[0], end or scored[-1]
    wanted = renewal_dates(r, days, first, last)
    if not wanted:
        raise NotFound(f"no renewal on record falls {days} days after a date from {first} to "
                       f"{last}", hint="map the renewals export (docs/data.md) or widen "
                                       "--from/--to")
    _all_scored(card, wanted, scored, f"dates {days} days before a renewal")
    return wanted, at_renewal(r, card, days, first, last).to_pandas()


def backtest(r: Reader, card: Card, *, horizon: int = 90, start: date | None = None,
             end: date | None = None, every: int = 30, resamples: int = 200,
             drop: float = 15.0, lookback: int = 180,
             renewal_days: int | None = None) -> Backtest:
    """Backtest the card's stored scores against the churn that followed them.

    With ``renewal_days`` N, each renewal on record is scored exactly N days before it (its
    score on that date) and labelled by its own outcome, instead of sampling dates every
    ``every`` days and looking ``horizon`` days ahead.

    Returns a :class:`Backtest`; raises :class:`NotFound` when outcomes or snapshots are
    missing, saying what to map or score.
    """
    if horizon < 1:
        raise InputError("horizon", f"{horizon} is not a positive number of days")
    span = outcome_span(r)
    if not span["renewals"] and not span["churned_at"]:
        raise NotFound("no outcomes to test against: the renewals table is empty and no "
                       "account has a churned_at",
                       hint="map your renewals export onto the renewals table (account_id, "
                            "renewal_date, outcome: renewed/churned/expanded/contracted) in "
                            "healthscore.yaml under sources:, or accounts.churned_at "
                            "(docs/data.md, docs/sources.md)")
    if renewal_days is not None:
        dates, obs = _at_renewal(r, card, renewal_days, start, end)
        horizon = renewal_days
    else:
        dates = sample_dates(r, card, start=start, end=end, every=every)
        obs = observations(r, card, dates, horizon).to_pandas()
    warnings = []
    last_outcome = max(d for d in (span["last"],) if d is not None) if span["last"] else None
    if last_outcome is not None and renewal_days is None:
        short = [d for d in dates if d + timedelta(days=horizon) > last_outcome]
        if short:
            warnings.append(
                f"{len(short)} sample date(s) from {short[0]} look past the last renewal on "
                f"record ({last_outcome}) within the {horizon}-day horizon: their outcomes may "
                "be incomplete (accounts without one are censored)")
    labelled = obs[obs["observed"]].reset_index(drop=True)
    summary = _metrics(labelled, resamples=resamples)
    summary.update(scorecard=card.name, version=card.version, horizon=horizon,
                   at_renewal=renewal_days,
                   dates={"first": dates[0], "last": dates[-1], "count": len(dates)},
                   observations=int(len(obs)), censored=int((~obs["observed"]).sum()),
                   contracted=int(labelled["contracted"].sum()))
    values = measure_values(r, card, dates).to_pandas()
    summary["measures"] = _measure_power(values, labelled)
    summary["baselines"] = _baselines(r, card, dates, values, labelled, resamples)
    summary["calibration"] = m.calibration(
        labelled["churned"].to_numpy(dtype=bool), 100.0 - labelled["score"].to_numpy(float),
        labelled["account_id"].to_numpy(dtype=object))
    summary["survival"] = m.survival_by_band(*_durations(labelled, horizon))
    churns = churn_histories(r, card, first=dates[0], last=dates[-1] + timedelta(days=horizon),
                             lookback=lookback, drop=drop)
    summary["lead_time"] = {**m.lead_times(churns), "lookback_days": lookback,
                            "drop_points": drop}
    latest = sorted(churns, key=lambda c: (c["churn_date"], c["account_id"]))[-TIMELINES:]
    summary["timelines"] = timelines(r, card, latest, lookback)
    churners = summary["churners"]
    if churners < m.MIN_CHURNERS or churners == summary["labelled"]:
        warnings.append(f"only {churners} churner(s) among {summary['labelled']} labelled "
                        f"observations: the estimates are unreliable (see the intervals)")
    if summary["auc"] == summary["auc"] and summary["auc"] > LEAKAGE_AUC:
        warnings.append(f"AUC {summary['auc']:.3f} is above {LEAKAGE_AUC}: check that no "
                        "measure reads the outcome (leakage)")
    leaky = [x["measure"] for x in summary["measures"]
             if x["auc"] is not None and max(x["auc"], 1 - x["auc"]) > LEAKAGE_AUC]
    if leaky:
        warnings.append("measures that alone predict churn too well (possible leakage): "
                        + ", ".join(leaky))
    summary["warnings"] = warnings
    return Backtest(card.name, card.version, horizon, dates, summary, labelled, warnings)


def _metrics(obs: pd.DataFrame, *, resamples: int) -> dict:
    churned = obs["churned"].to_numpy(dtype=bool)
    risk = 100.0 - obs["score"].to_numpy(dtype=float)
    arr = obs["arr"].to_numpy(dtype=float)
    band = obs["band"].to_numpy(dtype=object)
    ids = obs["account_id"].to_numpy(dtype=object)
    auc = m.auc(churned, risk)
    lo, hi = m.auc_interval(churned, risk, ids, resamples=resamples)
    out = {"labelled": int(len(obs)), "churners": int(churned.sum()),
           "roc": m.roc_points(churned, risk),
           "churn_rate": float(churned.mean()) if len(obs) else None,
           "auc": auc, "auc_interval": [lo, hi], "gini": 2 * auc - 1,
           **m.by_band(churned, band, arr),
           "red": m.precision_recall(churned, band == "red"),
           "red_or_yellow": m.precision_recall(churned, np.isin(band, ["red", "yellow"])),
           **m.deciles(churned, risk, arr, ids),
           "segments": _by(obs, "segment", churned, risk),
           "variants": _by(obs, "variant", churned, risk),
           "quarters": _by(obs.assign(quarter=pd.PeriodIndex(obs["as_of"], freq="Q").astype(str)
                                      if len(obs) else []), "quarter", churned, risk)}
    return out


def _by(obs: pd.DataFrame, column: str, churned: np.ndarray, risk: np.ndarray) -> list[dict]:
    """AUC with counts per value of ``column`` (segment, variant, quarter)."""
    out = []
    values = obs[column].fillna("(none)").astype(str).to_numpy() if len(obs) else np.array([])
    for value in sorted(set(values)):
        mask = values == value
        out.append({column: value, "labelled": int(mask.sum()),
                    "churners": int(churned[mask].sum()), "auc": m.auc(churned[mask],
                                                                        risk[mask])})
    return out


def _measure_power(values: pd.DataFrame, obs: pd.DataFrame) -> list[dict]:
    """Each measure alone: the AUC of its raw value for churn (direction: whether a higher
    value means more churn), its coverage and its mean effective weight."""
    if values.empty or obs.empty:
        return []
    joined = obs[["account_id", "as_of", "churned"]].merge(values, on=["account_id", "as_of"])
    out = []
    for measure, rows in joined.groupby("measure", sort=True):
        known = rows["raw_value"].notna().to_numpy()
        y = rows["churned"].to_numpy(dtype=bool)[known]
        x = rows["raw_value"].to_numpy(dtype=float)[known]
        value = m.auc(y, x)
        out.append({"measure": measure, "coverage": float(known.mean()),
                    "weight": float(rows["weight"].mean()),
                    "auc": None if np.isnan(value) else value,
                    "higher_means": None if np.isnan(value) else
                    ("more churn" if value >= 0.5 else "less churn"),
                    "power": None if np.isnan(value) else max(value, 1 - value)})
    return sorted(out, key=lambda x: -(x["power"] or 0))


def _durations(obs: pd.DataFrame, horizon: int) -> tuple:
    """Days from the score to the churn, or to the horizon's end for the others (censored)."""
    churned = obs["churned"].to_numpy(dtype=bool)
    days = np.full(len(obs), float(horizon))
    if churned.any():
        gap = (pd.to_datetime(obs["churn_date"]) - pd.to_datetime(obs["as_of"])).dt.days
        days[churned] = gap.to_numpy(dtype=float)[churned]
    return days, churned, obs["band"].to_numpy(dtype=object)


#: The obvious predictors a scorecard should beat: its usage group's score alone, and the days
#: since the account's last activity alone (when the scorecard has that measure).
USAGE_GROUP = "usage"
RECENCY = "days_since_last_activity"


def _baselines(r: Reader, card: Card, dates: list[date], values: pd.DataFrame,
               obs: pd.DataFrame, resamples: int) -> list[dict]:
    """The scorecard beside the usage-only and recency-only baselines, on the same
    observations (a baseline's missing values are left out of its own AUC)."""
    keys = ["account_id", "as_of"]
    out = [_auc_row("scorecard", obs, 100.0 - obs["score"].to_numpy(float), resamples)]
    usage = group_scores(r, card, dates, USAGE_GROUP).to_pandas()
    if usage.empty:
        has = card.scorecard is not None and any(
            USAGE_GROUP in card.scorecard.resolve(v).groups for v in card.scorecard.variant_names())
        out.append({"name": "usage only", "auc": None,
                    "note": f"no {USAGE_GROUP!r} group scores stored on the sample dates" if has
                    else f"the scorecard has no group named {USAGE_GROUP!r}"})
    else:
        joined = obs[keys + ["churned"]].merge(usage, on=keys, how="left")
        out.append(_auc_row("usage only", joined, 100.0 - joined["score"].to_numpy(float),
                            resamples))
    recency = values[values["measure"] == RECENCY][keys + ["raw_value"]] if not values.empty \
        else pd.DataFrame()
    if recency.empty:
        out.append({"name": "recency only", "auc": None,
                    "note": f"no {RECENCY} values stored on the sample dates (the scorecard "
                            "needs that measure)"})
    else:
        joined = obs[keys + ["churned"]].merge(recency, on=keys, how="left")
        out.append(_auc_row("recency only", joined, joined["raw_value"].to_numpy(float),
                            resamples))
    return out


def _auc_row(name: str, rows: pd.DataFrame, risk: np.ndarray, resamples: int) -> dict:
    known = ~np.isnan(risk)
    y = rows["churned"].to_numpy(dtype=bool)[known]
    ids = rows["account_id"].to_numpy(dtype=object)[known]
    value = m.auc(y, risk[known])
    lo, hi = m.auc_interval(y, risk[known], ids, resamples=resamples)
    return {"name": name, "labelled": int(known.sum()), "auc": None if np.isnan(value) else value,
            "auc_interval": [lo, hi], "roc": m.roc_points(y, risk[known])}
