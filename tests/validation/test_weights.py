"""Weights from the data (healthscore.validation.weights): the fit's constraints as
properties, an oracle history whose best weighting is known, the split in time that never lets
a label after --train-until into the fit, the suggested file, and the CLI end to end."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from healthscore import read
from healthscore.cli import app as cli
from healthscore.config.rewrite import set_values
from healthscore.config.scorecard import load_scorecard
from healthscore.errors import NotFound
from healthscore.validation.fit import NEGLIGIBLE, fit_weights
from healthscore.validation.weights import split, suggest_weights
from history_rows import drop_values
from oracle_history import D0, DATES, SCORECARD

# -- the fit, pure -----------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 6), n=st.integers(30, 200),
       floor=st.sampled_from([0.0, 0.05, 0.1]), rises=st.booleans())
def test_the_fit_respects_its_constraints(seed, m, n, floor, rises):
    """Whatever the data: shares are non-negative, sum to 1, keep their floors, stay 0 where
    not allowed, and no share is left between 0 and the negligible threshold."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, (n, m))
    x[rng.random((n, m)) < 0.2] = np.nan
    event = rng.random(n) < 0.3
    event[:2] = [True, False]
    allowed = rng.random(m) < 0.8
    allowed[0] = True
    floors = np.where(rng.random(m) < 0.5, floor, 0.0)
    f = fit_weights(x, event, rises=rises, floors=floors, allowed=allowed)
    w = f.weights
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert (w >= 0).all()
    assert (w[~allowed] == 0).all()
    assert (w[allowed] >= floors[allowed] - 1e-9).all()
    assert not ((w > 0) & (w < NEGLIGIBLE) & (floors == 0)).any()


def test_the_fit_finds_the_one_measure_that_matters():
    """Churn follows a low first measure only (P = 1 when its score is under 40, else 0); the
    second is noise: the fit gives the first (nearly) the whole score."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 100, (600, 2))
    churn = x[:, 0] < 40
    f = fit_weights(x, churn)
    assert f.weights[0] > 0.95 and f.converged
    expanded = fit_weights(x, x[:, 1] > 70, rises=True)  # a high second measure, expansion
    assert expanded.weights[1] > 0.95


# -- the split in time -------------------------------------------------------------------

def test_split_keeps_training_labels_before_the_check():
    """Dates every 15 days from D0 (25 of them), horizon 90: with --train-until D0 + 200, the
    training dates are those whose horizon ends by then (d + 90 <= D0 + 200: d <= D0 + 110,
    8 dates: 0, 15, …, 105) and the check takes the dates after it (D0 + 210 …, 11 dates)."""
    train, valid, until = split(DATES, 90, D0 + timedelta(days=200))
    assert until == D0 + timedelta(days=200)
    assert train == DATES[:8] and valid == DATES[14:]
    # default: the latest split leaving a third (9 of 25) of the dates to the check
    train, valid, until = split(DATES, 90, None)
    assert len(valid) >= 9 and max(train) + timedelta(days=90) <= until < min(valid)
    with pytest.raises(NotFound, match="too few"):
        split(DATES[:3], 90, None)


def test_suggested_weights_find_the_signal_and_beat_the_file_later(oracle):
    """Only the activity measure carries churn: the suggestion puts (nearly) all the weight on
    it, says the tickets measure has no support, and on the later dates it ranks churn better
    than the 50/50 file."""
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r:
        s = suggest_weights(r, loaded, horizon=90, resamples=50)
    by = {x["measure"]: x for x in s.summary["measures"]}
    assert by["days_since_last_activity"]["new_share"] > 0.9
    assert by["open_tickets"]["new_share"] < 0.1
    if by["open_tickets"]["new_share"] == 0:
        assert by["open_tickets"]["note"].startswith("no support")
    check = s.summary["check"]
    assert check["after"]["auc"] > check["before"]["auc"]
    assert s.summary["train"]["auc_after"] > s.summary["train"]["auc_before"]
    assert max(s.summary["train"]["dates"]["last"] + timedelta(days=90),
               date.min) <= s.summary["train_until"] < check["dates"]["first"]
    # the file: the user's own, only the weights and bands changed, comments kept
    assert "# the two signals" in s.text
    new = {g["group"]: g["new_weight"] for g in s.summary["groups"]}
    assert f"weight: {new['usage']:g}" in s.text
    assert s.new_version != s.version and "+bands: {red:" in s.diff


def test_labels_after_train_until_never_reach_the_fit(oracle, ws):
    """Flip every outcome dated after --train-until (churned <-> renewed): the fitted weights
    are the same to the last digit; only the check on later dates changes."""
    until = D0 + timedelta(days=220)
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r:
        first = suggest_weights(r, loaded, horizon=90, train_until=until, resamples=20)
    with oracle.store() as store:
        store.con.execute("UPDATE renewals SET outcome = CASE outcome WHEN 'churned' THEN "
                          "'renewed' ELSE 'churned' END WHERE renewal_date > ?", [until])
    with read.open_reader(oracle) as r:
        second = suggest_weights(r, loaded, horizon=90, train_until=until, resamples=20)
    shares = [(x["measure"], x["new_share"]) for x in first.summary["measures"]]
    assert shares == [(x["measure"], x["new_share"]) for x in second.summary["measures"]]
    assert first.text == second.text
    assert first.summary["check"]["before"]["events"] != \
        second.summary["check"]["before"]["events"]


def test_actionable_measures_keep_their_floor(oracle):
    """The tickets measure marked actionable keeps 20 % of the score although it predicts
    nothing; the note says why."""
    (loaded,) = oracle.scorecards(["health"])
    path = loaded.path
    path.write_text(SCORECARD.replace("      open_tickets:\n",
                                      "      open_tickets:\n        actionable: true\n"))
    (loaded,) = oracle.scorecards(["health"])
    assert loaded.scorecard.version == read.card(oracle, "health").version  # no score change
    with read.open_reader(oracle) as r:
        s = suggest_weights(r, loaded, horizon=90, floor=0.2, resamples=20)
    by = {x["measure"]: x for x in s.summary["measures"]}
    assert by["open_tickets"]["new_share"] == pytest.approx(0.2, abs=1e-6)
    assert "kept at the floor of 20%" in by["open_tickets"]["note"]


def test_too_few_churners_says_how_many_are_needed(oracle):
    """One churner left: its churn labels the observations of the 90 days before it (at most
    6 sample dates 15 days apart), too few to fit on."""
    with oracle.store() as store:
        store.con.execute("UPDATE renewals SET outcome = 'renewed' WHERE outcome = 'churned' "
                          "AND account_id <> (SELECT min(account_id) FROM renewals "
                          "WHERE outcome = 'churned')")
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r, pytest.raises(
            NotFound, match=r"only \d churned .* training period .* fitting the weights needs "
                            r"at least 20 of each"):
        suggest_weights(r, loaded, horizon=90)


def test_set_values_keeps_comments_and_adds_missing_keys(tmp_path):
    text = set_values(SCORECARD, {("groups", "usage", "weight"): 80,
                                  ("groups", "usage", "measures", "days_since_last_activity",
                                   "weight"): 80.0, ("bands", "red"): 35})
    assert "# the two signals" in text and "bands: {red: 35, yellow: 60}" in text
    path = tmp_path / "h.yaml"
    path.write_text(text)
    sc = load_scorecard(path).scorecard
    assert sc.groups["usage"].weight == 80
    assert sc.groups["usage"].measures["days_since_last_activity"].weight == 80
    assert sc.groups["support"].weight == 50
    with pytest.raises(KeyError, match="parent"):
        set_values(SCORECARD, {("nothing", "here", "weight"): 1})


def test_cli_prints_the_check_and_the_diff_and_writes_only_when_asked(oracle, tmp_path):
    root = str(oracle.root)
    result = CliRunner().invoke(cli, ["suggest-weights", "-w", root, "--horizon", "90"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Backtest on the later dates" in out and "suggested" in out
    assert "+bands: {red:" in out and "Nothing was written" in out
    target = tmp_path / "health-suggested.yaml"
    result = CliRunner().invoke(cli, ["suggest-weights", "-w", root, "--write", str(target)])
    assert result.exit_code == 0, result.output
    assert load_scorecard(target).scorecard.name == "health"
    again = CliRunner().invoke(cli, ["suggest-weights", "-w", root, "--write", str(target)])
    assert again.exit_code == 2 and "exists" in again.output and "--force" in again.output


def test_scores_stored_without_their_measures_are_named(oracle):
    """Snapshots whose per-measure rows are gone (a store written by another tool, or
    trimmed): suggest-weights and predict say so and how to rescore, instead of failing."""
    from healthscore.validation.predict import predict

    with oracle.store() as store:
        drop_values(store.con)
    (loaded,) = oracle.scorecards(["health"])
    with read.open_reader(oracle) as r:
        for fit in (suggest_weights, predict):
            with pytest.raises(NotFound, match="hold no measure values") as caught:
                fit(r, loaded, horizon=90)
            assert "--force" in caught.value.hint
