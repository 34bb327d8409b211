"""``healthscore status``: what a workspace holds."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.workspace import Workspace


def status(workspace: Path = WorkspaceOption) -> None:
    """Rows, accounts and time span of every table; the last runs; the quarantine."""
    ws = Workspace.open(workspace)
    with ws.store(read_only=True) as store:
        summary = store.table_summary()
        runs = store.runs(5)
        quarantined = store.quarantine_count()
    table = Table(title=f"Workspace {ws.config.name} ({ws.store_path})", title_justify="left")
    for col in ("table", "rows", "versions", "accounts", "from", "to"):
        table.add_column(col, justify="left" if col in ("table", "from", "to") else "right")
    for s in summary:
        versions = n(s["versions"]) if s["kind"] == "state" else ""
        table.add_row(s["table"], n(s["rows"]), versions, n(s["accounts"]),
                      str(s["first"] or "")[:19], str(s["last"] or "")[:19])
    console.print(table)
    if runs:
        console.print("Last runs:")
        for r in runs:
            line = (f"  #{r['run_id']} {r['kind']} {r['started_at']:%Y-%m-%d %H:%M:%S} "
                    f"{r['status']}")
            if r["rows_loaded"] is not None:
                line += f": {n(r['rows_loaded'])} rows loaded, {n(r['rows_rejected'])} rejected"
            if r["error"]:
                line += f" — {esc(r['error'].splitlines()[0])}"
            console.print(line)
    else:
        console.print("No runs yet: [bold]healthscore ingest[/] loads the configured sources.")
    console.print(f"Quarantine: {n(quarantined)} rejected row(s)"
                  + (" — [bold]healthscore quarantine[/] lists them" if quarantined else ""))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
