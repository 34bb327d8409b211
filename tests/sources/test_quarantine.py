"""Validation and quarantine: each kind of bad input, the report, and --strict.

Whole-source problems (unreadable file, missing required column) stop the ingest with an error
naming the file and column. Row problems keep the row out, record it in the quarantine with
file, row, column, value and reason, and load every valid row.
"""

import pytest

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
from healthscore.errors import QuarantineError, SourceError

TICKETS_SOURCE = """
desk: {table: tickets, path: data/tickets.csv}
"""
TICKETS_HEADER = "ticket_id,account_id,opened_at,closed_at,priority,csat\n"


def _tickets(ws, *rows: str):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/tickets.csv", TICKETS_HEADER + "".join(r + "\n" for r in rows))
    ws.config(ACCOUNTS_SOURCE, TICKETS_SOURCE)


def _quarantine(ws):
    return ws.query('SELECT file, "row", "column", value, reason FROM quarantine '
                    'WHERE "table" = \'tickets\' ORDER BY "row", "column"')


GOOD = "T1,A1,2026-06-01T10:00:00Z,,high,"


@pytest.mark.parametrize(("bad_row", "column", "value", "reason"), [
    ("T2,A1,yesterday,,high,", "opened_at", "yesterday", "not a valid timestamp"),
    ("T2,A1,2026-06-01,,high,five", "csat", "five", "not a number"),
    (",A1,2026-06-01,,high,", "ticket_id", None, "required value is empty"),
    ("T2,,2026-06-01,,high,", "account_id", None, "required value is empty"),
    ("T2,NOPE,2026-06-01,,high,", "account_id", "NOPE", "unknown account_id"),
    ("T1,A2,2026-06-02,,low,", "ticket_id", "T1", "duplicate ticket_id (first at "
                                                  "data/tickets.csv:1)"),
    ("T2,A1,2026-07-02T00:00:00Z,,high,", "opened_at", "2026-07-02T00:00:00Z",
     "after the time of ingest"),
    ("T2,A1,2026-06-01,,whenever,", "priority", "whenever", "not one of: urgent, high"),
    # shown as the file has it, not lower-cased
    ("T2,A1,2026-06-01,,P9,", "priority", "P9", "not one of: urgent, high"),
    ("T2,A1,2026-06-01,,high,9", "csat", "9", "above the maximum 5"),
    ("T2,A1,2026-06-05,2026-06-01,high,", "closed_at", "2026-06-01",
     "closed before it was opened"),
])
def test_row_problem_is_quarantined_and_valid_rows_load(ws, bad_row, column, value, reason):
    _tickets(ws, GOOD, bad_row)
    report = ws.ingest()
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (4, 3, 1)
    assert ws.query("SELECT ticket_id FROM tickets") == [("T1",)]
    (row,) = _quarantine(ws)
    assert row[:4] == ("data/tickets.csv", 2, column, value)
    assert reason in row[4]
    # the report carries it too, for the CLI
    assert any(p["row"] == 2 and p["column"] == column for p in report.problems)


def test_negative_amount_and_out_of_range_scores(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/invoices.csv", "invoice_id,account_id,amount,issued_at\n"
                                 "I1,A1,100,2026-01-01\nI2,A1,-5,2026-02-01\n")
    ws.file("data/surveys.csv", "account_id,kind,score,responded_at\n"
                                "A1,nps,10,2026-01-01\nA1,nps,11,2026-01-02\n"
                                "A1,csat,0,2026-01-03\nA1,csat,5,2026-01-04\n")
    ws.config(ACCOUNTS_SOURCE, """
        billing: {table: invoices, path: data/invoices.csv}
        surveys: {table: surveys, path: data/surveys.csv}
        """)
    ws.ingest()
    assert ws.query("SELECT invoice_id FROM invoices") == [("I1",)]
    assert sorted(ws.query("SELECT kind, score FROM surveys")) == [("csat", 5.0), ("nps", 10.0)]
    got = ws.query('SELECT "table", "row", "column", value, reason FROM quarantine '
                   'WHERE "table" <> \'accounts\' ORDER BY 1, 2')
    assert got == [
        ("invoices", 2, "amount", "-5", "below the minimum 0"),
        ("surveys", 2, "score", "11", "NPS score must be 0-10"),
        ("surveys", 3, "score", "0", "CSAT score must be 1-5"),
    ]


def test_exact_duplicate_events_are_quarantined_not_silently_merged(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", "account_id,event,timestamp\n"
                               "A1,login,2026-06-01T10:00:00Z\n"
                               "A1,login,2026-06-01T10:00:00Z\n"
                               "A1,login,2026-06-01T10:00:01Z\n")
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    report = ws.ingest()
    assert report.rows_rejected == 1
    assert ws.query("SELECT count(*) FROM usage_events") == [(2,)]
    assert ws.query('SELECT "row", reason FROM quarantine') == [
        (2, "exact duplicate of data/events.csv:1")]


def test_malformed_csv_record_and_invalid_json_line(ws):
    ws.file("data/accounts.csv", "account_id,name,arr\nA1,Acme,100\nA2,Beta, Inc,200\n"
                                 "A3,Gamma,300\n")
    ws.file("data/t.jsonl", '{"ticket_id": "T1", "account_id": "A1", "opened_at": "2026-01-01"}'
                            '\n{oops\n\n["array"]\n')
    ws.config(ACCOUNTS_SOURCE, "desk: {table: tickets, path: data/t.jsonl}")
    ws.ingest()
    assert ws.query("SELECT account_id FROM accounts ORDER BY 1") == [("A1",), ("A3",)]
    assert ws.query("SELECT ticket_id FROM tickets") == [("T1",)]
    assert ws.query('SELECT "table", "row", value, reason FROM quarantine ORDER BY 1, 2') == [
        ("accounts", 2, "A2,Beta, Inc,200",
         "malformed CSV record: expected 3 fields, found 4 (check quoting of values with the "
         "delimiter)"),
        # line 3 is blank and skipped; line numbers are kept
        ("tickets", 2, "{oops", "not a JSON object"),
        ("tickets", 4, '["array"]', "not a JSON object"),
    ]


def test_missing_required_column_names_file_and_column(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/tickets.csv", "ticket_id,account_id,priority\nT1,A1,high\n")
    ws.config(ACCOUNTS_SOURCE, TICKETS_SOURCE)
    with pytest.raises(SourceError) as err:
        ws.ingest()
    msg = str(err.value)
    assert "'desk'" in msg and "tickets.opened_at (required)" in msg
    assert "ticket_id, account_id, priority" not in msg  # listed sorted
    assert "account_id, priority, ticket_id" in msg
    assert "sources.desk.columns.opened_at" in msg


def test_mapped_column_missing_from_one_file_of_a_glob(ws):
    ws.file("data/acc/a.csv", "ID,name\nA1,X\n")
    ws.file("data/acc/b.csv", "Id,name\nA2,Y\n")
    ws.config("""
        crm:
          table: accounts
          path: data/acc/*.csv
          columns: {account_id: ID}
        """)
    with pytest.raises(SourceError, match=r"data/acc/b.csv: no column 'ID'"):
        ws.ingest()


def test_unreadable_file_is_a_clear_error(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    (ws.root / "data/accounts.csv").write_bytes(b"account_id,name\nA1,\xff\xfe\n")
    ws.config(ACCOUNTS_SOURCE)
    with pytest.raises(SourceError, match=r"data/accounts.csv.*(cannot|encoding)"):
        ws.ingest()


def test_missing_file_is_a_clear_error(ws):
    ws.config(ACCOUNTS_SOURCE)
    (ws.root / "data").mkdir(parents=True)
    with pytest.raises(SourceError, match=r"source 'crm': file not found: .*data/accounts.csv"):
        ws.ingest()


def test_strict_fails_and_writes_nothing(ws):
    _tickets(ws, GOOD, "T2,NOPE,2026-06-01,,high,")
    with pytest.raises(QuarantineError) as err:
        ws.ingest(strict=True)
    assert err.value.report.rows_rejected == 1
    assert ws.query("SELECT count(*) FROM accounts") == [(0,)]
    assert ws.query("SELECT count(*) FROM tickets") == [(0,)]
    assert ws.query("SELECT count(*) FROM quarantine") == [(0,)]
    assert ws.query("SELECT status, error LIKE '%--strict%' FROM runs") == [("failed", True)]


def test_quarantined_rows_retry_once_their_account_arrives(ws):
    _tickets(ws, GOOD, "T2,A3,2026-06-01,,high,")
    assert ws.ingest().rows_rejected == 1
    ws.file("data/accounts.csv", ACCOUNTS_CSV + "A3,Gamma,starter,1000,5,2027-01-01,2025-06-01\n")
    report = ws.ingest()
    assert report.rows_rejected == 0
    assert ws.query("SELECT ticket_id FROM tickets ORDER BY 1") == [("T1",), ("T2",)]
    assert ws.query("SELECT count(*) FROM quarantine") == [(0,)]
