"""``healthscore preview``: what a changed scorecard would do, before it ships."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore import pipeline, read
from healthscore.cli.backtest import before_after
from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import fmt_band, parse_date
from healthscore.formatting import delta, money, score
from healthscore.workspace import Workspace

BANDS = ("red", "yellow", "green", None)


def preview(
    workspace: Path = WorkspaceOption,
    scorecard: str = typer.Option("health", "--scorecard-name", "-s", help="The scorecard "
                                  "the file would replace."),
    candidate: Path = typer.Option(..., "--scorecard", help="The changed scorecard file "
                                   "(it need not be in the workspace)."),
    as_of: str = typer.Option(None, "--as-of", help="The date to compare on (default: the "
                              "latest scored date)."),
    history: bool = typer.Option(True, "--history/--no-history", help="Also backtest both "
                                 "on the stored sample dates (scores the file on each)."),
    horizon: int = typer.Option(90, "--horizon", help="The backtest's horizon in days."),
    every: int = typer.Option(30, "--every", help="Days between the backtest's sample dates."),
    top: int = typer.Option(20, "--top", help="How many of the largest moves to list."),
) -> None:
    """Compare the scorecard with a changed file on the same data, writing nothing: the band
    transitions (accounts and ARR), the accounts that move most and the measures that moved
    them, and the backtest before and after when history is stored."""
    ws = Workspace.open(workspace)
    card = read.card(ws, scorecard)
    p = pipeline.preview(ws, card.name, candidate, as_of=parse_date(as_of, "--as-of")
                         if as_of else None, history=history, horizon=horizon, every=every,
                         top=top)
    s = p.summary
    t = s["transitions"]
    console.print(f"[bold]{card.name}[/] version {p.current_version} → {esc(str(candidate))} "
                  f"(version {p.candidate_version}) on {p.as_of}, {n(t['accounts'])} accounts: "
                  f"{n(t['changed_band'])} change band ({money(t['changed_band_arr'])} ARR).")
    cells = {(c["from"], c["to"]): c for c in t["cells"]}
    matrix = Table(title="Band now (rows) → with the file (columns): accounts, ARR",
                   title_justify="left")
    shown = [b for b in BANDS if b is not None or any(None in k for k in cells)]
    matrix.add_column("")
    for b in shown:
        matrix.add_column(b or "unscored")
    for b_old in shown:
        matrix.add_row(b_old or "unscored", *(
            f"{n(cells[(b_old, b)]['accounts'])} · {money(cells[(b_old, b)]['arr'])}"
            if (b_old, b) in cells else "" for b in shown))
    console.print(matrix)
    if s["movers"]:
        movers = Table(title=f"The largest of {n(s['movers_total'])} moves (a band change or "
                             "5 points or more)", title_justify="left")
        for col in ("account", "now", "with the file", "change", "moved by (points)"):
            movers.add_column(col, overflow="fold")
        for m in s["movers"]:
            change = (delta(m["new_score"] - m["old_score"])
                      if m["new_score"] is not None and m["old_score"] is not None else "–")
            movers.add_row(esc(m["name"] or m["account_id"]),
                           f"{score(m['old_score'])} {fmt_band(m['old_band'])}",
                           f"{score(m['new_score'])} {fmt_band(m['new_band'])}", change,
                           esc("; ".join(f"{x['label']} {delta(x['points'])}"
                                         for x in m["measures"])))
        console.print(movers)
    b = s["backtest"]
    if b is not None:
        console.print(before_after(f"Backtest on {b['dates']['count']} stored dates "
                                   f"{b['dates']['first']} … {b['dates']['last']} (churn "
                                   f"within {b['horizon']} days)", b, "with the file"))
    elif history:
        console.print("No backtest: no stored history with outcomes for this scorecard yet.")
    console.print("Nothing was written.")


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
