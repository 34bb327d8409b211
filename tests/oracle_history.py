"""The oracle history the suggested weights and the churn model are tested on: accounts whose
churn follows one measure only, stored as snapshots written by hand (a seam we own). Test
modules import the ``oracle`` fixture."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from conftest import NOW
from healthscore import read
from history_rows import store_measures, store_version

D0 = date(2025, 6, 1)
DATES = [D0 + timedelta(days=15 * k) for k in range(25)]  # a year, every 15 days
SCORECARD = """\
name: health
# the two signals
bands: {red: 40, yellow: 60}
groups:
  usage:
    weight: 50
    measures:
      days_since_last_activity:
        scoring: {linear: {from: 60, to: 0}}
  support:
    weight: 50
    measures:
      open_tickets:
        scoring: {linear: {from: 6, to: 0}}
"""


def _world(seed: int = 11, accounts: int = 160):
    """Accounts with a latent health h; measure 1 (activity) scores h plus noise on each date,
    measure 2 (tickets) is noise. Each account renews every 90 days from its own offset and
    churns at a renewal with a chance that falls with its activity score 30 days before;
    after a churn it is no longer scored. The stored score is the file's 50/50 mean."""
    rng = np.random.default_rng(seed)
    snaps, measures, renewals = [], [], []
    for i in range(accounts):
        acc = f"A{i:03d}"
        h = rng.uniform(0, 100)
        offset = int(rng.integers(0, 90))
        churned_on = None
        renewal = D0 + timedelta(days=offset)
        end = DATES[-1] + timedelta(days=120)
        while renewal <= end:
            activity = float(np.clip(h + rng.normal(0, 10), 0, 100))
            churn = rng.random() < 1 / (1 + np.exp((activity - 35) / 6))
            renewals.append((acc, renewal, "churned" if churn else "renewed"))
            if churn:
                churned_on = renewal
                break
            renewal += timedelta(days=90)
        for d in DATES:
            if churned_on is not None and d >= churned_on:
                break
            a = float(np.clip(h + rng.normal(0, 8), 0, 100))
            b = float(rng.uniform(0, 100))
            score = 0.5 * a + 0.5 * b
            band = "red" if score < 40 else "yellow" if score < 60 else "green"
            snaps.append((acc, d, score, band))
            # raw values that the file's scorings turn into a and b: 60 - 0.6 a days scores
            # 100 (60 - days) / 60 = a; 6 - 0.06 b tickets scores b
            measures.append((acc, d, "usage", "days_since_last_activity", 60 - 0.6 * a))
            measures.append((acc, d, "support", "open_tickets", 6 - 0.06 * b))
    return snaps, measures, renewals


@pytest.fixture
def oracle(ws):
    snaps, measures, renewals = _world()
    ids = sorted({s[0] for s in snaps})
    ws.file("data/accounts.csv", "account_id,name,arr,contract_start\n" + "".join(
        f"{a},Account {a},1000,2025-01-01\n" for a in ids))
    ws.file("data/renewals.csv", "account_id,renewal_date,outcome\n" + "".join(
        f"{a},{d},{o}\n" for a, d, o in renewals))
    ws.config("crm: {table: accounts, path: data/accounts.csv}",
              "renewals: {table: renewals, path: data/renewals.csv}")
    ws.file("scorecards/health.yaml", SCORECARD)
    ws.ingest()
    workspace = ws.open()
    version = read.card(workspace, "health").version
    s = pd.DataFrame(snaps, columns=["account_id", "as_of", "score", "band"])
    mm = pd.DataFrame(measures, columns=["account_id", "as_of", "group", "measure", "raw"])
    with workspace.store() as store:  # the stored history, by hand (a seam we own)
        con = store.con
        con.register("s", s)
        con.register("mm", mm)
        con.execute("INSERT INTO snapshots SELECT 'health', ?, as_of::DATE, account_id, 'base', "
                    "score, band, 'C', 1.0, 1, ? FROM s", [version, NOW])
        store_version(con, workspace.scorecards(["health"])[0].scorecard, now=NOW)
        store_measures(con, f"SELECT 'health', '{version}', as_of::DATE, account_id, "
                            "\"group\", measure, raw FROM mm")
        store.rebuild_series()
    return workspace


