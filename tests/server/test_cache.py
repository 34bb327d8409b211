"""The server's reader (healthscore.server): the read cache answers exactly what the store
answers, follows writes, and a store held by another process is busy, not an error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from conftest import NOW
from healthscore import read
from healthscore.errors import NotFound, StoreBusy
from healthscore.server import CACHE, reading, writing
from healthscore.store import manual
from read_store import C, D


def _all_reads(r) -> list:
    """Every read the pages and the API make, on the test store."""
    out = []
    for key in read.SORTS:
        for desc in (False, True):
            out.append(read.accounts(r, C, sort=key, desc=desc))
    out += [read.accounts(r, C, band=["red", "yellow"], renewal_within=90),
            read.accounts(r, C, q="a", per_page=1, page=2), read.accounts(r, C, page=99),
            read.accounts(r, C, as_of=D - timedelta(30))]
    out += [read.portfolio(r, C, at_risk_days=days) for days in (0, 90, 400)]
    out += [read.filter_options(r, C), read.band_history(r, C), read.movers(r, C),
            read.scored_dates(r, C), read.versions(r)]
    for aid in ("A1", "A2", "A3", "A4", "A5", "A6"):
        out.append(read.account(r, C, aid))
        out.append(read.account(r, C, aid, D - timedelta(1)))
        for fn in (read.trend, read.why):
            try:
                out.append(fn(r, C, aid))
            except NotFound as exc:
                out.append(str(exc))
    return out


def test_cached_reads_equal_the_store_and_stay_equal_when_cached(store_ws):
    CACHE.clear()
    with read.open_reader(store_ws) as direct:
        expected = _all_reads(direct)
    for _ in range(2):  # the first pass fills the cache, the second reads from it
        with reading(store_ws) as cached:
            assert _all_reads(cached) == expected


def test_the_cache_follows_writes_and_a_pulse_keeps_it(store_ws):
    CACHE.clear()
    with reading(store_ws) as r:
        assert read.accounts(r, C)["total"] == 4 and r.opened
    with reading(store_ws) as r:
        assert read.accounts(r, C)["total"] == 4
        assert not r.opened  # answered from memory: the file was not opened
    with writing(store_ws, touches=("pulses", "runs")) as store:
        manual.add_pulse(store, account_id="A1", at=NOW, value=5, author="ann", comment="",
                         expires_at=None)
    with reading(store_ws) as r:
        read.accounts(r, C)
        assert not r.opened  # the pulse left the cached tables alone
    with store_ws.store() as store:
        store.con.execute("UPDATE accounts SET name = 'Renamed' WHERE account_id = 'A1'")
    with reading(store_ws) as r:
        rows = read.accounts(r, C, q="renamed")["rows"]
        assert [row["account_id"] for row in rows] == ["A1"] and r.opened
        assert read.attributes(r, "A1")["name"] == "Renamed"


def test_a_store_held_by_another_process_is_busy_not_an_error(store_ws):
    CACHE.clear()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(store_ws.store_path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusy) as err, reading(store_ws) as r:
            read.portfolio(r, C)
        assert "another healthscore process is using it" in err.value.message
        assert err.value.hint.startswith("try again")
    finally:
        holder.communicate("\n", timeout=30)
    with reading(store_ws) as r:
        assert read.latest(r, C) == D


def test_the_held_connection_lets_waiting_jobs_in_even_under_overlapping_reads(store_ws):
    """The server keeps its read connection open between requests (it saves the 30-60 ms of
    opening the file each time) and closes it when idle. Jobs that wait for the file leave a
    marker each, and the server lets go as soon as the requests in flight finish although
    three readers keep overlapping: both jobs get the file well within their wait, and reads
    meanwhile are busy (503), never errors."""
    import threading
    import time

    from healthscore.server.cache import HELD

    CACHE.clear()
    path = store_ws.store_path
    with reading(store_ws) as r:
        read.attributes(r, "A1")  # opens the held connection
    assert path.resolve() in HELD._held
    time.sleep(HELD.LINGER + 0.5)
    assert path.resolve() not in HELD._held  # idle: closed

    stop, outcomes = threading.Event(), []

    def steady_reads():
        while not stop.is_set():
            try:
                with reading(store_ws) as r:
                    read.attributes(r, "A1")  # never cached: always needs the file
                    time.sleep(0.01)          # requests overlap
                outcomes.append("ok")
            except StoreBusy:
                outcomes.append("busy")

    readers = [threading.Thread(target=steady_reads) for _ in range(3)]
    for t in readers:
        t.start()
    job = textwrap.dedent(f"""
        import sys
        from healthscore.store import Store
        with Store({str(path)!r}, wait=20) as s:
            s.con.execute("UPDATE accounts SET name = ? WHERE account_id = ?",
                          [sys.argv[1], sys.argv[2]])
    """)
    try:
        time.sleep(0.3)
        jobs = [subprocess.Popen([sys.executable, "-c", job, name, aid], stderr=subprocess.PIPE,
                                 text=True) for name, aid in (("Job", "A2"), ("Other", "A3"))]
        for j in jobs:  # the readers only stop after both jobs are done
            assert j.wait(60) == 0, j.stderr.read()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in readers:
            t.join(10)
    assert outcomes.count("ok") > 5 and outcomes[-1] == "ok"
    with reading(store_ws) as r:
        assert [read.attributes(r, a)["name"] for a in ("A2", "A3")] == ["Job", "Other"]


def test_a_marker_left_by_a_killed_job_does_not_block_the_dashboard(store_ws):
    """A job killed while it waited leaves its marker; once it is older than a waiting job
    would let it get (2 s), the server ignores it and removes it."""
    import os
    import time

    from healthscore.store.store import MARKER_FRESH

    CACHE.clear()
    marker = store_ws.store_path.resolve().with_name(
        store_ws.store_path.name + ".writer-waiting.999999")
    marker.touch()
    with pytest.raises(StoreBusy), reading(store_ws) as r:
        read.attributes(r, "A1")  # fresh: a job may be waiting
    old = time.time() - MARKER_FRESH - 1
    os.utime(marker, (old, old))
    with reading(store_ws) as r:
        assert read.attributes(r, "A1")["name"] == "Acme"
    assert not marker.exists()
