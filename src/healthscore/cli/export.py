"""``healthscore export``: a snapshot to CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore import read
from healthscore.cli.common import WorkspaceOption, console, n
from healthscore.cli.score import parse_date
from healthscore.errors import NotFound
from healthscore.store.disk import check_output
from healthscore.workspace import Workspace


def export(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of",
                              help="The snapshot date (default: the latest scored date)."),
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
    check_output(out)
    ws = Workspace.open(workspace)
    cards = [read.Card.of(sc) for sc in ws.scorecards(scorecard or None)]
    with ws.store(read_only=True) as store:
        r = read.StoreReader(store)
        latest = [d for c in cards if (d := read.latest(r, c)) is not None]
        day = parse_date(as_of) if as_of else max(latest, default=None)
        if day is None:
            raise NotFound("nothing is scored yet, so there is nothing to export",
                           hint=f"run: healthscore score -w {workspace} --as-of YYYY-MM-DD")
        if not cards:
            rows = 0
        elif measures:
            rows = store.export_table(read.snapshot_table(r, day, cards, measures=True),
                                      str(out), fmt)
        else:
            rows = store.export(*read.snapshot_query(day, cards), str(out), fmt)
    if rows == 0:
        out.unlink(missing_ok=True)
        raise NotFound(f"no snapshot as of {day} to export",
                       hint=f"run: healthscore score -w {workspace} --as-of {day}")
    console.print(f"Wrote {n(rows)} rows ({', '.join(c.name for c in cards)}) as of {day} "
                  f"to {out}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
