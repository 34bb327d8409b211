"""Reading real-export shapes: money, dates, epochs, time zones, value maps, nested JSON.

Every expected value below is worked out by hand in the comment beside it.
"""

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE


def test_crm_export_money_dates_and_value_maps(ws):
    ws.file("data/crm.csv", """\
        Account ID;Account Name;ARR;Seats;Renewal;Plan
        A1;"Müller & Söhne; GmbH";$1,234.00;10;06/30/2026;Ent
        A2;Beta;(12.50);7;12/31/2026;Pro
        A3;Gamma;EUR 48,000.5;3;01/15/2027;Ent
        """)
    ws.config("""
        crm:
          table: accounts
          path: data/crm.csv
          csv: {delimiter: ";"}
          columns:
            account_id: Account ID
            name: Account Name
            arr: {column: ARR, on_error: reject}
            seats: Seats
            renewal_date: {column: Renewal, format: "%m/%d/%Y"}
            plan: {column: Plan, map: {Ent: enterprise, Pro: business}}
        """)
    report = ws.ingest()
    assert report.rows_read == 3
    # "(12.50)" is an accountant's negative -12.50, which breaks arr >= 0: with
    # `on_error: reject`, quarantined.
    assert report.rows_rejected == 1
    rows = ws.query("SELECT account_id, name, arr, seats, renewal_date, plan FROM accounts "
                    "ORDER BY 1")
    assert rows == [
        # "$1,234.00" -> 1234.0 ; "06/30/2026" (%m/%d/%Y) -> 2026-06-30 ; Ent -> enterprise
        ("A1", "Müller & Söhne; GmbH", 1234.0, 10, date(2026, 6, 30), "enterprise"),
        # "EUR 48,000.5" -> currency code stripped, thousands separator dropped -> 48000.5
        ("A3", "Gamma", 48000.5, 3, date(2027, 1, 15), "enterprise"),
    ]
    (q,) = ws.query("SELECT \"row\", \"column\", value, reason FROM quarantine")
    assert q == (2, "arr", "(12.50)", "below the minimum 0")


def test_european_decimal_comma(ws):
    ws.file("data/a.csv", 'id,name,arr\nA1,X,"1.234,50"\nA2,Y,"1,5"\nA3,Z,"12.5"\n')
    ws.config("""
        crm:
          table: accounts
          path: data/a.csv
          decimal: ","
          columns: {account_id: id}
        """)
    report = ws.ingest()
    # "1.234,50" -> 1234.50 ; "1,5" -> 1.5 ; "12.5" has a '.' not in groups of three -> not a
    # number: arr is optional, so A3 is kept without it (on_error: null), and that is counted
    assert ws.query("SELECT account_id, arr FROM accounts ORDER BY 1") == [
        ("A1", 1234.5), ("A2", 1.5), ("A3", None)]
    assert ws.query("SELECT count(*) FROM quarantine") == [(0,)]
    assert (report.rows_rejected, report.values_dropped) == (0, 1)
    assert report.dropped_values == [("crm", "accounts", "data/a.csv", 3, "arr", "12.5",
                                      "not a number")]


def test_thousands_separator_must_group_by_three(ws):
    ws.file("data/accounts.csv", "account_id,name,arr\nA1,X,\"1,5\"\nA2,Y,\"12,345,678.9\"\n")
    ws.config(ACCOUNTS_SOURCE)
    report = ws.ingest()
    # "1,5" is not 15 (a misplaced comma) -> not a number, left empty; "12,345,678.9" ->
    # 12345678.9
    assert ws.query("SELECT account_id, arr FROM accounts ORDER BY 1") == [
        ("A1", None), ("A2", 12345678.9)]
    assert report.dropped_values[0][4:] == ("arr", "1,5", "not a number")


def test_timestamps_iso_offsets_epochs_and_timezone(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", """\
        account_id,event,timestamp
        A1,iso_offset,2026-06-02T08:15:00+02:00
        A1,iso_z,2026-06-02T08:15:00Z
        A1,iso_naive,2026-06-02 08:15:00
        A1,epoch_s,1780000000
        A1,epoch_ms,1780000000123
        A1,date_only,2026-06-02
        """)
    ws.config(ACCOUNTS_SOURCE, """
        events: {table: usage_events, path: data/events.csv}
        """, timezone="America/New_York")
    ws.ingest()
    got = dict(ws.query("SELECT event, timestamp FROM usage_events"))
    assert got == {
        "iso_offset": datetime(2026, 6, 2, 6, 15),        # 08:15 at +02:00 = 06:15 UTC
        "iso_z": datetime(2026, 6, 2, 8, 15),             # already UTC
        "iso_naive": datetime(2026, 6, 2, 12, 15),        # New York is UTC-4 in June
        "epoch_s": datetime(2026, 5, 28, 20, 26, 40),     # 1780000000 s after 1970-01-01
        "epoch_ms": datetime(2026, 5, 28, 20, 26, 40, 123000),
        "date_only": datetime(2026, 6, 2, 4, 0),          # midnight in New York
    }


def test_explicit_formats_and_epoch_columns(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/nps.csv", """\
        Account,Score,Submitted
        A1,9,06/02/2026 08:15
        A2,3,06/03/2026 17:00
        """)
    ws.file("data/csat.csv", "account_id,score,responded_at\nA1,4,1780000000\n")
    ws.config(ACCOUNTS_SOURCE, """
        nps:
          table: surveys
          path: data/nps.csv
          columns:
            account_id: Account
            kind: {value: nps}
            score: Score
            responded_at: {column: Submitted, format: "%m/%d/%Y %H:%M"}
        csat:
          table: surveys
          path: data/csat.csv
          columns:
            kind: {value: csat}
            responded_at: {column: responded_at, format: epoch_s}
        """)
    report = ws.ingest()
    assert report.rows_rejected == 0
    assert ws.query("SELECT account_id, kind, score, responded_at FROM surveys ORDER BY 4") == [
        ("A1", "csat", 4.0, datetime(2026, 5, 28, 20, 26, 40)),
        ("A1", "nps", 9.0, datetime(2026, 6, 2, 8, 15)),
        ("A2", "nps", 3.0, datetime(2026, 6, 3, 17, 0)),
    ]


def test_nested_json_lines_helpdesk_export(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/tickets.jsonl", """\
        {"id": 101, "organization": {"external_id": "A1"}, "created_at": "2026-06-02T08:15:00+02:00", "solved_at": "2026-06-03T10:00:00Z", "priority": "P1", "satisfaction_rating": {"score": "good"}}
        {"id": 102, "organization": {"external_id": "A2"}, "created_at": "2026-06-04T09:00:00-05:00", "solved_at": null, "priority": "Normal", "satisfaction_rating": {"score": "offered"}}
        """)
    ws.config(ACCOUNTS_SOURCE, """
        desk:
          table: tickets
          path: data/tickets.jsonl
          columns:
            ticket_id: id
            account_id: organization.external_id
            opened_at: created_at
            closed_at: solved_at
            csat: {column: satisfaction_rating.score, map: {good: 5, bad: 1, offered: ""}}
        """)
    assert ws.ingest().rows_rejected == 0
    assert ws.query("SELECT * EXCLUDE (_hash, _source, _run_id, _ingested_at) FROM tickets "
                    "ORDER BY 1") == [
        # P1 is an alias of urgent; good -> 5; 08:15+02:00 -> 06:15 UTC
        ("101", "A1", datetime(2026, 6, 2, 6, 15), datetime(2026, 6, 3, 10, 0), "urgent", 5.0),
        # "Normal" is lower-cased to normal; offered -> no rating; 09:00-05:00 -> 14:00 UTC
        ("102", "A2", datetime(2026, 6, 4, 14, 0), None, "normal", None),
    ]


def test_parquet_with_typed_epoch_ms_and_count(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    (ws.root / "data/events").mkdir(parents=True)
    pq.write_table(pa.table({
        "account": ["A1", "A2", "A1"],
        "user": ["u1", "u2", None],
        "event_name": ["report.created", "login", "login"],
        "time": pa.array([1780000000000, 1780000060000, 1780000120000], pa.int64()),
        "count": pa.array([1, 3, 2], pa.int32()),
    }), ws.root / "data/events/part-0.parquet")
    ws.config(ACCOUNTS_SOURCE, """
        events:
          table: usage_events
          path: data/events/*.parquet
          columns:
            account_id: account
            user_id: user
            event: event_name
            timestamp: {column: time, format: epoch_ms}
            quantity: count
        """)
    assert ws.ingest().rows_rejected == 0
    assert ws.query("SELECT account_id, user_id, event, timestamp, quantity FROM usage_events "
                    "ORDER BY timestamp") == [
        ("A1", "u1", "report.created", datetime(2026, 5, 28, 20, 26, 40), 1.0),
        ("A2", "u2", "login", datetime(2026, 5, 28, 20, 27, 40), 3.0),   # +60 000 ms
        ("A1", None, "login", datetime(2026, 5, 28, 20, 28, 40), 2.0),   # +120 000 ms
    ]


def test_pulse_colours_and_touchpoint_kinds_are_read(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/pulses.csv", "account_id,value,at\nA1,red,2026-06-01\nA2,Green,2026-06-01\n"
                               "A1,4,2026-06-02\n")
    ws.file("data/tp.csv", "account_id,type,date\nA1,QBR,2026-06-01\nA2,Meeting,2026-06-02\n")
    ws.config(ACCOUNTS_SOURCE, """
        pulses: {table: pulses, path: data/pulses.csv}
        tp:
          table: touchpoints
          path: data/tp.csv
          columns: {kind: type, occurred_at: date}
        """)
    assert ws.ingest().rows_rejected == 0
    # red -> 1, Green -> green -> 5, "4" stays 4
    assert sorted(ws.query("SELECT account_id, value FROM pulses")) == [
        ("A1", 1), ("A1", 4), ("A2", 5)]
    assert sorted(ws.query("SELECT kind FROM touchpoints")) == [("meeting",), ("qbr",)]
