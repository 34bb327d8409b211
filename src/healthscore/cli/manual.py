"""``pulse`` and ``override``: a CSM's own inputs, with author, comment and expiry."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import typer

from healthscore import clock
from healthscore.cli.common import WorkspaceOption, console, esc
from healthscore.cli.score import parse_date
from healthscore.errors import SchemaError
from healthscore.store import manual
from healthscore.workspace import Workspace


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(parse_date(value, "--expires"), time())


def pulse(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    value: str = typer.Option(..., "--value", help="red, yellow, green, or 1 (bad) to 5 (good)."),
    comment: str = typer.Option(..., "--comment", help="Why."),
    author: str = typer.Option(..., "--author", help="Who says so."),
    expires: str = typer.Option(None, "--expires", help="Stops counting on this date."),
) -> None:
    """Record a CSM pulse: an input of the scorecard's csm_pulse measure from now on."""
    try:
        number = manual.pulse_value(value)
    except SchemaError:
        raise typer.BadParameter("use red, yellow, green or 1-5", param_hint="--value") \
            from None
    ws = Workspace.open(workspace)
    now = clock.now()
    with ws.store() as store:
        manual.add_pulse(store, account_id=account, value=number, author=author,
                         comment=comment, at=now, expires_at=_expiry(expires))
    console.print(f"Pulse {number}/5 for {esc(account)} by {esc(author)}"
                  + (f", until {expires}" if expires else "") + ": counts from the next score.")


def override(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    measure: str = typer.Option(..., "--measure", help="The measure id in the scorecard."),
    score: float = typer.Option(..., "--score", help="The measure score to use (0-100)."),
    comment: str = typer.Option(..., "--comment", help="Why."),
    author: str = typer.Option(..., "--author", help="Who says so."),
    expires: str = typer.Option(None, "--expires", help="Ends on this date."),
    scorecard: str = typer.Option(None, "--scorecard", "-s",
                                  help="Only in this scorecard (default: every scorecard "
                                       "with that measure)."),
) -> None:
    """Replace one measure's score for an account until it expires (shown in explain)."""
    ws = Workspace.open(workspace)
    ids = {mid for sc in ws.scorecards([scorecard] if scorecard else None)
           for name in sc.scorecard.variant_names()
           for _, mid, _ in sc.scorecard.resolve(name).measures()}
    if measure not in ids:
        raise typer.BadParameter(f"no measure {measure!r} in the scorecards; they have: "
                                 + ", ".join(sorted(ids)), param_hint="--measure")
    with ws.store() as store:
        oid, _ = manual.add_override(store, account_id=account, measure=measure, score=score,
                                     author=author, comment=comment, created_at=clock.now(),
                                     expires_at=_expiry(expires), scorecard=scorecard)
    console.print(f"Override #{oid}: {esc(measure)} = {score:g} for {esc(account)} by "
                  f"{esc(author)}" + (f" until {expires}" if expires else "")
                  + ": applies from the next score.")


def register(app: typer.Typer) -> None:
    app.command("pulse")(pulse)
    app.command("override")(override)
