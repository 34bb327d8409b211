"""``healthscore demo``: write the demo company's files and a ready workspace."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from healthscore import clock
from healthscore.cli.common import console, err_console, n
from healthscore.cli.ingest import print_report
from healthscore.errors import WorkspaceError
from healthscore.sources import ingest as run_ingest
from healthscore.workspace import CONFIG_FILE, Workspace


def _parse_date(value: str | None) -> date:
    if value is None:
        return clock.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-06-30") from None


def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder for the demo workspace."),
    accounts: int = typer.Option(1000, "--accounts", min=10, help="Number of accounts."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed and end: same files)."),
    end: str = typer.Option(None, "--end", help="Data runs up to this date (default today)."),
    ingest: bool = typer.Option(True, "--ingest/--no-ingest",
                                help="Also load the files into the workspace store."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing demo workspace."),
    alerts: bool = typer.Option(True, "--alerts/--no-alerts", help="Add four alert rules "
                                "delivered to a file (docs/alerts.md)."),
) -> None:
    """Generate a realistic SaaS company (files + healthscore.yaml) and load it."""
    from healthscore.demo import generate_demo

    end_date = _parse_date(end)
    if (out / CONFIG_FILE).exists() and not force:
        raise WorkspaceError(f"{out / CONFIG_FILE} already exists",
                             hint="pass --force to regenerate it, or choose another --out")
    if ingest and end_date > clock.today():
        raise typer.BadParameter("--end is after today: its data would be in the future; "
                                 "use --no-ingest or an earlier --end")
    store_file = out / "healthscore.duckdb"
    if force:
        for stale in (store_file, store_file.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
            "{task.completed}/{task.total}"), TimeElapsedColumn(), console=err_console,
            transient=True) as bar:
        task = bar.add_task("generating", total=1)

        def step(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        summary = generate_demo(out, accounts=accounts, seed=seed, end=end_date, progress=step,
                                alerts=alerts)
    console.print(f"Demo company: {n(summary.accounts)} accounts, seed {summary.seed}, data up "
                  f"to {summary.end} in {out}/")
    for name, rows in summary.rows.items():
        console.print(f"  {name}: {n(rows)} rows")
    ws = Workspace.open(out)
    ws.store(create=True).close()
    if ingest:
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err_console, transient=True) as bar:
            task = bar.add_task("ingesting", total=len(ws.config.sources))
            report = run_ingest(ws, progress=lambda d, t, w: bar.update(
                task, completed=d, description=f"ingesting {w}"))
        print_report(report)
    else:
        console.print(f"Load it with: healthscore ingest -w {out}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
