"""Stale data: scoring defaults to the last date with data, refuses a date long after the data
a scorecard reads has ended (unless told), warns when one table stopped, and a mistaken
snapshot can be forgotten, on the record."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE, NOW, RECENCY_SCORECARD
from healthscore import pipeline
from healthscore.cli import app as cli
from healthscore.errors import InputError, NotFound

SCORECARD = RECENCY_SCORECARD + """\
  support:
    measures:
      open_tickets:
        scoring: {linear: {from: 5, to: 0}}
"""
# usage until May 31; the help desk's export stopped on April 10
EVENTS = "account_id,event,timestamp\n" + "".join(
    f"A{i},login,2026-05-{d:02d}T10:00:00Z\n" for i in (1, 2) for d in (1, 15, 31))
TICKETS = "ticket_id,account_id,opened_at\nT1,A1,2026-04-01T09:00:00Z\nT2,A2,2026-04-10T09:00:00Z\n"


@pytest.fixture
def stale(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", EVENTS)
    ws.file("data/tickets.csv", TICKETS)
    ws.file("scorecards/health.yaml", SCORECARD)
    ws.config(ACCOUNTS_SOURCE, "events:\n  table: usage_events\n  path: data/events.csv\n",
              "desk:\n  table: tickets\n  path: data/tickets.csv\n")
    ws.ingest()
    return ws


def test_a_date_long_after_the_data_is_refused_and_named(stale):
    """May 31 is the last date with data. June 10 is 10 days later (more than 3): refused,
    naming each table's last rows and the date to score instead; nothing is written. June 3 is
    scored, with a warning for the help desk export: no ticket since April 10, 54 days
    before."""
    workspace = stale.open()
    assert pipeline.last_data_date(workspace) == date(2026, 5, 31)
    with pytest.raises(InputError) as err:
        pipeline.score(workspace, date(2026, 6, 10), now=NOW)
    assert err.value.field == "as_of"
    assert ("2026-06-10 is 10 days after the last data health reads (2026-05-31; last rows: "
            "tickets 2026-04-10, usage_events 2026-05-31): every account would look inactive"
            ) in err.value.message
    assert "--as-of 2026-05-31" in err.value.hint and "--allow-stale" in err.value.hint
    assert stale.query("SELECT count(*) FROM snapshots") == [(0,)]
    assert stale.query("SELECT status FROM runs WHERE kind = 'score'") == [("failed",)]
    run = pipeline.score(workspace, date(2026, 6, 3), now=NOW)
    assert run.warnings == [
        "health: tickets has no rows after 2026-04-10, 54 days before 2026-06-03: its "
        "measures see nothing newer (is its export still running?)"]
    run = pipeline.score(workspace, date(2026, 6, 10), now=NOW, allow_stale=True)
    assert "10 days after the last data" in run.warnings[0]
    assert stale.query("SELECT count(DISTINCT as_of) FROM snapshots") == [(2,)]


def test_the_cli_defaults_to_the_last_date_with_data(stale):
    """No --as-of: the last date with data (May 31), said on the way; a backfill's --to too."""
    root = str(stale.root)
    result = CliRunner().invoke(cli, ["score", "-w", root, "--lowest", "0"])
    assert result.exit_code == 0, result.output
    assert "--as-of 2026-05-31: the last date with data" in result.output
    assert "health as of 2026-05-31" in result.output
    result = CliRunner().invoke(cli, ["backfill", "-w", root, "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "from 2026-05-29 to 2026-05-31" in result.output
    result = CliRunner().invoke(cli, ["backfill", "-w", root, "--from", "2026-06-01", "--to",
                                      "2026-06-30"])
    assert result.exit_code == 2 and "--to 2026-05-31" in result.output


def test_forget_removes_a_mistaken_snapshot_on_the_record(stale):
    """A date scored by mistake goes, every version of it, recorded as a `forget` run; the
    other dates stay; a date never scored is a NotFound naming the scored dates around it."""
    workspace = stale.open()
    pipeline.score(workspace, date(2026, 5, 30), now=NOW)
    pipeline.score(workspace, date(2026, 6, 20), now=NOW, allow_stale=True)
    result = CliRunner().invoke(cli, ["forget", "-w", str(stale.root), "--as-of", "2026-06-20"])
    assert result.exit_code == 0, result.output
    assert "on 2026-06-20: 2 account scores removed" in result.output
    assert stale.query("SELECT DISTINCT as_of FROM snapshots") == [(date(2026, 5, 30),)]
    assert stale.query("SELECT count(*) FROM snapshot_series WHERE as_of = '2026-06-20'") == \
        [(0,)]
    (detail,) = stale.query("SELECT detail FROM runs WHERE kind = 'forget'")[0]
    assert '"as_of": "2026-06-20"' in detail and '"removed": {"health"' in detail
    with pytest.raises(NotFound) as err:
        pipeline.forget(workspace, date(2026, 6, 1))
    assert err.value.message == "no snapshot of health on 2026-06-01 to forget"
    assert err.value.hint == "scored dates nearest it — before: 2026-05-30"
