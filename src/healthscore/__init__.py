"""healthscore: an explainable customer health score engine for SaaS customer-success teams.

The public Python API, for notebooks and pipelines::

    import healthscore as hs

    ws = hs.Workspace.open("demo/")        # a folder with healthscore.yaml
    report = hs.ingest(ws)                 # load every configured source
    run = hs.score(ws, date(2026, 6, 30))  # score every scorecard as of a date, store it
    proof = hs.backtest(ws, "health")      # does the stored score predict churn?
    table = hs.scores(ws, date(2026, 6, 30))            # the snapshot, as an Arrow table
    why = hs.explain(ws, "ACC-000042", date(2026, 6, 30))  # one account, measure by measure

    from healthscore import read                # every read of stored scores
    with read.open_reader(ws) as r:
        read.portfolio(r, read.card(ws))        # bands, ARR at risk, on the latest date
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from healthscore.errors import (
    ConfigError,
    EngineError,
    HealthScoreError,
    InputError,
    NotFound,
    OutputError,
    QuarantineError,
    SchemaError,
    SourceError,
    StoreBusy,
    StoreError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from healthscore.config.scorecard import Scorecard
    from healthscore.demo import generate_demo
    from healthscore.pipeline import (
        BackfillReport,
        DailyRun,
        ScoreRun,
        backfill,
        backtest,
        check,
        predict,
        preview,
        run_daily,
        score,
        suggest_weights,
    )
    from healthscore.read.quick import explain, scores
    from healthscore.schemas import TABLES, Column, Table
    from healthscore.scoring.frame import Evaluation
    from healthscore.sources import IngestReport, SourceReport, ingest
    from healthscore.store import Store, WriteCounts
    from healthscore.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "BackfillReport",
    "Column",
    "ConfigError",
    "DailyRun",
    "EngineError",
    "Evaluation",
    "HealthScoreError",
    "IngestReport",
    "InputError",
    "NotFound",
    "OutputError",
    "QuarantineError",
    "SchemaError",
    "ScoreRun",
    "Scorecard",
    "SourceError",
    "SourceReport",
    "Store",
    "StoreBusy",
    "StoreError",
    "Table",
    "Workspace",
    "WorkspaceError",
    "WriteCounts",
    "__version__",
    "backfill",
    "backtest",
    "check",
    "explain",
    "generate_demo",
    "ingest",
    "predict",
    "preview",
    "run_daily",
    "score",
    "scores",
    "suggest_weights",
]


#: Where each public name lives. They load on first use (PEP 562), so that ``import healthscore``
#: (and every ``healthscore`` command, which imports it first) does not pay for Ibis, pandas,
#: pyarrow and DuckDB before it needs them. The errors above are plain Python: imported at once.
_LAZY = {
    "Scorecard": "healthscore.config.scorecard",
    "generate_demo": "healthscore.demo",
    **dict.fromkeys(("BackfillReport", "DailyRun", "ScoreRun", "backfill", "backtest", "check",
                     "predict", "preview", "run_daily", "score", "suggest_weights"),
                    "healthscore.pipeline"),
    "explain": "healthscore.read.quick",
    "scores": "healthscore.read.quick",
    **dict.fromkeys(("TABLES", "Column", "Table"), "healthscore.schemas"),
    "Evaluation": "healthscore.scoring.frame",
    **dict.fromkeys(("IngestReport", "SourceReport", "ingest"), "healthscore.sources"),
    "Store": "healthscore.store",
    "WriteCounts": "healthscore.store",
    "Workspace": "healthscore.workspace",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    # A subpackage not imported yet (``healthscore.read`` after a bare ``import healthscore``),
    # as it was when this module imported the whole library.
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
