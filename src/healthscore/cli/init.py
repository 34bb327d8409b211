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
    """Create a workspace: a commented healthscore.yaml, commented starter scorecards (health,
    expansion) and an empty store."""
    ws = Workspace.init(path, name=name)
    written = write_starters(ws.root / "scorecards")
    console.print(f"Created workspace [bold]{ws.config.name}[/] in {ws.root}/")
    console.print(f"  {ws.config_path}  — add your sources here (see docs/sources.md)")
    for starter in written:
        console.print(f"  {starter}  — a starter scorecard (commented)")
    console.print(f"  {ws.store_path}  — the store (DuckDB)")
    console.print(f"Next: edit healthscore.yaml, then [bold]healthscore ingest -w {path}[/], "
                  f"then [bold]healthscore scorecard suggest -w {path}[/] replaces the health "
                  "starter with a scorecard fitted to what loaded (docs/scorecards.md)")


def write_starters(folder: Path) -> list[Path]:
    """Write the starter scorecards into ``folder`` (those not there yet)."""
    from healthscore.config.scorecard import STARTERS

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in STARTERS.items():
        target = folder / f"{name}.yaml"
        if not target.exists():
            target.write_text(text, encoding="utf-8")
            out.append(target)
    return out


def register(app: typer.Typer) -> None:
    app.command("init")(init)
