"""``healthscore export``: a snapshot to CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore.cli.common import WorkspaceOption, console, n
from healthscore.cli.score import parse_date
from healthscore.errors import HealthScoreError
from healthscore.store import reads
from healthscore.workspace import Workspace


def export(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of", help="The snapshot date (default today)."),
    fmt: str = typer.Option(None, "--format", help="csv or parquet (default: from --out)."),
    out: Path = typer.Option(..., "--out", "-o", help="The file to write."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
    measures: bool = typer.Option(False, "--measures",
                                  help="Export the per-measure rows instead of the scores."),
) -> None:
    """Write the scores (or per-measure explanations) of one date to a CSV or Parquet file."""
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("use --format csv or --format parquet", param_hint="--format")
    ws = Workspace.open(workspace)
    day = parse_date(as_of)
    versions = {sc.name: sc.scorecard.version for sc in ws.scorecards(scorecard or None)}
    with ws.store(read_only=True) as store:
        rows = reads.export_snapshot(store, day, str(out), fmt, versions, measures=measures)
    if rows == 0:
        out.unlink(missing_ok=True)
        raise HealthScoreError(f"no snapshot as of {day} to export",
                               hint=f"run: healthscore score -w {workspace} --as-of {day}")
    console.print(f"Wrote {n(rows)} rows ({', '.join(versions)}) as of {day} to {out}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
