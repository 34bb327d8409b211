"""``healthscore score`` and ``healthscore check``.

The pipeline and the read layer (Ibis, pandas, Arrow) are imported inside the verbs: the date,
band and warning helpers here serve most other verbs, and ``--help`` needs none of that.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.table import Table

from healthscore import clock
from healthscore.cli.common import WorkspaceOption, console, err_console, esc, n
from healthscore.formatting import score as score_text
from healthscore.workspace import Workspace

BAND_STYLE = {"red": "red", "yellow": "yellow", "green": "green"}


def parse_date(value: str | None, option: str = "--as-of") -> date:
    if value is None or value == "today":
        return clock.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-06-30",
                                 param_hint=option) from None


def data_date(ws: Workspace, value: str | None, option: str = "--as-of") -> date:
    """The date given, else the last date the store has data for (said on stderr), else
    today."""
    if value is not None:
        return parse_date(value, option)
    from healthscore.pipeline import last_data_date

    last = last_data_date(ws)
    if last is None or last > clock.today():
        return clock.today()
    err_console.print(f"{option} {last}: the last date with data ({option} to choose another)")
    return last


def warn(warnings: list[str]) -> None:
    """Print each warning on stderr."""
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {esc(w)}")


def fmt_band(band: str | None) -> str:
    return f"[{BAND_STYLE[band]}]{band}[/]" if band in BAND_STYLE else "–"


#: A score with one decimal (healthscore.formatting.score).
f1 = score_text


def score(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of", help="Score as of the end of this date "
                              "(YYYY-MM-DD, or today; default: the last date with data)."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
    lowest: int = typer.Option(10, "--lowest", help="How many of the lowest accounts to list."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help="Score the date even when it "
                                     "lies days after the last data the scorecard reads."),
) -> None:
    """Score every active account as of a date; store the snapshot; show bands and the lowest."""
    from healthscore import read
    from healthscore.pipeline import score as run_score

    ws = Workspace.open(workspace)
    day = data_date(ws, as_of)
    run = run_score(ws, day, scorecards=scorecard or None, allow_stale=allow_stale)
    warn(run.warnings)
    with read.open_reader(ws) as r:
        for ev in run.evaluations:
            sc = ev.scorecard
            card = read.Card.of(sc)
            console.print(f"\n[bold]{sc.name}[/] as of {day} (version {sc.version}, "
                          f"{n(ev.accounts.num_rows)} active accounts)")
            bands = Table(title_justify="left")
            for col in ("band", "accounts", "share", "ARR", "mean score", "mean coverage"):
                bands.add_column(col, justify="left" if col == "band" else "right")
            rows = read.band_summary(r, card, day)
            total = sum(r["accounts"] for r in rows) or 1
            for row in rows:
                bands.add_row(fmt_band(row["band"]), n(row["accounts"]),
                              f"{100 * row['accounts'] / total:.0f}%",
                              n(round(row["arr"])) if row["arr"] is not None else "–",
                              f1(row["mean_score"]), f"{100 * row['mean_coverage']:.0f}%")
            console.print(bands)
            variants = read.variant_summary(r, card, day)
            console.print("Variants: " + ", ".join(f"{v['variant']} {n(v['accounts'])}"
                                                    for v in variants))
            if lowest:
                low = Table(title=f"Lowest {lowest}", title_justify="left")
                for col in ("account", "name", "segment", "csm", "score", "band", "coverage",
                            "weakest measure"):
                    low.add_column(col, justify="right" if col in ("score", "coverage")
                                   else "left")
                for row in read.lowest(r, card, day, lowest):
                    low.add_row(esc(row["account_id"]), esc(row["name"]), esc(row["segment"]),
                                esc(row["csm"]), f1(row["score"]), fmt_band(row["band"]),
                                f"{100 * row['coverage']:.0f}%", row["weakest"] or "")
                console.print(low)
    console.print(f"\nStored as run {run.run_id}. Explain one: healthscore explain -w "
                  f"{workspace} <account_id> --as-of {day}")


def forget(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(..., "--as-of", help="The date whose snapshots to remove."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable; default all)."),
) -> None:
    """Remove a date's snapshots scored by mistake (e.g. after the exports stopped); recorded
    as a run, so the history never changes silently."""
    from healthscore.pipeline import forget as forget_dates

    ws = Workspace.open(workspace)
    day = parse_date(as_of)
    removed = forget_dates(ws, day, scorecard or None)
    for name, versions in removed.items():
        for version, accounts in versions.items():
            console.print(f"{name} (version {version}) on {day}: {n(accounts)} account scores "
                          "removed")


def check(
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of", help="Preview the measures on this date "
                              "(default: the last date with data)."),
    no_preview: bool = typer.Option(False, "--no-preview", help="Validate only: do not "
                                    "evaluate the measures."),
) -> None:
    """Validate healthscore.yaml and every scorecard (measures, params, variants), then preview
    each measure on the last date with data: coverage, how varied its scores are, and a
    warning for a measure missing for every account or the same for all. Nothing is stored."""
    from healthscore import read
    from healthscore.pipeline import check as check_scorecards
    from healthscore.pipeline import last_data_date, preview_measures

    ws = Workspace.open(workspace)
    loaded = check_scorecards(ws)
    console.print(f"{ws.config_path}: ok ({len(ws.config.sources)} sources)")
    for sc in loaded:
        s = sc.scorecard
        measures = sum(len(g.measures) for g in s.groups.values())
        console.print(f"{esc(sc.path)}: ok — scorecard [bold]{s.name}[/] version {s.version}: "
                      f"{len(s.groups)} groups, {measures} measures, variants: "
                      f"{', '.join(s.variant_names())}")
    if not no_preview:  # each mapped date format, tried on its source's first rows
        from healthscore.sources.preview import format_problems

        warn(format_problems(ws))
    day = None if no_preview else (parse_date(as_of) if as_of else last_data_date(ws))
    if day is None or not loaded:
        return
    items = preview_measures(ws, loaded, day)
    for sc in loaded:
        mine = [x for x in items if x.scorecard == sc.name]
        if not mine:
            continue
        table = Table(title=f"{sc.name} measures on {day} (nothing stored)",
                      title_justify="left")
        for col in ("group", "measure", "coverage", "scores", "distinct"):
            table.add_column(col, justify="left" if col in ("group", "measure") else "right")
        card = read.Card.of(sc)
        for x in mine:
            span = "–" if x.low is None else f"{round(x.low)}–{round(x.high)}"  # never "-0"
            style = "yellow" if x.warning else ""
            table.add_row(esc(x.group), esc(card.labels.get(x.measure, x.measure)),
                          f"[{style}]{100 * x.coverage:.0f}%[/]" if style else
                          f"{100 * x.coverage:.0f}%", span, n(x.distinct))
        console.print(table)
    warn([f"{x.scorecard}: {x.measure} is {x.warning}" for x in items if x.warning])


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("forget")(forget)
    app.command("check")(check)
