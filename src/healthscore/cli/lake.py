"""``healthscore lake``: the store's canonical tables as Parquet, for the Spark engine."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore.cli.common import WorkspaceOption, console, n
from healthscore.store.lake import write_lake
from healthscore.workspace import Workspace


def lake(
    workspace: Path = WorkspaceOption,
    out: Path = typer.Option(..., "--out", "-o", help="The folder to write (created)."),
    table: list[str] = typer.Option(None, "--table", "-t",
                                    help="Only this canonical table (repeatable)."),
) -> None:
    """Write the store's canonical tables to a folder of Parquet files (one per table), the
    layout the Spark engine reads (engine: {kind: spark, tables: DIR}; docs/scale.md)."""
    from healthscore.errors import ConfigError
    from healthscore.schemas import TABLES

    unknown = [t for t in table or [] if t not in TABLES]
    if unknown:
        raise ConfigError(f"--table {unknown[0]}: not a canonical table",
                          hint=f"the tables are: {', '.join(TABLES)}")
    ws = Workspace.open(workspace)
    with ws.store(read_only=True) as store:
        rows = write_lake(store.con, out, table or None)
    for name, count in rows.items():
        console.print(f"  {name:<14} {n(count):>12} rows")
    console.print(f"Wrote {len(rows)} tables ({n(sum(rows.values()))} rows) to {out}")


def register(app: typer.Typer) -> None:
    app.command("lake")(lake)
