"""The first hour with real exports: an ingest that mostly fails says so with its exit code, a
JSON path that matches nothing stops with the keys that are there, map keys match whatever
their case, and dates take the format spellings people write."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
from healthscore.cli import app as cli
from healthscore.errors import ConfigError, SourceError

TRACK = "".join(
    f'{{"messageId": "m-{i}", "event": "login", "timestamp": "2026-06-0{1 + i % 3}T10:00:00Z", '
    f'"context": {{"groupId": "A{1 + i % 2}", "ip": "10.0.0.1"}}}}\n' for i in range(12))


def test_a_source_that_rejects_more_than_its_share_fails_after_loading_the_rest(ws):
    """3 of 4 rows have an unknown account (75 % > the default 10 %): exit code 1, the source,
    the share and the most frequent reason named; the good row is loaded. With max_rejected
    0.8 the same ingest succeeds."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", "account_id,event,timestamp\nA1,login,2026-06-01T10:00:00Z\n"
            "ZZ,login,2026-06-01T10:00:00Z\nZZ,x,2026-06-01T10:00:00Z\n"
            "ZZ,y,2026-06-01T10:00:00Z\n")
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    result = CliRunner().invoke(cli, ["ingest", "-w", str(ws.root)])
    assert result.exit_code == 1, result.output
    assert ("source 'events': 3 of 4 rows rejected (75%), more than its max_rejected of 10%; "
            "most often account_id: unknown account_id: not in accounts (load the account "
            "first) (3 rows)") in " ".join(result.output.split())
    assert ws.query("SELECT count(*) FROM usage_events") == [(1,)]
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv, "
                               "max_rejected: 0.8}")
    assert CliRunner().invoke(cli, ["ingest", "-w", str(ws.root)]).exit_code == 0
    ws.file("data/events.csv", "account_id,event,timestamp\nZZ,login,2026-06-01T10:00:00Z\n")
    result = CliRunner().invoke(cli, ["ingest", "-w", str(ws.root)])  # every row rejected
    assert result.exit_code == 1
    assert "source 'events': 1 of 1 rows rejected (100%)" in " ".join(result.output.split())


def test_a_json_path_that_matches_nothing_stops_with_the_keys_found(ws):
    """`context.groupID` (the export says groupId): not 12 rows of "required value is empty"
    but one error naming the keys under `context` and the nearest one; nothing is loaded."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/track.jsonl", TRACK)
    ws.config(ACCOUNTS_SOURCE, "track:\n  table: usage_events\n  path: data/track.jsonl\n"
                               "  columns: {account_id: context.groupID}")
    with pytest.raises(SourceError) as err:
        ws.ingest()
    assert err.value.message == (
        "source 'track': the JSON path 'context.groupID' (for usage_events.account_id) matches "
        "nothing in 12 lines: 'context' has the keys groupId, ip; did you mean "
        "context.groupId?")
    assert err.value.hint == "fix sources.track.columns.account_id in healthscore.yaml"
    ws.config(ACCOUNTS_SOURCE, "track:\n  table: usage_events\n  path: data/track.jsonl\n"
                               "  columns: {account_id: context.groupId, event_id: messageId}")
    assert ws.ingest().rows_loaded == 2 + 12


def test_map_keys_match_whatever_their_case_and_dates_take_common_spellings(ws):
    """`map: {Good: 5}` matches "good", " GOOD " and "Good"; `format: MM/DD/YYYY` reads
    06/30/2026 (it is %m/%d/%Y); a format that is neither is refused when the config loads."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/t.csv", "id,acct,opened,sat\nT1,A1,06/01/2026,good\nT2,A1,06/02/2026, GOOD \n"
                          "T3,A2,06/30/2026,Good\nT4,A2,06/30/2026,Bad\n")
    ws.config(ACCOUNTS_SOURCE, "desk:\n  table: tickets\n  path: data/t.csv\n  columns:\n"
              "    ticket_id: id\n    account_id: acct\n"
              "    opened_at: {column: opened, format: MM/DD/YYYY}\n"
              "    csat: {column: sat, map: {Good: 5, bad: 1}}\n")
    report = ws.ingest()
    assert report.rows_rejected == 0
    assert ws.query("SELECT ticket_id, opened_at, csat FROM tickets ORDER BY 1") == [
        ("T1", datetime(2026, 6, 1), 5), ("T2", datetime(2026, 6, 2), 5),
        ("T3", datetime(2026, 6, 30), 5), ("T4", datetime(2026, 6, 30), 1)]
    ws.config(ACCOUNTS_SOURCE, "desk:\n  table: tickets\n  path: data/t.csv\n  columns:\n"
              "    opened_at: {column: opened, format: Month DD}\n")
    with pytest.raises(ConfigError) as err:
        ws.open()
    assert "format 'Month DD' is neither a strptime format" in str(err.value)


def test_rows_of_an_account_that_was_itself_rejected_point_at_its_row(ws):
    """A3's CRM row has no name, so A3 is rejected; its events do not say "load the account
    first" (it was in the file) but where it went: data/accounts.csv, row 3."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV + "A3,,starter,1,1,2027-01-01,2025-01-01\n")
    ws.file("data/events.csv", "account_id,event,timestamp\nA3,login,2026-06-01T10:00:00Z\n"
            "ZZ,login,2026-06-01T10:00:00Z\n")
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv, "
                               "max_rejected: 1}")
    ws.ingest()
    assert ws.query("SELECT value, reason FROM quarantine WHERE \"table\" = 'usage_events' "
                    "ORDER BY \"row\"") == [
        ("A3", "account A3 was itself rejected (data/accounts.csv:3 name: required value is "
               "empty): fix that row and ingest again"),
        ("ZZ", "unknown account_id: not in accounts (load the account first)")]


def test_check_tries_each_format_on_the_first_rows(ws):
    """`format: DD.MM.YYYY` on a file written MM/DD/YYYY reads none of its dates: `check` names
    the source, the column and a value it could not read — before any ingest."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/t.csv", "id,acct,opened\nT1,A1,06/30/2026\nT2,A1,06/29/2026\n")
    ws.config(ACCOUNTS_SOURCE, "desk:\n  table: tickets\n  path: data/t.csv\n  columns:\n"
              "    ticket_id: id\n    account_id: acct\n"
              "    opened_at: {column: opened, format: DD.MM.YYYY}\n")
    result = CliRunner().invoke(cli, ["check", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert ("source 'desk': format '%d.%m.%Y' reads none of the first 2 opened_at values of "
            "data/t.csv (e.g. '06/30/2026'): fix sources.desk.columns.opened_at.format") in out
    ws.config(ACCOUNTS_SOURCE, "desk:\n  table: tickets\n  path: data/t.csv\n  columns:\n"
              "    ticket_id: id\n    account_id: acct\n"
              "    opened_at: {column: opened, format: MM/DD/YYYY}\n")
    assert "reads none" not in CliRunner().invoke(cli, ["check", "-w", str(ws.root)]).output
