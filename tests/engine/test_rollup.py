"""The set-based measures (usage: daily roll-ups, sliding windows, island sweeps; spans: rows
valid over ranges of days) give the same values as the point-in-time definitions, date by date.

Scoring and backfills compute the usage measures on DuckDB through ``measures/rollup.py`` (one
pass for many dates); each measure's Ibis expression over the as-of view of the store is its
definition. These tests compare the two on random event histories (hypothesis) and on the demo
company, for batches of dates including ones before, inside and after the data.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthscore.config.scorecard import load_scorecard
from healthscore.demo import generate_demo
from healthscore.engine import Evaluator
from healthscore.measures import MeasureContext, get_measure
from healthscore.measures.base import CUTOFF_VARIABLE, cutoff_of, measure_expression
from healthscore.measures.rollup import DIRECT_MAX
from healthscore.sources import ingest
from healthscore.store import rollups
from healthscore.store.store import Store
from healthscore.workspace import Workspace

#: Usage measures under several parameters: short and long windows, a feature list.
SCORECARD = """\
name: usage
bands: {red: 40, yellow: 60}
groups:
  usage:
    measures:
      ratio_7: {measure: active_user_ratio, params: {window_days: 7}, scoring: {linear: {from: 0, to: 1}}}
      ratio_30: {measure: active_user_ratio, params: {window_days: 30}, scoring: {linear: {from: 0, to: 1}}}
      users_3: {measure: active_users, params: {window_days: 3}, scoring: {linear: {from: 0, to: 5}}}
      days_10: {measure: active_days_per_user, params: {window_days: 10}, scoring: {linear: {from: 1, to: 5}}}
      trend_5: {measure: usage_trend, params: {window_days: 5}, scoring: {linear: {from: -1, to: 1}}}
      trend_30: {measure: usage_trend, params: {window_days: 30}, scoring: {linear: {from: -1, to: 1}}}
      last: {measure: days_since_last_activity, scoring: {linear: {from: 30, to: 0}}}
      features_7: {measure: feature_breadth, params: {window_days: 7}, scoring: {linear: {from: 0, to: 3}}}
      key_features: {measure: feature_breadth, params: {window_days: 14, features: [login, "it's"]}, scoring: {linear: {from: 0, to: 1}}}
      depth_4: {measure: events_per_active_user, params: {window_days: 4}, scoring: {linear: {from: 0, to: 9}}}
"""


def _scorecard(tmp: Path):
    path = tmp / "usage.yaml"
    path.write_text(SCORECARD, encoding="utf-8")
    return load_scorecard(path).scorecard


class Reference:
    """Each measure's point-in-time definition, compiled once to SQL with the cutoff in the
    DuckDB variable (the per-date path the batch replaced), next to the evaluator under test."""

    def __init__(self, backend, sc):
        self.backend = backend
        self.ev = Evaluator(backend, sc)
        assert self.ev.batch, "the usage measures should take the set-based path on DuckDB"
        ctx = MeasureContext(backend, date.today(), variables=True)
        self.sql = {}
        for key in self.ev.batch:
            mid, cfg = self.ev.measures[key]
            spec = get_measure(cfg.measure or mid)
            expr = measure_expression(ctx, spec, spec.parse_params(cfg.params))
            self.sql[key] = (mid, str(ibis.to_sql(expr, "duckdb")))

    def compare(self, dates: list[date], *, prepare: bool = True) -> int:
        """Assert the evaluator's values equal the definitions; return how many compared."""
        if prepare:
            self.ev.prepare(dates)
        con = self.backend.con
        compared = 0
        for day in dates:
            frame = self.ev.frame(day).set_index("account_id")
            ctx = MeasureContext(self.backend, day)
            for key, (mid, sql) in self.sql.items():
                if not all(ctx.has_data(t) for t in self.ev.tables[key]):
                    assert frame[key].isna().all()
                    continue
                con.execute(f"SET VARIABLE {CUTOFF_VARIABLE} = ?::TIMESTAMP", [cutoff_of(day)])
                want = (con.sql(sql).df().set_index("account_id")["value"]
                        .reindex(frame.index))
                np.testing.assert_allclose(frame[key].to_numpy(float), want.to_numpy(float),
                                           rtol=1e-9, atol=1e-9, equal_nan=True,
                                           err_msg=f"{mid} as of {day}")
                compared += len(want)
        return compared


# -- random histories -------------------------------------------------------------------------

START = date(2026, 3, 1)
ACCOUNTS = [("A1", 4), ("A2", None), ("A3", 0)]  # seats: 4, unknown, zero
USERS = ["u1", "u2", "u3", None]
EVENTS = ["login", "it's", "export"]

event = st.tuples(
    st.sampled_from([a for a, _ in ACCOUNTS]),
    st.sampled_from(USERS),
    st.sampled_from(EVENTS),
    st.integers(0, 70 * 24 - 1),                       # hour since START
    st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5, 7.0])),
)


def _reference(tmp: Path, scorecard: str):
    """A store with three accounts and an evaluator/reference pair over it (kept open)."""
    store = Store(tmp / "store.duckdb", create=True)
    for account_id, seats in ACCOUNTS:
        store.con.execute(
            "INSERT INTO accounts (account_id, name, seats, contract_start) "
            "VALUES (?, ?, ?, DATE '2025-01-01')", [account_id, account_id, seats])
    path = tmp / "scorecard.yaml"
    path.write_text(scorecard, encoding="utf-8")
    yield Reference(ibis.duckdb.from_connection(store.con), load_scorecard(path).scorecard)
    store.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    yield from _reference(tmp_path_factory.mktemp("rollup"), SCORECARD)


def _events(ref: Reference, rows, arrivals: int = 1) -> None:
    """Store ``rows`` as usage events arriving in ``arrivals`` batches (in the order given,
    so a later batch holds events of earlier days too), each merged into the daily roll-ups as
    the store does on ingest; then check the roll-ups equal a rebuild from all events."""
    con = ref.backend.con
    con.execute("DELETE FROM usage_events")
    for table in rollups.TABLES:
        con.execute(f"DELETE FROM {table}")
    for i, (account_id, user_id, name, at, quantity) in enumerate(rows):
        con.execute("INSERT INTO usage_events (account_id, user_id, event, \"timestamp\", "
                    "quantity, _run_id) VALUES (?, ?, ?, ?, ?, ?)",
                    [account_id, user_id, name, at, quantity, i * arrivals // len(rows)])
    for run in range(arrivals):
        rollups.merge(con, "SELECT * FROM usage_events WHERE _run_id = ?", [run])
    maintained = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in rollups.TABLES}
    rollups.rebuild(con)
    rebuilt = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in rollups.TABLES}
    assert maintained == rebuilt
    ref.ev.stats = None  # the evaluator caches which tables hold data


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, max_size=40),
       offsets=st.lists(st.integers(-3, 80), min_size=1, max_size=6, unique=True),
       prepare=st.booleans(), arrivals=st.integers(1, 5))
def test_batch_usage_measures_equal_their_point_in_time_definition(reference, events, offsets,
                                                                   prepare, arrivals):
    """Events arrive in up to five batches in random order (late events for earlier days
    among them); the roll-ups kept up to date batch by batch equal a rebuild, and the measures
    read from them equal each measure's definition over the raw events."""
    start = datetime.combine(START, datetime.min.time())
    _events(reference, [(a, u, n, start + timedelta(hours=h), q) for a, u, n, h, q in events],
            arrivals)
    reference.ev.prepared = set()
    dates = sorted(START + timedelta(days=k) for k in offsets)
    reference.compare(dates, prepare=prepare)
    # The two ways of computing a batch (per-date windows for a few dates, sweeps for many)
    # agree exactly, so a backfill equals scoring each date on its own to the last bit.
    ev = reference.ev
    ev.prepare(dates + [START + timedelta(days=k) for k in range(90, 90 + DIRECT_MAX)])
    swept = {d: ev.frame(d) for d in dates}
    for d in dates:
        ev.prepare([d])
        pd.testing.assert_frame_equal(ev.frame(d), swept[d], check_exact=True)


def test_islands_and_windows_on_a_hand_computed_history(reference):
    """A1 has 4 seats. u1 is active on 03-01 and 03-08 (7 days apart: two islands that touch),
    u2 on 03-05. A 7-day window as of D covers D-6..D, so an active day X counts for
    X..X+6:
      03-07: u1 (03-01 covers ..03-07) and u2 (03-05..03-11) → 2 users, 2/4 = 0.5
      03-08: u1 (03-08..03-14) and u2                       → 2 users, 0.5
      03-12: u1 only (u2's 03-05 covered up to 03-11)        → 1 user,  0.25
      03-15: nobody (u1's 03-08 covered up to 03-14)          → 0
    """
    _events(reference, [("A1", user, "login", datetime(2026, 3, day, 12), None)
                        for user, day in [("u1", 1), ("u1", 8), ("u2", 5)]])
    ev = reference.ev
    days = [date(2026, 3, d) for d in (7, 8, 12, 15)]
    ev.prepare(days)
    key = next(k for k, (mid, _) in ev.measures.items() if mid == "ratio_7")
    got = [ev.frame(d).set_index("account_id").loc["A1", key] for d in days]
    assert got == [0.5, 0.5, 0.25, 0.0]
    assert reference.compare(days) > 0


# -- spans: users and trainings ---------------------------------------------------------------

ENABLEMENT = """\
name: enablement
bands: {red: 40, yellow: 60}
groups:
  enablement:
    measures:
      trained: {measure: training_completion, scoring: {linear: {from: 0, to: 1}}}
"""

hour = st.one_of(st.none(), st.integers(0, 40 * 24 - 1))
user = st.tuples(
    st.sampled_from([a for a, _ in ACCOUNTS]),
    hour,                                              # created (None: unknown)
    hour,                                              # deactivated (None: still there)
    st.one_of(st.none(), st.tuples(st.integers(0, 40 * 24 - 1),   # a second version from then
                                   st.sampled_from([a for a, _ in ACCOUNTS]))),
)
training = st.tuples(st.integers(0, 5), st.integers(0, 40 * 24 - 1))  # user number, hour


@pytest.fixture(scope="module")
def enablement(tmp_path_factory):
    yield from _reference(tmp_path_factory.mktemp("spans"), ENABLEMENT)


def _users(ref: Reference, users, trainings) -> None:
    """Users (with a second version of the row when it moved account), trainings of them."""
    con = ref.backend.con
    con.execute("DELETE FROM users")
    con.execute("DELETE FROM trainings")
    start = datetime.combine(START, datetime.min.time())

    def at(h):
        return None if h is None else start + timedelta(hours=h)

    for n, (account_id, created, deactivated, moved) in enumerate(users):
        versions = [(account_id, None, None)]
        if moved is not None:
            versions = [(account_id, None, at(moved[0])), (moved[1], at(moved[0]), None)]
        for acc, valid_from, valid_to in versions:
            con.execute("INSERT INTO users (user_id, account_id, created_at, deactivated_at, "
                        "_valid_from, _valid_to) VALUES (?, ?, ?, ?, ?, ?)",
                        [f"u{n}", acc, at(created), at(deactivated), valid_from, valid_to])
    for k, (n, h) in enumerate(trainings):
        con.execute("INSERT INTO trainings (account_id, user_id, course, completed_at) "
                    "VALUES (?, ?, ?, ?)", ["A1", f"u{n}", f"c{k}", at(h)])
    ref.ev.stats = None


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(users=st.lists(user, max_size=6), trainings=st.lists(training, max_size=8),
       offsets=st.lists(st.integers(-3, 45), min_size=DIRECT_MAX + 1, max_size=8, unique=True))
def test_span_counts_equal_their_point_in_time_definition(enablement, users, trainings, offsets):
    """Users created, deactivated and moved between accounts at random hours (midnights
    included), trained or not: the trained share from span counts over a batch of dates
    equals the per-date definition."""
    _users(enablement, users, trainings)
    dates = sorted(START + timedelta(days=k) for k in offsets)
    enablement.ev.prepare(dates)
    assert enablement.ev.spanned == set(dates)
    enablement.compare(dates, prepare=False)


def test_span_counts_on_a_hand_computed_history(enablement):
    """A1: u0 created 03-02 10:00, trained 03-04 09:00, deactivated 03-06 00:00 (midnight: gone
    on 03-06, still there on 03-05); u1 created on 02-27, never trained. (A2's u2, trained on
    03-01, makes the trainings table hold data from that day: before it the measure is missing.)
      03-01: u1 only, untrained            → 0/1 = 0
      03-03: u0 and u1, nobody trained     → 0/2 = 0
      03-05: u0 trained (03-04 on)         → 1/2 = 0.5
      03-06: u0 deactivated at midnight    → 0/1 = 0
    """
    _users(enablement, [("A1", 34, 120, None), ("A1", -48, None, None), ("A2", -48, None, None)],
           [(0, 3 * 24 + 9), (2, 1)])
    days = [date(2026, 3, d) for d in (1, 3, 5, 6)]
    ev = enablement.ev
    ev.prepare(days)
    key = next(iter(ev.measures))
    got = [ev.frame(d).set_index("account_id").loc["A1", key] for d in days]
    assert got == [0.0, 0.0, 0.5, 0.0]
    assert enablement.compare(days, prepare=False) > 0


# -- the demo company -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("rollup-demo") / "demo"
    generate_demo(out, accounts=30, seed=11, end=date(2026, 6, 1))
    ingest(Workspace.open(out), now=datetime(2026, 6, 1, 6))
    return Workspace.open(out)


def test_batch_equals_point_in_time_on_the_demo_company(demo, tmp_path):
    dates = [date(2025, 2, 1), date(2025, 3, 15), date(2025, 9, 30), date(2025, 12, 31),
             date(2026, 1, 1), date(2026, 4, 2), date(2026, 5, 31)]
    with demo.store() as store:
        backend = ibis.duckdb.from_connection(store.con)
        assert Reference(backend, _scorecard(tmp_path)).compare(dates) > 1000
        for loaded in demo.scorecards():
            # the demo scorecards' usage (and span) measures take the batch path too
            assert Reference(backend, loaded.scorecard).compare(dates) > 0
