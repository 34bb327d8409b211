"""Revisions, not rewrites: a date scored again after late data keeps what it said before.

The `mini` workspace of test_pipeline (A1: 10 seats, users u1, u2 active in June; the
scorecard: active users / seats scored linearly 0 → 0.5, weight 3; days since the last activity
in tiers, weight 1). Arithmetic of A1 on 2026-06-30:

- first, as of 2026-07-10: 2 users / 10 seats = 0.2 → 40 × 0.75 = 30 points; last activity 1.5
  days before the cutoff → 100 × 0.25 = 25 points: 55.0, yellow;
- three late logins of 2026-06-25 (u3, u4, u5) arrive on 2026-07-12: 5 / 10 = 0.5 → 100 × 0.75
  = 75 points; the last activity is unchanged: 75 + 25 = 100.0, green. The revision's change is
  +45 points, all from the active users' score.
"""

from datetime import date, datetime

import pytest
from test_pipeline import NOW, mini  # noqa: F401  (the fixture)
from typer.testing import CliRunner

from conftest import WS
from healthscore import read
from healthscore.cli import app as cli
from healthscore.errors import NotFound
from healthscore.pipeline import score
from healthscore.read.revisions import revision_change, revisions

AS_OF = date(2026, 6, 30)
FIRST = NOW  # 2026-07-10 12:00, when the mini workspace is ingested
LATE = datetime(2026, 7, 12, 9, 0)
LATE_EVENTS = """\
account_id,user_id,event,timestamp
A1,u3,login,2026-06-25T10:00:00Z
A1,u4,login,2026-06-25T11:00:00Z
A1,u5,login,2026-06-25T12:00:00Z
"""


@pytest.fixture
def revised(mini: WS) -> WS:  # noqa: F811  (the mini workspace, ingested at FIRST)
    score(mini.open(), date(2026, 6, 29), now=FIRST)
    score(mini.open(), AS_OF, now=FIRST)
    mini.file("data/events/late.csv", LATE_EVENTS)
    mini.ingest(now=LATE)
    score(mini.open(), AS_OF, now=LATE)
    return mini


def _a1(ws: WS, **kw) -> dict:
    with read.open_reader(ws.open()) as r:
        return read.explain(r, read.card(ws.open(), "mini"), "A1", AS_OF, **kw)


def test_rescoring_after_late_events_keeps_both_revisions(revised):
    now = _a1(revised)
    assert (now["score"], now["band"], now["revisions"]) == (100.0, "green", 1)
    assert [(m["measure"], m["raw_value"], m["points"]) for m in now["measures"]] == [
        ("active_user_ratio", 0.5, 75.0), ("days_since_last_activity", 1.5, 25.0)]
    then = _a1(revised, known_at=datetime(2026, 7, 11))
    assert (then["score"], then["band"], then["computed_at"]) == (55.0, "yellow", FIRST)
    assert [(m["measure"], m["raw_value"], m["points"]) for m in then["measures"]] == [
        ("active_user_ratio", 0.2, pytest.approx(30.0)), ("days_since_last_activity", 1.5, 25.0)]
    with pytest.raises(NotFound, match="not scored yet") as caught:
        _a1(revised, known_at=datetime(2026, 7, 1))
    assert "2026-07-10 12:00" in caught.value.hint
    # the superseded head is kept with when and by which run it was superseded
    kept = revised.query("SELECT account_id, score, computed_at, superseded_at FROM "
                         "snapshot_revisions ORDER BY account_id")
    assert kept == [("A1", 55.0, FIRST, LATE), ("A2", 50.0, FIRST, LATE)]


def test_why_says_a_change_came_from_a_revision(revised):
    ws = revised.open()
    with read.open_reader(ws) as r:
        card = read.card(ws, "mini")
        found = revisions(r, card, "A1", AS_OF)
        change = revision_change(r, card, "A1", AS_OF)
        over_time = read.why(r, card, "A1", start=date(2026, 6, 29), end=AS_OF)
    assert [x["score"] for x in found] == [55.0, 100.0]
    assert found[1]["late"] == [{"table": "usage_events", "rows": 3}]
    assert found[1]["words"] == "revised on 2026-07-12 09:00 UTC: late usage events (3 rows)"
    assert change["delta"] == pytest.approx(45.0)
    top = change["contributions"][0]
    assert (top.measure, top.points, top.raw_before, top.raw_after) == (
        "active_user_ratio", pytest.approx(45.0), 0.2, 0.5)
    assert sum(c.points for c in change["contributions"]) == pytest.approx(45.0)
    assert over_time["revised"] == [{"as_of": AS_OF, "revised_at": LATE, "words":
                                     f"{AS_OF} revised on 2026-07-12 09:00 UTC: late usage "
                                     "events (3 rows)"}]


def test_the_cli_shows_what_was_known_and_why_it_was_revised(revised):
    root = str(revised.root)
    old = CliRunner().invoke(cli, ["explain", "A1", "-w", root, "--as-of", "2026-06-30",
                                   "--known-at", "2026-07-11T08:00"])
    assert old.exit_code == 0, old.output
    assert "score 55.0" in old.output and "yellow" in old.output
    new = CliRunner().invoke(cli, ["explain", "A1", "-w", root, "--as-of", "2026-06-30"])
    assert "score 100.0" in new.output and "revised 1 time(s)" in new.output
    why = CliRunner().invoke(cli, ["why", "A1", "-w", root, "-s", "mini",
                                   "--revised", "2026-06-30"])
    assert why.exit_code == 0, why.output
    text = " ".join(why.output.split())
    assert "late usage events (3 rows)" in text and "+45.0" in text
    over = CliRunner().invoke(cli, ["why", "A1", "-w", root, "-s", "mini",
                                    "--from", "2026-06-29", "--to", "2026-06-30"])
    assert "note: 2026-06-30 revised on 2026-07-12" in " ".join(over.output.split())
    neither = CliRunner().invoke(cli, ["why", "A1", "-w", root, "-s", "mini"])
    assert neither.exit_code == 2 and "--revised" in neither.output
    bad = CliRunner().invoke(cli, ["explain", "A1", "-w", root, "--known-at", "yesterday"])
    assert bad.exit_code == 2 and "--known-at" in bad.output


def test_rescoring_with_nothing_new_keeps_the_stored_snapshot(revised):
    """The same data scored again gives the same result: no revision is added and the stored
    rows keep the run that computed them."""
    before = revised.query("SELECT account_id, run_id, computed_at FROM snapshots WHERE "
                           "as_of = ? ORDER BY 1", [AS_OF])
    score(revised.open(), AS_OF, now=datetime(2026, 7, 13))
    assert revised.query("SELECT account_id, run_id, computed_at FROM snapshots WHERE "
                         "as_of = ? ORDER BY 1", [AS_OF]) == before
    assert revised.query("SELECT count(*) FROM snapshot_revisions") == [(2,)]
    # the compact history: one current row of values per account and date, no long rows
    tables = {t for (t,) in revised.query("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_name LIKE 'snapshot%'")}
    values = [t for t in tables if t.startswith("snapshot_values_")]
    assert tables == {"snapshots", "snapshot_trends", "snapshot_series", "snapshot_revisions",
                      "snapshot_overrides", *values} and len(values) == 1
    assert revised.query(f'SELECT as_of, count(*) FROM "{values[0]}" WHERE superseded_at IS '
                         "NULL GROUP BY 1 ORDER BY 1") == [(date(2026, 6, 29), 2), (AS_OF, 2)]


def test_the_backtest_can_read_each_date_as_first_scored(revised):
    """The backtest's observations: by default the latest revision (A1 100.0 on 06-30), with
    first_known what was computed first (55.0)."""
    from healthscore.read.outcomes import observations

    ws = revised.open()
    with read.open_reader(ws) as r:
        card = read.card(ws, "mini")
        latest = observations(r, card, [AS_OF], 90).to_pylist()
        first = observations(r, card, [AS_OF], 90, first_known=True).to_pylist()
    assert [(x["account_id"], x["score"]) for x in latest] == [("A1", 100.0), ("A2", 50.0)]
    assert [(x["account_id"], x["score"]) for x in first] == [("A1", 55.0), ("A2", 50.0)]


def test_the_api_lists_a_dates_revisions_and_explains_the_latest(revised):
    """GET /api/v1/accounts/A1/revisions?as_of=2026-06-30 on a real uvicorn: both revisions,
    the words, the +45-point change by measure; a date never scored is a 404 in the one error
    shape."""
    import httpx

    from rest_server import Server

    with Server(revised.root) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        got = client.get("/api/v1/accounts/A1/revisions",
                         params={"as_of": "2026-06-30", "scorecard": "mini"})
        missing = client.get("/api/v1/accounts/A1/revisions",
                             params={"as_of": "2026-06-01", "scorecard": "mini"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert [x["score"] for x in body["revisions"]] == [55.0, 100.0]
    assert body["revisions"][1]["words"].endswith("late usage events (3 rows)")
    assert body["change"]["delta"] == pytest.approx(45.0)
    assert body["change"]["contributions"][0]["measure"] == "active_user_ratio"
    assert missing.status_code == 404 and missing.json()["ok"] is False


def test_the_account_page_says_a_score_was_revised(revised):
    """The dashboard's "why it changed" panel names the revision, as `why` does."""
    from fastapi.testclient import TestClient

    from healthscore.server import create_app

    with TestClient(create_app(revised.root), base_url="http://localhost") as client:
        page = client.get("/accounts/A1", params={"scorecard": "mini", "as_of": str(AS_OF)})
    assert page.status_code == 200
    assert "2026-06-30 revised on 2026-07-12 09:00 UTC: late usage events (3 rows)" in page.text
