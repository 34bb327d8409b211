"""Oracle tests of the built-in measures on one small hand-made workspace.

The workspace is ingested through the real ``ingest`` at NOW = 2026-07-01 12:00 and scored as
of AS_OF = 2026-06-30, so the cutoff is 2026-07-01 00:00: rows between the cutoff and NOW exist
in the store but are "the future" for the measures. Windows end at the cutoff:

    since(30) = 06-01   since(60) = 05-02   since(90) = 04-02   since(120) = 03-03
    since(150) = 02-01  since(180) = 01-02  since(365) = 2025-07-01   (all 2026, 00:00)

Accounts: A1 (busy, 10 seats), A2 (quiet, 4 seats), A3 (new since 2026-06-01, no seat count),
A6 (no data but the CRM row). A4's contract starts 2026-07-15 and A5 churned 2026-06-15: both
have data and neither is scored. Every expected value is worked out in the test beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import ibis
import ibis.config
import pytest

from conftest import WS
from healthscore.measures import REGISTRY, MeasureContext, evaluate_measure, get_measure
from healthscore.measures.base import FAMILIES
from healthscore.measures.reference import render_markdown
from healthscore.schemas import TABLES

AS_OF = date(2026, 6, 30)
SCORED = {"A1", "A2", "A3", "A6"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "measures.md"

FILES = {
    "accounts": """\
        account_id,name,plan,seats,renewal_date,contract_start,churned_at
        A1,Acme,business,10,2026-09-30,2024-10-01,
        A2,Beta,starter,4,2026-07-31,2025-07-01,
        A3,Gamma,starter,,,2026-06-01,
        A4,Delta,business,5,2027-07-15,2026-07-15,
        A5,Echo,starter,5,2026-12-31,2025-01-01,2026-06-15
        A6,Zeta,starter,5,2026-06-15,2025-06-30,
        """,
    "users": """\
        user_id,account_id,role,created_at,deactivated_at
        U1,A1,admin,2025-01-01T00:00:00Z,
        U2,A1,member,2025-01-01T00:00:00Z,
        U3,A1,member,2026-06-15T00:00:00Z,
        U4,A1,member,2026-07-01T06:00:00Z,
        U5,A1,member,2025-01-01T00:00:00Z,2026-06-05T00:00:00Z
        U6,A1,member,2025-02-01T00:00:00Z,2026-07-01T10:00:00Z
        U7,A1,member,2026-06-20T00:00:00Z,
        V1,A2,admin,2025-07-01T00:00:00Z,
        V2,A2,member,2025-07-01T00:00:00Z,
        W1,A3,admin,2026-06-05T00:00:00Z,
        X1,A5,admin,2025-01-01T00:00:00Z,
        """,
    "usage_events": """\
        account_id,user_id,event,timestamp,quantity,value
        A1,U1,login,2026-06-02T09:00:00Z,,
        A1,U1,report.created,2026-06-02T10:00:00Z,2,120.5
        A1,U1,login,2026-06-10T09:00:00Z,,
        A1,U2,login,2026-06-10T11:00:00Z,,
        A1,U2,export,2026-06-20T11:00:00Z,3,30
        A1,U3,login,2026-06-30T23:30:00Z,,
        A1,,api.call,2026-06-15T00:00:00Z,4,
        A1,U4,login,2026-07-01T08:00:00Z,,50
        A1,U1,login,2026-05-20T09:00:00Z,,
        A1,U2,report.created,2026-05-25T09:00:00Z,5,999
        A1,U1,login,2026-04-01T09:00:00Z,,
        A2,V1,login,2026-06-25T10:00:00Z,,
        A2,V1,login,2026-06-25T15:00:00Z,,
        A2,V1,dashboard.viewed,2026-06-26T10:00:00Z,0,10
        A2,V2,login,2026-05-10T10:00:00Z,,
        A2,V2,login,2026-05-11T10:00:00Z,,
        A2,V2,login,2026-05-12T10:00:00Z,,
        A2,V2,login,2026-05-13T10:00:00Z,,
        A4,,login,2026-06-20T10:00:00Z,,
        A5,X1,login,2026-06-10T10:00:00Z,,
        """,
    "tickets": """\
        ticket_id,account_id,opened_at,closed_at,priority,csat
        T1,A1,2026-06-01T08:00:00Z,2026-06-01T20:00:00Z,urgent,5
        T2,A1,2026-06-05T08:00:00Z,2026-06-07T08:00:00Z,high,3
        T3,A1,2026-05-20T08:00:00Z,2026-06-10T08:00:00Z,normal,4
        T4,A1,2026-06-20T08:00:00Z,2026-07-01T09:00:00Z,high,1
        T5,A1,2026-06-25T08:00:00Z,,low,
        T6,A1,2026-04-01T08:00:00Z,2026-04-02T08:00:00Z,urgent,2
        T7,A1,2026-07-01T06:00:00Z,,urgent,
        T8,A2,2026-06-10T00:00:00Z,2026-06-10T06:00:00Z,normal,
        T9,A2,2026-05-01T00:00:00Z,,high,
        T10,A5,2026-06-01T00:00:00Z,,urgent,
        """,
    "surveys": """\
        account_id,user_id,kind,score,responded_at,comment
        A1,U1,nps,10,2026-06-01T10:00:00Z,love it
        A1,U2,nps,9,2026-05-01T10:00:00Z,
        A1,U3,nps,7,2026-04-15T10:00:00Z,
        A1,U4,nps,3,2026-06-20T10:00:00Z,slow
        A1,U5,nps,0,2025-12-01T10:00:00Z,
        A1,U1,nps,2,2026-07-01T10:00:00Z,
        A1,U1,csat,4,2026-06-10T10:00:00Z,
        A1,U2,csat,5,2026-06-11T10:00:00Z,
        A1,U3,csat,2,2025-11-01T10:00:00Z,
        A2,V1,nps,6,2026-03-01T10:00:00Z,
        A2,V2,nps,8,2026-06-01T10:00:00Z,
        A5,X1,nps,10,2026-06-01T10:00:00Z,
        """,
    "invoices": """\
        invoice_id,account_id,amount,issued_at,due_at,paid_at
        I1,A1,1000,2026-04-01,2026-05-01,2026-05-10
        I2,A1,1000,2026-05-01,2026-06-01,
        I3,A1,1000,2026-05-15,2026-06-15,2026-07-01
        I4,A1,1000,2026-06-01,2026-06-30,
        I5,A1,1000,2026-06-01,2026-07-31,
        I6,A2,500,2026-06-01,2026-06-10,2026-06-09
        I7,A2,500,2026-03-01,,
        I8,A5,500,2026-01-01,2026-02-01,
        """,
    "touchpoints": """\
        account_id,kind,occurred_at,author
        A1,qbr,2026-03-10T15:00:00Z,maria
        A1,call,2026-06-15T10:00:00Z,maria
        A1,email,2026-06-28T12:00:00Z,maria
        A1,meeting,2026-07-01T09:00:00Z,maria
        A2,qbr,2026-02-20T10:00:00Z,li
        A3,email,2026-06-29T00:00:00Z,li
        """,
    "trainings": """\
        account_id,user_id,course,completed_at
        A1,U1,admin-101,2026-01-10T00:00:00Z
        A1,U1,reports-201,2026-02-01T00:00:00Z
        A1,U3,admin-101,2026-06-20T00:00:00Z
        A1,U5,admin-101,2026-05-01T00:00:00Z
        A1,U2,admin-101,2026-07-01T08:00:00Z
        """,
    "advocacy": """\
        account_id,kind,occurred_at
        A1,review,2026-01-10T00:00:00Z
        A1,referral,2026-05-05T00:00:00Z
        A1,case_study,2025-03-01T00:00:00Z
        A1,review,2026-07-01T07:00:00Z
        A2,reference,2025-12-01T00:00:00Z
        """,
    "contacts": """\
        account_id,contact_id,role,name,active_from,active_to
        A1,C1,champion,Ann,2025-01-01,2026-07-15
        A1,C2,exec_sponsor,Bob,,
        A1,C3,user,Cy,2024-01-01,2026-05-31
        A1,C4,admin,Di,2026-07-10,
        A2,C5,Champion,Ed,2025-07-01,2026-06-15
        A2,C6,user,Flo,2025-07-01,2026-06-30
        A3,C7,champion,Gus,2026-06-01,2026-06-10
        A3,C8,champion,Hal,2026-06-11,
        """,
    "outcomes": """\
        account_id,goal,achieved_at
        A1,cut month-end close,2025-11-01T00:00:00Z
        A1,automate reports,2026-06-20T00:00:00Z
        A1,replace spreadsheets,2026-07-01T09:00:00Z
        """,
    "pulses": """\
        account_id,value,at,author,comment,expires_at
        A1,4,2026-05-01T10:00:00Z,maria,steady,
        A1,2,2026-06-20T10:00:00Z,maria,escalation,2026-06-30T12:00:00Z
        A1,5,2026-07-01T08:00:00Z,maria,fixed,
        A2,green,2026-06-01T10:00:00Z,li,,2026-07-01T00:00:00Z
        A2,yellow,2026-03-01T10:00:00Z,li,,
        A3,red,2026-06-10T10:00:00Z,li,,2026-08-01T00:00:00Z
        A3,5,2026-06-10T10:00:00Z,li,,
        """,
}


def build(root, tables=FILES) -> WS:
    ws = WS(root)
    for name, text in tables.items():
        ws.file(f"data/{name}.csv", text)
    ws.config(*(f"{name}: {{table: {name}, path: data/{name}.csv}}" for name in tables))
    report = ws.ingest()
    assert report.rows_rejected == 0
    return ws


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    ws = build(tmp_path_factory.mktemp("measures") / "ws")
    with ws.open().store(read_only=True) as store:
        yield ibis.duckdb.from_connection(store.con)


def values(backend, name: str, as_of: date = AS_OF, **params) -> dict[str, float | None]:
    """The measure ``name`` for every scored account, as {account_id: value}."""
    spec = get_measure(name)
    ctx = MeasureContext(backend, as_of)
    rows = evaluate_measure(ctx, spec, spec.parse_params(params)).to_pyarrow().to_pylist()
    return {r["account_id"]: r["value"] for r in rows}


def check(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for account, want in expected.items():
        if want is None:
            assert got[account] is None, account
        else:
            assert got[account] == pytest.approx(want, abs=1e-9), account


# -- scope: which accounts are scored -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_only_active_accounts_are_scored(backend, name):
    """A4 (contract starts 07-15) and A5 (churned 06-15) have data but are not scored."""
    assert set(values(backend, name)) == SCORED


# -- usage ----------------------------------------------------------------------------------


def test_active_user_ratio(backend):
    """Users with events in 06-01..06-30 ÷ seats. A1: U1, U2, U3 (U4's event is after the
    cutoff; the api.call has no user) = 3 / 10. A2: V1 = 1 / 4. A3 has no seat count: missing.
    A6: 0 / 5."""
    check(values(backend, "active_user_ratio"), {"A1": 0.3, "A2": 0.25, "A3": None, "A6": 0.0})


def test_days_since_last_activity(backend):
    """A1: last event 06-30 23:30 (07-01 08:00 is after the cutoff) → 0.5 h = 0.5/24 days.
    A2: 06-26 10:00 → 4 days 14 h = 4 + 14/24. A3, A6: never used → missing."""
    check(values(backend, "days_since_last_activity"),
          {"A1": 0.5 / 24, "A2": 4 + 14 / 24, "A3": None, "A6": None})


def test_active_users(backend):
    """A1: U1, U2, U3 = 3. A2: V1 = 1 (V2 only in May). A3, A6: 0."""
    check(values(backend, "active_users"), {"A1": 3, "A2": 1, "A3": 0, "A6": 0})
    # 60 days (from 05-02): A1 adds nobody new (U1, U2 again) → 3; A2 adds V2 → 2.
    check(values(backend, "active_users", window_days=60), {"A1": 3, "A2": 2, "A3": 0, "A6": 0})


def test_active_days_per_user(backend):
    """A1: U1 {06-02, 06-10}, U2 {06-10, 06-20}, U3 {06-30} → 5 user-days / 3 users.
    A2: V1 {06-25 (twice), 06-26} → 2 / 1. A3, A6: nobody active → 0."""
    check(values(backend, "active_days_per_user"), {"A1": 5 / 3, "A2": 2.0, "A3": 0, "A6": 0})


def test_usage_trend(backend):
    """Quantity (empty = 1) in 06-01..06-30 vs 05-02..05-31.
    A1: 1+2+1+1+3+1+4 = 13 vs 1 (05-20) + 5 (05-25) = 6 → (13 − 6) / 6 = 7/6; the 04-01 event
    is in neither window, the 07-01 one after the cutoff.
    A2: 1+1+0 = 2 vs four logins = 4 → (2 − 4) / 4 = −0.5.
    A3, A6: nothing in the prior window → missing."""
    check(values(backend, "usage_trend"), {"A1": 7 / 6, "A2": -0.5, "A3": None, "A6": None})


def test_feature_breadth(backend):
    """A1: login, report.created, export, api.call = 4. A2: login, dashboard.viewed = 2."""
    check(values(backend, "feature_breadth"), {"A1": 4, "A2": 2, "A3": 0, "A6": 0})
    # Of [login, export, dashboard.viewed, api.call]: A1 used login, export, api.call = 3/4;
    # A2 login, dashboard.viewed = 2/4.
    keys = ["login", "export", "dashboard.viewed", "api.call"]
    check(values(backend, "feature_breadth", features=keys),
          {"A1": 0.75, "A2": 0.5, "A3": 0, "A6": 0})


def test_events_per_active_user(backend):
    """Events by identified users ÷ those users. A1: 1+2+1+1+3+1 = 9 (the user-less api.call ×4
    is left out) / 3 = 3. A2: 1+1+0 = 2 / 1 = 2."""
    check(values(backend, "events_per_active_user"), {"A1": 3.0, "A2": 2.0, "A3": 0, "A6": 0})


def test_usage_value(backend):
    """The events' value in 06-01..06-30: A1 120.5 (06-02) + 30 (06-20) = 150.5 (the 50 of
    07-01 is after the cutoff, the 999 of 05-25 before the window); A2 10; A3, A6 none: 0. Over
    60 days (from 05-02) A1 adds the 999: 1,149.5."""
    check(values(backend, "usage_value"), {"A1": 150.5, "A2": 10.0, "A3": 0, "A6": 0})
    check(values(backend, "usage_value", window_days=60),
          {"A1": 1149.5, "A2": 10.0, "A3": 0, "A6": 0})


def test_usage_measures_limited_to_some_events_or_all_history(backend):
    """`events:` keeps some events (names or globs) in any usage measure; `window_days: all`
    reads all history. Users with a report.* event in June: A1 U1 (06-02) = 1, A2 0. Days since
    the last export: A1 06-20 11:00 → 10 days 13 h before the cutoff (07-01 00:00); A2 never
    exported: missing. Features among *.created and export: A1 2, A2 0. Value over all
    history: A1 120.5 + 30 + 999 = 1,149.5 (the 07-01 50 is after the cutoff), A2 10."""
    check(values(backend, "active_users", events=["report.*"]),
          {"A1": 1, "A2": 0, "A3": 0, "A6": 0})
    check(values(backend, "days_since_last_activity", events=["export"]),
          {"A1": 10 + 13 / 24, "A2": None, "A3": None, "A6": None})
    check(values(backend, "feature_breadth", events=["*.created", "export"]),
          {"A1": 2, "A2": 0, "A3": 0, "A6": 0})
    check(values(backend, "usage_value", window_days="all"),
          {"A1": 1149.5, "A2": 10.0, "A3": 0, "A6": 0})
    # spend against the month before: A1 150.5 in June vs 999 in 05-02..05-31 →
    # (150.5 − 999) / 999; A2 10 vs nothing before → missing
    check(values(backend, "usage_trend", of="value"),
          {"A1": (150.5 - 999) / 999, "A2": None, "A3": None, "A6": None})


# -- support --------------------------------------------------------------------------------


def test_open_tickets(backend):
    """A1: T4 (closed 07-01 09:00, after the cutoff: open as of 06-30) and T5 = 2; T7 was opened
    after the cutoff, T1-T3 and T6 are closed. A2: T9 = 1 (T8 closed)."""
    check(values(backend, "open_tickets"), {"A1": 2, "A2": 1, "A3": 0, "A6": 0})


def test_high_priority_tickets(backend):
    """Opened from 06-01, urgent or high. A1: T1 (urgent), T2 (high), T4 (high, still open)
    = 3; T6 is from April, T7 after the cutoff. A2: T9 is high but opened 05-01 → 0."""
    check(values(backend, "high_priority_tickets"), {"A1": 3, "A2": 0, "A3": 0, "A6": 0})
    check(values(backend, "high_priority_tickets", priorities=["urgent"]),
          {"A1": 1, "A2": 0, "A3": 0, "A6": 0})


def test_ticket_resolution_hours(backend):
    """Closed from 06-01: A1 T1 12 h, T2 48 h, T3 (05-20 08:00 → 06-10 08:00) 504 h → median 48
    (T4's close is after the cutoff). A2: T8 6 h. A3, A6: nothing closed → missing."""
    check(values(backend, "ticket_resolution_hours"),
          {"A1": 48.0, "A2": 6.0, "A3": None, "A6": None})
    # 90 days (from 04-02 00:00) also takes T6, closed 04-02 08:00 after 24 h:
    # {12, 24, 48, 504} → median (24 + 48) / 2 = 36.
    check(values(backend, "ticket_resolution_hours", window_days=90),
          {"A1": 36.0, "A2": 6.0, "A3": None, "A6": None})


def test_ticket_csat(backend):
    """Closed from 06-01: A1 T1 5, T2 3, T3 4 → 4.0; T4's rating 1 comes with its close after
    the cutoff, so it is not known yet. A2: T8 has no rating → missing."""
    check(values(backend, "ticket_csat"), {"A1": 4.0, "A2": None, "A3": None, "A6": None})
    # 90 days adds T6 (rated 2): (5 + 3 + 4 + 2) / 4 = 3.5.
    check(values(backend, "ticket_csat", window_days=90),
          {"A1": 3.5, "A2": None, "A3": None, "A6": None})


# -- sentiment ------------------------------------------------------------------------------


def test_nps(backend):
    """NPS answers from 01-02. A1: 10, 9, 7, 3 (the 0 is from 2025-12, the 2 after the cutoff)
    → 2 promoters, 1 detractor of 4 → (2 − 1) / 4 × 100 = 25. A2: 6, 8 → (0 − 1) / 2 × 100
    = −50."""
    check(values(backend, "nps"), {"A1": 25.0, "A2": -50.0, "A3": None, "A6": None})
    # 30 days: A1 10 (06-01) and 3 (06-20) → (1 − 1) / 2 = 0; A2 8 → 0 promoters → 0.
    check(values(backend, "nps", window_days=30), {"A1": 0.0, "A2": 0.0, "A3": None, "A6": None})


def test_nps_average(backend):
    """A1: (10 + 9 + 7 + 3) / 4 = 7.25. A2: (6 + 8) / 2 = 7."""
    check(values(backend, "nps_average"), {"A1": 7.25, "A2": 7.0, "A3": None, "A6": None})


def test_survey_csat(backend):
    """CSAT answers from 01-02. A1: 4, 5 → 4.5 (the 2 is from 2025-11). A2: none → missing."""
    check(values(backend, "survey_csat"), {"A1": 4.5, "A2": None, "A3": None, "A6": None})


# -- engagement -----------------------------------------------------------------------------


def test_days_since_last_touchpoint(backend):
    """A1: last 06-28 12:00 (the 07-01 meeting is after the cutoff) → 2.5 days.
    A2: 02-20 10:00 → 8 days 14 h to 03-01, + 122 days to 07-01 = 130 + 14/24.
    A3: 06-29 00:00 → 2. A6: none → missing."""
    check(values(backend, "days_since_last_touchpoint"),
          {"A1": 2.5, "A2": 130 + 14 / 24, "A3": 2.0, "A6": None})
    # Calls and QBRs only: A1's call 06-15 10:00 → 15 + 14/24; A3 had only an e-mail.
    check(values(backend, "days_since_last_touchpoint", kinds=["call", "qbr"]),
          {"A1": 15 + 14 / 24, "A2": 130 + 14 / 24, "A3": None, "A6": None})


def test_qbr_held(backend):
    """QBR from 03-03 (120 days): A1 03-10 → 1; A2 02-20 → 0."""
    check(values(backend, "qbr_held"), {"A1": 1, "A2": 0, "A3": 0, "A6": 0})
    # From 02-01 (150 days) A2's 02-20 QBR counts.
    check(values(backend, "qbr_held", window_days=150), {"A1": 1, "A2": 1, "A3": 0, "A6": 0})


def test_touchpoints(backend):
    """From 04-02 (90 days): A1 call + e-mail = 2 (QBR 03-10 too early, meeting after the
    cutoff); A2 0 (QBR in February); A3 e-mail = 1."""
    check(values(backend, "touchpoints"), {"A1": 2, "A2": 0, "A3": 1, "A6": 0})
    check(values(backend, "touchpoints", kinds=["call"]), {"A1": 1, "A2": 0, "A3": 0, "A6": 0})


# -- relationship ---------------------------------------------------------------------------


def test_engaged_contacts(backend):
    """Active on 06-30. A1: C1 (leaves 07-15, after as-of: still active), C2 (no dates) = 2; C3
    left 05-31, C4 starts 07-10. A2: C6 (last day 06-30 = as-of) = 1; C5 left 06-15.
    A3: C8 = 1 (C7 left 06-10)."""
    check(values(backend, "engaged_contacts"), {"A1": 2, "A2": 1, "A3": 1, "A6": 0})
    check(values(backend, "engaged_contacts", roles=["Champion", "exec_sponsor"]),
          {"A1": 2, "A2": 0, "A3": 1, "A6": 0})
    check(values(backend, "engaged_contacts", roles=["admin"]),
          {"A1": 0, "A2": 0, "A3": 0, "A6": 0})


def test_champion_present(backend):
    """A1: C1 until 07-15 → 1. A2: C5 left 06-15 → 0. A3: C8 since 06-11 → 1."""
    check(values(backend, "champion_present"), {"A1": 1, "A2": 0, "A3": 1, "A6": 0})


def test_champion_left(backend):
    """Last day in 04-01..06-29 (90 days before 06-30) and no champion now.
    A1: C1 leaves after as-of → 0. A2: C5 ("Champion") last day 06-15, none left → 1.
    A3: C7 left 06-10 but C8 took over → 0."""
    check(values(backend, "champion_left"), {"A1": 0, "A2": 1, "A3": 0, "A6": 0})
    # 10 days (06-20..06-29): C5's 06-15 is too early.
    check(values(backend, "champion_left", window_days=10), {"A1": 0, "A2": 0, "A3": 0, "A6": 0})


def test_champion_leaving_after_as_of_counts_until_then(backend):
    """C1 (A1) has last day 07-15: present as of 07-15, gone and 'left' as of 07-16."""
    assert values(backend, "champion_present", date(2026, 7, 15))["A1"] == 1
    assert values(backend, "champion_present", date(2026, 7, 16))["A1"] == 0
    assert values(backend, "champion_left", date(2026, 7, 16))["A1"] == 1


# -- advocacy, financial, enablement, ROI, manual -------------------------------------------


def test_advocacy_events(backend):
    """From 2025-07-01 (365 days): A1 review 01-10 + referral 05-05 = 2 (case study 2025-03,
    review 07-01 after the cutoff). A2: reference 2025-12-01 = 1."""
    check(values(backend, "advocacy_events"), {"A1": 2, "A2": 1, "A3": 0, "A6": 0})
    check(values(backend, "advocacy_events", kinds=["review"]),
          {"A1": 1, "A2": 0, "A3": 0, "A6": 0})


def test_overdue_invoices(backend):
    """Unpaid on 06-30 and due before it. A1: I2 (due 06-01), I3 (due 06-15, paid 07-01: after
    as-of, so unpaid then) = 2; I4 is due on 06-30 itself, I5 later, I1 paid. A2: I6 paid,
    I7 has no due date → 0."""
    check(values(backend, "overdue_invoices"), {"A1": 2, "A2": 0, "A3": 0, "A6": 0})


def test_days_past_due(backend):
    """A1: I2 due 06-01 → 29 days, I3 due 06-15 → 15 days; the most is 29. Others: 0."""
    check(values(backend, "days_past_due"), {"A1": 29, "A2": 0, "A3": 0, "A6": 0})


def test_training_completion(backend):
    """Users existing at the cutoff ÷ those with a training by then.
    A1: U1, U2, U3, U6 (deactivated 07-01 10:00, after the cutoff), U7 = 5 users (U4 created
    after the cutoff, U5 deactivated 06-05); trained: U1 (twice), U3 = 2 (U2's training is after
    the cutoff, U5 has left) → 2/5. A2: 0/2. A3: 0/1. A6: no users → missing."""
    check(values(backend, "training_completion"), {"A1": 0.4, "A2": 0.0, "A3": 0.0, "A6": None})


def test_goals_achieved(backend):
    """A1: 2025-11-01 and 2026-06-20 = 2 (07-01 after the cutoff); in 30 days: 1."""
    check(values(backend, "goals_achieved"), {"A1": 2, "A2": 0, "A3": 0, "A6": 0})
    check(values(backend, "goals_achieved", window_days=30), {"A1": 1, "A2": 0, "A3": 0, "A6": 0})


def test_csm_pulse(backend):
    """A1: the 06-20 pulse (2) expired 06-30 12:00, the 07-01 one is after the cutoff → the 05-01
    pulse, 4. A2: green expires at the cutoff (07-01 00:00) so no longer counts; yellow (03-01)
    is older than 90 days → missing. A3: red (1) and 5 at the same moment → the lower, 1."""
    check(values(backend, "csm_pulse"), {"A1": 4.0, "A2": None, "A3": 1.0, "A6": None})
    # With 180 days A2's yellow (3) from 03-01 counts.
    check(values(backend, "csm_pulse", max_age_days=180),
          {"A1": 4.0, "A2": 3.0, "A3": 1.0, "A6": None})


def test_csm_pulse_before_expiry(backend):
    """As of 06-29 A1's escalation pulse (2, given 06-20, expires 06-30 12:00) is in force."""
    assert values(backend, "csm_pulse", date(2026, 6, 29))["A1"] == 2.0


# -- lifecycle ------------------------------------------------------------------------------


def test_tenure_days(backend):
    """Days from contract_start to 06-30: A1 2024-10-01 → 365 + 272 = 637; A2 2025-07-01 → 364;
    A3 2026-06-01 → 29; A6 2025-06-30 → 365."""
    check(values(backend, "tenure_days"), {"A1": 637, "A2": 364, "A3": 29, "A6": 365})


def test_days_to_renewal(backend):
    """A1 09-30 → 92; A2 07-31 → 31; A3 no date → missing; A6 06-15 passed → −15."""
    check(values(backend, "days_to_renewal"), {"A1": 92, "A2": 31, "A3": None, "A6": -15})


def test_user_growth(backend):
    """Users at the cutoff vs at 04-02 (90 days earlier).
    A1 now: U1, U2, U3, U6, U7 = 5; then: U1, U2, U5, U6 = 4 → (5 − 4) / 4 = 0.25.
    A2: 2 vs 2 → 0. A3: W1 vs nobody → missing. A6: no users → missing."""
    check(values(backend, "user_growth"), {"A1": 0.25, "A2": 0.0, "A3": None, "A6": None})


def test_account_attributes_are_read_as_of_the_date(tmp_path):
    """The CRM moves A1's renewal to 2027-09-30 in an export ingested on 2026-08-01: as of 06-30
    it is still 09-30 (92 days), as of 08-01 it is 2027-09-30 (365 + 60 = 425 days)."""
    ws = build(tmp_path / "ws", {"accounts": FILES["accounts"]})
    ws.file("data/accounts.csv", FILES["accounts"].replace("2026-09-30", "2027-09-30"))
    ws.ingest(now=datetime(2026, 8, 1, 9), full=True)
    with ws.open().store(read_only=True) as store:
        con = ibis.duckdb.from_connection(store.con)
        assert values(con, "days_to_renewal")["A1"] == 92
        assert values(con, "days_to_renewal", date(2026, 8, 1))["A1"] == 425


def test_a_table_without_data_makes_its_measures_missing(tmp_path):
    """With only the CRM loaded, every measure reading another table is missing for everyone;
    the lifecycle measures over accounts alone still have values."""
    ws = build(tmp_path / "ws", {"accounts": FILES["accounts"]})
    with ws.open().store(read_only=True) as store:
        con = ibis.duckdb.from_connection(store.con)
        for name, spec in REGISTRY.items():
            got = values(con, name)
            if spec.tables:
                assert got == dict.fromkeys(SCORED), name
        assert values(con, "tenure_days")["A1"] == 637


# -- the library as a whole -----------------------------------------------------------------


def test_every_measure_is_documented():
    assert len(REGISTRY) >= 25
    for name, spec in REGISTRY.items():
        assert spec.family in FAMILIES, name
        assert spec.unit, name
        assert spec.doc.strip() and "Unit:" in spec.doc, name
        assert set(spec.tables) <= set(TABLES), name
        for key, field in spec.params.model_fields.items():
            assert field.description, f"{name}.{key} has no description"


def test_measure_reference_is_current():
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "run `python -m healthscore.measures.reference > docs/measures.md`")


def test_bad_params_name_the_measure_and_key():
    from healthscore.errors import ConfigError

    spec = get_measure("high_priority_tickets")
    with pytest.raises(ConfigError) as err:
        spec.parse_params({"priorities": ["p0"], "window": 3})
    text = str(err.value)
    assert "high_priority_tickets" in text and "priorities" in text and "window" in text


class _SparkOptions(ibis.config.Config):
    treat_nan_as_null: bool = False


_IBIS_TYPES = {"string": "string", "integer": "int64", "number": "float64", "date": "date",
               "timestamp": "timestamp", "boolean": "boolean", "json": "json"}


class _UnboundStore:
    """Stands in for a backend: the store's tables as unbound Ibis tables, to compile only."""

    def table(self, name: str):
        spec = TABLES[name]
        schema = {c.name: _IBIS_TYPES[c.type] for c in spec.columns}
        if spec.kind == "state":
            schema |= {"_valid_from": "timestamp", "_valid_to": "timestamp"}
        return ibis.table(schema, name=name)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_measure_compiles_for_spark(name, monkeypatch):
    """Engine-neutral: every measure compiles to Spark SQL (no DuckDB-only operation)."""
    # The PySpark compiler reads an option its backend registers on import; pyspark itself
    # is not installed here.
    if ibis.options.pyspark is None:
        monkeypatch.setattr(ibis.options, "pyspark", _SparkOptions())
    spec = REGISTRY[name]
    expr = spec.fn(MeasureContext(_UnboundStore(), AS_OF), spec.parse_params({}))
    assert set(expr.columns) >= {"account_id", "value"}
    assert "SELECT" in ibis.to_sql(expr, dialect="pyspark")

