"""``healthscore init DIR``: a new workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore.cli.common import console
from healthscore.workspace import Workspace


def init(
    path: Path = typer.Argument(..., help="Folder for the new workspace (created if missing)."),
    name: str = typer.Option(None, help="Workspace name (default: the folder name)."),
) -> None:
    """Create a workspace: a commented healthscore.yaml and an empty store."""
    ws = Workspace.init(path, name=name)
    console.print(f"Created workspace [bold]{ws.config.name}[/] in {ws.root}/")
    console.print(f"  {ws.config_path}  — add your sources here (see docs/sources.md)")
    console.print(f"  {ws.store_path}  — the store (DuckDB)")
    console.print(f"Next: edit healthscore.yaml, then [bold]healthscore ingest -w {path}[/], "
                  f"then [bold]healthscore scorecard suggest -w {path}[/] writes a first "
                  "scorecard from what loaded (docs/scorecards.md)")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
