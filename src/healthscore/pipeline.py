"""Every write of scores, in one place: score a date, backfill a range, the daily job.

``score(workspace, as_of)`` checks the scorecards, evaluates each against the store as it was at
the end of ``as_of`` (read-only work), then writes all snapshots in one transaction: a failure
leaves earlier snapshots untouched, and re-scoring the same date with the same scorecard version
replaces that snapshot. ``backfill`` scores a range of dates, each in its own transaction, so an
interrupted backfill resumes where it stopped; ``run_daily`` ingests what is new, then scores.
Each is recorded as one run in the store's ``runs`` table (:meth:`Store.recorded`), as are
ingests and manual inputs. Manual inputs (pulses, overrides) are written by
:mod:`healthscore.store.manual`.

History is immutable and versioned: a snapshot is keyed by (scorecard, version, as_of), so
re-scoring under a changed scorecard adds a new series and never rewrites the old one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from healthscore import clock
from healthscore.config.scorecard import LoadedScorecard, load_scorecard
from healthscore.engine import Evaluator, check_scorecard
from healthscore.engine.evaluate import DuckDBEngine
from healthscore.engine.freshness import data_end, freshness
from healthscore.engine.plan import stored_plan
from healthscore.errors import ConfigError, NotFound
from healthscore.scoring.frame import Evaluation
from healthscore.sources import IngestReport, ingest
from healthscore.store.store import Run, Store
from healthscore.workspace import Workspace

Progress = Callable[[int, int, str], None]


@dataclass
class ScoreRun:
    """The outcome of scoring one date: one evaluation per scorecard."""

    run_id: int
    as_of: date
    evaluations: list[Evaluation] = field(default_factory=list)
    #: what the user should know (a table that stopped, a stale date scored anyway)
    warnings: list[str] = field(default_factory=list)

    def evaluation(self, scorecard: str) -> Evaluation:
        return next(e for e in self.evaluations if e.scorecard.name == scorecard)


def check(workspace: Workspace, scorecards: list[str] | None = None) -> list[LoadedScorecard]:
    """Validate the workspace's scorecards fully (shape, measures, params); return them."""
    loaded = workspace.scorecards(scorecards)
    _check_all(loaded)
    return loaded


def _check_all(loaded: list[LoadedScorecard]) -> None:
    problems: list[str] = []
    for sc in loaded:
        try:
            check_scorecard(sc)
        except ConfigError as exc:
            problems += exc.problems or [exc.message]
    if problems:
        raise ConfigError("the scorecards have problems", problems=problems,
                          hint="see docs/scorecards.md and docs/measures.md")


@dataclass
class MeasurePreview:
    """One measure of a scorecard evaluated on a date, before anything is stored."""

    scorecard: str
    measure: str
    group: str
    accounts: int        #: accounts the measure applies to (its variants')
    with_data: int       #: of those, how many have a value
    distinct: int        #: distinct measure scores among them
    low: float | None    #: lowest and highest measure score
    high: float | None
    warning: str | None = None

    @property
    def coverage(self) -> float:
        return self.with_data / self.accounts if self.accounts else 0.0


def preview_measures(workspace: Workspace, loaded: list[LoadedScorecard],
                     as_of: date) -> list[MeasurePreview]:
    """Evaluate each scorecard on ``as_of`` without storing anything: per measure, how many
    accounts have data and how varied its scores are — with a warning for a measure that is
    missing for every account, or gives every account the same score (it separates nobody:
    its weight only moves every score alike)."""
    out: list[MeasurePreview] = []
    with workspace.store(read_only=True) as store:
        for sc in loaded:
            ev = Evaluator(None, sc.scorecard, store=store).evaluate(as_of)
            rows = ev.measures.to_pandas()
            if rows.empty:
                continue
            for (group, mid), part in rows.groupby(["group", "measure"], sort=False):
                known = part[~part["missing"]]
                scores = known["score"].dropna()
                item = MeasurePreview(sc.name, mid, group, len(part), len(known),
                                      int(scores.nunique()),
                                      float(scores.min()) if len(scores) else None,
                                      float(scores.max()) if len(scores) else None)
                if not len(known):
                    item.warning = (f"missing for all {len(part):,} accounts on {as_of}: "
                                    "its table has no rows then, or none match (check its "
                                    "params and the mapping)")
                elif len(scores) > 1 and item.distinct == 1:
                    item.warning = (f"the same score ({item.low:g}) for all {len(scores):,} "
                                    "accounts with data: it separates nobody (check its "
                                    "scoring bounds against the values)")
                out.append(item)
    return out


def suggest_scorecard(workspace: Workspace, name: str = "health", *, out=None,
                      force: bool = False):
    """Write a first scorecard from what the workspace has loaded
    (:mod:`healthscore.engine.suggest`) to ``out`` (default ``scorecards/<name>.yaml``),
    validated like any other; refuses to overwrite a file unless ``force`` or it is an
    unedited starter from ``init``. Returns the path and the measures chosen."""

    from healthscore.config.scorecard import STARTERS
    from healthscore.engine.suggest import picks, scorecard_yaml
    from healthscore.errors import InputError, NotFound

    path = Path(out) if out is not None else workspace.root / "scorecards" / f"{name}.yaml"
    untouched = path.exists() and path.read_text(encoding="utf-8") in STARTERS.values()
    if path.exists() and not force and not untouched:  # an unedited starter may go
        raise InputError("out", f"{path} exists", hint="choose another --out, or --force to "
                                                       "replace it")
    with workspace.store(read_only=True) as store:
        chosen = picks(store.con)
    if not chosen:
        raise NotFound("no data to suggest measures from: the store has no usage events, "
                       "tickets, surveys, touchpoints, contacts, invoices or trainings yet",
                       hint="map your exports in healthscore.yaml and run healthscore ingest "
                            "(docs/sources.md)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(scorecard_yaml(chosen, name), encoding="utf-8")
    check_scorecard(load_scorecard(tmp))  # a suggestion that does not load is our bug
    tmp.replace(path)
    return path, chosen


def _checked(workspace: Workspace, scorecards: list[str] | None,
             store: Store | None = None) -> list[LoadedScorecard]:
    """The scorecards to run, checked (those whose compiled plan ``store`` holds passed the
    same check before: :func:`healthscore.engine.plan.stored_plan`)."""
    loaded = workspace.scorecards(scorecards)
    _check_all([sc for sc in loaded
                if store is None or stored_plan(store, sc.scorecard) is None])
    if not loaded:
        raise ConfigError(f"{workspace.root}: no scorecards found "
                          f"(patterns: {', '.join(workspace.config.scorecards)})",
                          hint=f"write a first one from your loaded data: healthscore "
                               f"scorecard suggest -w {workspace.root} (or see "
                               "docs/scorecards.md)")
    return loaded


def _not_future(day: date, now: datetime, option: str) -> None:
    if day > now.date():
        raise ConfigError(f"{option} {day} is in the future (today is {now.date()})",
                          hint="scores use only data that existed on the date: pick today or "
                               "an earlier date")


def write_evaluation(store: Store, sc: LoadedScorecard, ev: Evaluation, *, run_id: int,
                     now: datetime, replace: bool = True, series: bool = True) -> None:
    """Store one evaluation as the snapshot of (scorecard, version, as_of); call inside a
    transaction."""
    store.write_snapshot(
        scorecard=sc.name, version=sc.scorecard.version,
        definition=json.dumps(sc.scorecard.model_dump(mode="json", by_alias=True)),
        source_file=str(sc.path), as_of=ev.as_of, run_id=run_id, computed_at=now,
        accounts=ev.accounts, values=ev.values, overrides=ev.overrides, replace=replace,
        series=series)


# -- one date ----------------------------------------------------------------------------------


@contextmanager
def engine_of(workspace: Workspace, store: Store) -> Iterator:
    """The engine the workspace's scorecards run on (``engine:`` in healthscore.yaml): DuckDB
    on ``store`` by default, or a Spark session over the tables in Parquet or a catalog
    (:mod:`healthscore.engine.spark`), stopped on leaving. Either writes to ``store``."""
    cfg = workspace.config.engine
    if cfg.kind == "spark":
        from healthscore.engine.spark import SparkEngine

        engine = SparkEngine(cfg, workspace.root, store=store)
    else:
        engine = DuckDBEngine(store)
    try:
        yield engine
    finally:
        engine.close()


def last_data_date(workspace: Workspace) -> date | None:
    """The last date the store (or, on Spark, the tables it reads) has activity for (events,
    tickets, invoices …): what ``score`` and ``backfill`` default to, rather than the clock.
    None for an empty store (or none yet)."""
    if workspace.config.engine.kind == "spark":
        from healthscore.engine.freshness import ACTIVITY

        with workspace.store() as store, engine_of(workspace, store) as engine:
            ends = engine.table_ends(ACTIVITY)
        return max(ends.values()) if ends else None
    if not workspace.store_path.exists():
        return None
    with workspace.store(read_only=True) as store:
        return data_end(store.con)


def score(workspace: Workspace, as_of: date, *, scorecards: list[str] | None = None,
          now: datetime | None = None, progress: Progress | None = None,
          allow_stale: bool = False, store: Store | None = None) -> ScoreRun:
    """Score every active account as of the end of ``as_of`` and store the snapshots.

    Parameters
    ----------
    as_of
        The date to score. Only data that existed by the end of that day (UTC) is used.
    scorecards
        Names of the scorecards to run (default: all of the workspace's).
    now
        The current time (default :func:`healthscore.clock.now`); ``as_of`` may not be after
        its date.
    allow_stale
        Score ``as_of`` even when it lies days after the last data the scorecards read
        (:mod:`healthscore.engine.freshness`; otherwise an :class:`InputError` naming the
        tables' last dates, and nothing is written).
    store
        The workspace's store, already open (the daily job shares one); default: opened here.

    Examples
    --------
    >>> run = score(Workspace.open("demo"), date(2026, 6, 30))       # doctest: +SKIP
    >>> run.evaluation("health").accounts.num_rows                   # doctest: +SKIP
    912
    """
    now = clock.now(now)
    _not_future(as_of, now, "--as-of")
    with workspace.store_or(store) as store:
        loaded = _checked(workspace, scorecards, store)
        with store.recorded("score", now) as record, engine_of(workspace, store) as engine:
            run = _score(store, engine, record, loaded, as_of, now, progress, allow_stale)
        write_output(workspace, store, [as_of], [sc.name for sc in loaded])
        return run


def _score(store: Store, engine, record: Run, loaded: list[LoadedScorecard], as_of: date,
           now: datetime, progress: Progress | None, allow_stale: bool) -> ScoreRun:
    run = ScoreRun(record.run_id, as_of)
    evaluators = [engine.evaluator(sc.scorecard) for sc in loaded]
    run.warnings = freshness(engine.table_ends, [sc.scorecard for sc in loaded], as_of,
                             allow_stale=allow_stale,
                             tables={ev.sc.name: ev.read_tables for ev in evaluators})
    for i, (sc, ev) in enumerate(zip(loaded, evaluators, strict=True)):
        run.evaluations.append(ev.evaluate(as_of))
        if progress:
            progress(i + 1, len(loaded), sc.name)
    with store.transaction():
        engine.sync_store()
        for sc, ev in zip(loaded, run.evaluations, strict=True):
            write_evaluation(store, sc, ev, run_id=record.run_id, now=now)
    store.tidy_series(appended=1)  # one date, however many scorecards
    record.rows_loaded = sum(e.accounts.num_rows for e in run.evaluations)
    record.detail = {"as_of": str(as_of),
                     "scorecards": {sc.name: sc.scorecard.version for sc in loaded},
                     "warnings": run.warnings}
    return run


def forget(workspace: Workspace, as_of: date, scorecards: list[str] | None = None, *,
           now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Remove the snapshots of ``as_of`` (every version; default every scorecard of the
    workspace) — a date scored by mistake, e.g. after the exports had stopped. Recorded as a
    run of kind ``forget`` naming the date and what went, so history never changes silently.
    Returns scorecard → version → accounts removed; raises :class:`NotFound` (naming the
    scored dates around it) when no scorecard has a snapshot that day."""

    names = scorecards or [sc.name for sc in workspace.scorecards()]
    with workspace.store() as store:
        found = store.con.execute(
            "SELECT DISTINCT scorecard FROM snapshots WHERE as_of = ? AND "
            "list_contains(?, scorecard)", [as_of, names]).fetchall()
        if not found:
            near = store.con.execute(
                "SELECT max(as_of) FILTER (WHERE as_of < ?), min(as_of) FILTER (WHERE as_of > ?)"
                " FROM snapshots WHERE list_contains(?, scorecard)",
                [as_of, as_of, names]).fetchall()[0]
            around = ", ".join(f"{w} {d}" for w, d in zip(("before:", "after:"), near,
                                                          strict=True) if d) or "none"
            raise NotFound(f"no snapshot of {', '.join(names)} on {as_of} to forget",
                           hint=f"scored dates nearest it — {around}", param="as_of")
    with workspace.store() as store, store.recorded("forget", now) as record:
        removed = {}
        with store.transaction():
            for name in names:
                gone = store.forget_snapshot(name, as_of)
                if gone:
                    removed[name] = gone
        store.tidy_series()
        record.rows_loaded = sum(sum(v.values()) for v in removed.values())
        record.detail = {"as_of": str(as_of), "removed": removed}
    return removed


# -- a range of dates --------------------------------------------------------------------------


@dataclass
class BackfillReport:
    """What a backfill did: dates scored and skipped (already there) per scorecard."""

    run_id: int
    start: date
    end: date
    scored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    accounts: int = 0
    warnings: list[str] = field(default_factory=list)


def date_range(start: date, end: date, step: int = 1) -> list[date]:
    if step < 1:
        raise ConfigError("--step must be at least 1 day")
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}")
    return [start + timedelta(days=k) for k in range(0, (end - start).days + 1, step)]


def _snapshot_dates(store: Store, scorecard: str, version: str) -> set[date]:
    return {r[0] for r in store.con.execute(
        "SELECT DISTINCT as_of FROM snapshots WHERE scorecard = ? AND version = ?",
        [scorecard, version]).fetchall()}


def backfill(workspace: Workspace, start: date, end: date, *, step: int = 1,
             scorecards: list[str] | None = None, force: bool = False,
             now: datetime | None = None, progress: Progress | None = None,
             chunk: int = 64, allow_stale: bool = False) -> BackfillReport:
    """Score every ``step``-th date from ``start`` to ``end`` with each scorecard.

    Dates that already have a snapshot of the current scorecard version are skipped (so an
    interrupted backfill resumes), unless ``force``. Each date is written in its own
    transaction. The snapshots are exactly those ``score`` writes for each date on its own.

    The usage measures are computed set-based for ``chunk`` dates at a time (daily roll-ups,
    sliding windows, island sweeps: see :mod:`healthscore.measures.rollup`); the measures of
    the small tables run per date from SQL compiled once.

    The range's last date is checked against the data like ``score``'s date (``allow_stale``).
    """
    now = clock.now(now)
    _not_future(end, now, "--to")
    dates = date_range(start, end, step)
    loaded = _checked(workspace, scorecards)
    with workspace.store() as store, store.recorded("backfill", now) as record, \
            _Writer(store) as writer, engine_of(workspace, store) as engine:
        report = BackfillReport(record.run_id, start, end)
        report.warnings = freshness(engine.table_ends, [sc.scorecard for sc in loaded],
                                    dates[-1], allow_stale=allow_stale, option="--to")
        record.detail = {"from": str(start), "to": str(end), "step": step,
                         "scored": report.scored, "skipped": report.skipped,
                         "warnings": report.warnings}
        evaluators = {sc.name: engine.evaluator(sc.scorecard) for sc in loaded}
        with store.transaction():
            engine.sync_store()
        done = {sc.name: set() if force else
                _snapshot_dates(store, sc.name, sc.scorecard.version) for sc in loaded}
        total = len(dates) * len(loaded)
        step_no = 0
        for k in range(0, len(dates), chunk):
            batch = dates[k:k + chunk]
            for sc in loaded:
                # the usage measures of the whole chunk, in one pass
                evaluators[sc.name].prepare([d for d in batch if d not in done[sc.name]])
            for day in batch:
                for sc in loaded:
                    step_no += 1
                    if day in done[sc.name]:
                        report.skipped[sc.name] = report.skipped.get(sc.name, 0) + 1
                    else:
                        ev = evaluators[sc.name].evaluate(day)
                        if not report.scored:
                            # the dates go in without the account-ordered series, rebuilt
                            # once at the end (reads use the snapshots until then)
                            store.series_not_ready()
                        # written while the next date is evaluated; a date not in `done` has
                        # no snapshot of this version
                        writer.submit(sc, ev, run_id=record.run_id, now=now, replace=force,
                                      series=False)
                        report.scored[sc.name] = report.scored.get(sc.name, 0) + 1
                        report.accounts += ev.accounts.num_rows
                    if progress:
                        progress(step_no, total, f"{sc.name} {day}")
        writer.flush()
        # rebuilt after dates written without it, or after an earlier backfill was cut off
        store.tidy_series()
        record.rows_loaded = report.accounts
        if report.scored:
            write_output(workspace, store, dates, [sc.name for sc in loaded])
    return report


def write_output(workspace: Workspace, store: Store, dates: list[date],
                 scorecards: list[str]) -> None:
    """Write the snapshots of ``dates`` to ``engine.output`` (date-partitioned Parquet, the
    layout of ``export --to FOLDER --measures``), when the workspace names a folder there."""
    folder = workspace.config.engine.output
    if folder is None:
        return
    from healthscore.exports import export_to

    export_to(workspace, str(workspace.root / folder), scorecards=scorecards, measures=True,
              start=min(dates), end=max(dates), store=store)


class _Writer:
    """Writes evaluations on a second connection in a background thread, one at a time, each
    in its own transaction, while the caller evaluates the next date (DuckDB releases the GIL
    while it works, so computing and writing overlap). At most one write is in flight; a
    failed write is raised by the next ``submit`` or ``flush``; leaving the block waits for the
    write in flight."""

    def __init__(self, store: Store):
        self.store = store
        self.pool: ThreadPoolExecutor | None = None
        self.pending: Future | None = None

    def __enter__(self) -> _Writer:
        self.writer = self.store.sibling()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hs-writer")
        return self

    def __exit__(self, *exc) -> None:
        self.flush(raise_error=False)
        self.pool.shutdown(wait=True)
        self.writer.con.close()

    def _write(self, sc, ev, **kw) -> None:
        with self.writer.transaction():
            write_evaluation(self.writer, sc, ev, **kw)

    def submit(self, sc, ev, **kw) -> None:
        self.flush()
        self.pending = self.pool.submit(self._write, sc, ev, **kw)

    def flush(self, raise_error: bool = True) -> None:
        """Wait for the write in flight; raise its error (unless told not to)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            try:
                pending.result()
            except BaseException:
                if raise_error:
                    raise


# -- the daily job -----------------------------------------------------------------------------


@dataclass
class DailyRun:
    """The daily job's outcome: what it ingested, what it scored, and the alerts it opened,
    closed and delivered (None without rules)."""

    run_id: int
    ingest: IngestReport | None
    score: ScoreRun
    alerts: object | None = None


def run_daily(workspace: Workspace, *, as_of: date | None = None, now: datetime | None = None,
              progress: Progress | None = None, allow_stale: bool = False) -> DailyRun:
    """The daily job: ingest what is new, score ``as_of`` (default today), then check the
    alert rules on it and deliver the outbox (:func:`healthscore.alerting.check_alerts`).

    Safe to run again: ingest skips what it already has, the score replaces the same
    date's snapshot, and a rule checked on the date opens nothing twice. If ingest fails nothing is scored, and yesterday's results stay as they
    were; the failure is recorded in ``runs`` with its reason. Today, not the last date with
    data, is the default here on purpose: when the exports stop, the job fails (the data is
    stale) instead of quietly re-scoring an old date every morning.
    """
    from healthscore.alerting import check_alerts, rules_of

    now = clock.now(now)
    day = as_of or now.date()
    rules = rules_of(workspace)  # a bad rule stops the job before it writes anything
    # ingest and score share one connection (each is its own run); the alert check opens the
    # store itself, so with alert rules the daily run is finished on a new connection, as is a
    # failure (the shared connection may be broken).
    run, alerts = None, None
    try:
        with workspace.store() as store:
            run = Run(store.start_run("run", now), "run", now)
            report = ingest(workspace, now=now, progress=progress, store=store) \
                if workspace.config.sources else None
            scored = score(workspace, day, now=now, allow_stale=allow_stale, store=store)
            if not rules:
                _finish_daily(store, run, day, report, scored, alerts)
        if rules:
            alerts = check_alerts(workspace, day, now=now)
            with workspace.store() as store:
                _finish_daily(store, run, day, report, scored, alerts)
    except BaseException as exc:
        if run is not None:
            with workspace.store() as store:
                store.fail(run, exc)
        raise
    return DailyRun(run.run_id, report, scored, alerts)


def _finish_daily(store: Store, run: Run, day: date, report: IngestReport | None,
                  scored: ScoreRun, alerts) -> None:
    run.rows_loaded = report.rows_loaded if report else 0
    run.rows_rejected = report.rows_rejected if report else 0
    run.detail = {"as_of": str(day), "ingest_run": report.run_id if report else None,
                  "score_run": scored.run_id,
                  "alerts_run": alerts.run_id if alerts is not None else None}
    store.finish(run)


# -- proof -------------------------------------------------------------------------------------

# The proof verbs live in their own module; their names stay importable from here.
from healthscore.proof import (  # noqa: E402, F401
    PREDICT_ROWS,
    backtest,
    predict,
    preview,
    suggest_weights,
)
