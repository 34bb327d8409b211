"""Scoring a workspace as of a date: oracle scores, variants, snapshots, point-in-time."""

from datetime import date, datetime

import pytest

from conftest import WS
from healthscore.errors import ConfigError
from healthscore.pipeline import score
from healthscore.workspace import Workspace

AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 7, 10, 12, 0)

ACCOUNTS = """\
account_id,name,segment,lifecycle_stage,seats,contract_start,churned_at
A1,Acme,smb,mature,10,2025-01-01,
A2,Beta,smb,onboarding,4,2026-05-01,
A3,Gone,smb,mature,5,2024-01-01,2026-05-15
A4,Later,smb,onboarding,5,2026-07-01,
"""
EVENTS = """\
account_id,user_id,event,timestamp
A1,u1,login,2026-06-29T12:00:00Z
A1,u2,login,2026-06-20T08:00:00Z
A1,u3,login,2026-05-01T08:00:00Z
A2,u9,login,2026-06-10T00:00:00Z
A2,u9,login,2026-07-02T00:00:00Z
A3,u5,login,2026-05-10T00:00:00Z
"""
SCORECARD = """\
name: mini
bands: {red: 40, yellow: 70}
groups:
  usage:
    measures:
      active_user_ratio:
        params: {window_days: 30}
        scoring: {linear: {from: 0, to: 0.5}}
        weight: 3
      days_since_last_activity:
        scoring:
          tiers:
            - {at_most: 2, score: 100}
            - {at_most: 7, score: 60}
            - {score: 0}
variants:
  onboarding:
    when: {lifecycle_stage: onboarding}
    bands: {red: 30, yellow: 45}
    groups:
      usage:
        measures:
          days_since_last_activity: {weight: 0}
"""


@pytest.fixture
def mini(ws: WS) -> WS:
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.file("data/events/june.csv", EVENTS)
    ws.file("scorecards/mini.yaml", SCORECARD)
    ws.config("""
        crm: {table: accounts, path: data/accounts.csv}
        events: {table: usage_events, path: "data/events/*.csv"}
        """)
    ws.ingest(now=NOW)
    return ws


def _snapshot(ws: WS, as_of=AS_OF):
    return ws.query("SELECT account_id, variant, round(score, 6), band, grade, coverage "
                    "FROM snapshots WHERE as_of = ? ORDER BY account_id", [as_of])


def test_oracle_scores_variants_and_who_is_scored(mini):
    run = score(mini.open(), AS_OF, now=NOW)
    assert run.evaluation("mini").accounts.num_rows == 2
    assert _snapshot(mini) == [
        # A1: 2 users in the window (u3 is older) / 10 seats = 0.2 -> 0.2/0.5 = 40 points of 100;
        # last event 2026-06-29 12:00 is 1.5 days before the cutoff -> tier "at most 2" = 100.
        # Weights 3:1 -> 0.75 * 40 + 0.25 * 100 = 55 -> yellow (40 <= 55 < 70), grade C (>= 55)
        ("A1", "base", 55.0, "yellow", "C", 1.0),
        # A2 is onboarding: 1 user / 4 seats = 0.25 -> 50; days-since has weight 0 in the
        # variant, so the score is 50 (the event of 2026-07-02 is after the as-of date and does
        # not count) -> green under the variant's bands (>= 45), grade D
        ("A2", "onboarding", 50.0, "green", "D", 1.0),
        # A3 churned on 2026-05-15 and A4 starts on 2026-07-01: neither is scored.
    ]
    points = mini.query("SELECT account_id, measure, raw_value, score, weight, points "
                        "FROM snapshot_measures ORDER BY account_id, measure")
    assert points == [
        ("A1", "active_user_ratio", 0.2, pytest.approx(40.0), 0.75, pytest.approx(30.0)),
        ("A1", "days_since_last_activity", 1.5, 100.0, 0.25, 25.0),
        ("A2", "active_user_ratio", 0.25, 50.0, 1.0, 50.0),
        ("A2", "days_since_last_activity", 21.0, 0.0, 0.0, 0.0),  # 06-10 -> 07-01 = 21 days
    ]


def test_rescoring_the_same_date_replaces_the_snapshot(mini):
    score(mini.open(), AS_OF, now=NOW)
    first = _snapshot(mini)
    score(mini.open(), AS_OF, now=NOW)
    assert _snapshot(mini) == first
    assert mini.query("SELECT count(*) FROM snapshot_measures") == [(4,)]
    assert mini.query("SELECT count(*) FROM scorecard_versions") == [(1,)]


def test_data_after_the_as_of_date_changes_nothing(mini):
    score(mini.open(), AS_OF, now=NOW)
    before = _snapshot(mini)
    # later events, a later CRM export with more seats and a churn: all after AS_OF
    mini.file("data/events/june.csv", EVENTS + "A1,u7,login,2026-07-05T00:00:00Z\n"
                                          "A1,u8,login,2026-07-06T00:00:00Z\n")
    mini.file("data/accounts.csv", ACCOUNTS.replace("A1,Acme,smb,mature,10,2025-01-01,",
                                                    "A1,Acme,smb,mature,50,2025-01-01,2026-07-08"))
    assert mini.query("SELECT count(*) FROM accounts WHERE account_id = 'A1'") == [(1,)]
    mini.ingest(now=datetime(2026, 7, 11))
    score(mini.open(), AS_OF, now=NOW)
    assert _snapshot(mini) == before


def test_churned_accounts_keep_their_past_snapshots(mini):
    score(mini.open(), date(2026, 5, 10), now=NOW)
    assert [r[0] for r in _snapshot(mini, date(2026, 5, 10))] == ["A1", "A2", "A3"]
    score(mini.open(), AS_OF, now=NOW)
    assert [r[0] for r in _snapshot(mini, date(2026, 5, 10))] == ["A1", "A2", "A3"]
    assert [r[0] for r in _snapshot(mini)] == ["A1", "A2"]


def test_a_failed_run_leaves_earlier_snapshots_intact(mini, monkeypatch):
    score(mini.open(), AS_OF, now=NOW)
    before = _snapshot(mini)
    from healthscore.store.store import Store

    def boom(self, **kw):
        self.con.execute("DELETE FROM snapshots")  # half-way through writing ...
        raise OSError("disk full")                 # ... it fails

    monkeypatch.setattr(Store, "write_snapshot", boom)
    with pytest.raises(OSError, match="disk full"):
        score(mini.open(), AS_OF, now=NOW)
    monkeypatch.undo()
    assert _snapshot(mini) == before
    assert mini.query("SELECT status FROM runs WHERE kind = 'score' ORDER BY run_id") == [
        ("ok",), ("failed",)]


def test_same_inputs_give_the_same_snapshot(mini):
    a = score(mini.open(), AS_OF, now=NOW).evaluation("mini")
    b = score(mini.open(), AS_OF, now=NOW).evaluation("mini")
    assert a.accounts.equals(b.accounts) and a.measures.equals(b.measures)


def test_future_as_of_is_refused(mini):
    with pytest.raises(ConfigError, match="in the future"):
        score(mini.open(), date(2026, 7, 11), now=NOW)


def test_unknown_measure_and_bad_params_name_file_and_line(mini):
    mini.file("scorecards/mini.yaml", SCORECARD.replace(
        "params: {window_days: 30}", "params: {window_dayz: 30}").replace(
        "variants:", "      logins:\n        scoring: {boolean: {}}\nvariants:"))
    with pytest.raises(ConfigError) as err:
        score(mini.open(), AS_OF, now=NOW)
    problems = "\n".join(err.value.problems)
    assert "mini.yaml:7: groups.usage.measures.active_user_ratio.params.window_dayz" in problems
    assert "mini.yaml:16: groups.usage.measures.logins: unknown measure 'logins'" in problems


def test_variant_when_must_name_an_accounts_column(mini):
    mini.file("scorecards/mini.yaml", SCORECARD.replace("lifecycle_stage: onboarding",
                                                        "stage: onboarding"))
    with pytest.raises(ConfigError, match=r"mini.yaml:18: variants.onboarding.when.stage: not an "
                                          r"accounts column"):
        score(mini.open(), AS_OF, now=NOW)


def test_workspace_without_scorecards(ws):
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.config("crm: {table: accounts, path: data/accounts.csv}")
    with pytest.raises(ConfigError, match="no scorecards found"):
        score(Workspace.open(ws.root), AS_OF, now=NOW)


def test_appending_later_events_tickets_and_invoices_changes_no_score(tmp_path):
    """On the demo company: data dated after the as-of date, of every kind, changes nothing."""
    import json

    from healthscore.demo import generate_demo
    from healthscore.sources import ingest

    out = tmp_path / "demo"
    generate_demo(out, accounts=80, seed=5, end=date(2026, 6, 1))
    ws = Workspace.open(out)
    ingest(ws, now=datetime(2026, 6, 1, 6))
    as_of = date(2026, 4, 30)
    first = score(ws, as_of, now=NOW)
    accounts = first.evaluation("health").accounts.column("account_id").to_pylist()[:5]

    # After the as-of date (but before "now"): new tickets (one urgent and open per account),
    # unpaid overdue invoices, a burst of usage, and bad NPS answers.
    with open(out / "data/helpdesk/tickets.jsonl", "a") as fh:
        for i, acc in enumerate(accounts):
            fh.write(json.dumps({"id": 900000 + i, "organization": {"external_id": acc},
                                 "created_at": "2026-05-02T10:00:00Z", "solved_at": None,
                                 "priority": "P1", "satisfaction_rating": {"score": "bad"}})
                     + "\n")
    with open(out / "data/billing/invoices.csv", "a") as fh:
        for i, acc in enumerate(accounts):
            fh.write(f"INV-X{i},{acc},\"$9,999.00\",USD,2026-05-01,2026-05-10,\n")
    with open(out / "data/surveys/nps.csv", "a") as fh:
        for acc in accounts:
            fh.write(f"{acc},,0,05/03/2026 09:00,late answer\n")
    (out / "data/product/events/part-99999.parquet").write_bytes(
        (out / "data/product/events/part-00000.parquet").read_bytes())  # same rows: no-op
    report = ingest(ws, now=datetime(2026, 6, 1, 7))
    assert report.rows_rejected == 0 and report.written.inserted >= 15
    again = score(ws, as_of, now=NOW)
    for name in ("health", "expansion"):
        assert again.evaluation(name).accounts.equals(first.evaluation(name).accounts)
        assert again.evaluation(name).measures.equals(first.evaluation(name).measures)
    # ...while scoring after those dates does see them
    later = score(ws, date(2026, 5, 31), now=NOW).evaluation("health").measures.to_pandas()
    opened = later[(later.measure == "open_tickets") & later.account_id.isin(accounts)]
    assert (opened.raw_value >= 1).all()
