"""A tiny hand-built store for the read tests (``tests/read``, ``tests/server``).

Accounts are ingested from a CSV through the real ingest; snapshots are inserted by hand (a seam
we own), so every expected number in those tests is counted from the rows written here.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import ACCOUNTS_SOURCE, NOW
from healthscore.config.scorecard import Scorecard
from healthscore.read import Card
from history_rows import store_measures, store_version

D = date(2026, 6, 30)
V = "v1"
#: The series the tests read; labels as a scorecard file would give them.
C = Card("health", V, None, {"active_user_ratio": "Active seats", "open_tickets": "Open"},
         {"usage": "Usage", "support": "Support"})

#: The version's definition: two groups of equal weight, one measure each, scored 100 × raw.
SCORECARD = Scorecard.model_validate({"name": "health", "groups": {
    "usage": {"weight": 1, "measures": {"active_user_ratio": {
        "scoring": {"linear": {"from": 0, "to": 1}}}}},
    "support": {"weight": 1, "measures": {"open_tickets": {
        "scoring": {"linear": {"from": 0, "to": 1}}}}}}})

ACCOUNTS = """\
account_id,name,plan,segment,arr,seats,csm,renewal_date,contract_start,churned_at
A1,Acme,business,smb,10000,10,ann,2026-07-15,2024-01-01,
A2,Beta Corp,starter,smb,2000,5,bob,2026-09-28,2024-01-01,
A3,Gamma,enterprise,enterprise,50000,100,ann,2026-09-29,2024-01-01,
A4,<script>alert(1)</script>,business,mid-market,7000,20,bob,2027-03-01,2024-01-01,
A5,Never Scored,starter,smb,1000,2,ann,2027-01-01,2024-01-01,
A6,Gone Ltd,starter,smb,3000,3,bob,2026-07-01,2024-01-01,2026-06-10
"""

# (account, as_of, score, band); 7 and 30 days before D for deltas. A6 churned on D-20 and was
# last scored on D-30.
SNAPSHOTS = [
    ("A1", D, 30.0, "red"), ("A1", D - timedelta(7), 45.0, "red"),
    ("A1", D - timedelta(30), 70.0, "green"),
    ("A2", D, 60.0, "yellow"), ("A2", D - timedelta(30), 55.0, "yellow"),
    ("A3", D, 55.0, "yellow"), ("A3", D - timedelta(7), 55.5, "yellow"),
    ("A4", D, 90.0, "green"), ("A4", D - timedelta(30), 80.0, "green"),
    ("A6", D - timedelta(30), 20.0, "red"),
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
        store_version(store.con, SCORECARD, version=V, now=NOW)
        # A1's measures on D-30 and D: usage 40 -> 10 points, support 30 -> 20 (raw value r
        # scores 100 r, weighs 0.5: points 50 r).
        store_measures(store.con, [
            ("health", V, day, "A1", group, measure, points / 50)
            for day, usage, support in ((D - timedelta(30), 40.0, 30.0), (D, 10.0, 20.0))
            for group, measure, points in (("usage", "active_user_ratio", usage),
                                           ("support", "open_tickets", support))])
        store.rebuild_series()  # the account-ordered copy the history reads use
    return workspace
