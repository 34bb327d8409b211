"""Bad files cost themselves, not the ingest: an empty file, a header-only file, a byte not in
the encoding, a line that is not JSON, a value too long, 50 MB of junk.

Each case has a second source in the workspace (the accounts) that must still load, and says
what a user sees: the reason in the report, the quarantine, or the CLI's output.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
from healthscore.cli import app as cli

EVENTS = "events: {table: usage_events, path: data/events/*.csv}"
GOOD_EVENTS = "account_id,event,timestamp\nA1,login,2026-06-01T10:00:00Z\n"


def _workspace(ws, events_source: str = EVENTS):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events/good.csv", GOOD_EVENTS)
    ws.config(ACCOUNTS_SOURCE, events_source)


def _quarantine(ws):
    return ws.query('SELECT file, "row", "column", value, reason FROM quarantine '
                    'ORDER BY file, "row"')


def test_an_empty_file_is_left_out_with_its_reason_and_tried_again(ws):
    """A 0-byte CSV is left out (not 'no column account_id' for the whole ingest): the
    accounts and the other events file load; the report, the quarantine (one entry, row 0)
    and the CLI name the file; it is not recorded as read, so the next ingest tries again
    and loads it once it has rows."""
    _workspace(ws)
    (ws.root / "data/events/empty.csv").write_bytes(b"")
    report = ws.ingest()
    assert report.failed_files == [("events", "usage_events", "data/events/empty.csv",
                                    "the file is empty (0 bytes, not even a header row)")]
    assert ws.query("SELECT count(*) FROM accounts") == [(2,)]
    assert ws.query("SELECT account_id FROM usage_events") == [("A1",)]
    assert _quarantine(ws) == [("data/events/empty.csv", 0, None, None,
                                "file skipped: the file is empty (0 bytes, not even a header "
                                "row)")]
    assert report.by_table()["usage_events"].files_failed == 1
    result = CliRunner().invoke(cli, ["ingest", "-w", str(ws.root)])
    assert result.exit_code == 1  # data is missing: not a success
    out = " ".join(result.output.split())
    assert "data/events/empty.csv (events): the file is empty" in out
    assert "The other files were loaded" in out
    shown = " ".join(CliRunner().invoke(cli, ["quarantine", "-w", str(ws.root)]).output.split())
    assert "(file)" in shown and "file skipped: the file is empty" in shown
    ws.file("data/events/empty.csv", GOOD_EVENTS.replace("login", "export"))
    report = ws.ingest()
    assert report.failed_files == [] and _quarantine(ws) == []
    assert ws.query("SELECT count(*) FROM usage_events") == [(2,)]


def test_a_header_only_file_loads_nothing_and_is_noted(ws):
    """A header and no rows is a legitimate empty export: read, recorded, noted — not a
    failure."""
    _workspace(ws)
    ws.file("data/events/none.csv", "account_id,event,timestamp\n")
    report = ws.ingest()
    assert report.failed_files == []
    assert report.notes == [("events", "usage_events", "data/events/none.csv",
                             "no rows (a header only)")]
    assert ws.query("SELECT count(*) FROM usage_events") == [(1,)]
    assert _quarantine(ws) == []
    result = CliRunner().invoke(cli, ["ingest", "-w", str(ws.root), "--full"])
    assert result.exit_code == 0, result.output
    assert "note: data/events/none.csv (events): no rows (a header only)" in result.output
    assert ws.ingest().by_table()["usage_events"].files_skipped == 2  # recorded as read


def test_a_source_of_only_header_only_files_loads_nothing(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events/none.csv", "account_id,event,timestamp\n")
    ws.config(ACCOUNTS_SOURCE, EVENTS)
    report = ws.ingest()
    assert (report.failed_files, len(report.notes)) == ([], 1)
    assert ws.query("SELECT count(*) FROM accounts") == [(2,)]


LATIN1 = ("account_id,name,plan\nA1,Acme,business\nA2,Caf\u00e9 de Paris,starter\n"
          ).encode("latin-1")


def test_a_byte_not_in_utf8_names_file_row_column_and_the_encoding_key(ws):
    """A Latin-1 'é' in a file read as UTF-8 rejects its row (the quarantine says where and
    which key to set); the other rows and sources load. With `encoding: latin-1` the row
    loads with its 'é'."""
    ws.file("data/events/good.csv", GOOD_EVENTS)
    (ws.root / "data").mkdir(exist_ok=True)
    (ws.root / "data/accounts.csv").write_bytes(LATIN1)
    ws.config(ACCOUNTS_SOURCE, EVENTS)
    report = ws.ingest()
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    ((file, row, column, value, reason),) = _quarantine(ws)
    assert (file, row, column, value) == ("data/accounts.csv", 2, "name", "Caf\\xE9 de Paris")
    assert reason == ("not valid utf-8 text: if the file is in another encoding, set it with "
                      "`csv: {encoding: latin-1}` (or cp1252, utf-16, …) on source crm")
    assert ws.query("SELECT account_id FROM usage_events") == [("A1",)]
    result = CliRunner().invoke(cli, ["ingest", "-w", str(ws.root), "--full"])
    assert "data/accounts.csv:2 name = 'Caf\\\\xE9 de Paris': not valid utf-8 text" in \
        " ".join(result.output.split())
    ws.config(ACCOUNTS_SOURCE.replace("path: data/accounts.csv",
                                      "path: data/accounts.csv\n  csv: {encoding: latin-1}"),
              EVENTS)
    report = ws.ingest()
    assert report.rows_rejected == 0 and _quarantine(ws) == []
    assert ws.query("SELECT name FROM accounts ORDER BY 1") == [("Acme",), ("Café de Paris",)]


def test_cp1252_is_accepted_too(ws):
    ws.file("data/events/good.csv", GOOD_EVENTS)
    (ws.root / "data").mkdir(exist_ok=True)
    (ws.root / "data/accounts.csv").write_bytes(
        "account_id,name\nA1,\u201cSmart\u201d Ltd\nA2,B\n".encode("cp1252"))
    ws.config(ACCOUNTS_SOURCE.replace("path: data/accounts.csv",
                                      "path: data/accounts.csv\n  csv: {encoding: cp1252}"),
              EVENTS)
    ws.ingest()
    assert ws.query("SELECT name FROM accounts ORDER BY 1") == [("B",), ("\u201cSmart\u201d Ltd",)]


def test_a_line_that_is_not_json_names_its_line_and_the_good_lines_load(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/track.jsonl",
            '{"account_id": "A1", "event": "login", "timestamp": "2026-06-01T10:00:00Z"}\n'
            "not json at all\n\n"
            '{"account_id": "A2", "event": "login", "timestamp": "2026-06-01T11:00:00Z"}\n')
    (ws.root / "data/track.jsonl").write_bytes(
        (ws.root / "data/track.jsonl").read_bytes() + b'{"account_id": "A1", "event": "\xff"}\n')
    ws.config(ACCOUNTS_SOURCE, "track: {table: usage_events, path: data/track.jsonl}")
    report = ws.ingest()
    assert (report.rows_loaded, report.rows_rejected, report.failed_files) == (4, 2, [])
    assert ws.query("SELECT account_id FROM usage_events ORDER BY 1") == [("A1",), ("A2",)]
    assert [(r[1], r[3], r[4]) for r in _quarantine(ws)] == [
        (2, "not json at all", "not valid JSON"),
        (5, '{"account_id": "A1", "event": "\\xff"}',
         "not valid UTF-8 text (byte 0xFF at character 32); JSON lines are UTF-8"),
    ]


def test_a_value_longer_than_its_limit_rejects_its_row_and_is_stored_cut(ws):
    """A 5 MB CRM name is not loaded (nor stored whole in the quarantine); `max_length` on
    the column lets a longer one in."""
    ws.file("data/events/good.csv", GOOD_EVENTS)
    ws.file("data/accounts.csv", ACCOUNTS_CSV + "A3," + "N" * 5_000_000 + ",starter,1,1,,\n")
    ws.config(ACCOUNTS_SOURCE, EVENTS)
    report = ws.ingest()
    assert (report.rows_loaded, report.rows_rejected) == (3, 1)
    ((file, row, column, value, reason),) = _quarantine(ws)
    assert (file, row, column) == ("data/accounts.csv", 3, "name")
    assert reason == ("value is 5,000,000 characters, longer than the limit of 1,000 (set "
                      "max_length on column name of source crm to allow it)")
    assert value == "N" * 1000 + "… (5,000,000 characters)"
    assert ws.query("SELECT count(*) FROM usage_events") == [(1,)]
    ws.file("data/accounts.csv", ACCOUNTS_CSV + "A3," + "N" * 2000 + ",starter,1,1,,\n")
    ws.config("crm:\n  table: accounts\n  path: data/accounts.csv\n"
              "  columns: {name: {column: name, max_length: 5000}}", EVENTS)
    assert ws.ingest().rows_rejected == 0
    assert ws.query("SELECT length(name) FROM accounts WHERE account_id = 'A3'") == [(2000,)]


def _junk(kind: str, size: int) -> bytes:
    head = b"account_id,event,timestamp\n"
    if kind == "random":
        return head + random.Random(7).randbytes(size)
    if kind == "one line":
        return head + b"x" * size
    if kind == "delimiters":
        return head + b"," * size + b"\n"
    return random.Random(7).randbytes(size)  # JSON lines


RSS_LIMIT_MB = 300


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("random", "junk.csv", "at least 9 in 10 of the 1,000 records up to record 1,000 are "
                           "unreadable"),
    ("one line", "junk.csv", "the record is 52,428,800 characters long, longer than the limit "
                             "of 8,388,608"),
    ("delimiters", "junk.csv", "the record is 52,428,801 characters long"),
    ("jsonl", "junk.jsonl", "not valid UTF-8 text"),
])
def test_50_mb_of_junk_stays_under_300_mb_and_says_what_it_is(tmp_path: Path, kind, name,
                                                              message):
    """The ingest runs in its own process; its peak RSS is read from the kernel once it
    exits. The file is left out (or its one record rejected) with a reason naming it."""
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "data/accounts.csv").write_text(ACCOUNTS_CSV)
    (root / "data" / name).write_bytes(_junk(kind, 50 * 1024 * 1024))
    (root / "healthscore.yaml").write_text(
        "name: junk\nsources:\n  crm: {table: accounts, path: data/accounts.csv}\n"
        f"  junk: {{table: usage_events, path: data/{name}}}\n")
    # A fresh parent whose only child is the ingest: its children's peak is the ingest's.
    # The ingest is the library call: the CLI's own start-up (every verb's imports) is
    # ~255 MB before it reads a byte, ~289 MB for a two-row ingest.
    run = ("import sys; from healthscore.sources import ingest; "
           "from healthscore.workspace import Workspace; "
           "r = ingest(Workspace.open(sys.argv[1])); "
           "print([f[3] for f in r.failed_files], [p['reason'] for p in r.problems]); "
           "print('LOADED', r.rows_loaded)")
    measure = ("import resource, subprocess, sys; "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stdout.write(p.stdout + p.stderr); "
               "print('RC', p.returncode, 'PEAK_KB', "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-c", run, str(root)],
                          capture_output=True, text=True, timeout=300)
    out = " ".join(done.stdout.split())
    rc, peak_kb = out.rsplit("RC ", 1)[1].split(" PEAK_KB ")
    assert rc == "0", out
    assert "Traceback" not in out + done.stderr
    assert message in out
    assert "LOADED 2" in out  # the accounts
    assert int(peak_kb) / 1024 < RSS_LIMIT_MB, f"peak RSS {int(peak_kb) / 1024:.0f} MB"
    con = duckdb.connect(str(root / "healthscore.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM accounts").fetchall() == [(2,)]
    finally:
        con.close()
