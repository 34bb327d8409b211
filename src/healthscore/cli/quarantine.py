"""``healthscore quarantine``: the rows ingest rejected, with file, row, column and reason."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.table import Table

from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.csvsafe import cell
from healthscore.workspace import Workspace


def quarantine(
    workspace: Path = WorkspaceOption,
    table: str = typer.Option(None, "--table", help="Only rows of this canonical table."),
    source: str = typer.Option(None, "--source", help="Only rows of this source."),
    limit: int = typer.Option(50, "--limit", help="Show at most this many (0: all)."),
    out: Path = typer.Option(None, "--csv", help="Write all matching rows to this CSV file."),
) -> None:
    """List quarantined rows: what was rejected, where, and why."""
    ws = Workspace.open(workspace)
    with ws.store(read_only=True) as store:
        rows = store.quarantine(table=table, source=source,
                                limit=None if out or limit == 0 else limit)
        total = store.quarantine_count()
    if out:
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else
                                    ["source", "table", "file", "row", "column", "value",
                                     "reason", "run_id"])
            writer.writeheader()
            writer.writerows({k: cell(v) for k, v in r.items()} for r in rows)
        console.print(f"Wrote {n(len(rows))} quarantine entries to {out}")
        return
    if not rows:
        console.print("The quarantine is empty: every row read was loaded.")
        return
    view = Table(title=f"Quarantine ({n(total)} rejected rows in all)", title_justify="left")
    for col in ("table", "file", "row", "column", "value", "reason"):
        view.add_column(col, overflow="fold")
    for r in rows:
        # Row 0 is a whole file left out (empty, not Parquet, …), not a row of it.
        where = "(file)" if r["row"] == 0 else str(r["row"])
        view.add_row(r["table"], esc(r["file"]), where, r["column"] or
                     ("(row)" if r["row"] else ""),
                     "" if r["value"] is None else esc(str(r["value"])[:60]), esc(r["reason"]))
    console.print(view)


def register(app: typer.Typer) -> None:
    app.command("quarantine")(quarantine)
