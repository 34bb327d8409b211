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
    (",A1,2026-06-01,,high,", "ticket_id", None, "required value is empty"),
    ("T2,,2026-06-01,,high,", "account_id", None, "required value is empty"),
    ("T2,NOPE,2026-06-01,,high,", "account_id", "NOPE", "unknown account_id"),
    ("T1,A2,2026-06-02,,low,", "ticket_id", "T1", "duplicate ticket_id (first at "
                                                  "data/tickets.csv:1)"),
    ("T2,A1,2026-07-02T00:00:00Z,,high,", "opened_at", "2026-07-02T00:00:00Z",
     "after the time of ingest"),
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


UNREADABLE = [
    ("T2,A1,2026-06-01,,high,five", "csat", "five", "not a number"),
    ("T2,A1,2026-06-01,,whenever,", "priority", "whenever", "not one of: urgent, high"),
    # shown as the file has it, not lower-cased
    ("T2,A1,2026-06-01,,P9,", "priority", "P9", "not one of: urgent, high"),
    ("T2,A1,2026-06-01,,high,9", "csat", "9", "above the maximum 5"),
]


@pytest.mark.parametrize(("bad_row", "column", "value", "reason"), UNREADABLE)
def test_an_optional_value_that_cannot_be_read_is_left_empty_and_counted(
        ws, bad_row, column, value, reason):
    """By default (`on_error: null`) the ticket is kept without the value — a CSAT of "five"
    does not lose the ticket — and the value is counted with its reason; nothing is
    quarantined."""
    _tickets(ws, GOOD, bad_row)
    report = ws.ingest()
    assert (report.rows_rejected, report.values_dropped) == (0, 1)
    assert ws.query(f"SELECT ticket_id, {column} IS NULL FROM tickets ORDER BY 1")[1] == (
        "T2", True)
    (dropped,) = report.dropped_values
    assert dropped[2:6] == ("data/tickets.csv", 2, column, value) and reason in dropped[6]
    assert _quarantine(ws) == []


@pytest.mark.parametrize(("bad_row", "column", "value", "reason"), UNREADABLE)
def test_with_on_error_reject_the_row_is_quarantined(ws, bad_row, column, value, reason):
    _tickets(ws, GOOD, bad_row)
    ws.config(ACCOUNTS_SOURCE, "desk:\n  table: tickets\n  path: data/tickets.csv\n"
              f"  columns: {{{column}: {{column: {column}, on_error: reject}}}}\n")
    report = ws.ingest()
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (4, 3, 1)
    (row,) = _quarantine(ws)
    assert row[:4] == ("data/tickets.csv", 2, column, value) and reason in row[4]


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


def test_an_event_sent_twice_loads_once_and_says_so(ws):
    """Without an event id, a row equal to an earlier one in the file is the same event sent
    twice (`duplicates: drop`, the default): loaded once, counted with its reason, not
    quarantined."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", "account_id,event,timestamp\n"
                               "A1,login,2026-06-01T10:00:00Z\n"
                               "A1,login,2026-06-01T10:00:00Z\n"
                               "A1,login,2026-06-01T10:00:01Z\n")
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    report = ws.ingest()
    assert (report.rows_rejected, report.rows_duplicate, report.rows_loaded) == (0, 1, 4)
    assert report.duplicates == [("events", "usage_events", "data/events.csv", 2,
                                  "exact duplicate of data/events.csv:1")]
    assert ws.query("SELECT count(*) FROM usage_events") == [(2,)]
    assert ws.query("SELECT count(*) FROM quarantine") == [(0,)]


PURCHASES = """\
order_id,account_id,event,timestamp,amount
O-1,A1,purchase,2026-06-01T10:00:00Z,49.00
O-2,A1,purchase,2026-06-01T10:00:00Z,49.00
O-3,A1,purchase,2026-06-01T10:00:00Z,99.00
O-1,A1,purchase,2026-06-01T10:00:00Z,49.00
"""


def test_event_ids_tell_equal_events_apart_and_a_resent_one_loads_once(ws):
    """O-1 and O-2 are two purchases with equal content: both kept, told apart by their id;
    O-1 sent again (row 4) loads once; a re-sent file, or O-1 again in a later file, adds
    nothing. The amount is the event's value."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/orders/1.csv", PURCHASES)
    ws.config(ACCOUNTS_SOURCE, "orders:\n  table: usage_events\n  path: data/orders/*.csv\n"
              "  columns: {event_id: order_id, value: amount}")
    report = ws.ingest()
    assert (report.rows_duplicate, report.rows_rejected) == (1, 0)
    assert report.duplicates[0][4] == "event_id O-1 already at data/orders/1.csv:1"
    assert ws.query("SELECT event_id, value FROM usage_events ORDER BY event_id") == [
        ("O-1", 49.0), ("O-2", 49.0), ("O-3", 99.0)]
    ws.file("data/orders/2.csv", "order_id,account_id,event,timestamp,amount\n"
                                 "O-1,A1,purchase,2026-06-01T10:00:00Z,49.00\n"
                                 "O-4,A1,purchase,2026-06-02T09:00:00Z,10.00\n")
    ws.ingest(full=True)
    assert ws.query("SELECT count(*), sum(value) FROM usage_events") == [(4, 207.0)]


def test_without_an_id_the_amount_tells_purchases_apart_and_keep_loads_equal_rows(ws):
    """Without an event id, the whole row is the identity, amount included: 49 and 99 are two
    events. With `duplicates: keep`, the two equal 49s are two purchases; a re-ingest of the
    same file finds all three already stored."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/orders.csv", PURCHASES.replace("O-1,", "").replace("O-2,", "")
            .replace("O-3,", "").replace("order_id,", ""))
    ws.config(ACCOUNTS_SOURCE, "orders:\n  table: usage_events\n  path: data/orders.csv\n"
              "  duplicates: keep\n  columns: {value: amount}")
    report = ws.ingest()
    # rows: 49, 49, 99, 49 — all kept (three 49s: occurrences 1, 2, 3 in the file)
    assert (report.rows_duplicate, report.by_table()["usage_events"].written.inserted) == (0, 4)
    again = ws.ingest(full=True).by_table()["usage_events"].written
    assert (again.inserted, again.unchanged) == (0, 4)
    assert ws.query("SELECT count(*), sum(value) FROM usage_events") == [(4, 246.0)]


def test_event_properties_are_kept_as_json(ws):
    """A JSON-lines export's nested object lands in `properties` as JSON; a CSV's text that
    is not JSON is left out with its reason (the event is kept)."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/track.jsonl",
            '{"messageId": "m-1", "userId": "u1", "accountId": "A1", "event": "export", '
            '"timestamp": "2026-06-01T10:00:00Z", "properties": {"rows": 120, "format": "csv"}}\n'
            '{"messageId": "m-1", "userId": "u1", "accountId": "A1", "event": "export", '
            '"timestamp": "2026-06-01T10:00:00Z", "properties": {"rows": 120, "format": "csv"}}\n')
    ws.file("data/e.csv", "account_id,event,timestamp,properties\nA1,x,2026-06-01,{oops\n")
    ws.config(ACCOUNTS_SOURCE,
              "track:\n  table: usage_events\n  path: data/track.jsonl\n  columns: "
              "{event_id: messageId, user_id: userId, account_id: accountId}",
              "csv: {table: usage_events, path: data/e.csv}")
    report = ws.ingest()
    assert report.rows_duplicate == 1
    assert ws.query("SELECT event_id, properties->>'format', CAST(properties->'rows' AS INT) "
                    "FROM usage_events WHERE _source = 'track'") == [("m-1", "csv", 120)]
    assert ws.query("SELECT properties FROM usage_events WHERE _source = 'csv'") == [(None,)]
    assert report.dropped_values[0][4:] == (
        "properties", "{oops", 'not valid JSON (a JSON object like {"plan": "pro"})')


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
        ("tickets", 2, "{oops", "not valid JSON"),
        ("tickets", 4, '["array"]', "not a JSON object (a JSON array)"),
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


def test_a_value_not_in_the_encoding_rejects_its_row_naming_column_and_key(ws):
    """Bytes that are not UTF-8 cost their row, not the file: the quarantine names the row,
    the column, the bytes and the `encoding:` key to set."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    (ws.root / "data/accounts.csv").write_bytes(b"account_id,name\nA1,\xff\xfe\nA2,Beta\n")
    ws.config(ACCOUNTS_SOURCE)
    report = ws.ingest()
    assert (report.rows_loaded, report.rows_rejected) == (1, 1)
    ((row, column, value, reason),) = ws.query(
        'SELECT "row", "column", value, reason FROM quarantine')
    assert (row, column, value) == (1, "name", "\\xFF\\xFE")
    assert reason.startswith("not valid utf-8 text") and "encoding: latin-1" in reason


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
