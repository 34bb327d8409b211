"""``healthscore explain``: one account's score, group by group and measure by measure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from healthscore import read
from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import f1, fmt_band, parse_date
from healthscore.errors import NotFound
from healthscore.formatting import raw_value
from healthscore.workspace import Workspace


def explain(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of",
                              help="The snapshot date (default: the latest scored date)."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
    known_at: str = typer.Option(
        None, "--known-at", help="Show the snapshot as the store held it at this time (UTC, "
        "YYYY-MM-DD or YYYY-MM-DDTHH:MM), before later revisions."),
) -> None:
    """Score, band, coverage; every group and measure: raw value, score, weight, points."""
    ws = Workspace.open(workspace)
    asked = parse_date(as_of) if as_of else None
    at = parse_time(known_at, "--known-at") if known_at else None
    cards = [read.Card.of(sc) for sc in ws.scorecards(scorecard or None)]
    with ws.store(read_only=True) as store:
        r = read.StoreReader(store)
        inputs = read.manual_inputs(r, account)
        shown, missing = [], []
        for card in cards:
            day = asked or read.latest(r, card)
            if day is None:
                missing.append(NotFound(f"no {card.name} scores yet",
                                        hint=f"score a date first: healthscore score -w "
                                             f"{workspace} --as-of YYYY-MM-DD"))
                continue
            try:
                shown.append((card, day, read.explain(r, card, account, day, known_at=at)))
            except NotFound as exc:  # said below when no scorecard has it
                missing.append(exc)
    if not shown and missing:
        raise missing[0]
    for card, day, e in shown:
        _print(card, account, day, e, inputs)


def parse_time(value: str, option: str) -> datetime:
    """A UTC time given as a date (its start) or a date and time."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise typer.BadParameter(f"{value!r} is not a time like 2026-07-01 or 2026-07-01T09:30 "
                             "(UTC)", param_hint=option)


def _print(card: read.Card, account: str, day, e: dict, inputs: dict) -> None:
    """One scorecard's explanation of the account: head lines, the group/measure table,
    overrides and the latest pulses."""
    console.print(
        f"\n[bold]{card.name}[/] {esc(account)} {esc(e['name'])} as of {day}: score "
        f"[bold]{f1(e['score'])}[/] {fmt_band(e['band'])} grade {e['grade'] or '–'}, "
        f"coverage {100 * e['coverage']:.0f}%, variant {e['variant']}")
    console.print(f"  segment {esc(e['segment'] or '–')}, plan {esc(e['plan'] or '–')}, "
                  f"CSM {esc(e['csm'] or '–')}, ARR {n(e['arr'])}, renewal "
                  f"{e['renewal_date']}")
    if e["revisions"]:
        console.print(f"  computed {e['computed_at']:%Y-%m-%d %H:%M} UTC; this date was "
                      f"revised {e['revisions']} time(s): healthscore why {esc(account)} "
                      f"--revised {day} says why")
    table = Table(title_justify="left")
    for col in ("group / measure", "raw value", "score", "weight", "points"):
        table.add_column(col, justify="left" if col == "group / measure" else "right")
    overridden: list[dict] = []
    for g in e["groups"]:
        table.add_row(f"[bold]{esc(g['label'])}[/]", "", f1(g["score"]),
                      f"{100 * g['weight']:.1f}%", f"[bold]{g['points']:.1f}[/]")
        for m in (m for m in e["measures"] if m["group"] == g["group"]):
            name = esc(m["label"])
            if m["override_id"] is not None:
                name += " [bold]*[/]"
                overridden.append(m)
            table.add_row(f"  {name}", raw_value(m["raw_value"]),
                          "–" if m["missing"] and m["score"] is None else f1(m["score"]),
                          f"{100 * m['weight']:.1f}%", f"{m['points']:.1f}")
    table.add_row("[bold]total[/]", "", "", "",
                  f"[bold]{sum(m['points'] for m in e['measures']):.1f}[/]")
    console.print(table)
    for m in overridden:
        until = f", until {m['override_expires']:%Y-%m-%d}" if m["override_expires"] else ""
        console.print(f"  * {esc(m['label'])}: score overridden by {esc(m['override_author'])} "
                      f"(#{m['override_id']}{until}): {esc(m['override_comment'])}")
    for p in inputs["pulses"][:3]:
        until = f", until {p['expires_at']:%Y-%m-%d}" if p["expires_at"] else ""
        console.print(f"  pulse {p['value']}/5 on {p['at']:%Y-%m-%d} by "
                      f"{esc(p['author'] or '–')}{until}: {esc(p['comment'] or '')}")


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
