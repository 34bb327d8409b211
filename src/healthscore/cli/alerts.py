"""``healthscore alerts list | show | ack | snooze | reopen | check | deliver | replay | test |
digest``: the alerts the rules opened, what the team does with them, and their delivery."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore import alerting, clock, read
from healthscore.cli.common import WorkspaceOption, console, err_console, esc, n
from healthscore.cli.score import parse_date
from healthscore.read import alerts as inbox
from healthscore.workspace import Workspace

alerts_app = typer.Typer(help="Alerts: list, acknowledge, snooze, check the rules, deliver, "
                         "replay over history, test the channels, send the digest.",
                         no_args_is_help=True)

ByOption = typer.Option(..., "--by", help="Who acts (kept with the alert).")
CommentOption = typer.Option("", "--comment", help="Why (kept with the alert).")


@alerts_app.command("list")
def list_(
    workspace: Path = WorkspaceOption,
    state: str = typer.Option("open", "--state", help="open (needing attention), "
                              "acknowledged, snoozed, closed (no longer holding) or all."),
    csm: str = typer.Option(None, "--csm", help="Only this CSM's accounts."),
    severity: str = typer.Option(None, "--severity", help="info, warning or critical."),
    rule: str = typer.Option(None, "--rule", help="Only this rule's alerts."),
    account: str = typer.Option(None, "--account", help="Only this account's alerts."),
    limit: int = typer.Option(50, "--limit", help="At most this many (newest first)."),
) -> None:
    """The alerts, newest first (by default those needing attention)."""
    ws = Workspace.open(workspace)
    with read.open_reader(ws) as r:
        found = inbox.alerts(r, today=clock.today(), state=state, csm=csm, severity=severity,
                             rule=rule, account_id=account, limit=limit)
        box = inbox.outbox(r)
    view = Table(title=f"{n(found['total'])} alerts ({state})", title_justify="left")
    for col in ("id", "opened", "severity", "rule", "alert", "state", "holds", "sent"):
        view.add_column(col)
    for a in found["alerts"]:
        view.add_row(str(a["alert_id"]), str(a["opened_on"]), a["severity"], esc(a["rule"]),
                     esc(a["title"]), a["state"] + (f" until {a['snoozed_until']}"
                                                    if a["state"] == "snoozed" else ""),
                     "yes" if a["holding"] else f"cleared {a['closed_on']}",
                     f"{a['delivered']}/{a['delivered'] + a['undelivered']}")
    console.print(view)
    if box["pending"] or box["failed"]:
        console.print(f"[yellow]Outbox: {n(box['pending'])} waiting to be sent, "
                      f"{n(box['failed'])} refused for good[/] (healthscore alerts deliver; "
                      "--retry-failed sends the refused ones again)")
        for e in box["errors"][:3]:
            console.print(f"  {esc(e['channel'])}: {esc(e['last_error'])}")


@alerts_app.command("show")
def show(alert_id: int = typer.Argument(..., help="The alert's id."),
         workspace: Path = WorkspaceOption) -> None:
    """One alert: its text, its state and where it was delivered."""
    ws = Workspace.open(workspace)
    with read.open_reader(ws) as r:
        a = inbox.alert(r, alert_id, today=clock.today())
    console.print(f"[bold]#{a['alert_id']} {esc(a['title'])}[/] ({a['severity']}, rule "
                  f"{esc(a['rule'])}, opened {a['opened_on']}"
                  + (f", cleared {a['closed_on']})" if a["closed_on"] else ", still holds)"))
    console.print(esc(a["text"]))
    console.print(f"State: {a['state']}" + (f" by {esc(a['acted_by'])} at {a['acted_at']:%Y-%m-%d %H:%M}"
                                            f" — {esc(a['comment'])}" if a["acted_by"] else ""))
    for d in a["deliveries"]:
        console.print(f"  {esc(d['channel'])}{' → ' + esc(d['recipient']) if d['recipient'] else ''}"
                      f": {d['status']} after {d['attempts']} attempts"
                      + (f" ({esc(d['last_error'])})" if d["last_error"] else ""))


def _act(workspace: Path, alert_id: int, state: str, by: str, comment: str, until=None) -> None:
    ws = Workspace.open(workspace)
    row = alerting.act_on(ws, alert_id, state=state, by=by, comment=comment, until=until)
    console.print(f"Alert {row['alert_id']} ({esc(row['title'])}) is {row['state']}"
                  + (f" until {row['snoozed_until']}" if row["snoozed_until"] else "") + ".")


@alerts_app.command("ack")
def ack(alert_id: int = typer.Argument(..., help="The alert's id."),
        workspace: Path = WorkspaceOption, by: str = ByOption,
        comment: str = CommentOption) -> None:
    """Acknowledge an alert: it leaves the open list (its episode may still hold)."""
    _act(workspace, alert_id, "acknowledged", by, comment)


@alerts_app.command("snooze")
def snooze(alert_id: int = typer.Argument(..., help="The alert's id."),
           workspace: Path = WorkspaceOption,
           until: str = typer.Option(..., "--until", help="Back in the open list after this "
                                     "date; the rule's new alerts for the account stay quiet "
                                     "until then."),
           by: str = ByOption, comment: str = CommentOption) -> None:
    """Snooze an alert until a date."""
    _act(workspace, alert_id, "snoozed", by, comment, parse_date(until, "--until"))


@alerts_app.command("reopen")
def reopen(alert_id: int = typer.Argument(..., help="The alert's id."),
           workspace: Path = WorkspaceOption, by: str = ByOption,
           comment: str = CommentOption) -> None:
    """Put an acknowledged or snoozed alert back in the open list."""
    _act(workspace, alert_id, "open", by, comment)


@alerts_app.command("check")
def check(workspace: Path = WorkspaceOption,
          as_of: str = typer.Option(None, "--as-of", help="The scored date to check "
                                    "(default: the latest scored)."),
          deliver: bool = typer.Option(True, "--deliver/--no-deliver",
                                       help="Send what opens (default) or only queue it.")
          ) -> None:
    """Check the rules on a scored date and deliver (what `healthscore run` does after
    scoring). Each rule checks a date once; dates go forward only."""
    ws = Workspace.open(workspace)
    day = parse_date(as_of, "--as-of") if as_of else None
    if day is None:
        with read.open_reader(ws) as r:
            day = read.latest(r, read.card(ws))
    if day is None:
        err_console.print("Nothing is scored yet: healthscore score first.")
        raise typer.Exit(1)
    print_alert_run(alerting.check_alerts(ws, day, deliver=deliver))


def print_alert_run(found) -> None:
    """The lines `alerts check` and `run` print about the rules and the outbox."""
    for c in found.checks:
        if c.skipped:
            console.print(f"  rule {esc(c.rule)}: not checked on {c.as_of} ({esc(c.skipped)})")
        else:
            console.print(f"  rule {esc(c.rule)}: holds for {n(c.holding)} accounts on "
                          f"{c.as_of}; opened {n(len(c.opened))}, cleared {n(len(c.closed))}")
    d = found.delivery
    if d is not None and (d.sent or d.retrying or d.failed):
        console.print(f"  delivered {n(d.sent)}" + (f", {n(d.retrying)} to retry next run"
                                                     if d.retrying else "")
                      + (f", {n(d.failed)} refused" if d.failed else ""))
        for e in d.errors[:3]:
            console.print(f"  [yellow]{esc(e)}[/]")


@alerts_app.command("deliver")
def deliver(workspace: Path = WorkspaceOption,
            retry_failed: bool = typer.Option(False, "--retry-failed", help="Also send again "
                                              "what a channel refused for good.")) -> None:
    """Send what is waiting in the outbox (`run` does it too)."""
    ws = Workspace.open(workspace)
    if retry_failed:
        from healthscore.store.alerts import retry_failed as requeue

        with ws.store() as store:
            console.print(f"{n(requeue(store))} refused deliveries queued again.")
    d = alerting.deliver_outbox(ws)
    console.print(f"Delivered {n(d.sent)}; {n(d.retrying)} to retry; {n(d.failed)} refused.")
    for e in d.errors[:5]:
        console.print(f"  [yellow]{esc(e)}[/]")
    if d.retrying or d.failed:
        raise typer.Exit(1)


@alerts_app.command("replay")
def replay(workspace: Path = WorkspaceOption,
           start: str = typer.Option(..., "--from", help="The first date."),
           end: str = typer.Option(None, "--to", help="The last date (default: the latest "
                                   "scored)."),
           rule: list[str] = typer.Option(None, "--rule", help="Only these rules (repeat).")
           ) -> None:
    """What the rules would have raised over stored history (writes nothing), and how long
    before each churn they warned."""
    from rich.progress import Progress

    ws = Workspace.open(workspace)
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("replay", total=None)
        found = alerting.replay_alerts(
            ws, parse_date(start, "--from"), parse_date(end, "--to") if end else None,
            rules=rule or None,
            progress=lambda d, t, w: bar.update(task, completed=d, total=t, description=w))
    view = Table(title=f"Replay {found.start} … {found.end} ({n(found.dates)} days)",
                 title_justify="left")
    for col in ("rule", "alerts", "accounts", "churned warned", "median lead (days)"):
        view.add_column(col)
    for name, s in found.by_rule.items():
        view.add_row(esc(name), n(s["alerts"]), n(s["accounts"]),
                     f"{n(s['churned_warned'])} of {n(s['churned'])}",
                     "–" if s["lead_days_median"] is None else str(s["lead_days_median"]))
    console.print(view)
    console.print("Churned warned: accounts that churned in the range with an alert of the "
                  "rule open in the 90 days before; lead: days from its first such alert to "
                  "the churn.")


@alerts_app.command("test")
def test(workspace: Path = WorkspaceOption,
         channel: list[str] = typer.Option(None, "--channel", help="Only these channels "
                                           "(repeat; default: all).")) -> None:
    """Send a sample alert to each channel now (nothing is stored)."""
    ws = Workspace.open(workspace)
    results = alerting.send_test(ws, channel or None)
    failed = 0
    for name, error in results.items():
        if error is None:
            console.print(f"  {esc(name)}: sent")
        else:
            failed += 1
            console.print(f"  [red]{esc(name)}: {esc(error)}[/]")
    if failed:
        raise typer.Exit(1)


@alerts_app.command("digest")
def digest(workspace: Path = WorkspaceOption,
           csm: list[str] = typer.Option(None, "--csm", help="Only these CSMs (repeat)."),
           force: bool = typer.Option(False, "--force", help="Send again this week's digest "
                                      "even when it was sent.")) -> None:
    """Send each CSM (with an address in `route.csms`) the e-mail digest of their alerts:
    opened in the last `digest.days` days, or still open."""
    ws = Workspace.open(workspace)
    found = alerting.send_digests(ws, csms=csm or None, force=force)
    for who, state in found.items():
        console.print(f"  {esc(who)}: {esc(state)}")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
