"""The incremental daily job: a week of daily event files, late events among them, gives
exactly what scoring everything from scratch gives.

The demo company (25 accounts) is split: its usage events up to the week before its last day
arrive in one history file, then one file per day, as a product-analytics export would send
them. One event in four of each day arrives two days late (in the file of the day after next),
and a sample of events from three weeks earlier arrives on the fourth day. Each morning
`run_daily` ingests the new file (the store merges the new events into its daily roll-ups) and
scores the day. A second workspace ingests all the same files at once and scores the same
days: every account's score and every measure's raw value agree to the last bit, on the last
day at once and on the other days once they are scored again after their late events arrived.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from healthscore import read
from healthscore.demo import generate_demo
from healthscore.pipeline import run_daily, score
from healthscore.sources import ingest
from healthscore.store import rollups
from healthscore.workspace import Workspace

END = date(2026, 6, 1)  # the demo's data ends on the day before
DAYS = [END - timedelta(days=k) for k in range(7, 0, -1)]
EVENTS = "data/product/events"


def _rollups(ws: Workspace) -> dict:
    with ws.store(read_only=True) as store:
        return {t: sorted(store.con.execute(f"SELECT * FROM {t}").fetchall())
                for t in rollups.TABLES}


def _rebuilt(ws: Workspace) -> dict:
    """The roll-ups computed from every stored event (on a copy: the store is not changed)."""
    copy = ws.store_path.with_name("rebuilt.duckdb")
    shutil.copy(ws.store_path, copy)
    import duckdb

    con = duckdb.connect(str(copy))
    try:
        rollups.rebuild(con)
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall())
                for t in rollups.TABLES}
    finally:
        con.close()
        copy.unlink()


def _snapshot(ws: Workspace, day: date) -> list[dict]:
    rows = read.scores(ws, day, measures=True).to_pylist()
    for r in rows:
        r.pop("computed_at", None)
        r.pop("run_id", None)
    return sorted(rows, key=lambda r: (r["scorecard"], r["account_id"], r["measure"]))


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    base = tmp_path_factory.mktemp("incremental")
    full = base / "full"
    generate_demo(full, accounts=25, seed=3, end=END)
    events = pa.concat_tables(pq.read_table(p) for p in sorted((full / EVENTS).glob("*.parquet")))
    day = pc.cast(pc.cast(events["time"], pa.timestamp("ms")), pa.date32())
    late = pc.equal(pc.bit_wise_and(pa.array(range(len(events)), pa.int64()), 3), 0)

    def on(d: date):
        return pc.equal(day, pa.scalar(d, pa.date32()))

    files: dict[str, pa.Table] = {}
    old = DAYS[0] - timedelta(days=21)
    held_old = pc.and_(on(old), late)
    history = pc.and_(pc.less(day, pa.scalar(DAYS[0], pa.date32())), pc.invert(held_old))
    files["history"] = events.filter(history)
    for k, d in enumerate(DAYS):
        today = pc.and_(on(d), pc.invert(late)) if k < len(DAYS) - 2 else on(d)
        arriving = [today]
        if k >= 2:  # a quarter of the events of two days ago arrive today
            arriving.append(pc.and_(on(DAYS[k - 2]), late))
        if k == 3:
            arriving.append(held_old)
        mask = arriving[0]
        for m in arriving[1:]:
            mask = pc.or_(mask, m)
        files[f"day-{k}"] = events.filter(mask)
    assert sum(t.num_rows for t in files.values()) == events.num_rows  # nothing lost

    incremental = base / "incremental"
    shutil.copytree(full, incremental)
    for p in (incremental / EVENTS).glob("*.parquet"):
        p.unlink()
    pq.write_table(files["history"], incremental / EVENTS / "history.parquet")
    ws = Workspace.open(incremental)
    first: dict[date, list[dict]] = {}
    for k, d in enumerate(DAYS):
        pq.write_table(files[f"day-{k}"], incremental / EVENTS / f"day-{k}.parquet")
        now = datetime.combine(END, time(6)) + timedelta(hours=k)
        run_daily(ws, as_of=d, now=now)
        assert _rollups(ws) == _rebuilt(ws), f"roll-ups after the file of {d}"
        first[d] = _snapshot(ws, d)

    scratch = base / "scratch"
    shutil.copytree(incremental, scratch)
    for p in scratch.glob("healthscore.duckdb*"):  # the store: built again from the files
        p.unlink()
    fresh = Workspace.open(scratch)
    ingest(fresh, now=datetime.combine(END, time(23)))
    for d in DAYS:
        score(fresh, d, now=datetime.combine(END, time(23)))
    return ws, fresh, first


def test_the_last_day_scored_incrementally_equals_scoring_from_scratch(week):
    ws, fresh, first = week
    assert first[DAYS[-1]] == _snapshot(fresh, DAYS[-1])
    assert _rollups(ws) == _rollups(fresh)


def test_late_events_change_their_days_and_every_date_scored_again_equals_scratch(week):
    ws, fresh, first = week
    late_days = [d for d in DAYS[:-1] if first[d] != _snapshot(fresh, d)]
    # a quarter of a day's events arriving two days late changes what the day's score knew
    assert late_days, "the late events should have changed some scores"
    for d in DAYS:
        score(ws, d, now=datetime.combine(END, time(22)))
        assert _snapshot(ws, d) == _snapshot(fresh, d), d
    # the scores first computed are kept as revisions, not lost
    with ws.store(read_only=True) as store:
        revised = {r[0] for r in store.con.execute(
            "SELECT DISTINCT as_of FROM snapshot_revisions").fetchall()}
    assert set(late_days) <= revised
