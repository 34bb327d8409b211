"""History: backfills, the daily job, trends and explanations of change.

History is immutable and versioned: a snapshot is keyed by (scorecard, version, as_of), so
re-scoring under a changed scorecard adds a new series and never rewrites the old one. A
backfill writes one date at a time, each in its own transaction, so an interrupted backfill
resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import ibis

from healthscore import scorecard_view
from healthscore.errors import ConfigError, HealthScoreError
from healthscore.pipeline import ScoreRun, check, score, utcnow, write_evaluation
from healthscore.scoring.change import explain_change, with_reasons
from healthscore.scoring.evaluate import Evaluator
from healthscore.sources import IngestReport, ingest
from healthscore.store import reads
from healthscore.workspace import Workspace

Progress = Callable[[int, int, str], None]


@dataclass
class BackfillReport:
    """What a backfill did: dates scored and skipped (already there) per scorecard."""

    run_id: int
    start: date
    end: date
    scored: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    accounts: int = 0


def date_range(start: date, end: date, step: int = 1) -> list[date]:
    if step < 1:
        raise ConfigError("--step must be at least 1 day")
    if end < start:
        raise ConfigError(f"--to {end} is before --from {start}")
    return [start + timedelta(days=k) for k in range(0, (end - start).days + 1, step)]


def backfill(workspace: Workspace, start: date, end: date, *, step: int = 1,
             scorecards: list[str] | None = None, force: bool = False,
             now: datetime | None = None, progress: Progress | None = None,
             chunk: int = 64) -> BackfillReport:
    """Score every ``step``-th date from ``start`` to ``end`` with each scorecard.

    Dates that already have a snapshot of the current scorecard version are skipped (so an
    interrupted backfill resumes), unless ``force``. Each date is written in its own
    transaction. The snapshots are exactly those ``score`` writes for each date on its own.

    The usage measures are computed set-based for ``chunk`` dates at a time (daily roll-ups,
    sliding windows, island sweeps: see :mod:`healthscore.measures.rollup`); the measures of
    the small tables run per date from SQL compiled once.
    """
    now = utcnow(now)
    if end > now.date():
        raise ConfigError(f"--to {end} is in the future (today is {now.date()})")
    dates = date_range(start, end, step)
    loaded = check(workspace, scorecards)
    if not loaded:
        raise ConfigError(f"{workspace.root}: no scorecards found")
    with workspace.store() as store, _Writer(store) as writer:
        run_id = store.start_run("backfill", now)
        report = BackfillReport(run_id, start, end)
        try:
            backend = ibis.duckdb.from_connection(store.con)
            evaluators = {sc.name: Evaluator(backend, sc.scorecard) for sc in loaded}
            done = {sc.name: set() if force else
                    set(reads.snapshot_dates(store, sc.name, sc.scorecard.version))
                    for sc in loaded}
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
                            # written while the next date is evaluated; a date not in `done`
                            # has no snapshot of this version
                            writer.submit(sc, ev, run_id=run_id, now=now, replace=force)
                            report.scored[sc.name] = report.scored.get(sc.name, 0) + 1
                            report.accounts += ev.accounts.num_rows
                        if progress:
                            progress(step_no, total, f"{sc.name} {day}")
            writer.flush()
        except BaseException as exc:
            writer.flush(raise_error=False)
            store.finish_run(run_id, status="failed", finished_at=utcnow(None),
                             error=str(exc) or type(exc).__name__,
                             detail={"scored": report.scored, "skipped": report.skipped})
            raise
        store.finish_run(run_id, status="ok", finished_at=utcnow(None),
                         rows_loaded=report.accounts,
                         detail={"from": str(start), "to": str(end), "step": step,
                                 "scored": report.scored, "skipped": report.skipped})
    return report


class _Writer:
    """Writes evaluations on a second connection in a background thread, one at a time, each
    in its own transaction, while the caller evaluates the next date (DuckDB releases the GIL
    while it works, so computing and writing overlap). At most one write is in flight; a
    failed write is raised by the next ``submit`` or ``flush``."""

    def __init__(self, store):
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


@dataclass
class DailyRun:
    """The daily job's outcome: what it ingested and what it scored."""

    run_id: int
    ingest: IngestReport | None
    score: ScoreRun


def run_daily(workspace: Workspace, *, as_of: date | None = None, now: datetime | None = None,
              progress: Progress | None = None) -> DailyRun:
    """The daily job: ingest what is new, then score ``as_of`` (default today).

    Safe to run again: ingest skips what it already has and the score replaces the same
    date's snapshot. If ingest fails nothing is scored, and yesterday's results stay as they
    were; the failure is recorded in ``runs`` with its reason.
    """
    now = utcnow(now)
    day = as_of or now.date()
    with workspace.store() as store:
        run_id = store.start_run("run", now)
    report = None
    try:
        if workspace.config.sources:
            report = ingest(workspace, now=now, progress=progress)
        scored = score(workspace, day, now=now)
    except BaseException as exc:
        with workspace.store() as store:
            store.finish_run(run_id, status="failed", finished_at=utcnow(None),
                             error=f"{type(exc).__name__}: {exc}")
        raise
    with workspace.store() as store:
        store.finish_run(run_id, status="ok", finished_at=utcnow(None),
                         rows_loaded=report.rows_loaded if report else 0,
                         rows_rejected=report.rows_rejected if report else 0,
                         detail={"as_of": str(day), "ingest_run": report.run_id if report
                                 else None, "score_run": scored.run_id})
    return DailyRun(run_id, report, scored)


# -- reading history ----------------------------------------------------------------------


def _version(workspace: Workspace, scorecard: str, version: str | None) -> str:
    """The series to read: the given version, else the current scorecard file's."""
    (loaded,) = workspace.scorecards([scorecard])
    return version or loaded.scorecard.version


def trend(workspace: Workspace, account_id: str, *, scorecard: str = "health",
          days: int = 90, end: date | None = None, version: str | None = None) -> dict:
    """An account's daily scores over ``days`` up to ``end`` (default: its latest snapshot),
    band changes, and its 7/30/90-day deltas."""
    v = _version(workspace, scorecard, version)
    with workspace.store(read_only=True) as store:
        out = reads.account_history(store, scorecard, v, account_id, days=days, end=end)
    if not out["points"]:
        raise HealthScoreError(f"no {scorecard} history for {account_id!r}",
                               hint="backfill or score some dates first (healthscore backfill)")
    return out


def why(workspace: Workspace, account_id: str, start: date, end: date, *,
        scorecard: str = "health", version: str | None = None) -> dict:
    """The change of an account's score between two dates, split exactly by measure."""
    v = _version(workspace, scorecard, version)
    with workspace.store(read_only=True) as store:
        change = reads.score_change(store, scorecard, v, account_id, start, end)
    if change is None:
        raise HealthScoreError(
            f"no {scorecard} snapshots of {account_id!r} on both {start} and {end}",
            hint="score or backfill both dates first")
    return explain_change(change, measure_labels(workspace, scorecard))


def measure_labels(workspace: Workspace, scorecard: str) -> dict[str, str]:
    """Measure id → label (or the id) over every variant of a scorecard."""
    (loaded,) = workspace.scorecards([scorecard])
    return scorecard_view.measure_labels(loaded.scorecard)


def movers(workspace: Workspace, *, scorecard: str = "health", days: int = 30,
           end: date | None = None, limit: int = 10, version: str | None = None) -> dict:
    """The largest drops and rises over ``days`` up to ``end`` (default: latest snapshot)."""
    v = _version(workspace, scorecard, version)
    with workspace.store(read_only=True) as store:
        found = reads.movers(store, scorecard, v, days=days, end=end, limit=limit)
    return with_reasons(found, measure_labels(workspace, scorecard))
