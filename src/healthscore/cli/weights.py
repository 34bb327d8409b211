"""``healthscore suggest-weights``: weights fitted to the outcomes, out of time, as a diff."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore import pipeline, read
from healthscore.cli.backtest import _f3, before_after
from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import parse_date, warn
from healthscore.errors import InputError
from healthscore.formatting import pct
from healthscore.store.disk import check_output
from healthscore.workspace import Workspace

#: Options the fitting verbs (suggest-weights, predict) share.
TrainUntilOption = typer.Option(None, "--train-until", help="Fit on sample dates whose horizon "
                                "ends by this date, check on later ones (default: a third of "
                                "the dates are kept for the check).")
EveryOption = typer.Option(15, "--every", help="Days between sample dates.")
TargetOption = typer.Option(None, "--target", help="churn or expansion (default: what the "
                            "scorecard `predicts`).")


def suggest_weights(
    workspace: Path = WorkspaceOption,
    scorecard: str = typer.Option("health", "--scorecard", "-s", help="The scorecard."),
    horizon: int = typer.Option(90, "--horizon", help="Days after each score to look for the "
                                                      "event."),
    train_until: str = TrainUntilOption,
    every: int = EveryOption,
    floor: float = typer.Option(0.05, "--floor", help="Least share of the score a measure "
                                "marked `actionable: true` keeps."),
    red_share: float = typer.Option(None, "--red-share", help="Share of accounts the red band "
                                    "should hold (default: as now)."),
    target: str = TargetOption,
    write: Path = typer.Option(None, "--write", help="Write the suggested scorecard to this "
                               "file (the diff is printed either way)."),
    force: bool = typer.Option(False, "--force", help="With --write: replace an existing file "
                               "(writing over the scorecard's own file ships the change)."),
) -> None:
    """Fit the scorecard's weights to what followed its stored scores: trained on earlier
    sample dates, checked on later ones, groups kept, weights non-negative. Prints the new
    weights, the band thresholds, the backtest before and after on the later dates, and the
    diff of the scorecard file. Nothing changes until you ship the file."""
    if write is not None:
        check_output(write)
        if write.exists() and not force:
            raise InputError("--write", f"{write} exists",
                             hint="choose a new file, or add --force to replace it")
    ws = Workspace.open(workspace)
    card = read.card(ws, scorecard)
    s = pipeline.suggest_weights(ws, card.name, horizon=horizon, every=every, floor=floor,
                                 train_until=parse_date(train_until, "--train-until")
                                 if train_until else None, red_share=red_share, target=target)
    summary = s.summary
    t, c = summary["train"], summary["check"]
    outcome = summary["target"]["outcome"]
    console.print(
        f"[bold]{card.name}[/] (version {card.version}) against {outcome} within {horizon} "
        f"days. Fitted on {t['dates']['count']} sample dates {t['dates']['first']} … "
        f"{t['dates']['last']} ({n(t['labelled'])} labelled, {n(t['events'])} {outcome}; "
        f"labels up to {summary['train_until']}); checked on {c['dates']['count']} later "
        f"dates {c['dates']['first']} … {c['dates']['last']} ({n(c['before']['labelled'])} "
        f"labelled, {n(c['before']['events'])} {outcome}).")
    view = Table(title="Measures (weight = points of the score)", title_justify="left")
    for col in ("group", "measure", "share now", "suggested", "note"):
        view.add_column(col, overflow="fold")
    for x in summary["measures"]:
        view.add_row(x["group"], esc(x["label"]), pct(x["old_share"]), pct(x["new_share"]),
                     esc(x["note"] or ""))
    console.print(view)
    console.print("Groups: " + ", ".join(f"{g['group']} {g['old_weight']:g} → {g['new_weight']:g}"
                                         for g in summary["groups"]))
    b = summary["bands"]
    console.print(f"Bands: red below {b['old']['red']:g} → {b['new']['red']:g}, yellow below "
                  f"{b['old']['yellow']:g} → {b['new']['yellow']:g} (red holds "
                  f"{pct(b['red_share'])} of the training observations, as asked or as now)")
    console.print(before_after(f"Backtest on the later dates ({outcome} within {horizon} days)",
                               c, "suggested", lift=True))
    console.print(f"On the training dates: AUC {_f3(t['auc_before'])} → {_f3(t['auc_after'])}.")
    warn(summary["warnings"])
    console.print(esc(s.diff) if s.diff else "The suggestion is the scorecard as it is.")
    if write is not None:
        s.write(write)
        console.print(f"Suggested scorecard (version {s.new_version}) written to "
                      f"{esc(str(write))}. To ship it, make it the workspace's scorecard file: "
                      "scores from then on use it (healthscore backfill rescores history).")
    else:
        console.print("Nothing was written. Add --write FILE to save the suggested scorecard.")


def register(app: typer.Typer) -> None:
    app.command("suggest-weights")(suggest_weights)
