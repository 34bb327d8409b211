"""One-call reads for notebooks and scripts: open the workspace's store, read, close.

``hs.scores(ws, day)`` and ``hs.explain(ws, account, day)`` are these; for several reads in a
row, open one reader (:func:`~healthscore.read.open_reader`) and call the read functions.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from healthscore.read.account import explain as explain_account
from healthscore.read.reader import open_reader
from healthscore.read.scorecards import Card, card
from healthscore.read.snapshot import snapshot_table
from healthscore.workspace import Workspace


def scores(workspace: Workspace, as_of: date, *, scorecard: str | None = None,
           measures: bool = False) -> pa.Table:
    """The stored snapshot of ``as_of`` as an Arrow table (current scorecard versions).

    One row per account and scorecard (score, band, grade, coverage, variant, version), or with
    ``measures=True`` one row per account and measure (raw value, score, weight, points).

    Examples
    --------
    >>> table = scores(Workspace.open("demo"), date(2026, 6, 30))          # doctest: +SKIP
    >>> table.to_pandas().groupby("scorecard").score.mean()                 # doctest: +SKIP
    """
    cards = [Card.of(sc) for sc in workspace.scorecards([scorecard] if scorecard else None)]
    with open_reader(workspace) as r:
        return snapshot_table(r, as_of, cards, measures)


def explain(workspace: Workspace, account_id: str, as_of: date, *,
            scorecard: str = "health") -> dict:
    """One account's stored snapshot with its groups and measures (points sum to the score).

    Raises
    ------
    NotFound
        No snapshot of that account on that date; the message says whether the account is
        unknown, churned (and when it was last scored) or just not scored that day.
    """
    with open_reader(workspace) as r:
        return explain_account(r, card(workspace, scorecard), account_id, as_of)
