"""Sources read in place from a database: a real PostgreSQL server (tests/pg_server.py) read
with ADBC, a SQLite file read with SQLAlchemy. The rows go through the file ingest's mapping,
typing and quarantine; a cursor reads only what is new; a failed read leaves the source out
like an unreadable file; no password is ever shown.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, NOW, RECENCY_SCORECARD
from healthscore.cli import app
from healthscore.config.models import DatabaseSource
from healthscore.errors import ConfigError
from healthscore.sources.database import locate

runner = CliRunner()
LATER = NOW + timedelta(days=1)


def hs(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), catch_exceptions=False, env=env)


def sql(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def with_password(url: str, password: str) -> str:
    """The server trusts every connection: any password is accepted, and must never show."""
    return url.replace("postgresql://hs@", f"postgresql://hs:{password}@")


CRM = """
    CREATE TABLE crm_accounts (id text PRIMARY KEY, account_name text, plan text,
        annual_revenue numeric(12, 2), seats int, renewal date,
        updated_at timestamptz NOT NULL);
    INSERT INTO crm_accounts VALUES
        ('A1', 'Acme', 'business', 48000.50, 50, '2026-09-30', '2026-06-01 10:00+00'),
        ('A2', 'Beta', 'starter', 6000, 10, '2026-12-31', '2026-06-01 11:00+00');
    CREATE TABLE events (id bigserial PRIMARY KEY, account text, what text, at timestamptz,
        qty int, amount numeric, props jsonb, updated_at timestamptz NOT NULL);
    INSERT INTO events (account, what, at, qty, amount, props, updated_at) VALUES
        ('A1', 'login', '2026-06-20 10:00+02', 1, NULL, '{"via": "sso"}', '2026-06-20 08:00+00'),
        ('A1', 'report', '2026-06-21 09:30+00', 3, 12.5, NULL, '2026-06-21 09:30+00'),
        ('A2', 'login', '2026-06-10 12:00+00', 1, NULL, NULL, '2026-06-21 09:30+00');
    CREATE TABLE desk_tickets (ticket_id text, account_id text, opened timestamp,
        closed timestamp, priority text, csat int);
    INSERT INTO desk_tickets VALUES
        ('T1', 'A1', '2026-06-02 10:00', '2026-06-03 12:00', 'P1', 4),
        ('T2', 'A2', '2026-06-05 09:00', NULL, 'normal', NULL);
"""


def crm_sources(url: str, extra: str = "") -> tuple[str, str, str]:
    """The three sources of CRM; ``extra`` is added to each (``max_rejected: 0.5``)."""
    return tuple(s.replace("  database:", f"  {extra}\n          database:") if extra else s
                 for s in _crm_sources(url))


def _crm_sources(url: str) -> tuple[str, str, str]:
    return (f"""
        crm:
          table: accounts
          database: {{url: "{url}", table: public.crm_accounts, cursor: updated_at}}
          columns: {{account_id: id, name: account_name, arr: annual_revenue,
                     renewal_date: renewal}}
        """, f"""
        product:
          table: usage_events
          database: {{url: "{url}", table: events, cursor: updated_at}}
          columns: {{account_id: account, event: what, timestamp: at, quantity: qty,
                     value: amount, properties: props}}
        """, f"""
        desk:
          table: tickets
          timezone: Europe/Berlin
          database:
            url: "{url}"
            query: |
              SELECT ticket_id, account_id, opened, closed, priority, csat
              FROM desk_tickets  -- every ticket, no cursor
          columns: {{opened_at: opened, closed_at: closed}}
        """)


def test_three_tables_from_postgresql_are_ingested_and_scored_through_the_cli(ws, pg_url):
    """Accounts, events and tickets read from PostgreSQL, then `healthscore score` scores
    them: the workspace needs no file at all."""
    sql(pg_url, CRM)
    ws.config(*crm_sources(pg_url))
    ws.file("scorecards/health.yaml", RECENCY_SCORECARD)
    result = hs("ingest", "-w", str(ws.root))
    assert result.exit_code == 0, result.output
    assert "7 rows accepted (7 new, 0 changed, 0 already stored), 0 rejected." in result.output
    result = hs("score", "-w", str(ws.root), "--as-of", "2026-06-21")
    assert result.exit_code == 0, result.output
    assert "health as of 2026-06-21" in result.output and "2 active accounts" in result.output
    # 0.6 and 11.5 days from the last event to the end of June 21: (30 - days) / 30
    assert ws.query("SELECT account_id, round(score, 1) FROM snapshots ORDER BY 1") == [
        ("A1", 98.0), ("A2", 61.7)]


def test_typed_columns_are_used_as_they_are_and_text_is_parsed(ws, pg_url):
    """timestamptz is converted to UTC, a timestamp without zone is read in the source's time
    zone, numeric (exact text from the server) and int become numbers, jsonb stays JSON, and
    a priority written `P1` is mapped as in a file."""
    sql(pg_url, CRM)
    ws.config(*crm_sources(pg_url))
    report = ws.ingest()
    assert (report.rows_read, report.rows_rejected) == (7, 0)
    assert ws.query("SELECT account_id, name, plan, arr, seats, renewal_date FROM accounts "
                    "ORDER BY 1") == [
        ("A1", "Acme", "business", 48000.5, 50, date(2026, 9, 30)),
        ("A2", "Beta", "starter", 6000.0, 10, date(2026, 12, 31))]
    assert ws.query("SELECT account_id, event, timestamp, quantity, value, "
                    "properties::VARCHAR FROM usage_events ORDER BY timestamp") == [
        ("A2", "login", datetime(2026, 6, 10, 12), 1.0, None, None),
        ("A1", "login", datetime(2026, 6, 20, 8), 1.0, None, '{"via": "sso"}'),
        ("A1", "report", datetime(2026, 6, 21, 9, 30), 3.0, 12.5, None)]
    # Berlin is UTC+2 in June
    assert ws.query("SELECT ticket_id, opened_at, closed_at, priority FROM tickets "
                    "ORDER BY 1") == [
        ("T1", datetime(2026, 6, 2, 8), datetime(2026, 6, 3, 10), "urgent"),
        ("T2", datetime(2026, 6, 5, 7), None, "normal")]
    assert ws.query("SELECT DISTINCT _source FROM tickets") == [("desk",)]


def test_bad_rows_are_quarantined_with_source_location_row_and_reason(ws, pg_url):
    sql(pg_url, CRM, """
        INSERT INTO crm_accounts VALUES ('A3', NULL, 'starter', 1, 1, NULL,
                                         '2026-06-02 00:00+00');
        INSERT INTO events (account, what, at, qty, updated_at) VALUES
            ('NOPE', 'login', '2026-06-22 10:00+00', 1, '2026-06-22 10:00+00'),
            ('A1', 'login', '2026-06-22 11:00+00', -4, '2026-06-22 11:00+00');
        INSERT INTO desk_tickets VALUES ('T3', 'A1', '2026-06-05', '2026-06-01', 'low', NULL);
    """)
    ws.config(*crm_sources(pg_url, "max_rejected: 0.5"))
    report = ws.ingest()
    assert report.rows_rejected == 3 and report.rows_loaded == 8
    assert report.values_dropped == 1  # the quantity of -4, left empty
    where = pg_url.replace("postgresql://hs@", "postgresql://").rsplit("/", 1)
    assert ws.query('SELECT source, file, "row", "column", value, reason, "key" FROM '
                    'quarantine ORDER BY source') == [
        ("crm", f"{where[0]}/{where[1]}#public.crm_accounts", 3, "name", None,
         "required value is empty", "A3"),
        ("desk", f"{where[0]}/{where[1]}#query", 3, "closed_at", "2026-06-01 00:00:00",
         "closed before it was opened", "T3"),
        ("product", f"{where[0]}/{where[1]}#events", 4, "account_id", "NOPE",
         "unknown account_id: not in accounts (load the account first)", None)]
    assert ws.query("SELECT count(*) FROM usage_events") == [(4,)]
    assert ws.query("SELECT account_id FROM accounts ORDER BY 1") == [("A1",), ("A2",)]


def test_a_cursor_reads_only_new_rows_and_loses_none_that_arrive_late(ws, pg_url):
    """The second ingest reads the rows at or after the last cursor value, less those read
    already: a row committed late with the last value is read, an updated account gets a new
    version, and nothing is read twice. `--full` reads everything again (and adds nothing)."""
    sql(pg_url, CRM)
    ws.config(*crm_sources(pg_url)[:2])
    first = ws.ingest()
    assert [(s.source, s.rows_read) for s in first.sources] == [("crm", 2), ("product", 3)]
    sql(pg_url, """
        INSERT INTO events (account, what, at, qty, updated_at) VALUES
            ('A2', 'export', '2026-06-21 09:00+00', 1, '2026-06-21 09:30+00'),
            ('A2', 'login', '2026-06-23 08:00+00', 1, '2026-06-23 08:00+00');
        UPDATE crm_accounts SET plan = 'business', updated_at = '2026-06-30 00:00+00'
        WHERE id = 'A2';
    """)
    second = ws.ingest(now=LATER)
    assert [(s.source, s.rows_read, s.written.inserted, s.written.updated)
            for s in second.sources] == [("crm", 1, 0, 1), ("product", 2, 2, 0)]
    assert ws.query("SELECT count(*) FROM usage_events") == [(5,)]
    assert ws.query("SELECT plan, _valid_from, _valid_to FROM accounts WHERE account_id = "
                    "'A2' ORDER BY _valid_from NULLS FIRST") == [
        ("starter", None, LATER), ("business", LATER, None)]
    third = ws.ingest(now=LATER)
    assert third.rows_read == 0 and third.written.inserted == 0
    again = ws.ingest(now=LATER, full=True)
    assert (again.rows_read, again.written.inserted, again.written.updated) == (7, 0, 0)
    # rows are numbered on from the earlier reads until a full read starts again at 1
    assert ws.query("SELECT source, rows_numbered, value_kind FROM source_cursors "
                    "ORDER BY 1") == [("crm", 2, "timestamptz"), ("product", 5, "timestamptz")]


def test_an_incremental_read_keeps_earlier_rejections_and_settles_a_fixed_row(ws, pg_url):
    sql(pg_url, CRM, "INSERT INTO crm_accounts VALUES ('A3', NULL, 'starter', 1, 1, NULL, "
                     "'2026-06-02 00:00+00')")
    ws.config(crm_sources(pg_url, "max_rejected: 0.5")[0])
    ws.ingest()
    sql(pg_url, "INSERT INTO crm_accounts VALUES ('A4', '', 'starter', 1, 1, NULL, "
                "'2026-06-03 00:00+00')")
    ws.ingest(now=LATER)
    assert ws.query('SELECT "key", "row" FROM quarantine ORDER BY 2') == [("A3", 3), ("A4", 4)]
    sql(pg_url, "UPDATE crm_accounts SET account_name = 'Gamma', updated_at = "
                "'2026-06-04 00:00+00' WHERE id = 'A3'")
    ws.ingest(now=LATER)
    assert ws.query('SELECT "key", "row" FROM quarantine') == [("A4", 4)]
    assert ws.query("SELECT name FROM accounts WHERE account_id = 'A3'") == [("Gamma",)]


@pytest.mark.parametrize(("kind", "values"), [
    ("date", ("2026-06-01", "2026-06-02", "2026-06-02")),
    ("text", ("b-1", "b-2", "b-2")),  # compared by code point: "B-9" < "b-1"
    ("timestamp", ("2026-06-01 10:00", "2026-06-02 10:00", "2026-06-02 10:00")),
])
def test_a_cursor_of_each_kind_reads_a_late_row_with_the_last_value(ws, pg_url, kind, values):
    sql(pg_url, f"CREATE TABLE acc (account_id text, name text, c {kind})",
        f"INSERT INTO acc VALUES ('A1', 'Acme', '{values[0]}'), ('A2', 'Beta', '{values[1]}')")
    ws.config(f"""
        crm:
          table: accounts
          database: {{url: "{pg_url}", table: acc, cursor: c}}
        """)
    assert ws.ingest().rows_read == 2
    sql(pg_url, f"INSERT INTO acc VALUES ('A3', 'Gamma', '{values[2]}'), ('A4', 'Delta', "
                f"'{'B-9' if kind == 'text' else values[0]}')")
    assert ws.ingest().rows_read == 1  # A3; A4 is before the last value (a cursor's limit)
    assert ws.query("SELECT account_id FROM accounts ORDER BY 1") == [("A1",), ("A2",), ("A3",)]
    assert ws.ingest(full=True).rows_read == 4


def test_a_query_source_with_a_cursor(ws, pg_url):
    """A query joins and renames; its cursor is a column of its result."""
    sql(pg_url, CRM, """
        CREATE TABLE logins (id int PRIMARY KEY, account text, at timestamptz);
        INSERT INTO logins VALUES (1, 'a1', '2026-06-20 10:00+00'), (2, 'a2', '2026-06-21 10:00+00');
    """)
    query = ("SELECT l.id AS seq, upper(l.account) AS account_id, 'login' AS event, "
             "l.at AS timestamp FROM logins l JOIN crm_accounts c ON c.id = upper(l.account);")
    ws.config(crm_sources(pg_url)[0], f"""
        logins:
          table: usage_events
          database: {{url: "{pg_url}", query: "{query}", cursor: seq}}
        """)
    assert [s.rows_read for s in ws.ingest().sources] == [2, 2]
    sql(pg_url, "INSERT INTO logins VALUES (3, 'a1', '2026-06-22 10:00+00')")
    assert [s.rows_read for s in ws.ingest().sources] == [0, 1]
    assert ws.query("SELECT account_id, timestamp FROM usage_events ORDER BY 2") == [
        ("A1", datetime(2026, 6, 20, 10)), ("A2", datetime(2026, 6, 21, 10)),
        ("A1", datetime(2026, 6, 22, 10))]
    assert ws.query("SELECT last_value, value_kind FROM source_cursors WHERE source = "
                    "'logins'") == [("3", "integer")]


def test_a_sqlite_file_through_sqlalchemy(ws):
    """Any URL but postgresql:// goes through SQLAlchemy. SQLite's path is relative to the
    workspace, its text timestamps are parsed like a CSV's, a column whose values mix types
    is read as text, and an integer cursor reads only the new rows."""
    (ws.root / "data").mkdir(parents=True)
    db = sqlite3.connect(ws.root / "data" / "crm.db")
    db.executescript("""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, code TEXT, name TEXT, seats);
        INSERT INTO accounts VALUES (1, 'A1', 'Acme', 50), (2, 'A2', 'Beta', '12'),
                                    (3, 'A3', 'Gamma', 'many');
        CREATE TABLE events (id INTEGER PRIMARY KEY, account TEXT, at TEXT);
        INSERT INTO events VALUES (1, 'A1', '2026-06-20T10:00:00Z'), (2, 'A2', '2026-06-21 10:00');
    """)
    db.commit()
    ws.config("""
        crm:
          table: accounts
          database: {url: "sqlite:///data/crm.db", table: accounts, cursor: id}
          columns: {account_id: code}
        """, """
        events:
          table: usage_events
          database:
            url: "sqlite:///data/crm.db"
            query: "SELECT id, account, at, 'login:web' AS what FROM events"
            cursor: id
          columns: {account_id: account, event: what, timestamp: at}
        """)
    report = ws.ingest()
    assert (report.rows_read, report.rows_rejected, report.values_dropped) == (5, 0, 1)
    assert ws.query("SELECT account_id, seats FROM accounts ORDER BY 1") == [
        ("A1", 50), ("A2", 12), ("A3", None)]
    assert ws.query("SELECT timestamp, event FROM usage_events ORDER BY 1") == [
        (datetime(2026, 6, 20, 10), "login:web"), (datetime(2026, 6, 21, 10), "login:web")]
    db.execute("INSERT INTO events VALUES (3, 'A3', '2026-06-22T10:00:00Z')")
    db.commit()
    db.close()
    again = ws.ingest()
    assert [(s.source, s.rows_read) for s in again.sources] == [("crm", 0), ("events", 1)]
    assert ws.query("SELECT file FROM quarantine") == []
    assert ws.query("SELECT location FROM source_cursors ORDER BY 1") == [
        ("sqlite:///data/crm.db#accounts",), ("sqlite:///data/crm.db#query",)]


def test_a_read_that_fails_leaves_the_source_out_and_loads_the_others(ws, pg_url, postgres):
    """A missing table, a server that is not there, an unset variable: each source is left out
    with its reason (the CLI exits 1 after loading the rest), the rows stored before stay, and
    the next ingest tries again."""
    sql(pg_url, CRM)
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    down = f"postgresql://hs@127.0.0.1:{postgres.port + 1}/nowhere"
    ws.config("crm: {table: accounts, path: data/accounts.csv}", f"""
        product:
          table: usage_events
          database: {{url: "{pg_url}", table: usage, cursor: updated_at}}
          columns: {{account_id: account, event: what, timestamp: at}}
        """, f"""
        desk:
          table: tickets
          database: {{url: "{down}", table: desk_tickets}}
        """, """
        surveys:
          table: surveys
          database: {url_env: HS_TEST_SURVEYS_URL, table: answers}
        """)
    result = hs("ingest", "-w", str(ws.root), env={"HS_TEST_SURVEYS_URL": ""})
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "2 rows accepted" in out
    assert "3 file(s) could not be read and were left out" in out
    assert 'relation "usage" does not exist' in out and "(source 'product')" in out
    assert f"127.0.0.1:{postgres.port + 1}/nowhere#desk_tickets (source 'desk')" in out
    assert "Connection refused" in out or "connect" in out
    assert "HS_TEST_SURVEYS_URL (url_env) is not set" in out
    assert ws.query("SELECT account_id FROM accounts ORDER BY 1") == [("A1",), ("A2",)]
    assert ws.query('SELECT source, "row", reason LIKE \'file skipped: %\' FROM quarantine '
                    "ORDER BY 1") == [("desk", 0, True), ("product", 0, True),
                                      ("surveys", 0, True)]
    sql(pg_url, "ALTER TABLE events RENAME TO usage")
    result = hs("ingest", "-w", str(ws.root), env={"HS_TEST_SURVEYS_URL": ""})
    assert "3 rows accepted (3 new" in " ".join(result.output.split())
    assert ws.query("SELECT source FROM quarantine ORDER BY 1") == [("desk",), ("surveys",)]


def test_a_password_is_never_shown(ws, pg_url, postgres, monkeypatch):
    """Not in the CLI's output, the report, the quarantine, the runs table or the cursor's
    bookkeeping: the location is shown without user and password, and a driver's message
    has it cut out."""
    secret = "S3cret-Pw"
    sql(pg_url, CRM, "INSERT INTO crm_accounts VALUES ('A3', NULL, 'x', 1, 1, NULL, "
                     "'2026-06-02 00:00+00')")
    url = with_password(pg_url, secret)
    monkeypatch.setenv("HS_TEST_CRM_URL", url)
    ws.config("""
        crm:
          table: accounts
          max_rejected: 0.5
          database: {url_env: HS_TEST_CRM_URL, table: crm_accounts, cursor: updated_at}
          columns: {account_id: id, name: account_name}
        """, f"""
        product:
          table: usage_events
          database: {{url: "{url}", table: no_such_table}}
        """, f"""
        desk:
          table: tickets
          database:
            url: "postgresql+psycopg://hs:{secret}@127.0.0.1:{postgres.port + 1}/x"
            table: desk_tickets
        """, f"""
        broken:
          table: tickets
          database: {{url: "postgresql://hs:{secret}@127.0.0.1:notaport/x", table: t}}
        """, f"""
        plugin:
          table: tickets
          database: {{url: "nosuch+driver://hs:{secret}@h/x", table: t}}
        """)
    outputs = [hs("ingest", "-w", str(ws.root)).output,
               hs("quarantine", "-w", str(ws.root)).output,
               hs("status", "-w", str(ws.root)).output]
    assert "S3cret" not in " ".join(outputs)
    assert "file(s) could not be read" in outputs[0] and "required value is empty" in outputs[1]
    stored = ws.query("SELECT * FROM quarantine") + ws.query("SELECT * FROM runs") + \
        ws.query("SELECT * FROM source_cursors")
    assert len(ws.query("SELECT * FROM quarantine")) == 5
    assert "S3cret" not in json.dumps(stored, default=str)
    # a driver's message that quotes the password (as given, or %-encoded) has it cut out
    loc = locate(DatabaseSource(url="postgresql://hs:p%40ss@db:5432/crm", table="t"))
    assert loc.shown == "postgresql://db:5432/crm#t"
    assert loc.scrub("bad URL postgresql://hs:p%40ss@db/crm: p@ss") == \
        "bad URL postgresql://hs:***@db/crm: ***"


@pytest.mark.parametrize(("source", "message"), [
    ("{table: accounts}", "sources.crm.table: a source reads files (`path`) or a database"),
    ("{table: accounts, path: a.csv, database: {url: 'sqlite:///x.db', table: t}}",
     "sources.crm.database: give `path` (files) or `database`"),
    ("{table: accounts, database: {url: 'sqlite:///x.db'}}",
     "sources.crm.database: give `table` (a table to read) or `query`"),
    ("{table: accounts, database: {url: 'sqlite:///x.db', url_env: X, table: t}}",
     "give `url` (the database's URL) or `url_env`"),
    ("{table: accounts, database: {url: 'sqlite:///x.db', table: 'a; DROP TABLE b'}}",
     "'a; DROP TABLE b' is not a table name"),
    ("{table: accounts, database: {url: 'host:5432/crm secret', table: t}}",
     "sources.crm.database.url: not a database URL"),
])
def test_database_settings_are_checked_when_the_workspace_opens(ws, source, message):
    ws.config(f"crm: {source}")
    with pytest.raises(ConfigError) as err:
        ws.open()
    assert message in str(err.value)
    assert "secret" not in str(err.value)


def test_check_tries_a_database_sources_first_rows(ws, pg_url):
    """`healthscore check` reads the first rows of a table to try a mapped date format (and
    does not trip over a source that has no files)."""
    sql(pg_url, "CREATE TABLE acc (id text, name text, since text)",
        "INSERT INTO acc VALUES ('A1', 'Acme', '2024-10-01')")
    ws.config(f"""
        crm:
          table: accounts
          database: {{url: "{pg_url}", table: acc}}
          columns: {{account_id: id, contract_start: {{column: since, format: "%d/%m/%Y"}}}}
        """)
    result = hs("check", "-w", str(ws.root))
    assert result.exit_code == 0, result.output
    assert "format '%d/%m/%Y' reads none of the first 1 contract_start values of " \
           "postgresql://" in " ".join(result.output.split())
