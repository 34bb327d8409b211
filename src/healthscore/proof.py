"""The proof verbs' orchestration: each opens the workspace's store, calls one function of
:mod:`healthscore.validation` and, where it writes, records a run — ``backtest``,
``suggest_weights``, ``predict``, ``preview``. Importable from :mod:`healthscore.pipeline` too.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from healthscore.config.scorecard import load_scorecard
from healthscore.engine import check_scorecard
from healthscore.errors import NotFound
from healthscore.workspace import Workspace


def backtest(workspace: Workspace, scorecard: str = "health", *, horizon: int = 90,
             start: date | None = None, end: date | None = None, every: int = 30,
             renewal_days: int | None = None, target: str | None = None,
             now: datetime | None = None, first_known: bool = False):
    """Backtest a scorecard's stored scores against what followed them — churn, or expansion
    (``target``; default: what the scorecard ``predicts``) —
    (:func:`healthscore.validation.backtest`), recorded as a run of kind ``backtest`` whose
    detail holds the metrics and parameters. ``first_known`` tests each date's score as first
    computed, before any revision after late data. Returns the
    :class:`~healthscore.validation.backtest.Backtest`.

    Examples
    --------
    >>> b = backtest(Workspace.open("demo"), "health", horizon=90)    # doctest: +SKIP
    >>> round(b.summary["auc"], 3), b.summary["events"]               # doctest: +SKIP
    (0.79, 334)
    """
    from healthscore.read import Card, StoreReader
    from healthscore.validation.backtest import backtest as run_backtest
    from healthscore.validation.report import jsonable

    (loaded,) = workspace.scorecards([scorecard])
    with workspace.store() as store, store.recorded("backtest", now) as run:
        found = run_backtest(StoreReader(store), Card.of(loaded), horizon=horizon, start=start,
                             end=end, every=every, renewal_days=renewal_days, target=target,
                             first_known=first_known)
        run.rows_loaded = found.summary["labelled"]
        run.detail = jsonable(found.summary)
    found.run_id = run.run_id
    return found


def suggest_weights(workspace: Workspace, scorecard: str = "health", *, horizon: int = 90,
                    train_until: date | None = None, every: int = 15, floor: float = 0.05,
                    red_share: float | None = None, target: str | None = None):
    """Fit the weights of a scorecard to what followed its stored scores, out of time
    (:func:`healthscore.validation.weights.suggest_weights`): trained on the sample dates
    whose horizon ends by ``train_until``, checked on the later ones. Reads only; nothing
    changes until the suggested file (:meth:`WeightSuggestion.write`) is shipped.

    Examples
    --------
    >>> s = suggest_weights(Workspace.open("demo"), "health")              # doctest: +SKIP
    >>> s.summary["check"]["before"]["auc"], s.summary["check"]["after"]["auc"]  # doctest: +SKIP
    (0.779, 0.805)
    """
    from healthscore.read import StoreReader
    from healthscore.validation.weights import suggest_weights as fit

    (loaded,) = workspace.scorecards([scorecard])
    with workspace.store(read_only=True) as store:
        return fit(StoreReader(store), loaded, horizon=horizon, train_until=train_until,
                   every=every, floor=floor, red_share=red_share, target=target)


#: Account-days `predict` scores at a time (whole dates; memory grows with rows × measures).
PREDICT_ROWS = 150_000


def _chunks(counts: dict, days: list) -> list[list]:
    """``days`` in consecutive groups of about :data:`PREDICT_ROWS` account-days (``counts``:
    accounts scored per date); a date is never split."""
    out, rows = [[]], 0
    for day in days:
        if out[-1] and rows + counts.get(day, 0) > PREDICT_ROWS:
            out.append([])
            rows = 0
        out[-1].append(day)
        rows += counts.get(day, 0)
    return [c for c in out if c]


def predict(workspace: Workspace, scorecard: str = "health", *, horizon: int = 90,
            train_until: date | None = None, every: int = 15, penalty: float | None = None,
            target: str | None = None, now: datetime | None = None):
    """Fit the churn-probability model of a scorecard out of time, check it on later dates
    beside the score, and store its probability for every account on every scored date that
    holds its per-measure rows (the others are counted in ``summary['not_predicted']``)
    (:func:`healthscore.validation.predict.predict`; scored about :data:`PREDICT_ROWS`
    account-days at a time, in one transaction), recorded as a run of kind ``predict``.
    Returns the :class:`~healthscore.validation.predict.Prediction` with the last chunk's rows
    (``stored``: how many were written).

    Examples
    --------
    >>> p = predict(Workspace.open("demo"), "health")                        # doctest: +SKIP
    >>> round(p.summary["check"]["model"]["auc"], 3)                         # doctest: +SKIP
    0.807
    """
    from healthscore.read import Card, StoreReader
    from healthscore.read.dates import measured_dates, scored_dates
    from healthscore.store.predictions import append_predictions, write_model
    from healthscore.validation.predict import predict as fit
    from healthscore.validation.predict import score_dates
    from healthscore.validation.report import jsonable

    (loaded,) = workspace.scorecards([scorecard])
    with workspace.store() as store, store.recorded("predict", now) as run:
        r = StoreReader(store)
        found = fit(r, loaded, horizon=horizon, train_until=train_until, every=every,
                    penalty=penalty, target=target, dates=[])
        card = Card.of(loaded)
        days = measured_dates(r, card)  # a date without measure rows has no features
        missing = sorted(set(scored_dates(r, card)) - set(days))
        found.summary["not_predicted"] = {
            "dates": len(missing), "first": missing[0] if missing else None,
            "last": missing[-1] if missing else None}
        found.summary["predicted"] = {"dates": len(days)}
        counts = {x["as_of"]: x["n"] for x in r.rows(
            "SELECT as_of, count(*) AS n FROM snapshots WHERE scorecard = ? AND version = ? "
            "AND score IS NOT NULL GROUP BY as_of", [card.name, card.version])}
        written, rows, contributions = 0, found.rows, found.contributions
        with store.transaction():  # all or nothing; memory bounded by a chunk of dates
            write_model(store, found, run_id=run.run_id, at=run.started_at)
            for chunk in _chunks(counts, days):
                rows, contributions = score_dates(
                    r, card, found.model, found.measures, chunk, found.summary["train_until"])
                written += append_predictions(store, found, rows, contributions)
        # the result holds the latest date's rows (all are in the store)
        found.rows, found.contributions = rows, contributions
        run.rows_loaded = written
        run.detail = jsonable({**found.summary, "stored": written})
    found.run_id = run.run_id
    found.stored = written
    return found


def preview(workspace: Workspace, scorecard: str, candidate: Path | str, *,
            as_of: date | None = None, history: bool = True, horizon: int = 90,
            every: int = 30, top: int = 20, reader=None):
    """What replacing scorecard ``scorecard`` by the file ``candidate`` would do, without
    writing anything (:func:`healthscore.validation.impact.preview_change`): on ``as_of``
    (default: its latest scored date) the band transitions with ARR, the accounts that move
    and why; with ``history``, the backtest of both on the stored sample dates. ``reader``:
    a reader of the store already open (the server's), else the store is opened read-only.

    Examples
    --------
    >>> p = preview(Workspace.open("demo"), "health", "health-new.yaml")   # doctest: +SKIP
    >>> p.summary["transitions"]["changed_band"]                          # doctest: +SKIP
    112
    """
    from healthscore.read import StoreReader
    from healthscore.read.dates import latest
    from healthscore.read.scorecards import Card
    from healthscore.validation.impact import preview_change

    (current,) = workspace.scorecards([scorecard])
    new = load_scorecard(Path(candidate))
    check_scorecard(new)

    from healthscore.pipeline import last_data_date

    def run(r, con):
        day = as_of or latest(r, Card.of(current)) or last_data_date(workspace)
        if day is None:
            raise NotFound("nothing is loaded or scored yet, so there is nothing to preview",
                           hint="run healthscore ingest and healthscore score first")
        import ibis

        return preview_change(r, ibis.duckdb.from_connection(con), current, new, day,
                              history=history, horizon=horizon, every=every, top=top)

    if reader is not None:
        return run(reader, reader.open().con)
    with workspace.store(read_only=True) as store:
        return run(StoreReader(store), store.con)
