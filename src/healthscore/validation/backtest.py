"""The backtest: does the stored score predict what it claims to — churn, or expansion?

Each account scored on a sample date d is labelled by what happened in (d, d + horizon]: the
event under test (:class:`Target`: for churn a renewal with the outcome ``churned`` or the
account's ``churned_at``; for expansion a renewal ``expanded``), or another outcome (renewed,
expanded, contracted, churned; a contraction is also counted apart); an account with no outcome
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
    event_histories,
    measure_values,
    observations,
    outcome_span,
    renewal_dates,
    timelines,
)
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.validation import metrics as m

#: How many accounts' score timelines before their event the report shows (the latest).
TIMELINES = 24


@dataclass(frozen=True)
class Target:
    """What a backtest tests a score against, and the words for it."""

    name: str          #: ``churn`` or ``expansion`` (a scorecard's ``predicts``)
    outcome: str       #: the renewal outcome that is the event
    flag: str          #: the band that flags the event (red before a churn)
    score_rises: bool  #: a higher score means the event is likelier

    @property
    def wide(self) -> tuple[str, str]:
        """The flag band and the one next to it (red or yellow)."""
        return self.flag, "yellow"

    def risk(self, score: np.ndarray) -> np.ndarray:
        """The rank that should be higher before the event: the score for expansion,
        ``100 - score`` for churn."""
        score = np.asarray(score, dtype=float)
        return score if self.score_rises else 100.0 - score

    def words(self) -> dict:
        """The target as recorded in a backtest's summary (read by the report)."""
        return {"name": self.name, "outcome": self.outcome, "flag": self.flag, "wide": list(self.wide),
                "rank": "score" if self.score_rises else "risk (100 - score)"}


TARGETS = {"churn": Target("churn", "churned", "red", False),
           "expansion": Target("expansion", "expanded", "green", True)}


def target_of(card: Card, name: str | None = None) -> Target:
    """The target named, else the one the scorecard ``predicts`` (churn by default)."""
    if name is None:
        name = card.scorecard.predicts if card.scorecard is not None else "churn"
    if name not in TARGETS:
        raise InputError("target", f"{name!r} is not a backtest target",
                         hint="choose " + " or ".join(TARGETS))
    return TARGETS[name]

#: An AUC above this is too good to be true for a health score: look for a measure that reads
#: the outcome (leakage).
LEAKAGE_AUC = 0.9


@dataclass
class Backtest:
    """A backtest's parameters, its metrics (``summary``, JSON-ready) and the per-account
    observations it rests on (``observations``: one row per account and sample date, with
    ``event`` true when the target's event followed within the horizon)."""

    scorecard: str
    version: str
    target: str
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


def _at_renewal(r: Reader, card: Card, target: Target, days: int, start: date | None,
                end: date | None, first_known: bool = False
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
    return wanted, at_renewal(r, card, days, first, last, target.outcome,
                              first_known=first_known).to_pandas()


def backtest(r: Reader, card: Card, *, horizon: int = 90, start: date | None = None,
             end: date | None = None, every: int = 30, resamples: int = 200,
             move: float = 15.0, lookback: int = 180, renewal_days: int | None = None,
             target: str | None = None, first_known: bool = False) -> Backtest:
    """Backtest the card's stored scores against what followed them: churn or expansion
    (``target``; default: what the scorecard ``predicts``).

    With ``renewal_days`` N, each renewal on record is scored exactly N days before it (its
    score on that date) and labelled by its own outcome, instead of sampling dates every
    ``every`` days and looking ``horizon`` days ahead. ``move`` is the change in points (a drop
    before a churn, a rise before an expansion) whose lead time is reported beside the first
    flag's, looking back ``lookback`` days before each event.

    With ``first_known``, each date's score is the one first computed for it — what the team
    saw that day — rather than a later revision after late data
    (:mod:`healthscore.read.revisions`).

    Returns a :class:`Backtest`; raises :class:`NotFound` when outcomes or snapshots are
    missing, saying what to map or score.
    """
    if horizon < 1:
        raise InputError("horizon", f"{horizon} is not a positive number of days")
    goal = target_of(card, target)
    span = outcome_span(r, goal.outcome)
    if not span["renewals"] and not (span["churned_at"] and goal.name == "churn"):
        raise NotFound("no outcomes to test against: the renewals table is empty"
                       + (" and no account has a churned_at" if goal.name == "churn" else ""),
                       hint="map your renewals export onto the renewals table (account_id, "
                            "renewal_date, outcome: renewed/churned/expanded/contracted) in "
                            "healthscore.yaml under sources:, or accounts.churned_at "
                            "(docs/data.md, docs/sources.md)")
    if renewal_days is not None:
        dates, obs = _at_renewal(r, card, goal, renewal_days, start, end, first_known)
        horizon = renewal_days
    else:
        dates = sample_dates(r, card, start=start, end=end, every=every)
        obs = observations(r, card, dates, horizon, goal.outcome,
                           first_known=first_known).to_pandas()
    warnings = []
    if span["last"] is not None and renewal_days is None:
        short = [d for d in dates if d + timedelta(days=horizon) > span["last"]]
        if short:
            warnings.append(
                f"{len(short)} sample date(s) from {short[0]} look past the last renewal on "
                f"record ({span['last']}) within the {horizon}-day horizon: their outcomes may "
                "be incomplete (accounts without one are censored)")
    if not span["events"] and goal.name != "churn":
        warnings.append(f"no renewal on record has the outcome {goal.outcome!r}: nothing to "
                        f"test {goal.name} against")
    labelled = obs[obs["observed"]].reset_index(drop=True)
    event = labelled["event"].to_numpy(dtype=bool)
    risk = goal.risk(labelled["score"])
    ids = labelled["account_id"].to_numpy(dtype=object)
    summary = _metrics(labelled, goal, risk, resamples=resamples)
    summary.update(scorecard=card.name, version=card.version, target=goal.words(),
                   horizon=horizon, at_renewal=renewal_days, first_known=first_known,
                   dates={"first": dates[0], "last": dates[-1], "count": len(dates)},
                   observations=int(len(obs)), censored=int((~obs["observed"]).sum()),
                   contracted=int(labelled["contracted"].sum()))
    values = measure_values(r, card, dates).to_pandas()
    summary["measures"] = _measure_power(values, labelled, goal)
    summary["baselines"] = _baselines(r, card, goal, values, labelled, resamples)
    model = _model_row(r, card, goal, labelled, dates, resamples)
    if model is not None:
        summary["baselines"].append(model)
    summary["calibration"] = m.calibration(
        event, risk, ids, method=f"logistic regression of {goal.name} on "
                                 f"{goal.words()['rank']}")
    summary["survival"] = m.survival_by_band(*_durations(labelled, horizon))
    events = event_histories(r, card, first=dates[0], last=dates[-1] + timedelta(days=horizon),
                             lookback=lookback, move=move, outcome=goal.outcome, flag=goal.flag)
    summary["lead_time"] = {**m.lead_times(events), "lookback_days": lookback,
                            "move_points": move}
    latest = sorted(events, key=lambda c: (c["event_date"], c["account_id"]))[-TIMELINES:]
    summary["timelines"] = timelines(r, card, latest, lookback)
    count = summary["events"]
    if count < m.MIN_EVENTS or count == summary["labelled"]:
        warnings.append(f"only {count} {goal.outcome} among {summary['labelled']} labelled "
                        f"observations: the estimates are unreliable (see the intervals)")
    if summary["auc"] == summary["auc"] and summary["auc"] > LEAKAGE_AUC:
        warnings.append(f"AUC {summary['auc']:.3f} is above {LEAKAGE_AUC}: check that no "
                        "measure reads the outcome (leakage)")
    leaky = [x["measure"] for x in summary["measures"]
             if x["auc"] is not None and max(x["auc"], 1 - x["auc"]) > LEAKAGE_AUC]
    if leaky:
        warnings.append(f"measures that alone predict {goal.name} too well (possible "
                        "leakage): " + ", ".join(leaky))
    summary["warnings"] = warnings
    return Backtest(card.name, card.version, goal.name, horizon, dates, summary, labelled,
                    warnings)


def _metrics(obs: pd.DataFrame, goal: Target, risk: np.ndarray, *, resamples: int) -> dict:
    event = obs["event"].to_numpy(dtype=bool)
    arr = obs["arr"].to_numpy(dtype=float)
    band = obs["band"].to_numpy(dtype=object)
    ids = obs["account_id"].to_numpy(dtype=object)
    auc = m.auc(event, risk)
    lo, hi = m.auc_interval(event, risk, ids, resamples=resamples)
    return {"labelled": int(len(obs)), "events": int(event.sum()),
            "roc": m.roc_points(event, risk),
            "event_rate": float(event.mean()) if len(obs) else None,
            "auc": auc, "auc_interval": [lo, hi], "gini": 2 * auc - 1,
            **m.by_band(event, band, arr, toward=goal.flag),
            "flag": m.precision_recall(event, band == goal.flag),
            "flag_wide": m.precision_recall(event, np.isin(band, goal.wide)),
            **m.deciles(event, risk, arr, ids),
            "segments": _by(obs, "segment", event, risk),
            "variants": _by(obs, "variant", event, risk),
            "quarters": _by(obs.assign(quarter=pd.PeriodIndex(obs["as_of"], freq="Q").astype(str)
                                       if len(obs) else []), "quarter", event, risk)}


def _by(obs: pd.DataFrame, column: str, event: np.ndarray, risk: np.ndarray) -> list[dict]:
    """AUC with counts per value of ``column`` (segment, variant, quarter)."""
    out = []
    values = obs[column].fillna("(none)").astype(str).to_numpy() if len(obs) else np.array([])
    for value in sorted(set(values)):
        mask = values == value
        out.append({column: value, "labelled": int(mask.sum()),
                    "events": int(event[mask].sum()), "auc": m.auc(event[mask], risk[mask])})
    return out


def _measure_power(values: pd.DataFrame, obs: pd.DataFrame, goal: Target) -> list[dict]:
    """Each measure alone: the AUC of its raw value for the event (direction: whether a higher
    value means more of it), its coverage and its mean effective weight."""
    if values.empty or obs.empty:
        return []
    joined = obs[["account_id", "as_of", "event"]].merge(values, on=["account_id", "as_of"])
    out = []
    for measure, rows in joined.groupby("measure", sort=True):
        known = rows["raw_value"].notna().to_numpy()
        y = rows["event"].to_numpy(dtype=bool)[known]
        x = rows["raw_value"].to_numpy(dtype=float)[known]
        value = m.auc(y, x)
        out.append({"measure": measure, "coverage": float(known.mean()),
                    "weight": float(rows["weight"].mean()),
                    "auc": None if np.isnan(value) else value,
                    "higher_means": None if np.isnan(value) else
                    (f"more {goal.name}" if value >= 0.5 else f"less {goal.name}"),
                    "power": None if np.isnan(value) else max(value, 1 - value)})
    return sorted(out, key=lambda x: -(x["power"] or 0))


def _durations(obs: pd.DataFrame, horizon: int) -> tuple:
    """Days from the score to the event, or to the horizon's end for the others (censored)."""
    event = obs["event"].to_numpy(dtype=bool)
    days = np.full(len(obs), float(horizon))
    if event.any():
        gap = (pd.to_datetime(obs["event_date"]) - pd.to_datetime(obs["as_of"])).dt.days
        days[event] = gap.to_numpy(dtype=float)[event]
    return days, event, obs["band"].to_numpy(dtype=object)


#: The obvious predictors a scorecard should beat: its usage measures' scores alone (the
#: built-in measures of the usage family, whatever group holds them), and the days since the
#: account's last activity alone (when the scorecard has that measure).
USAGE_FAMILY = "usage"
RECENCY = "days_since_last_activity"


def _measure_ids(card: Card, keep) -> list[str]:
    """The ids (over every variant) of the card's built-in measures whose spec passes
    ``keep``."""
    from healthscore.measures import REGISTRY

    if card.scorecard is None:
        return []
    ids = set()
    for variant in card.scorecard.variant_names():
        for group in card.scorecard.resolve(variant).groups.values():
            for mid, cfg in group.measures.items():
                spec = REGISTRY.get(cfg.measure or mid) if cfg.custom is None else None
                if spec is not None and keep(spec):
                    ids.add(mid)
    return sorted(ids)


def _baselines(r: Reader, card: Card, goal: Target, values: pd.DataFrame,
               obs: pd.DataFrame, resamples: int) -> list[dict]:
    """The scorecard beside the usage-only and recency-only baselines, on the same
    observations (a baseline's missing values are left out of its own AUC). Each is read the
    way the target asks: a low usage score or a long time since the last activity before a
    churn, the opposite before an expansion."""
    keys = ["account_id", "as_of"]
    out = [_auc_row("scorecard", obs, goal.risk(obs["score"]), resamples)]
    usage = _measure_ids(card, lambda spec: spec.family == USAGE_FAMILY)
    rows = values[values["measure"].isin(usage) & values["score"].notna()
                  & (values["weight"] > 0)] if not values.empty else values
    if rows.empty:
        out.append({"name": "usage only", "auc": None,
                    "note": "the scorecard has no usage measures (docs/measures.md)" if not usage
                    else "no usage measure scores stored on the sample dates"})
    else:  # the usage measures' weighted mean score: the usage group's score, where one is
        scored = rows.assign(points=rows["score"] * rows["weight"]).groupby(keys)[
            ["points", "weight"]].sum()
        mean = (scored["points"] / scored["weight"]).rename("usage").reset_index()
        joined = obs[keys + ["event"]].merge(mean, on=keys, how="left")
        out.append({**_auc_row("usage only", joined, goal.risk(joined["usage"]), resamples),
                    "measures": usage})
    recency = _measure_ids(card, lambda spec: spec.name == RECENCY)
    rows = values[values["measure"].isin(recency[:1])] if not values.empty else values
    if rows.empty:
        out.append({"name": "recency only", "auc": None,
                    "note": f"no {RECENCY} values stored on the sample dates (the scorecard "
                            "needs that measure)"})
    else:
        joined = obs[keys + ["event"]].merge(rows[keys + ["raw_value"]], on=keys, how="left")
        days = joined["raw_value"].to_numpy(float)  # more days idle: likelier churn
        out.append(_auc_row("recency only", joined, -days if goal.score_rises else days,
                            resamples))
    return out


def _model_row(r: Reader, card: Card, goal: Target, obs: pd.DataFrame, dates: list[date],
               resamples: int) -> dict | None:
    """The churn (or expansion) model of ``healthscore predict`` beside the score, on the
    sample dates after its training period only (None without a model of this version).
    The scorecard's AUC on the same rows is given too: the model's rows are fewer."""
    from healthscore.read.predictions import predictions_on

    found = predictions_on(r, card, dates, goal.name)
    if found["model"] is None:
        return None
    name = f"{goal.name} model"
    if not found["rows"]:
        return {"name": name, "auc": None,
                "note": f"no prediction of model {found['model']['model_version']} on the "
                        "sample dates after its training period "
                        f"({found['model']['train_until']}); healthscore predict fits one "
                        "for this scorecard version"}
    keys = ["account_id", "as_of"]
    joined = obs[keys + ["event", "score"]].merge(pd.DataFrame(found["rows"]), on=keys)
    row = _auc_row(name, joined, joined["logit"].to_numpy(float), resamples)
    same = _auc_row("scorecard", joined, goal.risk(joined["score"]), resamples)
    return {**row, "model_version": found["model"]["model_version"],
            "train_until": found["model"]["train_until"], "scorecard_auc_same_rows": same["auc"],
            "note": f"out of time: the sample dates after {found['model']['train_until']}; "
                    f"the score on the same rows: AUC "
                    + ("–" if same["auc"] is None else f"{same['auc']:.3f}")}


def _auc_row(name: str, rows: pd.DataFrame, risk: np.ndarray, resamples: int) -> dict:
    known = ~np.isnan(risk)
    y = rows["event"].to_numpy(dtype=bool)[known]
    ids = rows["account_id"].to_numpy(dtype=object)[known]
    value = m.auc(y, risk[known])
    lo, hi = m.auc_interval(y, risk[known], ids, resamples=resamples)
    return {"name": name, "labelled": int(known.sum()), "auc": None if np.isnan(value) else value,
            "auc_interval": [lo, hi], "roc": m.roc_points(y, risk[known])}
