"""Weights from the data: fit a scorecard's weights to what followed its stored scores, out of
time, and show the change before it ships.

The sample dates of the backtest are split in time at ``train_until``: the weights are fitted
on dates whose whole horizon ends by then (so no label after it is seen) and checked on the
dates after it. The fit (:mod:`healthscore.validation.fit`) keeps the scorecard's shape: the
same groups and measures, non-negative weights, measures marked ``actionable`` at a floor
share, measures without support at 0 (and said so). The suggested file is the user's own
with only the weights and band thresholds changed, and it is scored exactly as the engine
would score it (the stored measure scores recombined per variant), before and after, on the
same later dates.
"""

from __future__ import annotations

import difflib
import math
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.config.rewrite import set_values
from healthscore.config.scorecard import LoadedScorecard, Scorecard, load_scorecard
from healthscore.errors import ConfigError, InputError, NotFound
from healthscore.read.measures import over_measures
from healthscore.read.outcomes import observations, outcome_span
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.scoring.combine import band, combine
from healthscore.store.schema import lit
from healthscore.validation import metrics as m
from healthscore.validation.backtest import Target, sample_dates, target_of
from healthscore.validation.fit import fit_weights

#: Fewest events (and non-events) to fit on, and to check the fit on.
MIN_TRAIN_EVENTS = 20
MIN_VALID_EVENTS = 10
#: A measure with a value for fewer of the training rows than this is not fitted (weight 0).
MIN_COVERAGE = 0.05
#: The validation period gets at least this share of the labelled sample dates by default.
VALID_SHARE = 1 / 3


@dataclass
class WeightSuggestion:
    """Suggested weights and bands for a scorecard, with the out-of-time backtest before and
    after (``summary``, JSON-ready), the new file's text and its diff against the current."""

    scorecard: str
    version: str
    new_version: str
    path: Path
    text: str
    diff: str
    summary: dict = field(repr=False)
    warnings: list[str] = field(default_factory=list)

    def write(self, path: Path | str) -> Path:
        """Write the suggested scorecard to ``path``; nothing changes until it is the file a
        workspace's ``scorecards:`` reads."""
        path = Path(path)
        path.write_text(self.text, encoding="utf-8")
        return path


def split(dates: list[date], horizon: int, train_until: date | None
          ) -> tuple[list[date], list[date], date]:
    """(training dates, validation dates, train_until): a training date's horizon ends by
    ``train_until``, a validation date comes after it. By default ``train_until`` is the
    latest that leaves :data:`VALID_SHARE` of the dates to validation."""
    h = timedelta(days=horizon)
    if train_until is None:
        need = max(1, math.ceil(len(dates) * VALID_SHARE))
        chosen = None
        for d in dates:
            until = d + h
            if sum(x > until for x in dates) >= need:
                chosen = until
        if chosen is None:
            raise NotFound(
                f"{len(dates)} sample dates are too few to train on some and check on later "
                f"ones with a {horizon}-day horizon",
                hint="score more history (healthscore backfill --days 730), sample more often "
                     "(--every 15) or shorten the horizon")
        train_until = chosen
    train = [d for d in dates if d + h <= train_until]
    valid = [d for d in dates if d > train_until]
    return train, valid, train_until


def all_measures(sc: Scorecard) -> list[tuple[str, str]]:
    """(group, measure) of every measure of every variant of ``sc``, once each."""
    return list(dict.fromkeys((g, mid) for v in sc.variant_names()
                              for g, mid, _ in sc.resolve(v).measures()))


def measure_scores(r: Reader, card: Card, dates: list[date],
                   columns: list[tuple[str, str]]) -> pd.DataFrame:
    """The stored measure scores on ``dates``, wide: one row per (account_id, as_of), one
    column per (group, measure) of ``columns``; NaN where the account had no data (its
    missing-data policy is applied again when it is rescored). Pivoted by DuckDB, once."""
    if not dates or not columns:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []],
                                                            names=["account_id", "as_of"]))
    picks = ", ".join(
        f"max(score) FILTER (WHERE \"group\" = {lit(g)} AND measure = {lit(mid)} "
        f"AND NOT missing) AS c{j}" for j, (g, mid) in enumerate(columns))
    wide = over_measures(r, card.name, card.version, sorted(set(dates)), f"""
        SELECT account_id, as_of, {picks} FROM snapshot_measures
        GROUP BY account_id, as_of
    """, arrow=True).to_pandas()
    wide = wide.set_index(["account_id", "as_of"])
    wide.columns = pd.MultiIndex.from_tuples(columns, names=["group", "measure"])
    return wide


def _matrix(wide: pd.DataFrame, keys: pd.DataFrame, columns: list[tuple[str, str]]
            ) -> np.ndarray:
    """``(len(keys), len(columns))`` of the wide measure scores (:func:`measure_scores`)."""
    if wide.empty:
        return np.full((len(keys), len(columns)), np.nan)
    picked = wide.reindex(columns=pd.MultiIndex.from_tuples(columns,
                                                            names=["group", "measure"]))
    index = pd.MultiIndex.from_frame(keys[["account_id", "as_of"]])
    return picked.reindex(index).to_numpy(dtype=float)


def rescore(sc: Scorecard, obs: pd.DataFrame, values: pd.DataFrame
            ) -> tuple[np.ndarray, np.ndarray]:
    """Score and band of each observation under scorecard ``sc`` from its stored measure
    scores: each account by its variant's resolved weights and bands, as the engine does."""
    score = np.full(len(obs), np.nan)
    bands = np.full(len(obs), None, dtype=object)
    variants = obs["variant"].fillna("base").to_numpy(dtype=object)
    for variant in sorted(set(variants)):
        rows = np.flatnonzero(variants == variant)
        r = sc.resolve(variant if variant in sc.variant_names() else "base")
        measures = r.measures()
        x = _matrix(values, obs.iloc[rows], [(g, mid) for g, mid, _ in measures])
        names = list(r.groups)
        policy = [(cfg.missing or r.missing) for _, _, cfg in measures]
        c = combine(x, np.array([cfg.weight for _, _, cfg in measures], dtype=float),
                    np.array([names.index(g) for g, _, _ in measures]),
                    np.array([r.groups[g].weight for g in names], dtype=float),
                    np.array([p.score if p.policy == "fixed" else np.nan for p in policy]))
        s = np.where(c.coverage > 0, c.score, np.nan)
        score[rows] = s
        bands[rows] = band(s, r.bands)
    return score, bands


def evaluate_scores(obs: pd.DataFrame, score: np.ndarray, bands: np.ndarray, goal: Target,
              resamples: int) -> dict:
    """AUC with its interval, event rate per band and the top decile's lift."""
    known = ~np.isnan(score)
    rows = obs[known]
    event = rows["event"].to_numpy(dtype=bool)
    risk = goal.risk(score[known])
    ids = rows["account_id"].to_numpy(dtype=object)
    lo, hi = m.auc_interval(event, risk, ids, resamples=resamples)
    return {"labelled": int(known.sum()), "events": int(event.sum()),
            "auc": m.auc(event, risk), "auc_interval": [lo, hi],
            **m.by_band(event, bands[known], rows["arr"].to_numpy(dtype=float),
                        toward=goal.flag),
            "top_lift": m.deciles(event, risk, rows["arr"].to_numpy(dtype=float), ids)[
                "top_lift"]}


def _shares(sc: Scorecard) -> dict[tuple[str, str], float]:
    """Each base measure's nominal share of the score (group share × share in the group)."""
    r = sc.resolve("base")
    group_total = sum(g.weight for g in r.groups.values()
                      if sum(c.weight for c in g.measures.values()) > 0)
    out = {}
    for gid, g in r.groups.items():
        inner = sum(c.weight for c in g.measures.values())
        for mid, cfg in g.measures.items():
            out[(gid, mid)] = (g.weight / group_total * cfg.weight / inner
                               if group_total and inner else 0.0)
    return out


def no_measures(dates: list[date]) -> None:
    """Raise :class:`NotFound`: the training dates' snapshots hold (almost) no measure scores,
    so there is nothing to fit on."""
    raise NotFound(
        f"the stored snapshots of the training dates ({dates[0]} … {dates[-1]}) hold no "
        f"measure values for at least {MIN_COVERAGE:.0%} of the accounts: the scores were "
        "stored without their per-measure rows", hint=f"rescore those dates: healthscore "
        f"backfill --from {dates[0]} --to {dates[-1]} --force")


@dataclass
class Labelled:
    """The labelled observations of the sample dates, split in time: ``train`` (dates whose
    horizon ends by ``until``) and ``check`` (dates after it)."""

    train_dates: list[date]
    check_dates: list[date]
    until: date
    train: pd.DataFrame
    check: pd.DataFrame


def labelled_split(r: Reader, card: Card, goal: Target, *, horizon: int,
                   train_until: date | None, every: int, purpose: str) -> Labelled:
    """Sample dates every ``every`` days (only those whose horizon the outcomes on record
    cover), labelled as the backtest labels them, split at ``train_until``. Raises
    :class:`NotFound` naming the counts when either period has too few events for
    ``purpose`` ("fitting the weights")."""
    dates = sample_dates(r, card, start=None, end=None, every=every)
    span = outcome_span(r, goal.outcome)
    if span["last"] is not None:
        dates = [d for d in dates if d + timedelta(days=horizon) <= span["last"]] or dates
    train_dates, check_dates, until = split(dates, horizon, train_until)
    obs = observations(r, card, train_dates + check_dates, horizon, goal.outcome).to_pandas()
    obs = obs[obs["observed"]].reset_index(drop=True)
    is_train = obs["as_of"].isin(train_dates).to_numpy()
    found = Labelled(train_dates, check_dates, until, obs[is_train].reset_index(drop=True),
                     obs[~is_train].reset_index(drop=True))
    more = ("score more history (healthscore backfill --days 730), sample more often "
            "(--every 7), or move --train-until")
    for what, rows, days, least in (("training", found.train, train_dates, MIN_TRAIN_EVENTS),
                                    ("check", found.check, check_dates, MIN_VALID_EVENTS)):
        events = int(rows["event"].sum())
        if what == "check" and events == 0:
            raise NotFound(f"no {goal.outcome} after {until} (the check period, {len(rows)} "
                           f"labelled observations): the {goal.outcome} on record fall only in "
                           "the training period, so nothing could show it works on later "
                           "dates", hint="choose an earlier --train-until")
        if min(events, len(rows) - events) < least:
            raise NotFound(
                f"only {events} {goal.outcome} and {len(rows) - events} other outcomes among "
                f"the {len(rows)} labelled observations of the {what} period ({days[0]} … "
                f"{days[-1]}); {purpose if what == 'training' else 'checking it'} needs at "
                f"least {least} of each", hint=more)
    return found


def suggest_weights(r: Reader, loaded: LoadedScorecard, *, horizon: int = 90,
                    train_until: date | None = None, every: int = 15, floor: float = 0.05,
                    red_share: float | None = None, target: str | None = None,
                    resamples: int = 200) -> WeightSuggestion:
    """Fit the weights of scorecard ``loaded`` to the outcomes that followed its stored
    scores (out of time), suggest band thresholds, and backtest both on later dates.

    Parameters
    ----------
    horizon
        Days after a sample date in which the event counts (as in the backtest).
    train_until
        Fit on sample dates whose horizon ends by this date; check on the dates after it.
        Default: the latest date that leaves a third of the labelled dates to the check.
    every
        Days between sample dates.
    floor
        The least share of the score a measure marked ``actionable: true`` keeps.
    red_share
        The share of accounts the new red band should hold (default: the current red band's
        share on the training dates); yellow keeps its current share above it.
    target
        ``churn`` or ``expansion`` (default: what the scorecard ``predicts``).

    Returns
    -------
    WeightSuggestion
        Raises :class:`NotFound` when there is too little history or too few events to fit
        or to check, saying how many are needed.
    """
    if not 0 <= floor < 1:
        raise InputError("floor", f"{floor} is not a share from 0 to 1")
    if red_share is not None and not 0 < red_share < 1:
        raise InputError("red_share", f"{red_share} is not a share between 0 and 1")
    sc = loaded.scorecard
    card = Card.of(loaded)
    goal = target_of(card, target)
    found = labelled_split(r, card, goal, horizon=horizon, train_until=train_until,
                           every=every, purpose="fitting the weights")
    train_dates, valid_dates, until = found.train_dates, found.check_dates, found.until
    train, valid = found.train, found.check

    values = measure_scores(r, card, train_dates + valid_dates, all_measures(sc))
    base = sc.resolve("base")
    columns = [(g, mid) for g, mid, _ in base.measures()]
    x = _matrix(values, train, columns)
    coverage = (~np.isnan(x)).mean(axis=0)
    prior_map = _shares(sc)
    prior = np.array([prior_map[c] for c in columns])
    prior = prior / prior.sum() if prior.sum() else np.full(len(columns), 1 / len(columns))
    actionable = np.array([bool(cfg.actionable) for _, _, cfg in base.measures()])
    allowed = coverage >= MIN_COVERAGE
    if not allowed.any():
        no_measures(train_dates)
    floors = np.where(actionable & allowed, floor, 0.0)
    if floors.sum() >= 1:
        raise InputError("floor", f"{int(actionable.sum())} actionable measures at "
                                  f"{floor:.0%} each leave no room for the others",
                         hint="lower --floor")
    fitted = fit_weights(x, train["event"].to_numpy(dtype=bool), rises=goal.score_rises,
                         prior=prior, floors=floors, allowed=allowed)

    points = np.round(fitted.weights * 100, 1)  # a measure's weight: its points of the score
    groups: dict[str, float] = {}
    for (g, _), p in zip(columns, points, strict=True):
        groups[g] = round(groups.get(g, 0.0) + float(p), 1)
    old_scores = train["score"].to_numpy(dtype=float)
    old_bands = train["band"].to_numpy(dtype=object)
    changes: dict[tuple[str, ...], float] = {}
    for (g, mid), p in zip(columns, points, strict=True):
        changes[("groups", g, "measures", mid, "weight")] = float(p)
    for g, w in groups.items():
        changes[("groups", g, "weight")] = w
    # the red band keeps its size (or takes the size asked for), yellow its size above it
    data = sc.model_dump(by_alias=True, exclude_none=True)
    for g, group in data["groups"].items():
        group["weight"] = groups[g]
        for mid, cfg in group["measures"].items():
            cfg["weight"] = changes[("groups", g, "measures", mid, "weight")]
    new_train, _ = rescore(Scorecard.model_validate(data), train, values)
    red = red_share if red_share is not None else float(np.mean(old_bands == "red"))
    yellow = float(np.mean(old_bands == "yellow"))
    known = new_train[~np.isnan(new_train)]
    new_red = float(np.round(np.quantile(known, red), 0)) if red > 0 else sc.bands.red
    new_yellow = float(np.round(np.quantile(known, min(red + yellow, 1.0)), 0))
    new_yellow = max(new_yellow, new_red + 1)
    changes[("bands", "red")] = new_red
    changes[("bands", "yellow")] = new_yellow

    original = Path(loaded.path).read_text(encoding="utf-8")
    text = set_values(original, changes)
    suggested = _checked(text, loaded)
    new_sc = suggested.scorecard
    before_valid = evaluate_scores(valid, valid["score"].to_numpy(dtype=float),
                             valid["band"].to_numpy(dtype=object), goal, resamples)
    after_valid = evaluate_scores(valid, *rescore(new_sc, valid, values), goal, resamples)
    train_new = rescore(new_sc, train, values)
    words = {(g, mid): cfg.label or mid for g, mid, cfg in base.measures()}
    alone = {}
    for j, c in enumerate(columns):
        known_j = ~np.isnan(x[:, j])
        alone[c] = m.auc(train["event"].to_numpy(dtype=bool)[known_j],
                         goal.risk(x[known_j, j]))
    measures = []
    for j, (g, mid) in enumerate(columns):
        note = None
        if not allowed[j]:
            note = (f"too little data: {coverage[j]:.0%} of the training observations have a "
                    "value")
        elif points[j] == 0:
            a = alone[(g, mid)]
            note = ("no support: adds nothing beside the other measures on the training "
                    "dates" + ("" if a != a else f" (alone: AUC {a:.2f})"))
        elif actionable[j] and math.isclose(fitted.weights[j], floor, abs_tol=1e-3):
            note = f"actionable: kept at the floor of {floor:.0%}"
        measures.append({"group": g, "measure": mid, "label": words[(g, mid)],
                         "actionable": bool(actionable[j]), "coverage": float(coverage[j]),
                         "old_share": float(prior[j]), "new_share": float(fitted.weights[j]),
                         "new_weight": float(points[j]), "alone_auc": alone[(g, mid)],
                         "note": note})
    warnings = []
    if not fitted.converged:
        warnings.append("the fit did not fully converge: the weights are the best found")
    own_bands = [v for v, var in sc.variants.items() if var.bands is not None]
    if own_bands:
        warnings.append("variants with their own bands keep them: " + ", ".join(own_bands))
    diff = "".join(difflib.unified_diff(original.splitlines(True), text.splitlines(True),
                                        str(loaded.path), f"{loaded.path} (suggested)"))
    summary = {
        "scorecard": sc.name, "version": sc.version, "new_version": new_sc.version,
        "target": goal.words(), "horizon": horizon, "every": every, "floor": floor,
        "train_until": until,
        "train": {"dates": {"first": train_dates[0], "last": train_dates[-1],
                            "count": len(train_dates)},
                  "labelled": int(len(train)), "events": int(train["event"].sum()),
                  "auc_before": m.auc(train["event"].to_numpy(bool), goal.risk(old_scores)),
                  "auc_after": evaluate_scores(train, *train_new, goal, 0)["auc"]},
        "check": {"dates": {"first": valid_dates[0], "last": valid_dates[-1],
                            "count": len(valid_dates)},
                  "before": before_valid, "after": after_valid},
        "measures": measures,
        "groups": [{"group": g, "old_weight": float(sc.groups[g].weight), "new_weight": w}
                   for g, w in groups.items()],
        "bands": {"old": {"red": sc.bands.red, "yellow": sc.bands.yellow},
                  "new": {"red": new_red, "yellow": new_yellow}, "red_share": red,
                  "yellow_share": yellow},
        "warnings": warnings,
    }
    return WeightSuggestion(sc.name, sc.version, new_sc.version, Path(loaded.path), text, diff,
                            summary, warnings)


def _checked(text: str, loaded: LoadedScorecard) -> LoadedScorecard:
    """The suggested text loaded and checked like any scorecard (``healthscore check``); a
    suggestion that would fail is never returned."""
    from healthscore.engine.check import check_scorecard

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(loaded.path).name
        path.write_text(text, encoding="utf-8")
        try:
            suggested = load_scorecard(path)
            check_scorecard(suggested)
        except ConfigError as exc:  # a bug here, not the user's: say what failed
            raise ConfigError(f"the suggested scorecard for {loaded.name} would not pass "
                              f"check: {exc.message}", problems=exc.problems) from None
    suggested.path = loaded.path
    return suggested
