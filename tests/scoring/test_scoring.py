"""Scoring math: oracle tests with hand-computed numbers, and Hypothesis invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.config.scorecard import Bands, Scoring
from healthscore.scoring import Combined, band, combine, grade, score_values

nan = np.nan


def _scoring(spec: dict) -> Scoring:
    return Scoring.model_validate(spec)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.allclose(a, b, equal_nan=True, rtol=0, atol=1e-9)


# -- scoring functions -----------------------------------------------------------------------


def test_linear_rising_and_falling_are_clamped():
    """from 10 → 0, to 20 → 100: 12.5 is a quarter of the way; outside clamps; NaN stays NaN.
    Falling, from 30 → 0 to 0 → 100: 7.5 days is (30 − 7.5) / 30 = 75."""
    up = score_values(np.array([5, 10, 12.5, 20, 25, nan]), _scoring({"linear": {"from": 10, "to": 20}}))
    assert _same(up, [0, 0, 25, 100, 100, nan])
    down = score_values(np.array([0, 7.5, 30, 40, -1]), _scoring({"linear": {"from": 30, "to": 0}}))
    assert _same(down, [100, 75, 0, 0, 100])


def test_log_scores_each_tenfold_alike_either_way_and_clamps():
    """from 1 → 0, to 1,000 → 100: ln 10 / ln 1000 = 1/3, so 10 scores 33.3 and 100 scores 66.7;
    0 and 0.5 are at or below the smaller bound (1) and score 0; 5,000 clamps to 100; NaN stays.
    Falling, from 1,000 to 10: 100 is half way in log space (50); 1 is below 10 and scores 100."""
    up = score_values(np.array([0, 0.5, 1, 10, 100, 1000, 5000, nan]),
                      _scoring({"log": {"from": 1, "to": 1000}}))
    assert _same(up, [0, 0, 0, 100 / 3, 200 / 3, 100, 100, nan])
    down = score_values(np.array([1000, 100, 10, 1, -5]),
                        _scoring({"log": {"from": 1000, "to": 10}}))
    assert _same(down, [0, 50, 100, 100, 100])
    with pytest.raises(ValueError, match="greater than 0"):
        _scoring({"log": {"from": 0, "to": 10}})


@settings(max_examples=80, deadline=None)
@given(st.floats(0.01, 1e4), st.floats(0.01, 1e4),
       st.lists(st.floats(-10, 1e6, allow_nan=False), min_size=1, max_size=30))
def test_log_scoring_is_linear_scoring_of_the_logarithm(lo, hi, values):
    """For values above both bounds' minimum, log scoring equals linear scoring of ln(value)
    between ln(from) and ln(to); it stays within 0-100 and is monotone in the value."""
    if abs(np.log(hi) - np.log(lo)) < 1e-6:
        return
    v = np.array(values)
    got = score_values(v, _scoring({"log": {"from": lo, "to": hi}}))
    assert ((got >= 0) & (got <= 100)).all()
    above = v > min(lo, hi)
    lin = score_values(np.log(v[above]), _scoring({"linear": {"from": float(np.log(lo)),
                                                              "to": float(np.log(hi))}}))
    assert np.allclose(got[above], lin, atol=1e-9)
    order = np.argsort(v, kind="stable")
    steps = np.diff(got[order])
    assert (steps >= -1e-9).all() if hi > lo else (steps <= 1e-9).all()


def test_tiers_first_match_wins_and_no_match_is_missing():
    """Tiers ≥10 → 100, ≥5 → 60, ≤−1 → 0: 12 and 10 hit the first, 7 the second, −3 the third;
    0 matches none → NaN (missing); a catch-all tier last gives 0 its score (20)."""
    tiers = [{"at_least": 10, "score": 100}, {"at_least": 5, "score": 60},
             {"at_most": -1, "score": 0}]
    values = np.array([12, 10, 7, 0, -3, nan])
    assert _same(score_values(values, _scoring({"tiers": tiers})), [100, 100, 60, nan, 0, nan])
    with_default = _scoring({"tiers": [*tiers, {"score": 20}]})
    assert _same(score_values(values, with_default), [100, 100, 60, 20, 0, nan])


def test_percentile_within_groups_with_ties_and_missing():
    """Group a holds 10, 20, 20, 30 (the NaN is not ranked), so n = 4 and n − 1 = 3:
    10 → 0/3 = 0; each 20 → (1 lower + ½ × 1 other equal) / 3 = 50; 30 → 3/3 = 100.
    Groups b and c hold one account each → 50. Lower-is-better: 100 − those."""
    values = np.array([10, 20, 20, 30, nan, 5, 7])
    within = np.array(["a", "a", "a", "a", "a", "b", "c"], dtype=object)
    up = score_values(values, _scoring({"percentile": {"within": "segment"}}), within=within)
    assert _same(up, [0, 50, 50, 100, nan, 50, 50])
    down = score_values(values, _scoring({"percentile": {"higher_is_better": False}}),
                        within=within)
    assert _same(down, [100, 50, 50, 0, nan, 50, 50])


def test_percentile_whole_portfolio():
    """Without `within` all six values rank together (n − 1 = 5): 5 → 0, 7 → 1/5 = 20,
    10 → 2/5 = 40, each 20 → (3 + ½) / 5 = 70, 30 → 5/5 = 100."""
    values = np.array([10, 20, 20, 30, nan, 5, 7])
    got = score_values(values, _scoring({"percentile": {}}))
    assert _same(got, [40, 70, 70, 100, nan, 0, 20])


def test_percentile_missing_segment_is_its_own_group():
    """None and NaN labels form one group: 1 and 3 rank 0 and 100 there; "x" alone → 50."""
    within = np.array([None, "x", nan], dtype=object)
    got = score_values(np.array([1.0, 2.0, 3.0]), _scoring({"percentile": {}}), within=within)
    assert _same(got, [0, 50, 100])


def test_percentile_edge_cases():
    assert _same(score_values(np.array([nan, nan]), _scoring({"percentile": {}})), [nan, nan])
    assert _same(score_values(np.array([4.0, 4.0, 4.0]), _scoring({"percentile": {}})),
                 [50, 50, 50])  # (0 + ½ × 2) / 2 = 50
    with pytest.raises(ValueError, match="within"):
        score_values(np.array([1.0, 2.0]), _scoring({"percentile": {}}), within=np.array(["a"]))


def test_boolean():
    """Non-zero (1, −2) scores `true` = 90, zero scores `false` = 10, NaN stays missing."""
    got = score_values(np.array([1, 0, -2, nan]), _scoring({"boolean": {"true": 90, "false": 10}}))
    assert _same(got, [90, 10, 90, nan])


def test_map_by_text_form_and_unlisted_is_missing():
    """3.0 is looked up as "3", 0.5 as "0.5", 1.0 as "1"; 2 is unlisted → NaN; NaN stays NaN.
    A key written "4.0" or "1000000" still matches 4 and 1e6 (text "1e+06") by number."""
    table = {"0": 0, "1": 50, "3": 100, "0.5": 25, "4.0": 70, "1000000": 80}
    got = score_values(np.array([3.0, 0.5, 2, nan, 1, 4, 1e6, 0]), _scoring({"map": table}))
    assert _same(got, [100, 25, nan, nan, 50, 70, 80, 0])
    assert _same(score_values(np.array([], dtype=float), _scoring({"map": table})), [])


def test_values_must_be_one_dimensional():
    with pytest.raises(ValueError, match="one-dimensional"):
        score_values(np.zeros((2, 2)), _scoring({"boolean": {}}))


# -- combine: oracle -------------------------------------------------------------------------

# Two groups: usage (weight 2) holds a (weight 1) and b (weight 3); support (weight 1) holds c.
# Nominal weights: a = 2/3 × 1/4 = 1/6, b = 2/3 × 3/4 = 1/2, c = 1/3.
MW = np.array([1.0, 3.0, 1.0])
MG = np.array([0, 0, 1])
GW = np.array([2.0, 1.0])
RENORM = np.full(3, nan)


def test_combine_full_data():
    """80/6 + 40/2 + 50/3 = 13.33 + 20 + 16.67 = 50; usage = (80 + 3 × 40) / 4 = 50."""
    c = combine(np.array([[80.0, 40.0, 50.0]]), MW, MG, GW, RENORM)
    assert _same(c.score, [50])
    assert _same(c.coverage, [1])
    assert _same(c.weights, [[1 / 6, 1 / 2, 1 / 3]])
    assert _same(c.points, [[80 / 6, 20, 50 / 3]])
    assert _same(c.group_scores, [[50, 50]])
    assert _same(c.group_weights, [[2 / 3, 1 / 3]])


def test_combine_renormalises_inside_a_group():
    """b missing: a takes all of usage's 2/3 → 80 × 2/3 + 50 × 1/3 = 70.
    Coverage = a + c nominal = 1/6 + 1/3 = 0.5."""
    c = combine(np.array([[80.0, nan, 50.0]]), MW, MG, GW, RENORM)
    assert _same(c.score, [70])
    assert _same(c.coverage, [0.5])
    assert _same(c.weights, [[2 / 3, 0, 1 / 3]])
    assert _same(c.points, [[160 / 3, 0, 50 / 3]])
    assert _same(c.group_scores, [[80, 50]])


def test_combine_whole_group_missing():
    """c missing: support is left out, usage gets everything → 80/4 + 40 × 3/4 = 50.
    Coverage = 1/6 + 1/2 = 2/3; support's group score is NaN and its weight 0."""
    c = combine(np.array([[80.0, 40.0, nan]]), MW, MG, GW, RENORM)
    assert _same(c.score, [50])
    assert _same(c.coverage, [2 / 3])
    assert _same(c.weights, [[1 / 4, 3 / 4, 0]])
    assert _same(c.group_scores, [[50, nan]])
    assert _same(c.group_weights, [[1, 0]])


def test_combine_nothing_left():
    c = combine(np.array([[nan, nan, nan]]), MW, MG, GW, RENORM)
    assert np.isnan(c.score[0]) and c.coverage[0] == 0
    assert _same(c.weights, [[0, 0, 0]]) and _same(c.points, [[0, 0, 0]])
    assert _same(c.group_scores, [[nan, nan]]) and _same(c.group_weights, [[0, 0]])


def test_combine_fixed_score_keeps_weight_but_is_not_coverage():
    """c missing with a fixed 20: 80/6 + 40/2 + 20/3 = 13.33 + 20 + 6.67 = 40; coverage 2/3.
    Only c present-by-default, a and b missing (renormalise): usage is left out, support gets
    all → 20, with coverage 0 (no real data)."""
    fixed = np.array([nan, nan, 20.0])
    c = combine(np.array([[80.0, 40.0, nan], [nan, nan, nan], [80.0, 40.0, 50.0]]),
                MW, MG, GW, fixed)
    assert _same(c.score, [40, 20, 50])
    assert _same(c.coverage, [2 / 3, 0, 1])
    assert _same(c.weights[1], [0, 0, 1])


def test_combine_zero_weights_change_nothing():
    """Adding d (weight 0) to usage, a zero-weight group with e, and a weighted group whose
    only measure f weighs 0 leaves every number of the full-data case unchanged."""
    base = combine(np.array([[80.0, 40.0, 50.0], [80.0, nan, nan]]), MW, MG, GW, RENORM)
    c = combine(np.array([[80.0, 40.0, 50.0, 0.0, 0.0, 0.0], [80.0, nan, nan, 0.0, 100, 0.0]]),
                np.array([1.0, 3.0, 1.0, 0.0, 1.0, 0.0]), np.array([0, 0, 1, 0, 2, 3]),
                np.array([2.0, 1.0, 0.0, 5.0]), np.array([nan, nan, nan, 0.0, 0.0, 0.0]))
    assert _same(c.score, base.score) and _same(c.score, [50, 80])
    assert _same(c.coverage, base.coverage)
    assert _same(c.weights[:, :3], base.weights) and _same(c.weights[:, 3:], 0)
    assert _same(c.points[:, :3], base.points) and _same(c.points[:, 3:], 0)
    assert _same(c.group_scores[:, :2], base.group_scores) and np.isnan(c.group_scores[:, 2:]).all()
    assert _same(c.group_weights[:, :2], base.group_weights)


def test_combine_all_weights_zero_scores_nothing():
    c = combine(np.array([[50.0]]), np.array([0.0]), np.array([0]), np.array([1.0]),
                np.array([nan]))
    assert np.isnan(c.score[0]) and c.coverage[0] == 0


@pytest.mark.parametrize("args, match", [
    (dict(measure_weights=np.ones(2)), "measure_weights must have shape"),
    (dict(measure_group=np.array([0, 0, 2])), "group indexes"),
    (dict(measure_group=np.array([0.0, 0.0, 1.0])), "group indexes"),
    (dict(group_weights=np.array([1.0, -1.0])), "group_weights must be finite"),
    (dict(measure_weights=np.array([1.0, nan, 1.0])), "measure_weights must be finite"),
])
def test_combine_refuses_bad_inputs(args, match):
    kw = dict(measure_weights=MW, measure_group=MG, group_weights=GW, fixed=RENORM) | args
    with pytest.raises(ValueError, match=match):
        combine(np.zeros((1, 3)), **kw)


def test_band_and_grade():
    """Bands 40/70: 39.9 red, 40 and 69.9 yellow, 70 green. Grades: highest minimum ≤ score."""
    s = np.array([0, 39.9, 40, 69.9, 70, 100, nan])
    assert band(s, Bands(red=40, yellow=70)).tolist() == [
        "red", "red", "yellow", "yellow", "green", "green", None]
    grades = {"A": 85.0, "B": 70.0, "C": 55.0, "D": 40.0, "F": 0.0}
    assert grade(s, grades).tolist() == ["F", "F", "D", "C", "B", "A", None]
    assert grade(np.array([5.0]), {"F": 0, "E": 0}).tolist() == ["F"]


# -- combine: invariants ---------------------------------------------------------------------

WEIGHTS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.7])
SCORE = st.one_of(st.just(nan), st.floats(0, 100))


@st.composite
def problems(draw, min_rows: int = 1):
    n = draw(st.integers(min_rows, 8))
    m = draw(st.integers(1, 6))
    g = draw(st.integers(1, 3))
    scores = np.array([[draw(SCORE) for _ in range(m)] for _ in range(n)]).reshape(n, m)
    mw = np.array([draw(WEIGHTS) for _ in range(m)])
    mg = np.array([draw(st.integers(0, g - 1)) for _ in range(m)])
    gw = np.array([draw(WEIGHTS) for _ in range(g)])
    fixed = np.array([draw(SCORE) for _ in range(m)])
    return scores, mw, mg, gw, fixed


def _active(mw, mg, gw) -> np.ndarray:
    """Measures that carry nominal weight: positive weight in a positive-weight group."""
    return (mw > 0) & (gw[mg] > 0)


@settings(max_examples=300)
@given(problems())
def test_combined_is_consistent(p):
    """Scores 0-100; points sum to the score; weights sum to 1; coverage 0-1; groups agree."""
    c = combine(*p)
    scored = ~np.isnan(c.score)
    assert ((c.score[scored] >= 0) & (c.score[scored] <= 100)).all()
    assert not np.isnan(c.points).any() and not np.isnan(c.weights).any()
    assert np.allclose(c.points.sum(axis=1)[scored], c.score[scored])
    assert np.allclose(c.weights.sum(axis=1), scored.astype(float))
    assert np.allclose(c.group_weights.sum(axis=1), scored.astype(float))
    assert ((c.coverage >= 0) & (c.coverage <= 1)).all()
    via_groups = np.nansum(c.group_weights * c.group_scores, axis=1)
    assert np.allclose(via_groups[scored], c.score[scored])


@settings(max_examples=200)
@given(problems())
def test_coverage_is_one_when_nothing_is_missing(p):
    scores, mw, mg, gw, fixed = p
    full = np.nan_to_num(scores, nan=50.0)
    c = combine(full, mw, mg, gw, fixed)
    expected = 1.0 if _active(mw, mg, gw).any() else 0.0
    assert np.allclose(c.coverage, expected)
    assert np.isnan(c.score).all() == (expected == 0)


@settings(max_examples=300)
@given(problems(), st.data())
def test_raising_a_weighted_measure_never_lowers_the_score(p, data):
    scores, mw, mg, gw, fixed = p
    n, m = scores.shape
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, m - 1))
    old = scores[i, j]
    if np.isnan(old):
        old = data.draw(st.floats(0, 100))
        scores[i, j] = old
    higher = scores.copy()
    higher[i, j] = data.draw(st.floats(old, 100))
    before, after = combine(scores, mw, mg, gw, fixed), combine(higher, mw, mg, gw, fixed)
    if not np.isnan(before.score[i]):
        assert after.score[i] >= before.score[i] - 1e-9
    others = np.arange(n) != i
    assert _same(after.score[others], before.score[others])


@settings(max_examples=200)
@given(problems(), st.data())
def test_a_zero_weight_measure_or_group_changes_nothing(p, data):
    scores, mw, mg, gw, fixed = p
    n, m = scores.shape
    g = len(gw)
    extra = np.array([data.draw(SCORE) for _ in range(n)])[:, None]
    extra_fixed = data.draw(SCORE)
    base = combine(*p)
    zero_measure = combine(np.hstack([scores, extra]), np.r_[mw, 0.0],
                           np.r_[mg, data.draw(st.integers(0, g - 1))], gw, np.r_[fixed, extra_fixed])
    zero_group = combine(np.hstack([scores, extra]), np.r_[mw, data.draw(WEIGHTS)],
                         np.r_[mg, g], np.r_[gw, 0.0], np.r_[fixed, extra_fixed])
    for c in (zero_measure, zero_group):
        assert _same(c.score, base.score) and _same(c.coverage, base.coverage)
        assert _same(c.weights[:, :m], base.weights) and (c.weights[:, m] == 0).all()
        assert _same(c.points[:, :m], base.points) and (c.points[:, m] == 0).all()
        assert _same(c.group_scores[:, :g], base.group_scores)
        assert _same(c.group_weights[:, :g], base.group_weights)


@settings(max_examples=200)
@given(problems(), st.randoms(use_true_random=False))
def test_account_order_changes_nothing(p, rnd):
    scores, mw, mg, gw, fixed = p
    perm = list(range(len(scores)))
    rnd.shuffle(perm)
    base, shuffled = combine(*p), combine(scores[perm], mw, mg, gw, fixed)
    for name in Combined.__dataclass_fields__:
        assert _same(getattr(shuffled, name), getattr(base, name)[perm]), name


@settings(max_examples=100)
@given(problems())
def test_same_inputs_same_outputs(p):
    a, b = combine(*p), combine(*(x.copy() for x in p))
    for name in Combined.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


# -- scoring functions: invariants -----------------------------------------------------------

VALUES = st.lists(st.one_of(st.just(nan), st.integers(-5, 5).map(float),
                            st.floats(-1e6, 1e6)), min_size=0, max_size=30)


@settings(max_examples=300)
@given(VALUES, st.data(), st.booleans())
def test_percentile_in_range_and_monotone_within_group(values, data, higher_is_better):
    v = np.array(values, dtype=float)
    within = np.array(data.draw(st.lists(st.sampled_from(["a", "b", None]),
                                         min_size=len(v), max_size=len(v))), dtype=object)
    s = score_values(v, _scoring({"percentile": {"higher_is_better": higher_is_better}}),
                     within=within)
    assert _same(np.isnan(s), np.isnan(v))
    ok = ~np.isnan(v)
    assert ((s[ok] >= 0) & (s[ok] <= 100)).all()
    sign = 1 if higher_is_better else -1
    for i in np.flatnonzero(ok):
        for j in np.flatnonzero(ok):
            if within[i] == within[j] and v[i] < v[j]:
                assert sign * (s[j] - s[i]) > 0
            if within[i] == within[j] and v[i] == v[j]:
                assert s[i] == s[j]


@settings(max_examples=200)
@given(VALUES, st.floats(-100, 100), st.floats(-100, 100))
def test_linear_in_range_and_monotone(values, lo, hi):
    if lo == hi:
        return
    v = np.array(sorted(x for x in values if not np.isnan(x)), dtype=float)
    s = score_values(v, _scoring({"linear": {"from": lo, "to": hi}}))
    assert ((s >= 0) & (s <= 100)).all()
    step = np.diff(s)
    assert (step >= -1e-9).all() if hi > lo else (step <= 1e-9).all()


def _measure_change(**kw) -> dict:
    m = {"group": "usage", "measure": "feature_breadth", "raw_before": 4.0, "raw_after": 4.0,
         "score_before": 50.0, "score_after": 70.0, "weight_before": 0.2, "weight_after": 0.2,
         "points_before": 10.0, "points_after": 14.0, "override_before": None,
         "override_after": None}
    return {**m, **kw}


def test_a_change_with_the_value_unchanged_says_what_moved_instead():
    """Raw value 4 on both dates but +4 points: its percentile score went 50 → 70 (the others
    moved), weight 20 % both times: 0.2 × 20 = 4 — said so, not "4 → 4". When the weight
    moved instead (20 % → 30 %, score 50 both times: 0.25 × 0 + 50 × 0.1 = 5 points), the
    weight is named."""
    from healthscore.scoring.change import explain_change

    snap = {"score": 60.0, "band": "yellow", "variant": "base"}
    moved = explain_change({"before": snap, "after": {**snap, "score": 64.0},
                            "measures": [_measure_change()]})
    (c,) = moved["contributions"]
    assert c.points == pytest.approx(4.0)
    assert c.reason == "feature_breadth 4 (value unchanged, scored 50 → 70)"
    weighed = explain_change({"before": snap, "after": {**snap, "score": 65.0}, "measures": [
        _measure_change(score_after=50.0, weight_after=0.3, points_after=15.0)]})
    assert weighed["contributions"][0].reason == (
        "feature_breadth 4 (weight 20% → 30%, the value unchanged)")
