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

from healthscore.config.scorecard import Scorecard
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


def __getattr__(name: str):
    # The demo generator pulls in more of numpy than the core needs; load it on first use.
    if name == "generate_demo":
        from healthscore.demo import generate_demo

        return generate_demo
    raise AttributeError(f"module 'healthscore' has no attribute {name!r}")
