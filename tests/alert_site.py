"""A scored demo workspace with alerts, for the alerts API and page tests (a pytest plugin,
see conftest.py).

40 demo accounts scored with `health` on 2026-05-25 and 2026-06-01; four rules (one per
severity, and a week's drop) checked on 2026-06-01 and delivered to a file channel, so every
account a rule holds for that day has one open alert with one sent delivery. One account that
is red that day is renamed to a script tag first, so its alerts carry the hostile name.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from healthscore import alerting
from healthscore.demo import generate_demo
from healthscore.pipeline import score
from healthscore.sources import ingest
from healthscore.workspace import Workspace

NOW = datetime(2026, 6, 1, 6, 0)
CHECKED = date(2026, 6, 1)
XSS = "<script>alert(1)</script>"
RULES = """
alerts:
  channels:
    team-file: {kind: file, path: alerts/sent.jsonl}
  route:
    default: [team-file]
  rules:
    entered-red:
      when: {band: red}
      severity: critical
    sharp-drop:
      when: {drop: {points: 8, days: 7}}
    renewal-risk:
      when: {renewal: {within_days: 90}}
    quiet:
      when: {measure: {measure: days_since_last_activity, above: 4.5}}
      severity: info
"""


def build_alerted(root: Path) -> Path:
    """Make the workspace described above in ``root``; returns ``root``."""
    generate_demo(root, accounts=40, seed=3, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    for day in (date(2026, 5, 25), CHECKED):
        score(ws, day, now=NOW, scorecards=["health"])
    with ws.store() as store:  # a hostile name, as a CRM export could carry it
        store.con.execute(
            "UPDATE accounts SET name = ? WHERE account_id = (SELECT min(account_id) FROM "
            "snapshots WHERE as_of = ? AND band = 'red')", [XSS, CHECKED])
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write(RULES)
    ws = Workspace.open(root)
    alerting.check_alerts(ws, CHECKED, now=NOW)
    return root


@pytest.fixture(scope="module")
def alerted_root(tmp_path_factory) -> Path:
    """A fresh copy per test module (the tests act on alerts)."""
    return build_alerted(tmp_path_factory.mktemp("alerts") / "demo")


def stored_alerts(root: Path, where: str = "TRUE", params: list | None = None) -> list[dict]:
    """The ``alerts`` rows matching ``where``, read from the store with plain SQL."""
    with Workspace.open(root).store(read_only=True) as store:
        cur = store.con.execute(f"SELECT * FROM alerts WHERE {where} ORDER BY alert_id",
                                params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
