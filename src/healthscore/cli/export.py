"""``healthscore export``: a snapshot to CSV or Parquet (``--out``), or many dates to PostgreSQL
or a date-partitioned Parquet folder (``--to``)."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore import read
from healthscore.cli.common import WorkspaceOption, console, err_console, esc, n
from healthscore.cli.score import parse_date
from healthscore.errors import NotFound
from healthscore.store.disk import check_output
from healthscore.workspace import Workspace


def export(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of",
                              help="The snapshot date (default: the latest scored date)."),
    fmt: str = typer.Option(None, "--format", help="csv or parquet (default: from --out)."),
    out: Path = typer.Option(None, "--out", "-o", help="The file to write (one date)."),
    to: str = typer.Option(
        None, "--to", help="Instead of --out: a PostgreSQL URL (postgresql://user@host:port/db)"
        ", env:VAR (an environment variable holding it), or a folder for date-partitioned "
        "Parquet. The dates written replace those dates there."),
    schema: str = typer.Option(None, "--schema",
                               help="The database schema of --to postgresql://… "
                                    "(default: healthscore)."),
    start: str = typer.Option(None, "--from", help="With --to: the first date of a range."),
    until: str = typer.Option(None, "--until",
                              help="With --to: the last date of a range (default: the latest)."),
    every: bool = typer.Option(False, "--all", help="With --to: every scored date."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
    measures: bool = typer.Option(False, "--measures",
                                  help="Export the per-measure rows instead of the scores "
                                       "(with --to: as well as the scores)."),
) -> None:
    """Write the scores (or per-measure explanations) of one date to a CSV or Parquet file.

    With --to, write one date, a range (--from/--until) or every scored date
    (--all) to PostgreSQL (a table per scorecard) or to a folder of
    date-partitioned Parquet files; a date exported again replaces it there.
    """
    if (out is None) == (to is None):
        raise typer.BadParameter("give --out FILE (one date to a file) or --to URL|FOLDER "
                                 "(dates to a database or a Parquet folder)",
                                 param_hint="--out / --to")
    if as_of is not None and (start or until or every):
        raise typer.BadParameter("give one date (--as-of) or a range (--from/--until/--all)",
                                 param_hint="--as-of")
    if every and (start or until):
        raise typer.BadParameter("--all takes every scored date; drop --from/--until",
                                 param_hint="--all")
    if to is not None:
        to_target(workspace, to, schema=schema, fmt=fmt, scorecards=scorecard or None,
                  measures=measures, as_of=as_of, start=start, until=until, every=every)
        return
    if start or until or every or schema:
        raise typer.BadParameter("--out writes one date (--as-of); use --to for several dates "
                                 "or a database", param_hint="--out")
    to_file(workspace, out, as_of=as_of, fmt=fmt, scorecards=scorecard or None,
            measures=measures)


def to_file(workspace: Path, out: Path, *, as_of: str | None, fmt: str | None,
            scorecards: list[str] | None, measures: bool) -> None:
    """``export --out``: one date to a CSV or Parquet file."""
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("use --format csv or --format parquet", param_hint="--format")
    check_output(out)
    ws = Workspace.open(workspace)
    cards = [read.Card.of(sc) for sc in ws.scorecards(scorecards)]
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


def to_target(workspace: Path, to: str, *, schema: str | None, fmt: str | None,
              scorecards: list[str] | None, measures: bool, as_of: str | None,
              start: str | None, until: str | None, every: bool) -> None:
    """``export --to``: dates to PostgreSQL or a date-partitioned Parquet folder."""
    from healthscore.exports import export_to
    from healthscore.store.targets import has_password, resolve, scheme

    if fmt is not None and fmt.lower() != "parquet":
        raise typer.BadParameter("--to writes a database or a folder of Parquet files; "
                                 "--format csv is for --out", param_hint="--format")
    target, from_env = resolve(to)
    if scheme(target) is not None and fmt is not None:
        raise typer.BadParameter("--format is for files and folders, not a database",
                                 param_hint="--format")
    if has_password(target) and not from_env:
        err_console.print("[yellow]note:[/] a password on the command line is visible to "
                          "other users and kept in the shell's history; use PGPASSWORD, "
                          "~/.pgpass or --to env:VAR instead")
    shown, written = export_to(
        Workspace.open(workspace), to, scorecards=scorecards, schema=schema, measures=measures,
        as_of=parse_date(as_of) if as_of else None,
        start=parse_date(start, "--from") if start else None,
        end=parse_date(until, "--until") if until else None, every=every)
    console.print(f"Exported to {esc(shown)}:")
    for w in written:
        span = (f"{w.dates[0]}" if len(w.dates) == 1
                else f"{n(len(w.dates))} dates, {w.dates[0]} to {w.dates[-1]}")
        changed = "" if w.changed is None else f"; {n(w.changed)} new or changed"
        console.print(f"  {esc(w.table)}: {n(w.rows)} rows ({span}{changed})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
