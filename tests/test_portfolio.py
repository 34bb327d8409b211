"""The dashboard's and the API's read model (healthscore.portfolio) on a tiny hand-built store.

Accounts are ingested from a CSV through the real ingest; snapshots are inserted by hand (a seam
we own), so every expected number below is counted from the rows written in this file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta
from importlib import resources

import pytest

from conftest import ACCOUNTS_SOURCE, NOW
from healthscore import portfolio as pf
from healthscore import scorecard_view
from healthscore.store import manual

D = date(2026, 6, 30)
V = "v1"

ACCOUNTS = """\
account_id,name,plan,segment,arr,seats,csm,renewal_date,contract_start
A1,Acme,business,smb,10000,10,ann,2026-07-15,2024-01-01
A2,Beta Corp,starter,smb,2000,5,bob,2026-09-28,2024-01-01
A3,Gamma,enterprise,enterprise,50000,100,ann,2026-09-29,2024-01-01
A4,<script>alert(1)</script>,business,mid-market,7000,20,bob,2027-03-01,2024-01-01
A5,Never Scored,starter,smb,1000,2,ann,2027-01-01,2024-01-01
"""

# (account, as_of, score, band); 7 and 30 days before D for deltas.
SNAPSHOTS = [
    ("A1", D, 30.0, "red"), ("A1", D - timedelta(7), 45.0, "red"),
    ("A1", D - timedelta(30), 70.0, "green"),
    ("A2", D, 60.0, "yellow"), ("A2", D - timedelta(30), 55.0, "yellow"),
    ("A3", D, 55.0, "yellow"), ("A3", D - timedelta(7), 55.5, "yellow"),
    ("A4", D, 90.0, "green"), ("A4", D - timedelta(30), 80.0, "green"),
]


@pytest.fixture
def store_ws(ws):
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.config(ACCOUNTS_SOURCE)
    ws.ingest()
    workspace = ws.open()
    with workspace.store() as store:
        for aid, day, score, band in SNAPSHOTS:
            store.con.execute(
                "INSERT INTO snapshots VALUES ('health', ?, ?, ?, 'base', ?, ?, 'C', 0.9, 1, ?)",
                [V, day, aid, score, band, NOW])
        # A1's measures on D-30 and D: usage 40 -> 10 points, support 30 -> 20.
        for day, usage, support in ((D - timedelta(30), 40.0, 30.0), (D, 10.0, 20.0)):
            for group, measure, points in (("usage", "active_user_ratio", usage),
                                           ("support", "open_tickets", support)):
                store.con.execute(
                    "INSERT INTO snapshot_measures VALUES ('health', ?, ?, 'A1', ?, ?, ?, ?, "
                    "0.5, ?, false, NULL)", [V, day, group, measure, points / 50, points * 2,
                                             points])
        store.con.execute("INSERT INTO scorecard_versions VALUES ('health', ?, '{}', 'x', ?)",
                          [V, NOW])
    return workspace


@pytest.fixture
def store(store_ws):
    with pf.open_store(store_ws) as store:
        yield store


def test_portfolio_summary_counts_bands_and_arr_at_risk(store):
    """Bands on D: red A1 (10,000), yellow A2 (2,000) and A3 (50,000), green A4 (7,000).
    At risk within 90 days (renewal 2026-06-30 .. 2026-09-28): A1 (07-15) and A2 (09-28);
    A3 renews 09-29, one day outside."""
    s = pf.portfolio_summary(store, "health", V)
    assert s["as_of"] == D
    assert s["accounts"] == 4 and s["arr"] == 69000
    assert [(b["band"], b["accounts"], b["arr"]) for b in s["bands"]] == [
        ("red", 1, 10000), ("yellow", 2, 52000), ("green", 1, 7000)]
    assert s["mean_score"] == pytest.approx((30 + 60 + 55 + 90) / 4)
    assert s["at_risk"] == {"days": 90, "accounts": 2, "arr": 12000.0, "red": 1, "yellow": 1}
    assert pf.portfolio_summary(store, "health", V, at_risk_days=91)["at_risk"]["arr"] == 62000


def test_summary_of_an_earlier_date_and_of_no_data(store):
    """On D-30: A1 green, A2 yellow, A4 green (A3 has no snapshot that day)."""
    s = pf.portfolio_summary(store, "health", V, D - timedelta(30))
    assert [(b["band"], b["accounts"]) for b in s["bands"]] == [
        ("red", 0), ("yellow", 1), ("green", 2)]
    empty = pf.portfolio_summary(store, "health", "other-version")
    assert empty["as_of"] is None and empty["accounts"] == 0
    assert [b["accounts"] for b in empty["bands"]] == [0, 0, 0]


def _ids(result):
    return [r["account_id"] for r in result["rows"]]


def test_list_accounts_sorts_with_deltas_and_trend(store):
    """30-day deltas: A1 30-70 = -40, A2 +5, A3 none (no D-30 snapshot), A4 +10."""
    result = pf.list_accounts(store, "health", V)
    assert result["total"] == 4 and result["pages"] == 1
    assert _ids(result) == ["A1", "A3", "A2", "A4"]  # score ascending
    by_id = {r["account_id"]: r for r in result["rows"]}
    assert by_id["A1"]["delta_30d"] == -40 and by_id["A1"]["delta_7d"] == -15
    assert by_id["A1"]["trend"] == "down" and by_id["A1"]["band_30d_ago"] == "green"
    assert by_id["A3"]["delta_30d"] is None and by_id["A3"]["trend"] is None
    assert by_id["A3"]["delta_7d"] == pytest.approx(-0.5)
    assert by_id["A4"]["trend"] == "up" and by_id["A4"]["name"] == "<script>alert(1)</script>"
    assert by_id["A1"]["days_to_renewal"] == 15
    # Empty values sort last in either direction; ties by account id.
    assert _ids(pf.list_accounts(store, "health", V, sort="delta_30d")) == ["A1", "A2", "A4", "A3"]
    assert _ids(pf.list_accounts(store, "health", V, sort="delta_30d", desc=True)) == [
        "A4", "A2", "A1", "A3"]
    assert _ids(pf.list_accounts(store, "health", V, sort="arr", desc=True)) == [
        "A3", "A1", "A4", "A2"]
    assert _ids(pf.list_accounts(store, "health", V, sort="name")) == ["A4", "A1", "A2", "A3"]
    assert _ids(pf.list_accounts(store, "health", V, sort="band")) == ["A1", "A2", "A3", "A4"]


def test_list_accounts_deltas_match_the_trends_view(store):
    """The page's own joins give what the store's snapshot_trends view gives."""
    rows = pf.list_accounts(store, "health", V)["rows"]
    view = dict(((a, (d7, d30))) for a, d7, d30 in store.con.execute(
        "SELECT account_id, delta_7d, delta_30d FROM snapshot_trends WHERE as_of = ?",
        [D]).fetchall())
    assert {r["account_id"]: (r["delta_7d"], r["delta_30d"]) for r in rows} == view


def test_list_accounts_filters_search_and_pages(store):
    f = pf.list_accounts
    assert _ids(f(store, "health", V, band="yellow")) == ["A3", "A2"]
    assert _ids(f(store, "health", V, band=["red", "green"])) == ["A1", "A4"]
    assert _ids(f(store, "health", V, segment="smb")) == ["A1", "A2"]
    assert _ids(f(store, "health", V, csm="bob")) == ["A2", "A4"]
    assert _ids(f(store, "health", V, renewal_within=90)) == ["A1", "A2"]
    assert _ids(f(store, "health", V, renewal_within=90, band="yellow")) == ["A2"]
    assert _ids(f(store, "health", V, q="  CORP ")) == ["A2"]
    assert _ids(f(store, "health", V, q="a3")) == ["A3"]
    assert _ids(f(store, "health", V, q="'; DROP TABLE snapshots; --")) == []
    assert f(store, "health", V, band="")["total"] == 4  # an empty filter is no filter
    page2 = f(store, "health", V, per_page=3, page=2)
    assert _ids(page2) == ["A4"] and page2["total"] == 4 and page2["pages"] == 2
    past = f(store, "health", V, per_page=3, page=5)
    assert past["rows"] == [] and past["total"] == 4
    assert store.con.execute("SELECT count(*) FROM snapshots").fetchall() == [(9,)]


@pytest.mark.parametrize("kwargs, field", [
    ({"sort": "score; DROP TABLE snapshots"}, "sort"),
    ({"band": "purple"}, "band"),
    ({"page": 0}, "page"),
    ({"per_page": 100000}, "per_page"),
    ({"renewal_within": -1}, "renewal_within"),
])
def test_bad_parameters_name_the_field(store, kwargs, field):
    with pytest.raises(pf.InputError) as err:
        pf.list_accounts(store, "health", V, **kwargs)
    assert err.value.field == field and str(err.value).startswith(field + ":")


def test_filter_options_and_band_history(store):
    assert pf.filter_options(store, "health", V) == {
        "bands": ["red", "yellow", "green"], "segments": ["enterprise", "mid-market", "smb"],
        "csms": ["ann", "bob"]}
    assert pf.band_history(store, "health", V) == [
        {"as_of": D - timedelta(30), "red": 0, "yellow": 1, "green": 2, "total": 3},
        {"as_of": D - timedelta(7), "red": 1, "yellow": 1, "green": 0, "total": 2},
        {"as_of": D, "red": 1, "yellow": 2, "green": 1, "total": 4}]
    assert pf.band_history(store, "health", V, days=7)[0]["as_of"] == D - timedelta(7)
    assert pf.band_history(store, "health", "none") == []


def test_account_detail_and_change_explanation(store):
    """A1 on D: deltas -15 (7d) and -40 (30d); its measures lost 30 and 10 points: -40."""
    d = pf.account_detail(store, "health", V, "A1")
    assert d["as_of"] == D and d["account"]["name"] == "Acme"
    assert d["snapshot"]["score"] == 30 and d["snapshot"]["band"] == "red"
    assert [m["measure"] for m in d["snapshot"]["measures"]] == ["active_user_ratio",
                                                                  "open_tickets"]
    assert d["deltas"] == {"7d": -15, "30d": -40, "90d": None}
    never = pf.account_detail(store, "health", V, "A5")
    assert never["snapshot"] is None and never["account"]["name"] == "Never Scored"
    assert pf.account_detail(store, "health", V, "NOPE") is None
    change = pf.change_explanation(store, "health", V, "A1", labels={"open_tickets": "Open"})
    assert (change["start"], change["end"]) == (D - timedelta(30), D)
    assert change["delta"] == -40
    assert [(c.label, c.points) for c in change["contributions"]] == [
        ("active_user_ratio", -30), ("Open", -10)]
    assert sum(c.points for c in change["contributions"]) == change["delta"]
    # A3 has a snapshot 7 days before D only: the window starts there.
    assert pf.change_explanation(store, "health", V, "A3")["start"] == D - timedelta(7)
    assert pf.change_explanation(store, "health", V, "A5") is None
    history = pf.score_history(store, "health", V, "A1", days=90)
    assert [p["score"] for p in history["points"]] == [70, 45, 30]
    assert history["band_changes"][0]["to"] == "red"


def test_recent_activity_newest_first(store_ws):
    with store_ws.store() as store:
        for k in range(7):
            store.con.execute(
                "INSERT INTO touchpoints (account_id, kind, occurred_at, author) "
                "VALUES ('A1', 'call', ?, 'ann')", [datetime(2026, 6, 1 + k)])
        manual.add_pulse(store, account_id="A1", value=2, author="ann", comment="quiet",
                         at=NOW, expires_at=None)
    with pf.open_store(store_ws) as store:
        act = pf.recent_activity(store, "A1", limit=3)
        assert [t["occurred_at"].day for t in act["touchpoints"]] == [7, 6, 5]
        assert act["tickets"] == [] and act["invoices"] == [] and act["surveys"] == []
        assert pf.recent_activity(store, "A2")["touchpoints"] == []
        with pytest.raises(pf.InputError):
            pf.recent_activity(store, "A1", limit=0)


def test_movers_reason_in_words(store):
    found = pf.movers(store, "health", V, labels={"active_user_ratio": "Active seats"})
    assert [r["account_id"] for r in found["drops"]] == ["A1"]
    assert found["drops"][0]["reason"] == "Active seats 0.8 → 0.2 (−30.0)"
    none = pf.movers(store, "health", V, days=3)  # no snapshot on D-3 to compare with
    assert none == {"end": D, "start": D - timedelta(3), "drops": [], "rises": []}


def test_scorecard_overview_shares_add_up(store_ws):
    """The demo's health scorecard: within each variant the measures' shares sum to 1."""
    demo = resources.files("healthscore.demo") / "scorecards"
    target = store_ws.root / "scorecards"
    target.mkdir()
    for name in ("health.yaml", "expansion.yaml"):
        shutil.copy(str(demo / name), target / name)
    with pf.open_store(store_ws) as store:
        cards = scorecard_view.scorecard_overview(store_ws, store)
    health = next(c for c in cards if c["name"] == "health")
    assert health["bands"] == {"red": 50, "yellow": 65}
    assert [v["name"] for v in health["variants"]] == ["base", "onboarding", "enterprise"]
    for variant in health["variants"]:
        total = sum(m["share"] for g in variant["groups"] for m in g["measures"])
        assert total == pytest.approx(1.0)
    usage = health["variants"][0]["groups"][0]
    assert usage["share"] == pytest.approx(35 / 100)
    assert usage["measures"][0]["scoring"] == "linear: 0.05 scores 0, 0.5 scores 100"
    assert [(v["version"], v["dates"]) for v in health["versions"]] == [(V, 3)]
    assert pf.current_versions(store_ws) == {c["name"]: c["version"] for c in cards}


def test_a_store_held_by_another_process_is_busy_not_an_error(store_ws):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(store_ws.store_path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(pf.StoreBusy) as err, pf.open_store(store_ws):
            pass
        assert err.value.hint == "retry in a moment"
    finally:
        holder.communicate("\n", timeout=30)
    with pf.open_store(store_ws) as store:
        assert pf.latest_as_of(store, "health", V) == D


def test_the_read_cache_matches_the_store_and_follows_writes(store_ws):
    """Reads through open_store (read cache) equal reads of a plain Store, for every sort and
    filter; a write to the file (here another version of an account, as an ingest would write)
    shows on the next read; a pulse written through open_store keeps the cache."""
    pf._CACHE.clear()
    queries = [{"sort": k, "desc": d} for k in pf.SORTS for d in (False, True)] + [
        {"band": ["red", "yellow"], "renewal_within": 90}, {"q": "a", "per_page": 1, "page": 2},
        {"page": 99}]
    with store_ws.store(read_only=True) as direct, pf.open_store(store_ws) as cached:
        assert isinstance(cached, pf.ReadStore)
        for query in queries:
            assert pf.list_accounts(cached, "health", V, **query) == \
                pf.list_accounts(direct, "health", V, **query), query
        for days in (0, 90, 400):
            assert pf.portfolio_summary(cached, "health", V, at_risk_days=days) == \
                pf.portfolio_summary(direct, "health", V, at_risk_days=days)
        assert pf.filter_options(cached, "health", V) == pf.filter_options(direct, "health", V)
        for aid in ("A1", "A2", "A4", "nope"):
            assert pf.account(cached, aid) == pf.account(direct, aid)
            assert pf.account_detail(cached, "health", V, aid) == \
                pf.account_detail(direct, "health", V, aid)
    with pf.open_store(store_ws, lazy=True) as lazy:
        assert pf.list_accounts(lazy, "health", V)["total"] > 0 and not lazy.opened
    with pf.open_store(store_ws, write=True, touches=("pulses",)) as store:
        manual.add_pulse(store, account_id="A1", at=NOW, value=5, author="ann", comment="",
                         expires_at=None)
    with pf.open_store(store_ws, lazy=True) as lazy:
        pf.list_accounts(lazy, "health", V)
        assert not lazy.opened  # the pulse left the cached tables alone
    with store_ws.store() as store:
        store.con.execute("UPDATE accounts SET name = 'Renamed' WHERE account_id = 'A1'")
    with pf.open_store(store_ws, lazy=True) as lazy:
        rows = pf.list_accounts(lazy, "health", V, q="renamed")["rows"]
        assert [r["account_id"] for r in rows] == ["A1"] and lazy.opened
        assert pf.account(lazy, "A1")["name"] == "Renamed"


def test_account_history_and_change_through_the_cache_equal_the_store(store_ws):
    pf._CACHE.clear()
    with store_ws.store(read_only=True) as direct, pf.open_store(store_ws) as cached:
        for aid in ("A1", "A2", "A3", "A4", "nope"):
            assert pf.score_history(cached, "health", V, aid) == \
                pf.score_history(direct, "health", V, aid), aid
            assert pf.change_explanation(cached, "health", V, aid) == \
                pf.change_explanation(direct, "health", V, aid), aid
            assert pf.account_detail(cached, "health", V, aid, as_of=D - timedelta(days=1)) == \
                pf.account_detail(direct, "health", V, aid, as_of=D - timedelta(days=1)), aid
