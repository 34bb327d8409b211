"""``healthscore backtest``: does the stored score predict churn (or expansion)?"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from healthscore import pipeline, read
from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import fmt_band, parse_date, warn
from healthscore.formatting import pct
from healthscore.store.disk import check_output
from healthscore.validation.report import jsonable, words
from healthscore.workspace import Workspace


def _f3(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.3f}"


def auc_text(found: dict) -> str:
    """``0.779 (0.708–0.851)``: an AUC with its 95 % interval."""
    lo, hi = found["auc_interval"]
    return f"{_f3(found['auc'])} ({_f3(lo)}–{_f3(hi)})"


def before_after(title: str, found: dict, after: str, *, lift: bool = False) -> Table:
    """The backtest of the current scores (``found["before"]``) beside a change's
    (``found["after"]``, named ``after``): AUC with its interval, the event rate per band and,
    with ``lift``, the top decile's lift."""
    table = Table(title=title, title_justify="left")
    for col in ("", "AUC (95% interval)", "red rate", "yellow rate", "green rate",
                *(["top-decile lift"] if lift else [])):
        table.add_column(col)
    for key, name in (("before", "now"), ("after", after)):
        r = found[key]
        rates = {x["band"]: x for x in r["bands"]}
        table.add_row(name, auc_text(r),
                      *(f"{pct(rates[k]['event_rate'])} of {n(rates[k]['accounts'])}"
                        for k in ("red", "yellow", "green")),
                      *([_f3(r["top_lift"])] if lift else []))
    return table


def backtest(
    workspace: Path = WorkspaceOption,
    scorecard: str = typer.Option("health", "--scorecard", "-s", help="The scorecard."),
    horizon: int = typer.Option(90, "--horizon", help="Days after each score to look for the "
                                                      "event (a churn, an expansion)."),
    target: str = typer.Option(None, "--target", help="churn or expansion (default: what the "
                               "scorecard `predicts`, churn unless it says)."),
    start: str = typer.Option(None, "--from", help="First sample date (default: the first "
                                                   "scored date)."),
    end: str = typer.Option(None, "--to", help="Last sample date (default: the latest)."),
    every: int = typer.Option(30, "--every", help="Days between sample dates."),
    at_renewal: int = typer.Option(None, "--at-renewal", help="Instead of sample dates: score "
                                   "each renewal exactly this many days before it, labelled "
                                   "by its outcome."),
    segment: bool = typer.Option(False, "--segment", help="Also print the AUC per segment, "
                                                          "variant and quarter."),
    json_out: Path = typer.Option(None, "--json", help="Also write the metrics as JSON here."),
    html_out: Path = typer.Option(None, "--html", help="Also write a self-contained HTML "
                                                       "report here (opens offline)."),
    first_scored: bool = typer.Option(
        False, "--as-first-scored", help="Test each date's score as first computed — what "
        "the team saw that day — not a later revision after late data."),
) -> None:
    """Backtest a scorecard's stored scores against what followed: churn (or expansion, for a
    scorecard that `predicts: expansion`). AUC with its interval, the event rate by band, flag
    precision and recall, lift by decile, each measure alone, baselines, lead time.
    Recorded as a run in the store."""
    for path in (json_out, html_out):
        if path is not None:
            check_output(path)  # before the work, not after it
    ws = Workspace.open(workspace)
    card = read.card(ws, scorecard)
    found = pipeline.backtest(ws, card.name, horizon=horizon,
                              start=parse_date(start, "--from") if start else None,
                              end=parse_date(end, "--to") if end else None, every=every,
                              renewal_days=at_renewal, target=target,
                              first_known=first_scored)
    s = found.summary
    w = words(s)
    what = (f"each renewal's outcome, scored {at_renewal} days before it" if at_renewal
            is not None else f"{w['name']} within {horizon} days")
    console.print(
        f"[bold]{card.name}[/] (version {card.version}) against {what}, "
        f"{s['dates']['count']} sample dates {s['dates']['first']} … {s['dates']['last']}: "
        f"{n(s['labelled'])} labelled observations, {n(s['events'])} {w['event']}, "
        f"{n(s['censored'])} censored (no outcome in the horizon)")
    lo, hi = s["auc_interval"]
    console.print(f"ROC AUC [bold]{_f3(s['auc'])}[/] (95% interval {_f3(lo)}–{_f3(hi)}), "
                  f"Gini {_f3(s['gini'])}; top-decile lift {_f3(s['top_lift'])}, holding "
                  f"{pct(s['top_share_of_events'])} of {w['events']}")
    bands = Table(title=f"{w['Name']} by band", title_justify="left")
    for col in ("band", "accounts", w["event"], f"{w['name']} rate", "ARR",
                f"{w['event']} ARR"):
        bands.add_column(col, justify="left" if col == "band" else "right")
    for b in s["bands"]:
        bands.add_row(fmt_band(b["band"]), n(b["accounts"]), n(b["events"]),
                      pct(b["event_rate"], 1), n(round(b["arr"])), n(round(b["event_arr"])))
    console.print(bands)
    ordered = {True: "yes", False: "[red]no[/]", None: "–"}[s["bands_ordered"]]
    console.print(f"{w['Name']} rises from {w['order']}: {ordered}. {w['Flag']} flags: "
                  f"precision {pct(s['flag']['precision'], 1)}, recall "
                  f"{pct(s['flag']['recall'], 1)}; {w['wide']}: precision "
                  f"{pct(s['flag_wide']['precision'], 1)}, recall "
                  f"{pct(s['flag_wide']['recall'], 1)}")
    power = Table(title="Each measure alone", title_justify="left")
    for col in ("measure", "AUC alone", "higher means", "coverage", "weight"):
        power.add_column(col, justify="left" if col in ("measure", "higher means") else "right")
    for x in s["measures"]:  # the AUC of the measure read the way it predicts the event
        power.add_row(esc(card.labels.get(x["measure"], x["measure"])), _f3(x["power"]),
                      x["higher_means"] or "–", pct(x["coverage"]), pct(x["weight"], 1))
    console.print(power)
    if segment:
        for key, title in (("segments", "segment"), ("variants", "variant"),
                           ("quarters", "quarter")):
            table = Table(title=f"AUC per {title}", title_justify="left")
            for col in (title, "labelled", w["event"], "AUC"):
                table.add_column(col, justify="left" if col == title else "right")
            for row in s[key]:
                table.add_row(esc(row[title]), n(row["labelled"]), n(row["events"]),
                              _f3(row["auc"]))
            console.print(table)
    console.print("Baselines: " + "; ".join(
        f"{b['name']} {_f3(b['auc'])}" + (f" ({_f3(b['auc_interval'][0])}–"
                                          f"{_f3(b['auc_interval'][1])}"
                                          + (f"; {b['note']}" if b.get("note") else "") + ")"
                                          if b.get("auc_interval")
                                          else f" ({b['note']})" if b.get("note") else "")
        for b in s["baselines"]))
    cal = s["calibration"]
    if cal["brier"] is not None:
        console.print(f"Calibration: Brier score {cal['brier']:.4f} (a constant guess: "
                      f"{cal['brier_constant']:.4f}), probabilities from a "
                      f"{cal['fit']['method']}")
    lead = s["lead_time"]
    if lead["events"]:
        console.print(
            f"Lead time: {lead['ever_flagged']} of {lead['events']} {w['events']} were "
            f"{w['flag']} in the {lead['lookback_days']} days before; median "
            f"{lead['median_days_from_first_flag']} days from the first {w['flag']} to the "
            f"{w['name']}; {w['flag']} at least 60 / 90 days ahead: "
            f"{pct(lead['flagged_ahead']['60'])} / {pct(lead['flagged_ahead']['90'])}")
    km = s["survival"]
    if km["bands"]:
        # the curves end at the horizon: a point past it would repeat the last one
        days = [t for t in ("30", "60", "90") if int(t) <= s["horizon"]] or ["30"]
        console.print(f"{w['without']} after {' / '.join(days)} days (Kaplan–Meier): " + "; ".join(
            f"{b['band']} " + " / ".join(pct(b["without_event"][t]) for t in days)
            for b in km["bands"]) + (f"; log-rank p = {km['logrank']['p_value']:.2g}"
                                     if km["logrank"] else ""))
    warn(s["warnings"])
    if json_out is not None:
        json_out.write_text(json.dumps(jsonable(s), indent=2), encoding="utf-8")
        console.print(f"Metrics written to {json_out}")
    if html_out is not None:
        from healthscore.web.report import report_html

        html_out.write_text(report_html(jsonable(s), card.labels,
                                        f"Backtest #{found.run_id}: {card.name}"),
                            encoding="utf-8")
        console.print(f"Report written to {html_out}")
    console.print(f"Recorded as run {found.run_id}. In the dashboard: /backtests/{found.run_id}")


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
