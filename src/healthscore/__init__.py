"""healthscore: an explainable customer health score engine for SaaS customer-success teams.

The public Python API, for notebooks and pipelines::

    import healthscore as hs

    ws = hs.Workspace.open("demo/")        # a folder with healthscore.yaml
    report = hs.ingest(ws)                 # load every configured source
    print(report.rows_loaded, report.rows_rejected)
"""

from healthscore.errors import (
    ConfigError,
    HealthScoreError,
    QuarantineError,
    SchemaError,
    SourceError,
    StoreError,
    WorkspaceError,
)
from healthscore.schemas import TABLES, Column, Table
from healthscore.sources import IngestReport, SourceReport, ingest
from healthscore.store import Store, WriteCounts
from healthscore.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "TABLES",
    "Column",
    "ConfigError",
    "HealthScoreError",
    "IngestReport",
    "QuarantineError",
    "SchemaError",
    "SourceError",
    "SourceReport",
    "Store",
    "StoreError",
    "Table",
    "Workspace",
    "WorkspaceError",
    "WriteCounts",
    "__version__",
    "generate_demo",
    "ingest",
]


def __getattr__(name: str):
    # The demo generator pulls in more of numpy than the core needs; load it on first use.
    if name == "generate_demo":
        from healthscore.demo import generate_demo

        return generate_demo
    raise AttributeError(f"module 'healthscore' has no attribute {name!r}")
