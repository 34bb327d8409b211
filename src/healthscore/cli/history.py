"""``backfill``, ``run``, ``trend``, ``why``, ``movers``: history and change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from healthscore import pipeline, read
from healthscore.cli.common import WorkspaceOption, console, err_console, esc, n
from healthscore.cli.ingest import fail_if_over_limit, print_report
from healthscore.cli.score import data_date, f1, fmt_band, parse_date, warn
from healthscore.formatting import delta as fmt_points
from healthscore.formatting import raw_value as fmt_value
from healthscore.read.revisions import revision_change
from healthscore.workspace import Workspace

ScorecardOption = typer.Option("health", "--scorecard", "-s", help="The scorecard.")
VersionOption = typer.Option(None, "--scorecard-version",
                             help="Read this version's series (default: the current file's).")
SPARK = "▁▂▃▄▅▆▇█"


def _bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                    transient=True)


def backfill(
    workspace: Path = WorkspaceOption,
    start: str = typer.Option(None, "--from", help="First date (YYYY-MM-DD)."),
    end: str = typer.Option(None, "--to", help="Last date (default: the last date with data)."),
    days: int = typer.Option(None, "--days", help="Instead of --from: the last N days up to "
                             "--to."),
    step: int = typer.Option(1, "--step", help="Days between snapshots."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
    force: bool = typer.Option(False, "--force",
                               help="Re-score dates that already have a snapshot."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Score up to --to even when "
                                     "it lies days after the last data."),
) -> None:
    """Score every day (or --step) of a range; resumable: scored dates are skipped."""
    if (start is None) == (days is None):
        raise typer.BadParameter("give --from or --days (one of them)", param_hint="--from")
    ws = Workspace.open(workspace)
    last = data_date(ws, end, "--to")
    first = parse_date(start, "--from") if start else last - timedelta(days=days - 1)
    with _bar() as bar:
        task = bar.add_task("backfill", total=None)
        report = pipeline.backfill(
            ws, first, last, step=step, scorecards=scorecard or None, force=force,
            allow_stale=allow_stale,
            progress=lambda d, t, w: bar.update(task, completed=d, total=t, description=w))
    warn(report.warnings)
    for name in sorted(set(report.scored) | set(report.skipped)):
        console.print(f"{name}: {n(report.scored.get(name, 0))} dates scored, "
                      f"{n(report.skipped.get(name, 0))} already there (from {first} to {last})")
    console.print(f"Backfill run {report.run_id}: {n(report.accounts)} account-days scored.")


def run(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of", help="Score this date (default today)."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Score even when the data "
                                     "stopped days before the date (otherwise the job fails)."),
) -> None:
    """The daily job: ingest what is new, score today. Safe to run again (cron); fails when the
    data stopped arriving days ago (stale exports), leaving the last scores as they were."""
    ws = Workspace.open(workspace)
    result = pipeline.run_daily(ws, as_of=parse_date(as_of) if as_of else None,
                                allow_stale=allow_stale)
    if result.ingest is not None:
        print_report(result.ingest)
    warn(result.score.warnings)
    for ev in result.score.evaluations:
        bands = {}
        for b in ev.accounts.column("band").to_pylist():
            bands[b] = bands.get(b, 0) + 1
        console.print(f"{ev.scorecard.name} as of {ev.as_of}: " + ", ".join(
            f"{fmt_band(b)} {n(bands.get(b, 0))}" for b in ("red", "yellow", "green")))
    if result.alerts is not None:
        from healthscore.cli.alerts import print_alert_run

        console.print(f"Alerts: {n(result.alerts.opened)} opened, {n(result.alerts.closed)} "
                      "cleared.")
        print_alert_run(result.alerts)
    if result.ingest is not None:  # scored, but a source mostly failed: cron must hear of it
        fail_if_over_limit(result.ingest, workspace)
    console.print(f"Run {result.run_id} ok.")


def _spark(values: list[float | None]) -> str:
    """A one-line chart, scaled to the series' own range so small moves show."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else SPARK[min(7, int((v - lo) / span * 8))]
                   for v in values) + f"  ({lo:.0f}–{hi:.0f})"


def _read(workspace: Path, scorecard: str, version: str | None):
    """The workspace, the card of the series to read, and a reader for the block."""
    ws = Workspace.open(workspace)
    return read.card(ws, scorecard, version), read.open_reader(ws)


def trend(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    days: int = typer.Option(90, "--days", help="How many days back."),
    end: str = typer.Option(None, "--to", help="The last date (default: the latest scored)."),
    scorecard: str = ScorecardOption,
    version: str = VersionOption,
) -> None:
    """Score per day, band changes, and the 7 / 30 / 90-day deltas of one account."""
    card, reader = _read(workspace, scorecard, version)
    with reader as r:
        t = read.trend(r, card, account, days=days,
                       end=parse_date(end, "--to") if end else None)
    pts = t["points"]
    last = pts[-1]
    console.print(f"[bold]{scorecard}[/] {esc(account)}: {f1(last['score'])} "
                  f"{fmt_band(last['band'])} on {last['as_of']} ({len(pts)} snapshots since "
                  f"{pts[0]['as_of']})")
    if t["churned_on"]:
        console.print(f"  churned on {t['churned_on']}, last scored on {t['last_scored']}")
    console.print("  " + _spark([p["score"] for p in pts]))
    deltas = t["deltas"]
    console.print("  change: " + ", ".join(
        f"{k} {fmt_points(v) if v is not None else '–'}" for k, v in deltas.items()))
    for c in t["band_changes"]:
        console.print(f"  {c['as_of']}: {fmt_band(c['from'])} → {fmt_band(c['to'])}")
    table = Table(title_justify="left")
    for col in ("date", "score", "band", "coverage", "variant"):
        table.add_column(col, justify="right" if col in ("score", "coverage") else "left")
    for p in pts[-14:]:
        table.add_row(str(p["as_of"]), f1(p["score"]), fmt_band(p["band"]),
                      f"{100 * p['coverage']:.0f}%", esc(p["variant"]))
    console.print(table)


def why(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    start: str = typer.Option(None, "--from", help="The earlier date."),
    end: str = typer.Option(None, "--to", help="The later date (default: the latest scored)."),
    scorecard: str = ScorecardOption,
    version: str = VersionOption,
    top: int = typer.Option(10, "--top", help="How many measures to list."),
    revised: str = typer.Option(
        None, "--revised", help="Instead: why the snapshot of this date changed when it was "
        "scored again after late data (its latest revision), measure by measure."),
) -> None:
    """Why a score changed between two dates: the delta split exactly by measure.

    With --revised DATE instead: why that date's score changed when it was scored again after
    late data."""
    if (start is None) == (revised is None):
        raise typer.BadParameter("give --from DATE (a change over time) or --revised DATE (a "
                                 "date's revision)", param_hint="--from")
    card, reader = _read(workspace, scorecard, version)
    with reader as r:
        if revised is not None:
            day = parse_date(revised, "--revised")
            w = revision_change(r, card, account, day)
            first = last = day
        else:
            last = parse_date(end, "--to") if end else read.latest(r, card)
            first = parse_date(start, "--from")
            w = read.why(r, card, account, start=first, end=last)
    if revised is not None:
        console.print(f"[bold]{scorecard}[/] {esc(account)} on {first}, "
                      f"{esc(w['words'])}: {esc(w['summary'])}")
    else:
        console.print(f"[bold]{scorecard}[/] {esc(account)} {first} → {last}: "
                      f"{esc(w['summary'])}")
        for x in w["revised"]:
            console.print(f"  note: {esc(x['words'])} (healthscore why {esc(account)} "
                          f"--revised {x['as_of']})")
    table = Table(title_justify="left")
    for col in ("measure", "before", "after", "points", "from its score", "from its weight"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for c in w["contributions"][:top]:
        table.add_row(esc(c.label), fmt_value(c.raw_before), fmt_value(c.raw_after),
                      fmt_points(c.points), fmt_points(c.score_effect),
                      fmt_points(c.weight_effect))
    total = sum(c.points for c in w["contributions"])
    table.add_row("[bold]total[/]", "", "", f"[bold]{fmt_points(total)}[/]", "", "")
    console.print(table)


def movers(
    workspace: Path = WorkspaceOption,
    days: int = typer.Option(30, "--days", help="Compare with this many days earlier."),
    end: str = typer.Option(None, "--to", help="Up to this date (default: the latest scored)."),
    scorecard: str = ScorecardOption,
    limit: int = typer.Option(10, "--limit", help="How many drops and rises."),
    version: str = VersionOption,
) -> None:
    """The largest drops and rises in the portfolio, each with its top reason."""
    card, reader = _read(workspace, scorecard, version)
    with reader as r:
        m = read.movers(r, card, days=days, limit=limit,
                        end=parse_date(end, "--to") if end else None)
    if m["end"] is None:
        console.print(f"No {scorecard} snapshots yet: run healthscore backfill or score.")
        return
    for title, rows in (("Largest drops", m["drops"]), ("Largest rises", m["rises"])):
        table = Table(title=f"{title} {m['start']} → {m['end']}", title_justify="left")
        for col in ("account", "name", "csm", "before", "after", "change", "band",
                    "top reason"):
            table.add_column(col, justify="right" if col in ("before", "after", "change")
                             else "left")
        for r in rows:
            band = (fmt_band(r["band_after"]) if r["band_before"] == r["band_after"] else
                    f"{fmt_band(r['band_before'])}→{fmt_band(r['band_after'])}")
            table.add_row(esc(r["account_id"]), esc(r["name"]), esc(r["csm"]),
                          f1(r["score_before"]), f1(r["score_after"]), fmt_points(r["delta"]),
                          band, esc(r["reason"]))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)
    app.command("run")(run)
    app.command("trend")(trend)
    app.command("why")(why)
    app.command("movers")(movers)
