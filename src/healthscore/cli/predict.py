"""``healthscore predict``: a churn probability per account per scored date, kept apart from
the health score, and ``--explain ACCOUNT`` for one account's reasons."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore import pipeline, read
from healthscore.cli.backtest import _f3, auc_text
from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import parse_date
from healthscore.cli.weights import EveryOption, TargetOption, TrainUntilOption
from healthscore.formatting import pct
from healthscore.read.predictions import account_prediction
from healthscore.workspace import Workspace


def predict(
    workspace: Path = WorkspaceOption,
    scorecard: str = typer.Option("health", "--scorecard", "-s", help="The scorecard whose "
                                  "stored measures the model reads."),
    horizon: int = typer.Option(90, "--horizon", help="Days ahead the probability is for."),
    train_until: str = TrainUntilOption,
    every: int = EveryOption,
    penalty: float = typer.Option(None, "--penalty", help="Smoothing of the model (default: "
                                  "chosen by cross-validation on the training dates)."),
    target: str = TargetOption,
    explain: str = typer.Option(None, "--explain", help="Show one account's probability and "
                                "its reasons from the stored predictions (fits nothing)."),
    as_of: str = typer.Option(None, "--as-of", help="With --explain: the date (default: the "
                              "latest predicted)."),
) -> None:
    """Fit a glass-box churn model on the stored measure values and their 30/90-day changes,
    out of time (trained on earlier dates, checked on later ones beside the score), and store
    its probability for every account on every scored date. With --explain ACCOUNT, show
    one account's probability, its reasons and history instead."""
    ws = Workspace.open(workspace)
    card = read.card(ws, scorecard)
    if explain is not None:
        with read.open_reader(ws) as r:
            found = account_prediction(r, card, explain, parse_date(as_of, "--as-of")
                                       if as_of else None, target=target or "churn")
        _explain(found)
        return
    p = pipeline.predict(ws, card.name, horizon=horizon, every=every, penalty=penalty,
                         train_until=parse_date(train_until, "--train-until")
                         if train_until else None, target=target)
    s = p.summary
    t, c = s["train"], s["check"]
    outcome = s["target"]["outcome"]
    console.print(
        f"[bold]{card.name}[/] model {p.model_version}: P({outcome} within {horizon} days) "
        f"from {len(p.measures)} measures' values, scores and their 30/90-day changes. Fitted on "
        f"{t['dates']['count']} sample dates {t['dates']['first']} … {t['dates']['last']} "
        f"({n(t['labelled'])} labelled, {n(t['events'])} {outcome}; labels up to "
        f"{s['train_until']}; penalty {s['penalty']:g}).")
    view = Table(title=f"Checked on {c['dates']['count']} later dates {c['dates']['first']} … "
                       f"{c['dates']['last']} ({n(c['labelled'])} labelled, {n(c['events'])} "
                       f"{outcome})", title_justify="left")
    for col in ("", "AUC (95% interval)", "Brier (constant guess)", "mean probability "
                "(observed rate)"):
        view.add_column(col)
    view.add_row("model", auc_text(c["model"]), f"{c['model']['brier']:.4f} "
                 f"({c['brier_constant']:.4f})",
                 f"{pct(c['model']['mean_probability'], 1)} ({pct(c['event_rate'], 1)})")
    view.add_row("the score", auc_text(c["score"]), "", "")
    console.print(view)
    console.print(f"Stored {n(p.stored)} probabilities ({n(s['predicted']['dates'])} dates; "
                  f"dates up to {s['train_until']} in-sample). Recorded as run {p.run_id}. One account: "
                  "healthscore predict --explain ACCOUNT_ID")
    skipped = s.get("not_predicted", {})
    if skipped.get("dates"):
        console.print(f"[yellow]Not predicted: {n(skipped['dates'])} scored dates "
                      f"({skipped['first']} … {skipped['last']}) hold no per-measure rows to "
                      f"read; rescore them to predict them: healthscore backfill --from "
                      f"{skipped['first']} --to {skipped['last']} --force[/]")


def _explain(found: dict) -> None:
    m = found["model"]
    console.print(
        f"[bold]{esc(found['account_id'])}[/] on {found['as_of']}: "
        f"P({found['target']} within {m['horizon']} days) = [bold]{pct(found['probability'], 1)}"
        f"[/] (an average account: {pct(found['base_probability'], 1)}; model "
        f"{m['model_version']}, checked AUC {_f3(m['check_auc'])}"
        + ("; this date was in its training period" if found["in_sample"] else "") + ")")
    for x in found["reasons"]:
        console.print(f"  {x['contribution']:+.2f}  {esc(x['words'])}")
    rest = sum(x["contribution"] for x in found["contributions"][len(found["reasons"]):])
    console.print(f"  {rest:+.2f}  the other measures together")
    hist = found["history"]
    if len(hist) > 1:
        step = max(1, len(hist) // 6)
        console.print("History: " + ", ".join(f"{h['as_of']} {pct(h['probability'])}"
                                              for h in hist[::step][-6:]))


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
