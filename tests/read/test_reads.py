"""The read layer (healthscore.read) on the tiny hand-built store of tests/read_store.py.

Every expected number is counted from the rows written there: bands on D are red A1 (ARR
10,000), yellow A2 (2,000) and A3 (50,000), green A4 (7,000); A5 is never scored; A6 churned on
D-20 and was last scored (red, 20) on D-30.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from conftest import NOW
from healthscore import read
from healthscore.errors import InputError, NotFound
from healthscore.read import Card
from healthscore.store import manual
from read_store import C, D, V


@pytest.fixture
def r(store_ws):
    with read.open_reader(store_ws) as reader:
        yield reader


def test_portfolio_counts_bands_and_arr_at_risk(r):
    """At risk within 90 days (renewal 2026-06-30 .. 2026-09-28): A1 (07-15) and A2 (09-28);
    A3 renews 09-29, one day outside."""
    s = read.portfolio(r, C)
    assert s["as_of"] == D
    assert s["accounts"] == 4 and s["arr"] == 69000
    assert [(b["band"], b["accounts"], b["arr"]) for b in s["bands"]] == [
        ("red", 1, 10000), ("yellow", 2, 52000), ("green", 1, 7000)]
    assert s["mean_score"] == pytest.approx((30 + 60 + 55 + 90) / 4)
    assert s["at_risk"] == {"days": 90, "accounts": 2, "arr": 12000.0, "red": 1, "yellow": 1}
    assert read.portfolio(r, C, at_risk_days=91)["at_risk"]["arr"] == 62000


def test_portfolio_of_an_earlier_date_and_of_no_data(r):
    """On D-30: A1 green, A2 yellow, A4 green, A6 red (A3 has no snapshot that day)."""
    s = read.portfolio(r, C, D - timedelta(30))
    assert s["as_of"] == D - timedelta(30)
    assert [(b["band"], b["accounts"]) for b in s["bands"]] == [
        ("red", 1), ("yellow", 1), ("green", 2)]
    empty = read.portfolio(r, Card("health", "other-version"))
    assert empty["as_of"] is None and empty["accounts"] == 0
    assert [b["accounts"] for b in empty["bands"]] == [0, 0, 0]


def test_a_date_without_a_snapshot_says_which_dates_exist(r):
    """Scored dates: D-30, D-7, D. D-1 is not one: every dated read refuses it, naming the
    nearest scored dates and the range, instead of answering an empty portfolio."""
    for call in (lambda: read.portfolio(r, C, D - timedelta(1)),
                 lambda: read.accounts(r, C, as_of=D - timedelta(1)),
                 lambda: read.filter_options(r, C, D - timedelta(1))):
        with pytest.raises(NotFound) as err:
            call()
        assert err.value.message == f"no health snapshot on {D - timedelta(1)}"
        assert err.value.param == "as_of"
        assert f"3 dates are scored, {D - timedelta(30)} to {D}" in err.value.hint
        assert f"nearest: {D - timedelta(30)}, {D - timedelta(7)}, {D}" in err.value.hint
    with pytest.raises(NotFound) as err:
        read.movers(r, C, end=D + timedelta(30))
    assert err.value.param == "end"
    assert read.scored_dates(r, C) == [D - timedelta(30), D - timedelta(7), D]


def _ids(result):
    return [row["account_id"] for row in result["rows"]]


def test_accounts_sort_with_deltas_and_trend(r):
    """30-day deltas: A1 30-70 = -40, A2 +5, A3 none (no D-30 snapshot), A4 +10."""
    result = read.accounts(r, C)
    assert result["total"] == 4 and result["pages"] == 1 and result["as_of"] == D
    assert _ids(result) == ["A1", "A3", "A2", "A4"]  # score ascending
    by_id = {row["account_id"]: row for row in result["rows"]}
    assert by_id["A1"]["delta_30d"] == -40 and by_id["A1"]["delta_7d"] == -15
    assert by_id["A1"]["trend"] == "down" and by_id["A1"]["band_30d_ago"] == "green"
    assert by_id["A3"]["delta_30d"] is None and by_id["A3"]["trend"] is None
    assert by_id["A3"]["delta_7d"] == pytest.approx(-0.5)
    assert by_id["A4"]["trend"] == "up" and by_id["A4"]["name"] == "<script>alert(1)</script>"
    assert by_id["A1"]["days_to_renewal"] == 15
    # Empty values sort last in either direction; ties by account id.
    assert _ids(read.accounts(r, C, sort="delta_30d")) == ["A1", "A2", "A4", "A3"]
    assert _ids(read.accounts(r, C, sort="delta_30d", desc=True)) == ["A4", "A2", "A1", "A3"]
    assert _ids(read.accounts(r, C, sort="arr", desc=True)) == ["A3", "A1", "A4", "A2"]
    assert _ids(read.accounts(r, C, sort="name")) == ["A4", "A1", "A2", "A3"]
    assert _ids(read.accounts(r, C, sort="band")) == ["A1", "A2", "A3", "A4"]
    # an earlier date lists that date's accounts: A6 was still a customer on D-30
    earlier = read.accounts(r, C, as_of=D - timedelta(30))
    assert earlier["as_of"] == D - timedelta(30) and _ids(earlier) == ["A6", "A2", "A1", "A4"]


def test_deltas_match_the_trends_view(r):
    """The list's joins and the account's four one-date lookups give what the store's
    snapshot_trends view gives, on every scored date."""
    for day in read.scored_dates(r, C):
        view = {a: (d7, d30, d90) for a, d7, d30, d90 in r.store.con.execute(
            "SELECT account_id, delta_7d, delta_30d, delta_90d FROM snapshot_trends "
            "WHERE as_of = ?", [day]).fetchall()}
        rows = read.accounts(r, C, as_of=day)["rows"]
        assert {row["account_id"]: row["delta_7d"] for row in rows} == \
            {a: v[0] for a, v in view.items()}
        assert {row["account_id"]: row["delta_30d"] for row in rows} == \
            {a: v[1] for a, v in view.items()}
        for aid, (d7, d30, d90) in view.items():
            deltas = read.history.deltas(r, C, aid, day)
            assert deltas == {"7d": d7, "30d": d30, "90d": d90}, (aid, day)


def test_accounts_filter_search_and_page(r):
    f = read.accounts
    assert _ids(f(r, C, band="yellow")) == ["A3", "A2"]
    assert _ids(f(r, C, band=["red", "green"])) == ["A1", "A4"]
    assert _ids(f(r, C, segment="smb")) == ["A1", "A2"]
    assert _ids(f(r, C, csm="bob")) == ["A2", "A4"]
    assert _ids(f(r, C, renewal_within=90)) == ["A1", "A2"]
    assert _ids(f(r, C, renewal_within=90, band="yellow")) == ["A2"]
    assert _ids(f(r, C, q="  CORP ")) == ["A2"]
    assert _ids(f(r, C, q="a3")) == ["A3"]
    assert _ids(f(r, C, q="'; DROP TABLE snapshots; --")) == []
    assert f(r, C, band="")["total"] == 4  # an empty filter is no filter
    page2 = f(r, C, per_page=3, page=2)
    assert _ids(page2) == ["A4"] and page2["total"] == 4 and page2["pages"] == 2
    past = f(r, C, per_page=3, page=5)
    assert past["rows"] == [] and past["total"] == 4
    assert r.rows("SELECT count(*) AS n FROM snapshots") == [{"n": 10}]


@pytest.mark.parametrize("kwargs, field", [
    ({"sort": "score; DROP TABLE snapshots"}, "sort"),
    ({"band": "purple"}, "band"),
    ({"page": 0}, "page"),
    ({"per_page": 100000}, "per_page"),
    ({"renewal_within": -1}, "renewal_within"),
])
def test_bad_parameters_name_the_field(r, kwargs, field):
    with pytest.raises(InputError) as err:
        read.accounts(r, C, **kwargs)
    assert err.value.field == field and str(err.value).startswith(field + ":")


def test_filter_options_and_band_history(r):
    assert read.filter_options(r, C) == {
        "bands": ["red", "yellow", "green"], "segments": ["enterprise", "mid-market", "smb"],
        "csms": ["ann", "bob"]}
    assert read.band_history(r, C) == [
        {"as_of": D - timedelta(30), "red": 1, "yellow": 1, "green": 2, "total": 4},
        {"as_of": D - timedelta(7), "red": 1, "yellow": 1, "green": 0, "total": 2},
        {"as_of": D, "red": 1, "yellow": 2, "green": 1, "total": 4}]
    assert read.band_history(r, C, days=7)[0]["as_of"] == D - timedelta(7)
    assert read.band_history(r, Card("health", "none")) == []


def test_account_and_why(r):
    """A1 on D: deltas -15 (7d) and -40 (30d); its measures lost 30 and 10 points: -40."""
    d = read.account(r, C, "A1")
    assert d["as_of"] == D and d["account"]["name"] == "Acme" and d["churned_on"] is None
    assert d["snapshot"]["score"] == 30 and d["snapshot"]["band"] == "red"
    assert [(m["measure"], m["label"]) for m in d["snapshot"]["measures"]] == [
        ("active_user_ratio", "Active seats"), ("open_tickets", "Open")]
    assert d["deltas"] == {"7d": -15, "30d": -40, "90d": None}
    never = read.account(r, C, "A5")
    assert never["snapshot"] is None and never["account"]["name"] == "Never Scored"
    with pytest.raises(NotFound, match="no account 'NOPE'"):
        read.account(r, C, "NOPE")
    change = read.why(r, C, "A1")
    assert (change["start"], change["end"]) == (D - timedelta(30), D)
    assert change["delta"] == -40
    assert [(c.label, c.points) for c in change["contributions"]] == [
        ("Active seats", -30), ("Open", -10)]
    assert sum(c.points for c in change["contributions"]) == change["delta"]
    # the same with the window's points passed in (the account page), and with both dates
    pts = read.trend(r, C, "A1", days=90)["points"]
    assert read.why(r, C, "A1", end=D, window=pts) == change
    assert read.why(r, C, "A1", start=D - timedelta(30), end=D) == change
    # A3 has a snapshot 7 days before D only: the window starts there.
    assert read.why(r, C, "A3")["start"] == D - timedelta(7)
    with pytest.raises(NotFound, match="no health snapshot of .A5.*no score yet"):
        read.why(r, C, "A5")
    history = read.trend(r, C, "A1", days=90)
    assert [p["score"] for p in history["points"]] == [70, 45, 30]
    assert history["band_changes"][0]["to"] == "red" and history["end"] == D
    assert history["deltas"] == d["deltas"]


def test_a_churned_account_says_so(r):
    """A6 churned on D-20 (2026-06-10) and was last scored on D-30 (2026-05-31)."""
    d = read.account(r, C, "A6")
    assert (d["churned_on"], d["last_scored"], d["as_of"]) == (
        D - timedelta(20), D - timedelta(30), D - timedelta(30))
    assert d["snapshot"]["score"] == 20
    before = read.account(r, C, "A6", D - timedelta(25))
    assert before["churned_on"] is None  # not churned yet then
    with pytest.raises(NotFound) as err:
        read.explain(r, C, "A6", D)
    assert err.value.message == "A6 churned on 2026-06-10, last scored on 2026-05-31"
    assert "2026-05-31" in err.value.hint
    with pytest.raises(NotFound, match="A6 churned on 2026-06-10, last scored on 2026-05-31"):
        read.trend(r, C, "A6", days=7)
    t = read.trend(r, C, "A6", days=40)  # its last 40 days to D hold its last score
    assert (t["end"], t["last_scored"], t["churned_on"]) == (D, D - timedelta(30),
                                                             D - timedelta(20))
    assert [p["score"] for p in t["points"]] == [20] and t["deltas"]["7d"] is None
    assert read.trend(r, C, "A1", days=40)["churned_on"] is None
    assert read.explain(r, C, "A6", D - timedelta(30))["score"] == 20
    with pytest.raises(NotFound, match="not scored|last scored on 2026-06-23"):
        read.explain(r, C, "A3", D - timedelta(1))


def test_activity_and_manual_inputs_newest_first(store_ws):
    with store_ws.store() as store:
        for k in range(7):
            store.con.execute(
                "INSERT INTO touchpoints (account_id, kind, occurred_at, author) "
                "VALUES ('A1', 'call', ?, 'ann')", [datetime(2026, 6, 1 + k)])
        manual.add_pulse(store, account_id="A1", value=2, author="ann", comment="quiet",
                         at=NOW, expires_at=None)
    with read.open_reader(store_ws) as r:
        act = read.activity(r, "A1", limit=3)
        assert [t["occurred_at"].day for t in act["touchpoints"]] == [7, 6, 5]
        assert act["tickets"] == [] and act["invoices"] == [] and act["surveys"] == []
        assert read.activity(r, "A2")["touchpoints"] == []
        with pytest.raises(InputError):
            read.activity(r, "A1", limit=0)
        assert [p["value"] for p in read.manual_inputs(r, "A1")["pulses"]] == [2]


def test_movers_reason_in_words(r):
    found = read.movers(r, C)
    assert [row["account_id"] for row in found["drops"]] == ["A1"]
    assert found["drops"][0]["reason"] == "Active seats 0.8 → 0.2 (−30.0)"
    none = read.movers(r, C, days=3)  # no snapshot on D-3 to compare with
    assert none == {"end": D, "start": D - timedelta(3), "drops": [], "rises": []}


def test_scorecards_shares_add_up(store_ws):
    """The demo's health scorecard: within each variant the measures' shares sum to 1."""
    import shutil
    from importlib import resources

    demo = resources.files("healthscore.demo") / "scorecards"
    target = store_ws.root / "scorecards"
    target.mkdir()
    for name in ("health.yaml", "expansion.yaml"):
        shutil.copy(str(demo / name), target / name)
    with read.open_reader(store_ws) as r:
        cards = read.scorecards(r, store_ws.scorecards())
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
    assert read.card(store_ws).name == "health"
    with pytest.raises(InputError, match="scorecard: no scorecard named 'nope'"):
        read.card(store_ws, "nope")


def test_an_account_on_an_earlier_date_shows_its_attributes_then(store_ws, ws):
    """A1's ARR changed to 99,999 in a CRM export ingested a day after D: its page on D shows
    the 10,000 it had then (as the scores saw it); without a date, the current 99,999."""
    from read_store import ACCOUNTS

    ws.file("data/accounts.csv", ACCOUNTS.replace("A1,Acme,business,smb,10000",
                                                  "A1,Acme,business,smb,99999"))
    ws.ingest(now=NOW + timedelta(days=1))
    with read.open_reader(store_ws) as r:
        assert read.account(r, C, "A1", D)["account"]["arr"] == 10000
        assert read.account(r, C, "A1")["account"]["arr"] == 99999
        assert read.attributes(r, "A1", D - timedelta(days=400))["arr"] == 10000  # first one
