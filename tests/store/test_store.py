"""The store: idempotent re-ingest, validity history, all-or-nothing writes, schema version."""

import json
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta

import pytest

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE, NOW
from healthscore.errors import SourceError, StoreError
from healthscore.store import Store
from healthscore.store.schema import SCHEMA_VERSION

EVENTS = """\
account_id,user_id,event,timestamp
A1,u1,login,2026-06-01T10:00:00Z
A1,u1,report.created,2026-06-01T10:05:00Z
A2,u2,login,2026-06-02T09:00:00Z
"""


def _full(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", EVENTS)
    ws.file("data/tickets.csv", "ticket_id,account_id,opened_at,closed_at\n"
                                "T1,A1,2026-06-01T10:00:00Z,\n")
    ws.config(ACCOUNTS_SOURCE, """
        events: {table: usage_events, path: data/events.csv}
        desk: {table: tickets, path: data/tickets.csv}
        """)


def _counts(ws):
    return {t: ws.query(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("accounts", "usage_events", "tickets")}


def test_reingest_of_the_same_files_duplicates_nothing(ws):
    _full(ws)
    first = ws.ingest()
    assert first.rows_loaded == 6 and _counts(ws) == {"accounts": 2, "usage_events": 3,
                                                      "tickets": 1}
    # unchanged files are skipped altogether ...
    second = ws.ingest(now=NOW + timedelta(hours=1))
    assert [s.files_skipped for s in second.sources] == [1, 1, 1]
    assert second.rows_read == 0
    # ... and a forced full re-read finds every row already stored
    third = ws.ingest(now=NOW + timedelta(hours=2), full=True)
    assert third.rows_read == 6
    assert sum(s.written.unchanged for s in third.sources) == 6
    assert sum(s.written.inserted + s.written.updated for s in third.sources) == 0
    assert _counts(ws) == {"accounts": 2, "usage_events": 3, "tickets": 1}


def test_appended_events_file_adds_only_the_new_rows(ws):
    _full(ws)
    ws.ingest()
    ws.file("data/events.csv", EVENTS + "A2,u2,login,2026-06-03T09:00:00Z\n")
    report = ws.ingest(now=NOW + timedelta(hours=1))
    events = next(s for s in report.sources if s.table == "usage_events")
    assert (events.rows_read, events.written.inserted, events.written.unchanged) == (4, 1, 3)
    assert _counts(ws)["usage_events"] == 4


def test_reexported_ticket_replaces_the_stored_version(ws):
    _full(ws)
    ws.ingest()
    ws.file("data/tickets.csv", "ticket_id,account_id,opened_at,closed_at\n"
                                "T1,A1,2026-06-01T10:00:00Z,2026-06-02T10:00:00Z\n")
    report = ws.ingest(now=NOW + timedelta(hours=1))
    desk = next(s for s in report.sources if s.table == "tickets")
    assert (desk.written.inserted, desk.written.updated) == (0, 1)
    assert ws.query("SELECT ticket_id, closed_at FROM tickets") == [
        ("T1", datetime(2026, 6, 2, 10, 0))]


def test_changed_account_closes_the_old_version_instead_of_overwriting(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.config(ACCOUNTS_SOURCE)
    t1 = datetime(2026, 5, 1)
    ws.ingest(now=t1)
    # the next CRM export: A1 moved to enterprise with more seats; A2 unchanged
    ws.file("data/accounts.csv", ACCOUNTS_CSV.replace("A1,Acme,business,48000,50",
                                                      "A1,Acme,enterprise,90000,120"))
    t2 = datetime(2026, 6, 1)
    report = ws.ingest(now=t2)
    w = report.sources[0].written
    assert (w.inserted, w.updated, w.unchanged) == (0, 1, 1)
    rows = ws.query("SELECT account_id, plan, seats, _valid_from, _valid_to FROM accounts "
                    "ORDER BY account_id, _known_from")
    assert rows == [
        ("A1", "business", 50, None, t2),      # first version holds since always, until t2
        ("A1", "enterprise", 120, t2, None),   # the current version, from t2
        ("A2", "starter", 10, None, None),
    ]

    def plan_as_of(when):
        return ws.query(
            "SELECT plan FROM accounts WHERE account_id = 'A1' AND (_valid_from IS NULL OR "
            "_valid_from <= ?) AND (_valid_to IS NULL OR _valid_to > ?)", [when, when])

    assert plan_as_of(datetime(2026, 5, 15)) == [("business",)]
    assert plan_as_of(datetime(2026, 6, 15)) == [("enterprise",)]


def test_snapshot_dates_build_the_history_in_one_ingest(ws):
    """A glob of dated CRM snapshots, read at once, becomes a history ordered by snapshot."""
    head = "account_id,name,plan,csm,snapshot\n"
    ws.file("data/crm/q1.csv", head + "A1,Acme,starter,ann,2026-03-31\n")
    ws.file("data/crm/q2.csv", head + "A1,Acme,starter,ann,2026-06-30\n")  # no change
    ws.file("data/crm/q3.csv", head + "A1,Acme,business,bob,2026-09-30\n")
    ws.config("""
        crm:
          table: accounts
          path: data/crm/*.csv
          valid_from: {column: snapshot}
        """)
    ws.ingest(now=datetime(2026, 10, 1))
    assert ws.query("SELECT plan, csm, _valid_from, _valid_to FROM accounts ORDER BY "
                    "_known_from") == [
        ("starter", "ann", None, datetime(2026, 9, 30)),
        ("business", "bob", datetime(2026, 9, 30), None),
    ]


def test_failed_ingest_leaves_the_store_as_it_was(ws):
    _full(ws)
    ws.ingest()
    before = _counts(ws)
    # next day: new accounts and events arrive, but the tickets export lost a required column
    ws.file("data/accounts.csv", ACCOUNTS_CSV + "A3,Gamma,starter,1000,5,2027-01-01,2025-06-01\n")
    ws.file("data/events.csv", EVENTS + "A3,u3,login,2026-06-03T09:00:00Z\n")
    ws.file("data/tickets.csv", "ticket_id,account_id\nT2,A3\n")
    with pytest.raises(SourceError, match="opened_at"):
        ws.ingest(now=NOW + timedelta(days=1))
    assert _counts(ws) == before
    assert ws.query("SELECT account_id FROM accounts ORDER BY 1") == [("A1",), ("A2",)]
    runs = ws.query("SELECT status, error FROM runs ORDER BY run_id")
    assert [r[0] for r in runs] == ["ok", "failed"] and "opened_at" in runs[1][1]
    # fixing the export and re-running loads everything: nothing was remembered as done
    ws.file("data/tickets.csv", "ticket_id,account_id,opened_at\nT2,A3,2026-06-03\n")
    ws.ingest(now=NOW + timedelta(days=1, hours=1))
    assert _counts(ws) == {"accounts": 3, "usage_events": 4, "tickets": 2}


def test_schema_version_is_recorded(ws, tmp_path):
    store = Store(tmp_path / "s.duckdb", create=True)
    assert store.schema_version() == SCHEMA_VERSION
    store.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer than this release"):
        Store(tmp_path / "s.duckdb")


def test_opening_a_missing_store_says_how_to_create_one(tmp_path):
    with pytest.raises(StoreError, match="healthscore init"):
        Store(tmp_path / "nope.duckdb")


def test_a_version_1_store_is_migrated_when_opened(tmp_path):
    import duckdb

    from healthscore.schemas import TABLES
    from healthscore.store.schema import BOOKKEEPING_DDL, table_ddl

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for stmt in BOOKKEEPING_DDL + [table_ddl(t) for t in TABLES.values()]:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('hash_scheme', '1')")
    con.execute("ALTER TABLE runs DROP COLUMN pid")  # as releases before schema 5 made it
    con.execute("ALTER TABLE runs DROP COLUMN host")
    con.execute("INSERT INTO runs (run_id, kind, started_at, status) VALUES "
                "(1, 'ingest', TIMESTAMP '2026-01-01', 'ok')")
    con.execute("INSERT INTO accounts (account_id, name) VALUES ('A1', 'kept')")
    con.close()
    with Store(path, read_only=True) as store:  # opened to be read: upgraded first
        assert store.schema_version() == SCHEMA_VERSION
        assert [(r["kind"], r["status"]) for r in store.runs()] == [("ingest", "ok")]
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 16
        assert store.series_ready()
        assert store.con.execute("SELECT count(*) FROM snapshots").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(*) FROM api_tokens").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(*) FROM alerts").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(*) FROM alert_outbox").fetchall() == [(0,)]
        assert store.con.execute("SELECT name FROM accounts").fetchall() == [("kept",)]


def test_a_version_6_store_keeps_its_events_and_reads_in_pandas_after_migrating(ws):
    """Schema 6 stored the hash as UHUGEINT (pandas cannot read it) and events had no id, value
    or properties. Migrated: the hash is a UUID of the same 128 bits, the new columns are
    empty, a re-ingest of the same files finds every row already stored, and `SELECT *` of
    every table reads in pandas and pyarrow."""
    from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
    from healthscore.schemas import TABLES

    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", "account_id,event,timestamp,quantity\n"
                               "A1,login,2026-06-01T10:00:00Z,2\nA2,login,2026-06-02T10:00:00Z,\n")
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    ws.ingest()
    with ws.open().store() as store:  # back to schema 6, as that release left it
        for t in TABLES.values():
            store.con.execute(f'ALTER TABLE "{t.name}" ALTER _hash SET DATA TYPE UHUGEINT')
        for c in ("event_id", "value", "properties"):
            store.con.execute(f"ALTER TABLE usage_events DROP COLUMN {c}")
        store.con.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    again = ws.ingest(full=True)
    assert again.by_table()["usage_events"].written.inserted == 0
    assert again.by_table()["usage_events"].written.unchanged == 2
    with ws.open().store(read_only=True) as store:
        assert store.schema_version() == SCHEMA_VERSION == 16
        for t in TABLES:
            frame = store.con.execute(f'SELECT * FROM "{t}"').df()
            assert "_hash" in frame.columns
            store.con.sql(f'SELECT * FROM "{t}"').to_arrow_table()
        events = store.con.execute("SELECT * FROM usage_events ORDER BY account_id").df()
    assert events["quantity"].tolist()[0] == 2 and events["event_id"].isna().all()
    # schema 12 rolled the stored events up by account and day (A2's empty quantity counts 1)
    with ws.open().store(read_only=True) as store:
        assert store.con.execute(
            "SELECT account_id, day, CAST(qty AS DOUBLE), events FROM usage_daily "
            "ORDER BY account_id").fetchall() == [("A1", date(2026, 6, 1), 2.0, 1),
                                                  ("A2", date(2026, 6, 2), 1.0, 1)]
        assert store.con.execute("SELECT count(*) FROM usage_event_days").fetchall() == [(2,)]


def test_a_command_waits_for_a_store_another_process_holds_for_a_moment(tmp_path):
    """The dashboard reads the store for the moment of a request, so the daily job in cron may
    find it held: it waits (here ~1 s) instead of failing; with no time to wait it fails at once
    and says another process is using the store."""
    path = tmp_path / "store.duckdb"
    Store(path, create=True).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r}, read_only=True)
            print("ready", flush=True)
            time.sleep(float(sys.stdin.readline()))
            con.close()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="another healthscore process is using it"):
            Store(path, wait=0)
        holder.stdin.write("1.0\n")
        holder.stdin.flush()
        started = time.monotonic()
        with Store(path, wait=30) as store:
            assert store.schema_version() == SCHEMA_VERSION
        assert time.monotonic() - started >= 0.5  # it did wait for the holder
    finally:
        holder.communicate(timeout=30)


def test_a_run_whose_process_died_shows_as_interrupted(tmp_path):
    """A process that starts a run and dies (killed, power cut) leaves it 'running'; the next
    time the store opens, that run reads 'interrupted' — at once on a read-only open, and it
    is marked so on a writable one. A run of a live process stays 'running'."""
    path = tmp_path / "store.duckdb"
    Store(path, create=True).close()
    code = ("import os, sys; from datetime import datetime; from healthscore.store import Store;"
            "s = Store(sys.argv[1]); s.start_run('backfill', datetime(2026, 7, 1)); "
            "s.con.close(); os._exit(9)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], timeout=60)
    assert done.returncode == 9
    with Store(path, read_only=True) as store:
        assert [(r["kind"], r["status"]) for r in store.runs()] == [("backfill", "interrupted")]
    with Store(path) as store:
        live = store.start_run("score", datetime(2026, 7, 2))
        rows = store.con.execute("SELECT run_id, status, error FROM runs ORDER BY run_id"
                                 ).fetchall()
    assert rows[0][1:] == ("interrupted", "the process running it stopped before it finished")
    assert rows[1] == (live, "running", None)
    with Store(path) as store:  # this process is alive: its run is left alone
        assert [r["status"] for r in store.runs()] == ["running", "interrupted"]


def test_recorded_runs_finish_ok_or_failed_with_the_error(tmp_path):
    with Store(tmp_path / "s.duckdb", create=True) as store:
        with store.recorded("pulse", datetime(2026, 7, 1)) as run:
            run.rows_loaded, run.detail = 1, {"account_id": "A1"}
        with pytest.raises(ValueError), store.recorded("override") as failing:
            failing.detail = {"measure": "nps"}
            raise ValueError("no such measure")
        rows = store.con.execute("SELECT kind, status, rows_loaded, detail, error FROM runs "
                                 "ORDER BY run_id").fetchall()
    assert rows[0][:3] == ("pulse", "ok", 1) and json.loads(rows[0][3]) == {"account_id": "A1"}
    assert rows[1][1] == "failed" and rows[1][4] == "no such measure"
    assert json.loads(rows[1][3]) == {"measure": "nps"}


def test_a_store_whose_definition_does_not_read_is_left_as_it_was(tmp_path):
    """Migrating to the compact history recomputes from each version's stored definition; one
    that does not read stops the migration with the version named, and the store stays at
    schema 10 with its per-measure rows (read as they are)."""
    from healthscore.store.schema import MEASURE_ROWS_DDL

    path = tmp_path / "s.duckdb"
    with Store(path, create=True) as store:
        for stmt in MEASURE_ROWS_DDL:
            store.con.execute(stmt)
        store.con.execute("INSERT INTO scorecard_versions VALUES ('health', 'v1', '{}', NULL, "
                          "TIMESTAMP '2026-01-01')")
        store.con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="scorecard 'health' version v1") as caught:
        Store(path)
    assert "unchanged" in caught.value.hint
    with Store(path, read_only=True) as store:
        assert store.schema_version() == 10
        assert store.con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_name = 'snapshot_measures'").fetchall() == [(1,)]
