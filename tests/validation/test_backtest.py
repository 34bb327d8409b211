"""The backtest (healthscore.validation) on a tiny hand-built history whose answers are written
out here, property tests of its metrics, and the CLI end to end."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from conftest import NOW
from healthscore import read
from healthscore.cli import app as cli
from healthscore.errors import NotFound
from healthscore.read import Card
from healthscore.validation import metrics as m
from healthscore.validation.backtest import backtest
from history_rows import store_measures, store_version

D = date(2026, 1, 1)
SCORECARD = """\
name: health
bands: {red: 40, yellow: 65}
groups:
  usage:
    weight: 1
    measures:
      days_since_last_activity:
        scoring: {linear: {from: 60, to: 0}}
"""

ACCOUNTS = "account_id,name,arr,contract_start\n" + "".join(
    f"B{i},Account {i},{1000 * i},2025-01-01\n" for i in range(1, 11))
# What happened in (D, D + 90]: B1, B2, B4 churned; B3, B5, B7 renewed; B6 contracted; B8
# expanded; B9 nothing (censored); B10 only later, on D + 120 (outside: censored).
RENEWALS = """account_id,renewal_date,outcome
B1,2026-02-01,churned
B2,2026-03-15,churned
B3,2026-02-10,renewed
B4,2026-03-31,churned
B5,2026-01-20,renewed
B6,2026-02-20,contracted
B7,2026-03-01,renewed
B8,2026-01-05,expanded
B10,2026-05-01,churned
"""


@pytest.fixture
def history(ws):
    """B1..B10 scored on D with 10, 20, ..., 100 (red below 40, yellow below 65)."""
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.file("data/renewals.csv", RENEWALS)
    ws.config("crm:\n  table: accounts\n  path: data/accounts.csv\n",
              "renewals:\n  table: renewals\n  path: data/renewals.csv\n")
    ws.file("scorecards/health.yaml", SCORECARD)
    ws.ingest()
    workspace = ws.open()
    version = read.card(workspace, "health").version
    with workspace.store() as store:  # the scores, by hand (a seam we own)
        for i in range(1, 11):
            score = 10.0 * i
            band = "red" if score < 40 else "yellow" if score < 65 else "green"
            store.con.execute("INSERT INTO snapshots VALUES ('health', ?, ?, ?, 'base', ?, ?, "
                              "'C', 1.0, 1, ?)", [version, D, f"B{i}", score, band, NOW])
        store.rebuild_series()
    return workspace


@pytest.fixture
def C(history) -> Card:
    return read.card(history, "health")


def test_a_hand_built_history_gives_the_written_out_answers(history, C):
    """Labelled: B1..B8 (B9, B10 censored); churners B1, B2, B4. Risk = 100 - score:
    churners 90, 80, 60; the others 70, 50, 40, 30, 20. Of the 3 x 5 = 15 pairs the churner is
    riskier in 5 + 5 + 4 = 14 (60 < 70): AUC 14/15. Bands: red B1-B3 2/3 churned, yellow
    B4-B6 1/3, green B7-B8 0/2. Red flags 3, hits 2: precision 2/3, recall 2/3; red or yellow
    flags 6, hits 3: precision 1/2, recall 1. Eight observations in ten deciles: the top decile
    is B1 alone, churn rate 1 over 3/8 overall: lift 8/3, 1 of 3 churners, ARR 1,000 of the
    churned 1,000 + 2,000 + 4,000."""
    with read.open_reader(history) as r:
        b = backtest(r, C, horizon=90, start=D, end=D, every=30, resamples=50)
    s = b.summary
    assert (s["labelled"], s["events"], s["censored"], s["contracted"]) == (8, 3, 2, 1)
    assert s["auc"] == pytest.approx(14 / 15, abs=1e-12)
    assert s["gini"] == pytest.approx(2 * 14 / 15 - 1)
    assert [(x["band"], x["accounts"], x["events"]) for x in s["bands"]] == [
        ("red", 3, 2), ("yellow", 3, 1), ("green", 2, 0)]
    assert s["bands"][0]["event_arr"] == 3000 and s["bands_ordered"] is True
    assert (s["flag"]["precision"], s["flag"]["recall"]) == (pytest.approx(2 / 3),
                                                           pytest.approx(2 / 3))
    assert (s["flag_wide"]["precision"], s["flag_wide"]["recall"]) == (0.5, 1.0)
    assert s["deciles"][0] == {"decile": 1, "accounts": 1, "events": 1, "event_rate": 1.0,
                               "lift": pytest.approx(8 / 3)}
    assert s["top_share_of_events"] == pytest.approx(1 / 3)
    assert s["top_share_of_event_arr"] == pytest.approx(1000 / 7000)
    assert any("leakage" in w for w in s["warnings"])  # 0.93 is too good to be true
    assert any("only 3 churned among 8" in w for w in s["warnings"])
    lo, hi = s["auc_interval"]
    assert lo <= s["auc"] <= hi <= 1


def test_expansion_is_tested_against_expansions_with_a_high_score_as_the_flag(history, C):
    """Against expansion the same history reads the other way. Labelled: B1..B8 (a churn is an
    outcome too: B1, B2, B4 did not expand); the one event is B8 (expanded Jan 5, scored 80).
    The rank is the score itself: B8 outranks all 7 others, AUC 7/7 = 1. Bands: green B7-B8
    1 of 2 expanded, yellow 0 of 3, red 0 of 3: the rate rises from red to green. Green flags 2,
    hits 1: precision 1/2, recall 1; green or yellow flags 5: precision 1/5. The top decile is
    B8 alone: lift 1 / (1/8) = 8, all of the expanded ARR (8,000). Lead time: B8 was green on
    D, 4 days before it expanded."""
    with read.open_reader(history) as r:
        b = backtest(r, C, horizon=90, start=D, end=D, resamples=20, target="expansion")
    s = b.summary
    assert b.target == "expansion" and s["target"]["flag"] == "green"
    assert (s["labelled"], s["events"], s["censored"]) == (8, 1, 2)
    assert s["auc"] == 1.0
    assert [(x["band"], x["accounts"], x["events"]) for x in s["bands"]] == [
        ("red", 3, 0), ("yellow", 3, 0), ("green", 2, 1)]
    assert s["bands_ordered"] is True and s["bands"][2]["event_arr"] == 8000
    assert (s["flag"]["precision"], s["flag"]["recall"]) == (0.5, 1.0)
    assert (s["flag_wide"]["flagged"], s["flag_wide"]["precision"]) == (5, 0.2)
    assert s["deciles"][0]["lift"] == pytest.approx(8.0)
    assert s["top_share_of_event_arr"] == 1.0
    lead = s["lead_time"]
    assert (lead["events"], lead["ever_flagged"], lead["median_days_from_first_flag"]) == \
        (1, 1, 4)
    assert b.observations.loc[b.observations["event"], "account_id"].tolist() == ["B8"]
    assert any("only 1 expanded among 8" in w for w in s["warnings"])
    assert s["calibration"]["fit"]["method"] == "logistic regression of expansion on score"


def test_a_scorecard_that_predicts_expansion_is_backtested_against_it(history):
    """`predicts: expansion` picks the target (no --target needed) and leaves the version —
    the hash of what the score means — unchanged: the stored snapshots still match."""
    before = read.card(history, "health").version
    (history.root / "scorecards" / "health.yaml").write_text(
        SCORECARD.replace("bands:", "predicts: expansion\nbands:"), encoding="utf-8")
    C = read.card(history, "health")
    assert C.version == before
    with read.open_reader(history) as r:
        s = backtest(r, C, start=D, end=D, resamples=10).summary
        assert s["target"]["name"] == "expansion" and s["events"] == 1
        assert backtest(r, C, start=D, end=D, resamples=10,
                        target="churn").summary["events"] == 3
    result = CliRunner().invoke(cli, ["backtest", "-w", str(history.root), "--from",
                                      "2026-01-01", "--to", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "against expansion within 90 days" in result.output
    assert "Expansion by band" in result.output and "Green flags: precision 50.0%" in \
        result.output
    result = CliRunner().invoke(cli, ["backtest", "-w", str(history.root), "--target", "upsell"])
    assert result.exit_code != 0 and "churn or expansion" in result.output


def test_retention_lead_time_and_calibration_of_the_hand_built_history(history, C):
    """Days to churn: B1 31 (Feb 1), B2 73 (Mar 15), B4 89 (Mar 31); the others are censored at
    90. Kaplan-Meier, red (B1, B2, B3): 2/3 after day 31, 2/3 x 1/2 = 1/3 after day 73; yellow
    (B4, B5, B6): 2/3 after day 89; green: 1. Lead time: the churns after D up to D + 90 are B1,
    B2, B4, each scored once, on D: B1 and B2 red 31 and 73 days ahead (median 52), B4 yellow;
    red at least 60 days ahead: B2 only, 1 of 3. Calibration: the Brier score is the mean
    squared gap of the fitted probabilities; a constant guess scores 3/8 x 5/8."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    with read.open_reader(history) as r:
        s = backtest(r, C, horizon=90, start=D, end=D, every=30, resamples=20).summary
    km = {b["band"]: b["without_event"] for b in s["survival"]["bands"]}
    assert km["red"] == {"30": 1.0, "60": pytest.approx(2 / 3), "90": pytest.approx(1 / 3)}
    assert km["yellow"] == {"30": 1.0, "60": 1.0, "90": pytest.approx(2 / 3)}
    assert km["green"] == {"30": 1.0, "60": 1.0, "90": 1.0}
    days = [31, 73, 90, 89, 90, 90, 90, 90]
    event = [1, 1, 0, 1, 0, 0, 0, 0]
    bands = ["red"] * 3 + ["yellow"] * 3 + ["green"] * 2
    red = KaplanMeierFitter().fit(days[:3], event[:3])
    assert s["survival"]["bands"][0]["curve"]["without_event"] == pytest.approx(
        list(red.survival_function_.iloc[:, 0]))
    assert s["survival"]["logrank"]["p_value"] == pytest.approx(
        multivariate_logrank_test(days, bands, event).p_value)
    lead = s["lead_time"]
    assert (lead["events"], lead["ever_flagged"], lead["median_days_from_first_flag"]) == (3, 2, 52)
    assert lead["flagged_ahead"] == {"60": pytest.approx(1 / 3), "90": 0.0}
    assert lead["median_days_from_first_move"] is None  # one score each: no drop to see
    cal = s["calibration"]
    assert cal["brier_constant"] == pytest.approx(3 / 8 * 5 / 8)
    fit = cal["fit"]
    risk = np.array([90, 80, 70, 60, 50, 40, 30, 20.0])
    p = 1 / (1 + np.exp(-(fit["intercept"] + fit["slope"] * risk)))
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert cal["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert cal["brier"] < cal["brier_constant"] and fit["slope"] > 0
    assert [b["name"] for b in s["baselines"]] == ["scorecard", "usage only", "recency only"]
    assert s["baselines"][0]["auc"] == pytest.approx(14 / 15)
    assert s["baselines"][1]["note"] == "no usage measure scores stored on the sample dates"


def test_the_baselines_read_the_usage_measures_and_the_days_since_last_activity(history, C):
    """With the measure stored (a seam we own): days since the last activity 50, 45, 40, 55,
    30, 25, 20, 15 for B1..B8 (B4 idle longest), scored linearly 60 → 0 days. Recency alone
    against churn: the churners B1 50, B2 45, B4 55 against 40, 30, 25, 20, 15: every pair
    right, AUC 1 (the scorecard, whose stored scores rank B4 below B3, has 14/15). The usage
    measures alone (here the one usage measure: its score, 100 x (60 - days) / 60) rank the
    same way: AUC 1. Against expansion the idle days read the other way: B8, the one expander,
    was idle least: AUC 1."""
    days = {1: 50, 2: 45, 3: 40, 4: 55, 5: 30, 6: 25, 7: 20, 8: 15, 9: 10, 10: 5}
    with history.store() as store:
        store_version(store.con, history.scorecards(["health"])[0].scorecard, now=NOW)
        store_measures(store.con, [("health", C.version, D, f"B{i}", "usage",
                                    "days_since_last_activity", d) for i, d in days.items()])
    with read.open_reader(history) as r:
        churn = {b["name"]: b for b in backtest(r, C, start=D, end=D,
                                                 resamples=10).summary["baselines"]}
        grow = {b["name"]: b for b in backtest(r, C, start=D, end=D, resamples=10,
                                                target="expansion").summary["baselines"]}
    assert churn["scorecard"]["auc"] == pytest.approx(14 / 15)
    assert churn["recency only"]["auc"] == 1.0 and churn["usage only"]["auc"] == 1.0
    assert churn["usage only"]["measures"] == ["days_since_last_activity"]
    assert grow["recency only"]["auc"] == 1.0 and grow["usage only"]["labelled"] == 8


def test_missing_dates_and_missing_outcomes_say_what_to_do(history, C):
    with read.open_reader(history) as r, pytest.raises(NotFound) as err:
        backtest(r, C, start=D, end=date(2026, 3, 1), every=30)
    # sample dates D, D+30 (2026-01-31); D+60 is past --to
    assert "1 of the 2 sample dates have no health snapshot" in err.value.message
    assert "healthscore backfill --from 2026-01-31 --to 2026-01-31 --step 30" in err.value.hint
    with history.store() as store:
        store.con.execute("DELETE FROM renewals")
    with read.open_reader(history) as r, pytest.raises(NotFound) as err:
        backtest(r, C)
    assert "the renewals table is empty" in err.value.message
    assert "renewal_date" in err.value.hint and "outcome" in err.value.hint


def test_at_renewal_scores_each_renewal_n_days_before_it(history, C):
    """Scored only on D: with --at-renewal 31 the one renewal 31 days after D is B1's (Feb 1,
    churned): one observation, labelled by that renewal. With 10 days, the renewals from
    Jan 5 to Mar 31 need scores on Dec 26 .. Mar 21, which are missing: named, with the
    backfill that makes them."""
    with read.open_reader(history) as r:
        s = backtest(r, C, renewal_days=31, start=D, end=D, resamples=10).summary
        assert (s["labelled"], s["events"], s["at_renewal"]) == (1, 1, 31)
        assert s["auc"] != s["auc"]  # one class: no AUC, and the report says so
        assert any("only 1 churned among 1" in w for w in s["warnings"])
        with pytest.raises(NotFound) as err:
            backtest(r, C, renewal_days=10, start=date(2025, 12, 1), end=date(2026, 3, 31))
    assert "dates 10 days before a renewal have no health snapshot" in err.value.message
    assert "8 of the 8" in err.value.message
    assert "healthscore backfill --from 2025-12-26 --to 2026-03-21" in err.value.hint


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 100, allow_nan=False)), min_size=2,
                max_size=40), st.randoms(use_true_random=False))
def test_auc_matches_sklearn_and_ignores_the_order_of_accounts(rows, rnd):
    y = np.array([a for a, _ in rows])
    risk = np.array([b for _, b in rows])
    value = m.auc(y, risk)
    if y.all() or not y.any():
        assert np.isnan(value)
        return
    assert value == pytest.approx(roc_auc_score(y, risk), abs=1e-9)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    assert m.auc(y[order], risk[order]) == pytest.approx(value, abs=1e-12)
    assert m.auc(y, risk * 0 + 7) == 0.5  # a constant score tells nothing
    assert m.auc(y, y.astype(float)) == 1.0  # a perfect one separates all


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20), st.integers(0, 3)), min_size=2,
                max_size=40))
def test_the_weighted_auc_of_the_bootstrap_matches_sklearn(rows):
    """The linear-time AUC with weights (a resample's counts) equals sklearn's with
    sample_weight, ties included."""
    y = np.array([a for a, _, _ in rows])
    risk = np.array([float(b) for _, b, _ in rows])
    w = np.array([c for _, _, c in rows])
    value = m.RankedRisk(y, risk).auc(w)
    if not (w * y).sum() or not (w * ~y).sum():
        assert np.isnan(value)
        return
    assert value == pytest.approx(roc_auc_score(y, risk, sample_weight=w), abs=1e-9)


def test_the_cli_prints_records_and_writes_json(history, tmp_path):
    out = tmp_path / "bt.json"
    result = CliRunner().invoke(cli, ["backtest", "-w", str(history.root), "--segment", "--from",
                                          "2026-01-01", "--to", "2026-01-01", "--json",
                                          str(out)])
    assert result.exit_code == 0, result.output
    assert "ROC AUC 0.933" in result.output and "Churn by band" in result.output
    assert "AUC per segment" in result.output and "2026Q1" in result.output
    data = json.loads(out.read_text())
    assert data["events"] == 3 and data["dates"]["first"] == "2026-01-01"
    with history.store(read_only=True) as store:
        kind, status, detail = store.con.execute(
            "SELECT kind, status, detail FROM runs ORDER BY run_id DESC LIMIT 1").fetchall()[0]
    assert (kind, status) == ("backtest", "ok") and json.loads(detail)["auc"] == \
        pytest.approx(14 / 15)
    assert "after 30 / 60 / 90 days (Kaplan" in result.output
    short = CliRunner().invoke(cli, ["backtest", "-w", str(history.root), "--from",
                                     "2026-01-01", "--to", "2026-01-01", "--horizon", "30"])
    assert "after 30 days (Kaplan" in short.output  # the curves end at the horizon


def test_python_api_and_rest_api_list_and_show_recorded_backtests(history):
    """hs.backtest records a run; GET /api/v1/backtests lists it with its headline metrics and
    /backtests/{id} returns every metric; another id is a 404 in the error shape."""
    from fastapi.testclient import TestClient

    import healthscore as hs
    from healthscore.server import create_app

    found = hs.backtest(history, "health", start=D, end=D)
    assert found.run_id and found.summary["events"] == 3
    client = TestClient(create_app(history.root), base_url="http://localhost")
    listed = client.get("/api/v1/backtests").json()
    assert listed["ok"] and [b["id"] for b in listed["backtests"]] == [found.run_id]
    assert listed["backtests"][0]["auc"] == pytest.approx(14 / 15)
    one = client.get(f"/api/v1/backtests/{found.run_id}").json()
    assert one["bands"][0]["events"] == 2 and one["horizon"] == 90
    missing = client.get("/api/v1/backtests/999")
    assert missing.status_code == 404 and missing.json()["ok"] is False
    assert client.get("/api/v1/backtests?scorecard=expansion").json()["backtests"] == []


def test_a_backtest_recorded_before_expansion_backtests_is_listed_and_asks_for_a_rerun(history):
    """A run whose detail has the old churn-only names (`churners`, no `target`) is listed as a
    churn backtest with its count; its page is a 404 that says to run it again."""
    from fastapi.testclient import TestClient

    import healthscore as hs
    from healthscore.server import create_app

    found = hs.backtest(history, "health", start=D, end=D)
    with history.store() as store:
        store.con.execute("UPDATE runs SET detail = ? WHERE run_id = ?", [json.dumps(
            {"scorecard": "health", "version": "v0", "churners": 3, "auc": 0.9}), found.run_id])
    client = TestClient(create_app(history.root), base_url="http://localhost")
    (row,) = client.get("/api/v1/backtests").json()["backtests"]
    assert (row["target"], row["events"], row["auc"]) == ({"name": "churn"}, 3, 0.9)
    one = client.get(f"/api/v1/backtests/{found.run_id}")
    assert one.status_code == 404
    assert "healthscore backtest -s health" in json.dumps(one.json())
