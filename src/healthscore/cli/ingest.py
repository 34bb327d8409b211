"""``healthscore ingest``: load every configured source; print loaded / rejected per table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from healthscore.cli.common import WorkspaceOption, console, err_console, esc, n
from healthscore.errors import QuarantineError
from healthscore.sources import IngestReport
from healthscore.sources import ingest as run_ingest
from healthscore.workspace import Workspace


def print_report(report: IngestReport) -> None:
    table = Table(title=f"Ingest run {report.run_id}", title_justify="left")
    for col in ("table", "source", "files read", "unchanged files", "failed files",
                "rows read", "new", "changed", "unchanged", "rejected"):
        table.add_column(col, justify="left" if col in ("table", "source") else "right")
    for s in report.sources:
        rejected = f"[red]{n(s.rows_rejected)}[/]" if s.rows_rejected else "0"
        failed = f"[red]{n(s.files_failed)}[/]" if s.files_failed else "0"
        table.add_row(s.table, esc(s.source), n(s.files_read), n(s.files_skipped), failed,
                      n(s.rows_read),
                      n(s.written.inserted), n(s.written.updated), n(s.written.unchanged),
                      rejected)
    console.print(table)
    w = report.written
    console.print(f"{n(report.rows_loaded)} rows accepted ({n(w.inserted)} new, {n(w.updated)} "
                  f"changed, {n(w.unchanged)} already stored), {n(report.rows_rejected)} "
                  "rejected.")
    for source, _table, file, note in report.notes:
        console.print(f"note: {esc(file)} ({esc(source)}): {esc(note)}")
    if report.failed_files:
        console.print(f"[red]{n(len(report.failed_files))} file(s) could not be read and were "
                      "left out[/] (the other files loaded; these are read again at the next "
                      "ingest):")
        for source, _table, file, why in report.failed_files[:20]:
            console.print(f"  {esc(file)} ({esc(source)}): {esc(why)}")
    if report.values_dropped:
        console.print(f"{n(report.values_dropped)} optional value(s) could not be read and were "
                      "left empty, their rows kept (`on_error: reject` on a column quarantines "
                      "such rows instead):")
        for _source, _table, file, row, column, value, why in report.dropped_values[:5]:
            console.print(f"  {esc(f'{file}:{row}')} {esc(column)} = {esc(repr(value))}: "
                          f"{esc(why)}")
    if report.rows_duplicate:
        console.print(f"{n(report.rows_duplicate)} event row(s) seen twice, loaded once "
                      "(`duplicates: keep` on a source loads exact duplicate rows of a file as "
                      "distinct events; an `event_id` tells events apart):")
        for source, _table, file, row, why in report.duplicates[:5]:
            console.print(f"  {esc(f'{file}:{row}')} ({esc(source)}): {esc(why)}")
    if report.reasons:
        why = Table(title="Rejected rows by reason", title_justify="left")
        for col in ("table", "column", "reason", "rows"):
            why.add_column(col, justify="right" if col == "rows" else "left")
        for tbl, column, reason, count in report.reasons[:15]:
            why.add_row(tbl, column or "(row)", esc(reason), n(count))
        console.print(why)
        console.print("First rejected rows:")
        for p in report.problems[:10]:
            where = f"{p['file']}:{p['row']}"
            col = f" {p['column']}" if p["column"] else ""
            console.print(f"  {esc(where)}{col} = {esc(repr(p['value']))}: {esc(p['reason'])}")
        console.print("All of them: [bold]healthscore quarantine[/] -w <workspace>")


def ingest(
    workspace: Path = WorkspaceOption,
    strict: bool = typer.Option(False, "--strict",
                                help="Fail and write nothing if any row would be rejected."),
    full: bool = typer.Option(False, "--full",
                              help="Re-read every file, not only new or changed ones."),
) -> None:
    """Load every configured source into the store; rejected rows go to the quarantine."""
    ws = Workspace.open(workspace)
    if not ws.config.sources:
        console.print(f"Nothing to ingest: {ws.config_path} has no sources yet "
                      "(see docs/sources.md).")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("reading sources", total=len(ws.config.sources))

        def step(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, description=what)

        try:
            report = run_ingest(ws, strict=strict, full=full, progress=step)
        except QuarantineError as exc:
            bar.stop()
            if exc.report is not None:
                print_report(exc.report)
            raise
    print_report(report)
    fail_if_over_limit(report, workspace)


def fail_if_over_limit(report: IngestReport, workspace: Path) -> None:
    """Exit 1 when a source rejected more than its ``max_rejected`` share, or a file could not
    be read (the accepted rows are loaded): a source whose rows mostly fail is a mapping to
    fix, and a file left out is data missing, not a success."""
    over = report.over_limit()
    for source, _table, file, why in report.failed_files:
        err_console.print(f"[red]error:[/] {esc(file)} (source {esc(repr(source))}) was left "
                          f"out: {esc(why)}")
    if report.failed_files and not over:
        err_console.print("The other files were loaded. Fix or replace the file(s) and ingest "
                          "again (they are tried again).")
        raise typer.Exit(1)
    if not over:
        return
    for line in over:
        err_console.print(f"[red]error:[/] {esc(line)}")
    err_console.print(f"The accepted rows were loaded. Fix the mapping or the file (every "
                      f"rejected row: healthscore quarantine -w {esc(str(workspace))}), or "
                      "raise the source's max_rejected in healthscore.yaml.")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
