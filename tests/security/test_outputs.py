"""Safe outputs: a CRM name written as a spreadsheet formula comes out of every CSV as text,
and terminal escape sequences in data never reach the terminal."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from conftest import RECENCY_SCORECARD
from healthscore.cli import app as cli

ACCOUNTS = ('account_id,name,arr,contract_start\n'
            'A1,"=HYPERLINK(""http://evil.example"",""open"")",1000,2025-01-01\n'
            'A2,-Minus Corp,2000,2025-01-01\n'
            'A3,"Evil\x1b[2J\x1b]0;pwned\x07 Corp",3000,2025-01-01\n'
            'A4,-5,4000,2025-01-01\n')
EVENTS = ("account_id,event,timestamp\nA1,login,2026-06-01T10:00:00Z\n"
          "A2,login,2026-06-01T10:00:00Z\nA3,login,2026-06-01T10:00:00Z\n"
          "A4,login,2026-06-01T10:00:00Z\n@SUM(1+1),login,2026-06-01T10:00:00Z\n")
SCORECARD = RECENCY_SCORECARD


FORMULA_IDS = ('account_id,name,arr,contract_start\n'
               '"=HYPERLINK(""http://evil.example"")",Formula Inc,1000,2025-01-01\n'
               '-MINUS-1,Minus Corp,2000,2025-01-01\n-5,Number Ltd,3000,2025-01-01\n')
FORMULA_EVENTS = ('account_id,event,timestamp\n'
                  '"=HYPERLINK(""http://evil.example"")",login,2026-06-01T10:00:00Z\n'
                  '-MINUS-1,login,2026-06-01T10:00:00Z\n-5,login,2026-06-01T10:00:00Z\n'
                  '@SUM(1+1),login,2026-06-01T10:00:00Z\n')


def _ingested(ws, accounts: str, events: str) -> str:
    """A workspace with these accounts and events and a one-measure scorecard, ingested."""
    ws.file("data/accounts.csv", accounts)
    ws.file("data/events.csv", events)
    ws.file("scorecards/health.yaml", SCORECARD)
    ws.config("crm: {table: accounts, path: data/accounts.csv}",
              "events: {table: usage_events, path: data/events.csv, max_rejected: 1}")
    assert CliRunner().invoke(cli, ["ingest", "-w", str(ws.root)]).exit_code == 0
    return str(ws.root)


def test_csv_outputs_neutralise_formulas_and_keep_numbers(ws):
    """export --format csv: CRM account ids written as a formula, or starting with "-", get a
    leading ' (text to a spreadsheet); the id "-5" is a number written as text and stays;
    scores stay numbers. quarantine --csv: the unknown account "@SUM(1+1)" of a rejected
    event comes out as "'@SUM(1+1)"."""
    root = _ingested(ws, FORMULA_IDS, FORMULA_EVENTS)
    assert CliRunner().invoke(cli, ["score", "-w", root, "--lowest", "0"]).exit_code == 0
    out = ws.root / "scores.csv"
    result = CliRunner().invoke(cli, ["export", "-w", root, "--out", str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(r["account_id"] for r in rows) == [
        "'-MINUS-1", "'=HYPERLINK(\"http://evil.example\")", "-5"]
    assert all(float(r["score"]) >= 0 for r in rows)
    q = ws.root / "q.csv"
    assert CliRunner().invoke(cli, ["quarantine", "-w", root, "--csv", str(q)]).exit_code == 0
    (bad,) = list(csv.DictReader(q.open(encoding="utf-8")))
    assert bad["value"] == "'@SUM(1+1)"


def test_terminal_escape_sequences_in_data_do_not_reach_the_terminal(ws):
    """A CRM name carrying "clear the screen" and "set the window title" sequences is shown as
    plain text by score and explain."""
    root = _ingested(ws, ACCOUNTS, EVENTS)
    scored = CliRunner().invoke(cli, ["score", "-w", root, "--lowest", "10"])
    shown = CliRunner().invoke(cli, ["explain", "A3", "-w", root])
    for result in (scored, shown):
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Evil Corp" in shown.output
