"""History: backfill, versioned series, the daily job, trends, explanations of change, pulses
and overrides."""

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore import pipeline, read
from healthscore.config.scorecard import Bands
from healthscore.demo import generate_demo
from healthscore.errors import SourceError
from healthscore.pipeline import score
from healthscore.scoring.change import explain_change
from healthscore.scoring.combine import band, combine
from healthscore.sources import ingest
from healthscore.store import manual
from healthscore.store.schema import SCHEMA_VERSION
from healthscore.workspace import Workspace
from history_rows import registered

NOW = datetime(2026, 6, 1, 6, 0)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 40-account demo company, ingested; every test copies it before writing."""
    out = tmp_path_factory.mktemp("hist") / "demo"
    generate_demo(out, accounts=40, seed=3, end=date(2026, 6, 1))
    ingest(Workspace.open(out), now=NOW)
    return out


@pytest.fixture
def ws(small, tmp_path):
    import shutil

    target = tmp_path / "demo"
    shutil.copytree(small, target)
    return Workspace.open(target)


def _snapshots(ws, table="snapshots"):
    with ws.store(read_only=True) as store:
        cols = ("scorecard, version, as_of, account_id, variant, score, band, grade, coverage"
                if table == "snapshots" else
                "scorecard, version, as_of, account_id, \"group\", measure, raw_value, score, "
                "weight, points, missing")
        if table != "snapshots":
            registered(store)  # rebuilt from the stored values, as every read does
        return store.con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()


def test_backfill_equals_scoring_each_date_on_its_own(ws, tmp_path):
    import shutil

    other = Workspace.open(shutil.copytree(ws.root, tmp_path / "other"))
    start, end = date(2026, 5, 1), date(2026, 5, 12)
    report = pipeline.backfill(ws, start, end, now=NOW)
    assert report.scored == {"expansion": 12, "health": 12}
    day = start
    while day <= end:
        score(other, day, now=NOW)
        day += timedelta(days=1)
    for table in ("snapshots", "snapshot_measures"):
        assert _snapshots(ws, table) == _snapshots(other, table)
    for each in (ws, other):  # rebuilt at the backfill's end / written with each date
        _assert_series_is_the_snapshots(each)


def _series_state(ws) -> tuple[bool, int]:
    with ws.store(read_only=True) as store:
        return store.series_ready(), int(store._meta("series_unsorted"))


def _assert_series_is_the_snapshots(ws) -> None:
    """The account-ordered series holds exactly the score columns of every snapshot."""
    cols = "scorecard, version, account_id, as_of, variant, score, band, grade, coverage"
    with ws.store(read_only=True) as store:
        series = store.con.execute(f"SELECT {cols} FROM snapshot_series ORDER BY ALL").fetchall()
        snaps = store.con.execute(f"SELECT {cols} FROM snapshots ORDER BY ALL").fetchall()
    assert series == snaps and _series_state(ws)[0]


def test_the_account_series_follows_every_write_and_is_resorted(ws):
    """Daily scores append to the series in their own transaction; a re-score replaces its
    date; after more than 7 appended dates it is re-sorted by account (the counter resets)."""
    for k in range(1, 8):  # both scorecards: a date counts once
        score(ws, date(2026, 5, k), now=NOW)
    assert _series_state(ws) == (True, 7)
    _assert_series_is_the_snapshots(ws)
    score(ws, date(2026, 5, 8), scorecards=["health"], now=NOW)  # the 8th: re-sorted
    assert _series_state(ws) == (True, 0)
    with ws.store(read_only=True) as store:  # stored in account order, each account's dates
        stored = store.con.execute(
            "SELECT scorecard, version, account_id, as_of FROM snapshot_series").fetchall()
        n = store.con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0]
    assert stored == sorted(stored) and len(stored) == n > 8 * 20
    with ws.store() as store:  # a late change re-scored: the series follows the replacement
        store.con.execute("UPDATE accounts SET seats = seats * 3")
    score(ws, date(2026, 5, 3), scorecards=["health"], now=NOW)
    _assert_series_is_the_snapshots(ws)


def test_backfill_resumes_after_an_interruption(ws):
    calls = []

    def stop_after_five(done, total, what):
        calls.append(what)
        if len(calls) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 6), now=NOW,
                         progress=stop_after_five)
    with ws.store(read_only=True) as store:
        assert store.con.execute("SELECT count(DISTINCT (scorecard, as_of)) FROM snapshots"
                                 ).fetchall() == [(5,)]
        assert store.con.execute("SELECT status FROM runs WHERE kind = 'backfill'"
                                 ).fetchall() == [("failed",)]
    # the interrupted backfill left the series incomplete: history reads use the snapshots
    assert _series_state(ws)[0] is False
    with ws.store(read_only=True) as store:
        acc, day = store.con.execute("SELECT account_id, max(as_of) FROM snapshots "
                                     "WHERE scorecard = 'health' GROUP BY 1 LIMIT 1").fetchall()[0]
    assert [p["as_of"] for p in _trend(ws, acc, days=10, end=day)["points"]][-1] == day
    report = pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 6), now=NOW)
    assert sum(report.skipped.values()) == 5 and sum(report.scored.values()) == 7
    _assert_series_is_the_snapshots(ws)


def test_a_failed_write_stops_the_backfill_and_keeps_the_dates_written(ws, monkeypatch):
    """Snapshots are written on a second connection while the next date is evaluated: a write
    that fails (the third) rolls back only its own date, stops the backfill with its error and
    marks the run failed; the next backfill scores the rest."""
    real = pipeline.write_evaluation
    writes = []

    def fail_third(store, sc, ev, **kw):
        writes.append(ev.as_of)
        if len(writes) == 3:
            real(store, sc, ev, **kw)          # its rows are written, then rolled back
            raise OSError("disk full")
        real(store, sc, ev, **kw)

    monkeypatch.setattr(pipeline, "write_evaluation", fail_third)
    with pytest.raises(OSError, match="disk full"):
        pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 6), scorecards=["health"],
                         now=NOW)
    with ws.store(read_only=True) as store:
        assert store.con.execute("SELECT DISTINCT as_of FROM snapshots ORDER BY 1"
                                 ).fetchall() == [(date(2026, 5, 1),), (date(2026, 5, 2),)]
        registered(store)
        assert store.con.execute("SELECT DISTINCT as_of FROM snapshot_measures ORDER BY 1"
                                 ).fetchall() == [(date(2026, 5, 1),), (date(2026, 5, 2),)]
        assert store.con.execute("SELECT status, error FROM runs WHERE kind = 'backfill'"
                                 ).fetchall() == [("failed", "disk full")]
    monkeypatch.setattr(pipeline, "write_evaluation", real)
    report = pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 6), scorecards=["health"],
                              now=NOW)
    assert report.skipped == {"health": 2} and report.scored == {"health": 4}


def test_a_changed_scorecard_adds_a_series_and_keeps_the_old(ws):
    pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 3), scorecards=["health"], now=NOW)
    old = ws.scorecards(["health"])[0].scorecard.version
    path = ws.root / "scorecards" / "health.yaml"
    path.write_text(path.read_text().replace("bands: {red: 50, yellow: 65}",
                                             "bands: {red: 60, yellow: 75}"))
    ws = Workspace.open(ws.root)
    new = ws.scorecards(["health"])[0].scorecard.version
    assert new != old
    pipeline.backfill(ws, date(2026, 5, 1), date(2026, 5, 3), scorecards=["health"], now=NOW)
    with ws.store(read_only=True) as store:
        series = store.con.execute("SELECT version, count(DISTINCT as_of) FROM snapshots "
                                   "GROUP BY 1 ORDER BY 1").fetchall()
    assert sorted(series) == sorted([(old, 3), (new, 3)])
    acc = _snapshots(ws)[0][3]
    assert _trend(ws, acc, version=old, days=5)["points"][0]["as_of"] == date(2026, 5, 1)


def test_the_daily_job_twice_changes_nothing_and_a_failure_keeps_yesterday(ws):
    first = pipeline.run_daily(ws, as_of=date(2026, 5, 31), now=NOW)
    assert first.ingest.rows_read == 0  # nothing new in the files
    before = _snapshots(ws)
    pipeline.run_daily(ws, as_of=date(2026, 5, 31), now=NOW)
    assert _snapshots(ws) == before
    (ws.root / "data/crm/renewals.csv").write_text("account_id,outcome\nACC-000001,renewed\n")
    with pytest.raises(SourceError, match="renewal_date"):
        pipeline.run_daily(ws, as_of=date(2026, 6, 1), now=NOW)
    assert _snapshots(ws) == before
    with ws.store(read_only=True) as store:
        runs = store.con.execute("SELECT kind, status, error FROM runs WHERE kind = 'run' "
                                 "ORDER BY run_id").fetchall()
    assert [r[1] for r in runs] == ["ok", "ok", "failed"] and "renewal_date" in runs[2][2]


def test_why_splits_a_change_exactly_and_movers_name_the_reason(ws):
    pipeline.backfill(ws, date(2026, 4, 1), date(2026, 5, 31), step=30, scorecards=["health"],
                     now=NOW)
    snaps = {(r[2], r[3]): r[5] for r in _snapshots(ws)}
    accounts = [a for (d, a) in snaps if d == date(2026, 5, 31) and (date(2026, 5, 1), a)
                in snaps and snaps[(d, a)] is not None and snaps[(date(2026, 5, 1), a)]
                is not None]
    for acc in accounts:
        w = _read(ws, read.why, acc, start=date(2026, 5, 1), end=date(2026, 5, 31))
        delta = snaps[(date(2026, 5, 31), acc)] - snaps[(date(2026, 5, 1), acc)]
        assert sum(c.points for c in w["contributions"]) == pytest.approx(delta, abs=1e-9)
        assert w["delta"] == pytest.approx(delta)
        for c in w["contributions"]:
            assert c.score_effect + c.weight_effect == pytest.approx(c.points, abs=1e-9)
    m = _read(ws, read.movers, days=30, end=date(2026, 5, 31), limit=3)
    assert m["start"] == date(2026, 5, 1)
    assert all(r["delta"] < 0 for r in m["drops"]) and all(r["delta"] > 0 for r in m["rises"])
    raw = {(a, meas, d): v for (_, _, d, a, _, meas, v, *_rest) in
           _snapshots(ws, "snapshot_measures")}
    for r in m["drops"] + m["rises"]:
        assert (r["top_contribution"] < 0) == (r in m["drops"]) and "→" in r["reason"]
        # the reason's values are the top measure's own, even when one of them is missing
        assert pd_isna(r["top_raw_before"]) == pd_isna(
            raw.get((r["account_id"], r["top_measure"], date(2026, 5, 1))))
        assert r["top_raw_after"] == raw[(r["account_id"], r["top_measure"],
                                          date(2026, 5, 31))] or pd_isna(r["top_raw_after"])


def test_trend_deltas_come_from_the_snapshots(ws):
    pipeline.backfill(ws, date(2026, 5, 20), date(2026, 5, 31), scorecards=["health"], now=NOW)
    score(ws, date(2026, 5, 1), scorecards=["health"], now=NOW)
    acc = _snapshots(ws)[0][3]
    t = _trend(ws, acc, days=30)
    scores = {p["as_of"]: p["score"] for p in t["points"]}
    assert t["end"] == date(2026, 5, 31) and len(scores) == 13
    assert t["deltas"]["7d"] == pytest.approx(scores[date(2026, 5, 31)] - scores[date(2026, 5,
                                                                                       24)])
    assert t["deltas"]["30d"] == pytest.approx(scores[date(2026, 5, 31)] - scores[date(2026, 5,
                                                                                        1)])
    assert t["deltas"]["90d"] is None
    bands = [p["band"] for p in t["points"]]
    assert len(t["band_changes"]) == sum(a != b for a, b in zip(bands, bands[1:], strict=False))


def test_pulse_and_override_are_point_in_time_and_survive_reruns(ws):
    run = score(ws, date(2026, 5, 20), now=NOW)
    acc = run.evaluation("health").accounts.column("account_id")[0].as_py()
    with ws.store() as store:
        manual.add_pulse(store, account_id=acc, value=1, author="maria", comment="bad call",
                         at=datetime(2026, 5, 21, 9), expires_at=datetime(2026, 5, 28))
        oid, _ = manual.add_override(store, account_id=acc, measure="nps_average", score=7,
                                  author="maria", comment="survey outage",
                                  created_at=datetime(2026, 5, 21, 9),
                                  expires_at=datetime(2026, 5, 25), scorecard="health")

    def measure(day, name):
        ev = score(ws, day, now=NOW).evaluation("health").measures.to_pandas()
        return ev[(ev.account_id == acc) & (ev.measure == name)].iloc[0]

    before = measure(date(2026, 5, 20), "csm_pulse")
    assert before.raw_value != 1 or np.isnan(before.raw_value)  # entered later: not seen
    assert measure(date(2026, 5, 22), "csm_pulse").raw_value == 1
    assert measure(date(2026, 5, 29), "csm_pulse").raw_value != 1  # expired
    nps = measure(date(2026, 5, 22), "nps_average")
    assert nps.score == 7 and nps.override_id == oid and not nps.missing
    assert pd_isna(measure(date(2026, 5, 20), "nps_average").override_id)
    assert pd_isna(measure(date(2026, 5, 26), "nps_average").override_id)  # expired
    ingest(ws, now=NOW + timedelta(hours=1), full=True)  # re-ingest keeps manual inputs
    assert measure(date(2026, 5, 22), "csm_pulse").raw_value == 1
    with read.open_reader(ws) as r:
        inputs = read.manual_inputs(r, acc)
    assert inputs["pulses"][0]["source"] == "manual" and inputs["overrides"][0]["score"] == 7


def _read(ws, fn, *args, version=None, **kw):
    """``fn`` of healthscore.read on the health series (current version unless ``version``)."""
    with read.open_reader(ws) as r:
        return fn(r, read.card(ws, "health", version), *args, **kw)


def _trend(ws, acc, **kw):
    return _read(ws, read.trend, acc, **kw)


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_contributions_sum_to_the_delta_property(data):
    """Whatever moves — scores, missing data, weights — the parts sum to the delta exactly."""
    m = data.draw(st.integers(2, 6))
    g = data.draw(st.integers(1, 3))
    group_of = np.array(data.draw(st.lists(st.integers(0, g - 1), min_size=m, max_size=m)))
    weight = st.one_of(st.just(0.0), st.floats(1e-3, 5))
    weights = np.array(data.draw(st.lists(weight, min_size=m, max_size=m)))
    gweights = np.array(data.draw(st.lists(st.floats(0.1, 5), min_size=g, max_size=g)))
    score_or_nan = st.one_of(st.floats(0, 100), st.just(float("nan")))
    s1 = np.array([data.draw(st.lists(score_or_nan, min_size=m, max_size=m))])
    s2 = np.array([data.draw(st.lists(score_or_nan, min_size=m, max_size=m))])
    fixed = np.full(m, np.nan)
    c1 = combine(s1, weights, group_of, gweights, fixed)
    c2 = combine(s2, weights, group_of, gweights, fixed)
    if np.isnan(c1.score[0]) or np.isnan(c2.score[0]):
        return
    bands = Bands()

    def head(c):
        return {"score": float(c.score[0]), "band": band(c.score, bands)[0], "variant": "base"}

    rows = [{"group": str(group_of[j]), "measure": f"m{j}",
             "raw_before": None, "raw_after": None,
             "score_before": None if np.isnan(s1[0, j]) else float(s1[0, j]),
             "score_after": None if np.isnan(s2[0, j]) else float(s2[0, j]),
             "weight_before": float(c1.weights[0, j]), "weight_after": float(c2.weights[0, j]),
             "points_before": float(c1.points[0, j]), "points_after": float(c2.points[0, j]),
             "override_before": None, "override_after": None} for j in range(m)]
    w = explain_change({"before": head(c1), "after": head(c2), "measures": rows})
    assert sum(c.points for c in w["contributions"]) == pytest.approx(w["delta"], abs=1e-9)
    for c in w["contributions"]:
        assert c.score_effect + c.weight_effect == pytest.approx(c.points, abs=1e-9)


def test_a_schema_10_store_migrates_and_answers_every_read_the_same(ws):
    """A store with the per-measure and per-group rows of schema 10 (written here from the
    rows the current reads rebuild, with an override and the demo's percentile measure in
    them) is opened: it migrates to the compact history, shrinks, and every read — each
    account's explanation on each date, why, movers, the lowest accounts, the measure values the
    backtest reads, the export of measures — gives the same answer."""
    from healthscore.read.outcomes import measure_values
    from history_rows import downgrade_to_10

    with ws.store() as store:
        acc = store.con.execute("SELECT account_id FROM accounts ORDER BY 1 LIMIT 1"
                                ).fetchall()[0][0]
        manual.add_override(store, account_id=acc, measure="nps_average", score=7,
                            author="maria", comment="angry call",
                            created_at=datetime(2026, 4, 20), expires_at=None)
    days = [date(2026, 5, 1), date(2026, 5, 16), date(2026, 5, 31)]
    for day in days:
        score(ws, day, scorecards=["health"], now=NOW)

    def reads() -> dict:
        out = {}
        with read.open_reader(ws) as r:
            card = read.card(ws, "health")
            accounts = [x["account_id"] for x in r.rows(
                "SELECT DISTINCT account_id FROM snapshots ORDER BY 1")]
            for a in accounts:
                for day in days:
                    try:
                        e = read.explain(r, card, a, day)
                        out[(a, day)] = (e["score"], e["groups"], e["measures"])
                    except Exception as exc:  # the same error either way
                        out[(a, day)] = type(exc).__name__
                try:
                    w = read.why(r, card, a, start=days[0], end=days[-1])
                    out[("why", a)] = (w["summary"], [vars(c) for c in w["contributions"]])
                except Exception as exc:
                    out[("why", a)] = type(exc).__name__
            out["movers"] = read.movers(r, card, days=30, end=days[-1], limit=5)
            out["lowest"] = read.lowest(r, card, days[-1], 5)
            out["values"] = sorted(measure_values(r, card, days).to_pylist(),
                                   key=lambda x: (x["as_of"], x["account_id"], x["measure"]))
            out["export"] = read.scores(ws, days[-1], measures=True).to_pylist()
        return out

    before = reads()
    assert any(m["override_id"] for e in before.values() if isinstance(e, tuple)
               and len(e) == 3 for m in e[2])
    with ws.store() as store:
        with store.transaction():
            downgrade_to_10(store)
        store.con.execute("CHECKPOINT")
    size = ws.store_path.stat().st_size
    with ws.store(read_only=True) as store:  # opened to read: upgraded first
        assert store.schema_version() == SCHEMA_VERSION
        assert not store.con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                     "table_name = 'snapshot_measures'").fetchall()[0][0]
    assert ws.store_path.stat().st_size < size  # compacted
    assert reads() == before
