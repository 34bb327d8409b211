"""Every question asked of stored scores, answered once: portfolio, accounts, account, trend,
why, movers, scorecards, snapshot.

The CLI, the dashboard's pages, the REST API and the Python API all call these functions, the
same way: each takes a :class:`Reader` (``open_reader(workspace)`` for a script; the server
passes its cached reader) and a :class:`Card` (which scorecard version to read; ``card(ws)``),
and every read of a date takes ``as_of: date | None``, resolves it once (None: the latest
scored date) and returns the date it used. Nothing here knows about servers, requests or
terminals; bad arguments raise :class:`~healthscore.errors.InputError` naming the argument,
missing data :class:`~healthscore.errors.NotFound` saying what exists.

>>> from healthscore import read
>>> ws = Workspace.open("demo")                                   # doctest: +SKIP
>>> with read.open_reader(ws) as r:                               # doctest: +SKIP
...     p = read.portfolio(r, read.card(ws))
...     p["as_of"], [b["accounts"] for b in p["bands"]]
(datetime.date(2026, 10, 31), [143, 402, 367])
"""

from healthscore.read.account import account, activity, attributes, explain, manual_inputs
from healthscore.read.accounts import BANDS, MAX_PER_PAGE, SORTS, accounts, trend_of
from healthscore.read.backtests import backtest_run, backtests
from healthscore.read.dates import latest, resolve, scored_dates
from healthscore.read.history import movers, trend, why
from healthscore.read.portfolio import band_history, filter_options, portfolio
from healthscore.read.quick import scores
from healthscore.read.reader import Reader, StoreReader, open_reader
from healthscore.read.scorecards import Card, card, scorecards, versions
from healthscore.read.snapshot import (
    band_summary,
    lowest,
    snapshot_query,
    snapshot_table,
    variant_summary,
)

__all__ = [
    "BANDS",
    "MAX_PER_PAGE",
    "SORTS",
    "Card",
    "Reader",
    "StoreReader",
    "account",
    "accounts",
    "activity",
    "attributes",
    "backtest_run",
    "backtests",
    "band_history",
    "band_summary",
    "card",
    "explain",
    "filter_options",
    "latest",
    "lowest",
    "manual_inputs",
    "movers",
    "open_reader",
    "portfolio",
    "resolve",
    "scored_dates",
    "scorecards",
    "scores",
    "snapshot_query",
    "snapshot_table",
    "trend",
    "trend_of",
    "variant_summary",
    "versions",
    "why",
]
