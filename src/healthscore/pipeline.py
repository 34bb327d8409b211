"""The orchestrator: score a workspace as of a date and store the snapshots.

``score(workspace, as_of)`` checks the scorecards, evaluates each against the store as it was at
the end of ``as_of`` (read-only work), then writes all snapshots in one transaction: a failure
leaves earlier snapshots untouched, and re-scoring the same date with the same scorecard version
replaces that snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import ibis

from healthscore.config.scorecard import LoadedScorecard
from healthscore.errors import ConfigError
from healthscore.scoring.check import check_scorecard
from healthscore.scoring.evaluate import Evaluation, Evaluator
from healthscore.workspace import Workspace

Progress = Callable[[int, int, str], None]


@dataclass
class ScoreRun:
    """The outcome of scoring one date: one evaluation per scorecard."""

    run_id: int
    as_of: date
    evaluations: list[Evaluation] = field(default_factory=list)

    def evaluation(self, scorecard: str) -> Evaluation:
        return next(e for e in self.evaluations if e.scorecard.name == scorecard)


def utcnow(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def write_evaluation(store, sc: LoadedScorecard, ev: Evaluation, *, run_id: int,
                     now: datetime, replace: bool = True) -> None:
    """Store one evaluation as the snapshot of (scorecard, version, as_of); call inside a
    transaction."""
    store.write_snapshot(
        scorecard=sc.name, version=sc.scorecard.version,
        definition=json.dumps(sc.scorecard.model_dump(mode="json", by_alias=True)),
        source_file=str(sc.path), as_of=ev.as_of, run_id=run_id, computed_at=now,
        accounts=ev.accounts, measures=ev.measures, groups=ev.groups, replace=replace)


def check(workspace: Workspace, scorecards: list[str] | None = None) -> list:
    """Validate the workspace's scorecards fully (shape, measures, params); return them."""
    loaded = workspace.scorecards(scorecards)
    problems: list[str] = []
    for sc in loaded:
        try:
            check_scorecard(sc)
        except ConfigError as exc:
            problems += exc.problems or [exc.message]
    if problems:
        raise ConfigError("the scorecards have problems", problems=problems,
                          hint="see docs/scorecards.md and docs/measures.md")
    return loaded


def score(workspace: Workspace, as_of: date, *, scorecards: list[str] | None = None,
          now: datetime | None = None, progress: Progress | None = None) -> ScoreRun:
    """Score every active account as of the end of ``as_of`` and store the snapshots.

    Parameters
    ----------
    as_of
        The date to score. Only data that existed by the end of that day (UTC) is used.
    scorecards
        Names of the scorecards to run (default: all of the workspace's).
    now
        The current time (a seam for tests); ``as_of`` may not be after its date.

    Examples
    --------
    >>> run = score(Workspace.open("demo"), date(2026, 6, 30))       # doctest: +SKIP
    >>> run.evaluation("health").accounts.num_rows                   # doctest: +SKIP
    912
    """
    now = utcnow(now)
    if as_of > now.date():
        raise ConfigError(f"--as-of {as_of} is in the future (today is {now.date()})",
                          hint="scores use only data that existed on the date: pick today or "
                               "an earlier date")
    loaded = check(workspace, scorecards)
    if not loaded:
        raise ConfigError(f"{workspace.root}: no scorecards found "
                          f"(patterns: {', '.join(workspace.config.scorecards)})",
                          hint="add one to scorecards/ (docs/scorecards.md)")
    with workspace.store() as store:
        run_id = store.start_run("score", now)
        run = ScoreRun(run_id, as_of)
        try:
            backend = ibis.duckdb.from_connection(store.con)
            for i, sc in enumerate(loaded):
                run.evaluations.append(Evaluator(backend, sc.scorecard).evaluate(as_of))
                if progress:
                    progress(i + 1, len(loaded), sc.name)
            with store.transaction():
                for sc, ev in zip(loaded, run.evaluations, strict=True):
                    write_evaluation(store, sc, ev, run_id=run_id, now=now)
        except BaseException as exc:
            store.finish_run(run_id, status="failed", finished_at=utcnow(None),
                             error=str(exc) or type(exc).__name__)
            raise
        store.finish_run(run_id, status="ok", finished_at=utcnow(None),
                         rows_loaded=sum(e.accounts.num_rows for e in run.evaluations),
                         detail={"as_of": str(as_of),
                                 "scorecards": {sc.name: sc.scorecard.version for sc in loaded}})
    return run


def scores(workspace: Workspace, as_of: date, *, scorecard: str | None = None,
           measures: bool = False):
    """The stored snapshot of ``as_of`` as an Arrow table (current scorecard versions).

    One row per account and scorecard (score, band, grade, coverage, variant, version), or with
    ``measures=True`` one row per account and measure (raw value, score, weight, points).

    Examples
    --------
    >>> table = scores(Workspace.open("demo"), date(2026, 6, 30))          # doctest: +SKIP
    >>> table.to_pandas().groupby("scorecard").score.mean()                 # doctest: +SKIP
    """
    from healthscore.store import reads

    versions = {sc.name: sc.scorecard.version
                for sc in workspace.scorecards([scorecard] if scorecard else None)}
    with workspace.store(read_only=True) as store:
        return reads.snapshot_table(store, as_of, versions, measures)


def explain(workspace: Workspace, account_id: str, as_of: date, *,
            scorecard: str = "health") -> dict:
    """One account's stored snapshot with its groups and measures (points sum to the score).

    Raises
    ------
    HealthScoreError
        No snapshot of that account on that date (score the date first).
    """
    from healthscore.errors import HealthScoreError
    from healthscore.store import reads

    (loaded,) = workspace.scorecards([scorecard])
    with workspace.store(read_only=True) as store:
        found = reads.explain(store, scorecard, loaded.scorecard.version, as_of, account_id)
    if found is None:
        raise HealthScoreError(f"no {scorecard} snapshot of {account_id!r} as of {as_of}",
                               hint="score that date first (healthscore score --as-of …)")
    return found
