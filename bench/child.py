"""The work of one measured child process: ``python -m bench.child KIND STORE_OR_WS AS_OF OUT``.

KIND is ``api`` (healthscore's Python API: ``healthscore.score``), ``sql`` (bench/sql/health.sql
on DuckDB) or ``pandas``. The child writes ``OUT/report.json``: ``work_s``, the time of the work
alone (after interpreter start-up and imports), and what the implementation reports. Each kind
imports only what it needs, so peak RSS is that of the implementation.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path


def _api(workspace: Path, as_of: date, out: Path) -> dict:
    import healthscore

    ws = healthscore.Workspace.open(workspace)
    run = healthscore.score(ws, as_of, scorecards=["health"])
    return {"accounts": run.evaluation("health").accounts.num_rows}


def _sql(workspace: Path, as_of: date, out: Path) -> dict:
    from bench import sql_impl

    return sql_impl.run(workspace / "healthscore.duckdb", as_of, out)


def _pandas(workspace: Path, as_of: date, out: Path) -> dict:
    from bench import pandas_impl

    return pandas_impl.run(workspace / "healthscore.duckdb", as_of, out)


KINDS = {"api": _api, "sql": _sql, "pandas": _pandas}


def main(argv: list[str]) -> int:
    kind, workspace, as_of, out = argv
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    fn = KINDS[kind]
    # Imports count as start-up, not work: load the implementation's modules first.
    if kind == "api":
        import healthscore  # noqa: F401
    elif kind == "sql":
        import bench.sql_impl  # noqa: F401
    else:
        import bench.pandas_impl  # noqa: F401
    start = time.perf_counter()
    report = fn(Path(workspace), date.fromisoformat(as_of), out_dir)
    report["work_s"] = time.perf_counter() - start
    (out_dir / "report.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
