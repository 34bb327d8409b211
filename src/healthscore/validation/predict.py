"""The churn-probability model over stored snapshots: features, an out-of-time fit, the check
on later dates, and a probability per account per scored date.

Kept apart from the health score (one number for reliability, one for action): the score stays
what the scorecard says; the model reads the same point-in-time measure values (and their 30-
and 90-day changes) and answers "how likely is this account to churn within the horizon?".
It is fitted on the sample dates whose horizon ends by ``train_until`` — the same split as
:mod:`healthscore.validation.weights` — and checked on the dates after it, beside the stored
score; the dates it learnt from are marked in-sample.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from healthscore.config.scorecard import LoadedScorecard
from healthscore.errors import InputError
from healthscore.read.dates import measured_dates
from healthscore.read.measures import over_measures
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.store.schema import lit
from healthscore.validation import metrics as m
from healthscore.validation.backtest import target_of
from healthscore.validation.model import (
    CHANGES,
    PARTS,
    SCORE_PARTS,
    ChurnModel,
    FeatureFrame,
    choose_penalty,
    fit_model,
)
from healthscore.validation.weights import MIN_COVERAGE, labelled_split, no_measures

_DAY = 65536  # a day's room in the composite key (days since 1970 stay far below)


@dataclass
class Prediction:
    """A fitted churn model and its probabilities: ``summary`` (the model's version, training
    window, the check on later dates beside the score; JSON-ready) and ``rows`` (account_id,
    as_of, probability, logit, in_sample) with ``contributions`` ``(len(rows), len(measures))``
    in log-odds, adding up exactly to ``logit - summary['base']``."""

    scorecard: str
    version: str
    model_version: str
    measures: list[str]
    summary: dict = field(repr=False)
    rows: pd.DataFrame = field(repr=False)
    contributions: np.ndarray = field(repr=False)
    model: ChurnModel = field(repr=False)
    #: the run that recorded it, and how many rows it stored (set by
    #: :func:`healthscore.pipeline.predict`)
    run_id: int | None = None
    stored: int | None = None


def measure_ids(loaded: LoadedScorecard) -> list[str]:
    """The base scorecard's measures as ``group.measure``, in file order."""
    return [f"{g}.{mid}" for g, mid, _ in loaded.scorecard.resolve("base").measures()]


def measure_rows(r: Reader, card: Card, dates: list[date], measures: list[str]) -> pa.Table:
    """The raw values and scores of ``measures`` (``group.measure``) on ``dates``, compact
    for :func:`features`: account_id, day (days since 1970), j (the measure's index),
    raw_value, score (NULL where the measure had no data)."""
    index = ", ".join(f"({lit(mid.split('.', 1)[0])}, {lit(mid.split('.', 1)[1])}, {j})"
                      for j, mid in enumerate(measures))
    return over_measures(r, card.name, card.version, sorted(set(dates)), f"""
        SELECT s.account_id, CAST(s.as_of - DATE '1970-01-01' AS BIGINT) AS day, m.j,
               s.raw_value, CASE WHEN s.missing THEN NULL ELSE s.score END AS score
        FROM snapshot_measures s JOIN (VALUES {index}) m(g, mid, j)
          ON s."group" = m.g AND s.measure = m.mid
    """, arrow=True)


def features(values: pd.DataFrame | pa.Table, keys: pd.DataFrame, measures: list[str]
             ) -> FeatureFrame:
    """For each row of ``keys`` (account_id, as_of) each measure's raw value on that date and
    its change over 30 and 90 days, from ``values``: the rows of :func:`measure_rows`, or a
    frame of account_id, as_of, group, measure, raw_value (the earlier dates' rows included);
    where ``values`` has a ``score`` column, the score and its changes too. NaN where a
    value is unknown."""
    n, k = len(keys), len(measures)
    scored = "score" in values.column_names if isinstance(values, pa.Table) else \
        "score" in values.columns
    out = {part: np.full((n, k), np.nan) for part in PARTS + (SCORE_PARTS if scored else ())}
    if not len(values) or not n:
        return FeatureFrame(list(measures), out)
    if isinstance(values, pa.Table):  # codes from arrow: no Python string per row
        encoded = pc.dictionary_encode(values["account_id"]).combine_chunks()
        known = pd.Index(encoded.dictionary.to_pandas())
        accounts = known.append(pd.Index(keys["account_id"]).difference(known))
        v_acc = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        v_meas = values["j"].to_numpy().astype(np.int64)
        v_day = values["day"].to_numpy().astype(np.int64)
        v_val = values["raw_value"].to_numpy(zero_copy_only=False).astype(float)
        v_score = values["score"].to_numpy(zero_copy_only=False).astype(float) if scored \
            else None
    else:
        meas_code = {mid: j for j, mid in enumerate(measures)}
        coded = (values["group"].astype(str) + "." + values["measure"].astype(str)).map(
            meas_code)
        keep = coded.notna().to_numpy()
        accounts = pd.Index(pd.unique(pd.concat([keys["account_id"], values["account_id"]])))
        v_acc = accounts.get_indexer(values["account_id"])[keep].astype(np.int64)
        v_meas = coded.to_numpy()[keep].astype(np.int64)
        v_day = _days(values["as_of"])[keep]
        v_val = values["raw_value"].to_numpy(dtype=float)[keep]
        v_score = values["score"].to_numpy(dtype=float)[keep] if scored else None
    v_key = (v_acc * k + v_meas) * _DAY + v_day
    order = np.argsort(v_key, kind="stable")
    v_key, v_val = v_key[order], v_val[order]
    if scored:
        v_score = v_score[order]
    q_acc = accounts.get_indexer(keys["account_id"]).astype(np.int64)
    q_day = _days(keys["as_of"])

    def lookup(lag: int) -> tuple[np.ndarray, np.ndarray]:
        """Where each key's value ``lag`` days before sits in ``v_key``, and whether found."""
        base = (q_acc[:, None] * k + np.arange(k)[None, :]) * _DAY + (q_day - lag)[:, None]
        at = np.minimum(np.searchsorted(v_key, base.ravel()), len(v_key) - 1)
        return at, v_key[at] == base.ravel()

    def read(column: np.ndarray, found: tuple) -> np.ndarray:
        return np.where(found[1], column[found[0]], np.nan).reshape(n, k)

    now = lookup(0)
    before = {lag: lookup(lag) for lag in CHANGES}
    out["value"] = read(v_val, now)
    for lag in CHANGES:
        out[f"change_{lag}d"] = out["value"] - read(v_val, before[lag])
    if scored:
        out["score"] = read(v_score, now)
        for lag in CHANGES:
            out[f"score_change_{lag}d"] = out["score"] - read(v_score, before[lag])
    return FeatureFrame(list(measures), out)


def _days(column: pd.Series) -> np.ndarray:
    return pd.to_datetime(column).to_numpy(dtype="datetime64[D]").astype(np.int64)


def _with_lags(dates: list[date]) -> list[date]:
    return sorted({d - timedelta(days=lag) for d in dates for lag in (0, *CHANGES)})


def predict(r: Reader, loaded: LoadedScorecard, *, horizon: int = 90,
            train_until: date | None = None, every: int = 15, penalty: float | None = None,
            target: str | None = None, dates: list[date] | None = None,
            resamples: int = 200) -> Prediction:
    """Fit the churn model (or the expansion model: ``target``) on stored snapshots out of
    time, check it on later dates beside the stored score, and compute its probability for
    every account on every scored date (or on ``dates``). ``penalty`` (default: chosen by a
    cross-validation over accounts on the training rows) smooths the splines.

    Raises :class:`NotFound` with the counts needed when there is too little history or too
    few events to fit or to check.
    """
    if penalty is not None and penalty <= 0:
        raise InputError("penalty", f"{penalty} is not a positive number")
    card = Card.of(loaded)
    goal = target_of(card, target)
    found = labelled_split(r, card, goal, horizon=horizon, train_until=train_until,
                           every=every, purpose="the model")
    train_dates, valid_dates, until = found.train_dates, found.check_dates, found.until
    train, valid = found.train, found.check
    measures = measure_ids(loaded)
    values = measure_rows(r, card, _with_lags(train_dates + valid_dates), measures)
    ft = features(values, train, measures)
    if not (~np.isnan(ft.values["value"])).mean(axis=0).max(initial=0) >= MIN_COVERAGE:
        no_measures(train_dates)
    y = train["event"].to_numpy(bool)
    cv = {}
    if penalty is None:  # chosen on the training rows only, by accounts
        penalty, cv = choose_penalty(ft, y, train["account_id"].to_numpy(dtype=object))
    model = fit_model(ft, y, penalty=penalty)
    fv = features(values, valid, measures)
    event = valid["event"].to_numpy(dtype=bool)
    ids = valid["account_id"].to_numpy(dtype=object)
    p = model.probability(fv)
    score_risk = goal.risk(valid["score"].to_numpy(dtype=float))
    check = {
        "labelled": int(len(valid)), "events": int(event.sum()),
        "model": {"auc": m.auc(event, p),
                  "auc_interval": list(m.auc_interval(event, p, ids, resamples=resamples)),
                  "brier": float(np.mean((p - event) ** 2)),
                  "mean_probability": float(p.mean()),
                  "deciles": _calibration(event, p, ids)},
        "score": {"auc": m.auc(event, score_risk),
                  "auc_interval": list(m.auc_interval(event, score_risk, ids,
                                                      resamples=resamples))},
        "event_rate": float(event.mean()),
        "brier_constant": float(event.mean() * (1 - event.mean())),
    }
    version = hashlib.sha256(
        f"{card.name}|{card.version}|{goal.name}|{horizon}|{every}|{until}|{penalty}|"
        f"{model.to_json()}".encode()).hexdigest()[:12]
    summary = {"scorecard": card.name, "version": card.version, "model_version": version,
               "target": goal.words(), "horizon": horizon, "every": every,
               "penalty": penalty, "penalty_log_loss": {str(k): v for k, v in cv.items()},
               "train_until": until, "base": model.base,
               "base_probability": float(1 / (1 + np.exp(-model.base))),
               "measures": measures,
               "train": {"dates": {"first": train_dates[0], "last": train_dates[-1],
                                   "count": len(train_dates)},
                         "labelled": int(len(train)), "events": int(train["event"].sum())},
               "check": {"dates": {"first": valid_dates[0], "last": valid_dates[-1],
                                   "count": len(valid_dates)}, **check}}
    wanted = dates if dates is not None else measured_dates(r, card)
    rows, contributions = score_dates(r, card, model, measures, wanted, until)
    return Prediction(card.name, card.version, version, measures, summary, rows, contributions,
                      model)


def score_dates(r: Reader, card: Card, model: ChurnModel, measures: list[str],
                dates: list[date], train_until: date) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's probability, log-odds and contributions for every account scored on
    ``dates`` (``in_sample`` for dates up to ``train_until``, whose outcomes it may have
    learnt from)."""
    if not dates:
        empty = pd.DataFrame(columns=["account_id", "as_of", "probability", "logit",
                                      "in_sample"])
        return empty, np.zeros((0, len(measures)))
    keys = r.arrow("SELECT account_id, as_of FROM snapshots WHERE scorecard = ? AND "
                   "version = ? AND score IS NOT NULL AND as_of BETWEEN ? AND ? "
                   "AND list_contains(?, as_of) ORDER BY as_of, account_id",
                   [card.name, card.version, min(dates), max(dates), dates]).to_pandas()
    f = features(measure_rows(r, card, _with_lags(dates), measures), keys, measures)
    contributions = model.contributions(f)
    logit = model.base + contributions.sum(axis=1)
    keys["probability"] = 1 / (1 + np.exp(-logit))
    keys["logit"] = logit
    keys["in_sample"] = keys["as_of"] <= train_until
    return keys, contributions


def _calibration(event: np.ndarray, p: np.ndarray, ids: np.ndarray) -> list[dict]:
    """Per decile of predicted probability (highest first): mean predicted and observed."""
    ranked = np.lexsort((ids.astype(str), -p))
    return [{"decile": d, "accounts": int(len(part)), "predicted": float(p[part].mean()),
             "observed": float(event[part].mean())}
            for d, part in enumerate(np.array_split(ranked, 10), start=1) if len(part)]
