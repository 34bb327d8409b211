"""`healthscore check` previews each measure on the last date with data: a copied scorecard
whose measures read tables this company lacks, or whose bounds do not fit its values, is
named before any score is stored."""

from __future__ import annotations

from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
from healthscore.cli import app as cli

SCORECARD = """\
name: health
groups:
  usage:
    measures:
      days_since_last_activity:
        scoring: {linear: {from: 1000, to: 999}}
      active_users:
        params: {window_days: 30}
        scoring: {linear: {from: 0, to: 2}}
  support:
    measures:
      open_tickets:
        scoring: {linear: {from: 5, to: 0}}
"""
EVENTS = ("account_id,user_id,event,timestamp\nA1,u1,login,2026-05-30T10:00:00Z\n"
          "A1,u2,login,2026-05-31T10:00:00Z\nA2,v1,login,2026-05-20T10:00:00Z\n")


def test_check_names_measures_missing_for_everyone_or_the_same_for_all(ws):
    """On 2026-05-31 (the last date with data): no tickets at all, so open_tickets is missing
    for both accounts; every account was active well within 999 days, so the 1000 → 999 bounds
    give everyone 100; active users (A1 2, A2 1 → 100 and 50) is fine. Nothing is stored."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", EVENTS)
    ws.file("scorecards/health.yaml", SCORECARD)
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    ws.ingest()
    result = CliRunner().invoke(cli, ["check", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "health measures on 2026-05-31 (nothing stored)" in out
    assert ("health: open_tickets is missing for all 2 accounts on 2026-05-31: its table has "
            "no rows then, or none match") in out
    assert ("health: days_since_last_activity is the same score (100) for all 2 accounts with "
            "data: it separates nobody") in out
    assert "active_users is" not in out
    assert ws.query("SELECT count(*) FROM snapshots") == [(0,)]
    result = CliRunner().invoke(cli, ["check", "-w", str(ws.root), "--no-preview"])
    assert result.exit_code == 0 and "nothing stored" not in result.output
