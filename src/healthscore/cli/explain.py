"""``healthscore explain``: one account's score, group by group and measure by measure."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore.cli.common import WorkspaceOption, console, esc, n
from healthscore.cli.score import f1, fmt_band, parse_date
from healthscore.errors import HealthScoreError
from healthscore.store import manual, reads
from healthscore.workspace import Workspace


def _raw(value: float | None) -> str:
    if value is None or value != value:
        return "no data"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def explain(
    account: str = typer.Argument(..., help="The account id."),
    workspace: Path = WorkspaceOption,
    as_of: str = typer.Option(None, "--as-of", help="The snapshot date (default today)."),
    scorecard: list[str] = typer.Option(None, "--scorecard", "-s",
                                        help="Only this scorecard (repeatable)."),
) -> None:
    """Score, band, coverage; every group and measure: raw value, score, weight, points."""
    ws = Workspace.open(workspace)
    day = parse_date(as_of)
    loaded = ws.scorecards(scorecard or None)
    with ws.store(read_only=True) as store:
        inputs = manual.manual_inputs(store, account)
        found = False
        for sc in loaded:
            s = sc.scorecard
            e = reads.explain(store, s.name, s.version, day, account)
            if e is None:
                continue
            found = True
            resolved = s.resolve(e["variant"]) if e["variant"] in s.variant_names() else s.resolve()
            label = {g: grp.label or g for g, grp in resolved.groups.items()}
            mlabel = {m: cfg.label for _, m, cfg in resolved.measures() if cfg.label}
            console.print(
                f"\n[bold]{s.name}[/] {esc(account)} {esc(e['name'])} as of {day}: score "
                f"[bold]{f1(e['score'])}[/] {fmt_band(e['band'])} grade {e['grade'] or '–'}, "
                f"coverage {100 * e['coverage']:.0f}%, variant {e['variant']}")
            console.print(f"  segment {esc(e['segment'] or '–')}, plan {esc(e['plan'] or '–')}, "
                          f"CSM {esc(e['csm'] or '–')}, ARR {n(e['arr'])}, renewal "
                          f"{e['renewal_date']}")
            table = Table(title_justify="left")
            for col in ("group / measure", "raw value", "score", "weight", "points"):
                table.add_column(col, justify="left" if col == "group / measure" else "right")
            overridden: list[dict] = []
            for g in e["groups"]:
                table.add_row(f"[bold]{esc(label.get(g['group'], g['group']))}[/]", "",
                              f1(g["score"]), f"{100 * g['weight']:.1f}%",
                              f"[bold]{g['points']:.1f}[/]")
                for m in (m for m in e["measures"] if m["group"] == g["group"]):
                    name = esc(mlabel.get(m["measure"], m["measure"]))
                    if m["override_id"] is not None:
                        name += " [bold]*[/]"
                        overridden.append(m)
                    table.add_row(f"  {name}", _raw(m["raw_value"]),
                                  "–" if m["missing"] and m["score"] is None else f1(m["score"]),
                                  f"{100 * m['weight']:.1f}%", f"{m['points']:.1f}")
            table.add_row("[bold]total[/]", "", "", "",
                          f"[bold]{sum(m['points'] for m in e['measures']):.1f}[/]")
            console.print(table)
            for m in overridden:
                until = f", until {m['override_expires']:%Y-%m-%d}" if m["override_expires"] \
                    else ""
                console.print(f"  * {esc(mlabel.get(m['measure'], m['measure']))}: score "
                              f"overridden by {esc(m['override_author'])} (#{m['override_id']}"
                              f"{until}): {esc(m['override_comment'])}")
            pulses = inputs["pulses"][:3]
            for p in pulses:
                until = f", until {p['expires_at']:%Y-%m-%d}" if p["expires_at"] else ""
                console.print(f"  pulse {p['value']}/5 on {p['at']:%Y-%m-%d} by "
                              f"{esc(p['author'] or '–')}{until}: {esc(p['comment'] or '')}")
        if not found:
            dates = []
            for sc in loaded:
                dates += reads.snapshot_dates(store, sc.name, sc.scorecard.version)
            raise HealthScoreError(
                f"no snapshot of {account!r} as of {day}",
                hint=(f"score that date first: healthscore score -w {workspace} --as-of {day}"
                      + (f" (scored dates: {', '.join(map(str, sorted(set(dates))[-5:]))})"
                         if dates else "")))


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
