"""The churn model (healthscore.validation.model / predict): contributions that add up
exactly, features read point in time, an oracle history where one measure drives churn, no
label after --train-until in the fit, storage and the CLI end to end."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from healthscore import read
from healthscore.cli import app as cli
from healthscore.errors import NotFound
from healthscore.read.predictions import account_prediction
from healthscore.validation.model import FeatureFrame, fit_model
from healthscore.validation.predict import features, predict
from history_rows import drop_values
from oracle_history import D0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 4), missing=st.floats(0, 0.5))
def test_contributions_add_up_exactly_to_the_prediction(seed, m, missing):
    """For any data: base + the sum of the contributions is the model's log-odds (to float
    precision), the probability is its logistic, and the contributions average 0 over the
    rows the model was fitted on (an average account is the base)."""
    rng = np.random.default_rng(seed)
    n = 300
    values = {part: rng.normal(0, 1, (n, m)) for part in ("value", "change_30d", "change_90d")}
    for v in values.values():
        v[rng.random((n, m)) < missing] = np.nan
    f = FeatureFrame([f"g.m{j}" for j in range(m)], values)
    event = rng.random(n) < 0.3
    event[:2] = [True, False]
    model = fit_model(f, event, penalty=3.0)
    c = model.contributions(f)
    logit = model.logit(f)
    assert np.allclose(model.base + c.sum(axis=1), logit, atol=1e-12)
    assert np.allclose(model.probability(f), 1 / (1 + np.exp(-logit)))
    assert np.allclose(c.mean(axis=0), 0, atol=1e-9)


def test_features_read_values_and_changes_on_the_right_dates():
    """Account A on day 100: value 7; on day 70 it was 4 (change over 30 days 7 - 4 = 3); on
    day 10 nothing is stored (change over 90 days unknown). The second measure has no value."""
    d = date(2026, 4, 10)
    values = pd.DataFrame({
        "account_id": ["A", "A", "A", "B"],
        "as_of": [d, d - timedelta(days=30), d - timedelta(days=31), d],
        "group": ["g", "g", "g", "g"], "measure": ["x", "x", "x", "x"],
        "raw_value": [7.0, 4.0, 1.0, 2.0]})
    keys = pd.DataFrame({"account_id": ["A", "B", "C"], "as_of": [d, d, d]})
    f = features(values, keys, ["g.x", "g.y"])
    assert f.values["value"][:, 0].tolist()[:2] == [7.0, 2.0]
    assert np.isnan(f.values["value"][2, 0]) and np.isnan(f.values["value"][:, 1]).all()
    assert f.values["change_30d"][0, 0] == 3.0
    assert np.isnan(f.values["change_90d"][0, 0]) and np.isnan(f.values["change_30d"][1, 0])


def test_the_model_finds_the_measure_that_drives_churn(oracle):
    """Churn follows low activity only: on the later dates the model ranks churn at least as
    well as the 50/50 score, and for the account it finds riskiest, activity is the largest
    reason."""
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r:
        p = predict(r, loaded, horizon=90, resamples=20)
    check = p.summary["check"]
    assert check["model"]["auc"] >= check["score"]["auc"]
    assert check["model"]["auc"] > 0.75
    riskiest = int(np.argmax(p.rows["logit"].to_numpy()))
    c = p.contributions[riskiest]
    assert p.measures[int(np.argmax(np.abs(c)))] == "usage.days_since_last_activity"
    assert np.allclose(p.summary["base"] + p.contributions.sum(axis=1), p.rows["logit"])
    assert (p.rows["in_sample"] == (p.rows["as_of"] <= p.summary["train_until"])).all()


def test_labels_after_train_until_never_reach_the_model(oracle):
    """Flip every outcome after --train-until: the model (its version, its probabilities) is
    the same; only the check on later dates changes."""
    until = D0 + timedelta(days=220)
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r:
        first = predict(r, loaded, horizon=90, train_until=until, resamples=10, penalty=3.0)
    with oracle.store() as store:
        store.con.execute("UPDATE renewals SET outcome = CASE outcome WHEN 'churned' THEN "
                          "'renewed' ELSE 'churned' END WHERE renewal_date > ?", [until])
    with read.open_reader(oracle) as r:
        second = predict(r, loaded, horizon=90, train_until=until, resamples=10, penalty=3.0)
    assert first.model_version == second.model_version
    assert np.array_equal(first.rows["probability"], second.rows["probability"])
    assert first.summary["check"]["events"] != second.summary["check"]["events"]


def test_too_few_churners_for_the_model(oracle):
    with oracle.store() as store:
        store.con.execute("UPDATE renewals SET outcome = 'renewed'")
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r, pytest.raises(NotFound, match="the model needs at least 20"):
        predict(r, loaded, horizon=90)


def test_cli_stores_predictions_and_explains_an_account(oracle):
    root = str(oracle.root)
    result = CliRunner().invoke(cli, ["predict", "-w", root, "--penalty", "3"])
    assert result.exit_code == 0, result.output
    assert "Checked on" in result.output and "the score" in result.output
    with oracle.store(read_only=True) as store:
        stored = store.con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]
        snapshots = store.con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0]
        run = store.con.execute("SELECT kind, status FROM runs ORDER BY run_id DESC "
                                "LIMIT 1").fetchall()[0]
    assert stored == snapshots and run == ("predict", "ok")
    with read.open_reader(oracle) as r:
        card = read.card(oracle, "health")
        found = account_prediction(r, card, "A000")
    total = sum(x["contribution"] for x in found["contributions"])
    assert found["base"] + total == pytest.approx(found["logit"], abs=1e-9)
    explained = CliRunner().invoke(cli, ["predict", "-w", root, "--explain", "A000"])
    assert explained.exit_code == 0, explained.output
    assert "P(churn within 90 days)" in explained.output
    assert "the churn odds" in explained.output
    missing = CliRunner().invoke(cli, ["predict", "-w", root, "--explain", "NOPE"])
    assert missing.exit_code == 1 and "no churn prediction for account 'NOPE'" in missing.output


def test_a_date_without_measure_rows_is_not_predicted_and_named(oracle):
    """A scored date whose snapshot holds no per-measure rows has no features: predict
    stores nothing for it (never a probability from nothing), names it and says how to
    rescore it; every other date is predicted."""
    with oracle.store() as store:
        last = store.con.execute("SELECT max(as_of) FROM snapshots").fetchall()[0][0]
        drop_values(store.con, last)
    result = CliRunner().invoke(cli, ["predict", "-w", str(oracle.root), "--penalty", "3"])
    assert result.exit_code == 0, result.output
    assert f"Not predicted: 1 scored dates ({last} … {last})" in " ".join(result.output.split())
    assert "--force" in result.output
    with oracle.store(read_only=True) as store:
        dates = store.con.execute("SELECT count(DISTINCT as_of), max(as_of), count(*) FROM "
                                  "predictions").fetchall()[0]
        scored = store.con.execute("SELECT count(DISTINCT as_of), count(*) FROM snapshots "
                                   "WHERE as_of < ?", [last]).fetchall()[0]
    assert dates[0] == scored[0] and dates[1] < last and dates[2] == scored[1]


def test_the_api_the_account_page_and_the_backtest_show_the_model(oracle):
    """After `healthscore predict`: the API answers an account's probability with
    contributions that add up to its log-odds; the account page shows the probability and
    its reasons in words; the backtest sets the model beside the score, out of time only."""
    from fastapi.testclient import TestClient

    from healthscore.server import create_app
    from healthscore.validation.backtest import backtest

    assert CliRunner().invoke(cli, ["predict", "-w", str(oracle.root), "--penalty", "3"]
                              ).exit_code == 0
    client = TestClient(create_app(oracle.root), base_url="http://localhost")
    body = client.get("/api/v1/accounts/A000/prediction").json()
    assert body["ok"] and 0 < body["probability"] < 1
    assert body["base"] + sum(c["contribution"] for c in body["contributions"]) == \
        pytest.approx(body["logit"], abs=1e-9)
    assert body["history"][0]["as_of"] <= body["as_of"]
    missing = client.get("/api/v1/accounts/NOPE/prediction")
    assert missing.status_code == 404 and missing.json()["ok"] is False
    page = client.get("/accounts/A000").text
    assert 'id="prediction"' in page and "Churn probability" in page
    assert body["reasons"][0]["words"].split(" — ")[0] in page
    with read.open_reader(oracle) as r:
        b = backtest(r, read.card(oracle, "health"), horizon=90, every=15, resamples=20)
    model = next(x for x in b.summary["baselines"] if x["name"] == "churn model")
    assert model["auc"] is not None and model["labelled"] < b.summary["labelled"]
    assert model["note"].startswith("out of time")


def test_a_yes_no_measure_counts_in_the_model():
    """A two-valued measure (a champion in place or not) enters as one straight term: when
    churn follows it, its contributions are far from 0 and opposite for the two values."""
    rng = np.random.default_rng(3)
    yes = (rng.random(600) < 0.5).astype(float)
    values = {"value": np.c_[yes, rng.normal(0, 1, 600)],
              "change_30d": np.zeros((600, 2)), "change_90d": np.zeros((600, 2))}
    f = FeatureFrame(["relationship.champion_present", "g.noise"], values)
    churn = rng.random(600) < np.where(yes == 1, 0.1, 0.5)
    model = fit_model(f, churn, penalty=1.0)
    c = model.contributions(f)[:, 0]
    assert c[yes == 0].mean() > 0.5 and c[yes == 1].mean() < -0.5
