"""The impact preview (healthscore preview / hs.preview): band transitions and movers written
out by hand, the same file changes nothing, and nothing is ever written to the store."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from typer.testing import CliRunner

from conftest import RECENCY_SCORECARD
from healthscore import pipeline
from healthscore.cli import app as cli

AS_OF = date(2026, 6, 30)
ACCOUNTS = ("account_id,name,arr,contract_start\n"
            "A1,Acme,1000,2025-01-01\nA2,Beta,2000,2025-01-01\nA3,Gamma,4000,2025-01-01\n")
# days since the last activity, counted to the end of June 30 (the score's cutoff), each
# last login at 10:00: A1 2 + 14/24, A2 20 + 14/24, A3 29 + 14/24
IDLE = {"A1": 2 + 14 / 24, "A2": 20 + 14 / 24, "A3": 29 + 14 / 24}
EVENTS = ("account_id,event,timestamp\nA1,login,2026-06-28T10:00:00Z\n"
          "A2,login,2026-06-10T10:00:00Z\nA3,login,2026-06-01T10:00:00Z\n")


@pytest.fixture
def scored(ws):
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.file("data/events.csv", EVENTS)
    ws.file("scorecards/health.yaml", RECENCY_SCORECARD)
    ws.config("crm: {table: accounts, path: data/accounts.csv}",
              "events: {table: usage_events, path: data/events.csv}")
    ws.ingest()
    pipeline.score(ws.open(), AS_OF)
    return ws


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_band_transitions_and_movers_written_out(scored, tmp_path):
    """Scores (linear from 30 days to 0): A1 100 × (1 − 2.583/30) = 91.4, A2 100 × (1 −
    20.583/30) = 31.4, A3 100 × (1 − 29.583/30) = 1.4. Default bands (red below 40, yellow below 70): A1 green,
    A2 and A3 red. The file moves the bands to red below 50, yellow below 95: A1 becomes yellow
    (its score unchanged, so no measure moved it), A2 and A3 stay red. Transitions: green →
    yellow 1 account (ARR 1,000), red → red 2 (ARR 6,000); one band change."""
    candidate = tmp_path / "health-new.yaml"
    candidate.write_text(RECENCY_SCORECARD.replace("name: health\n",
                                                   "name: health\nbands: {red: 50, yellow: 95}\n"))
    store = scored.open().store_path
    before = _digest(store)
    p = pipeline.preview(scored.open(), "health", candidate)
    assert _digest(store) == before  # nothing written, byte for byte
    t = p.summary["transitions"]
    assert p.as_of == AS_OF and t["accounts"] == 3
    assert {(c["from"], c["to"]): (c["accounts"], c["arr"]) for c in t["cells"]} == {
        ("green", "yellow"): (1, 1000.0), ("red", "red"): (2, 6000.0)}
    assert (t["changed_band"], t["changed_band_arr"]) == (1, 1000.0)
    (mover,) = p.summary["movers"]
    assert mover["account_id"] == "A1" and mover["measures"] == []
    assert mover["old_score"] == pytest.approx(100 * (1 - IDLE["A1"] / 30))
    assert mover["new_score"] == pytest.approx(mover["old_score"])
    assert p.summary["backtest"] is None  # no outcomes on record


def test_the_same_file_changes_nothing(scored):
    p = pipeline.preview(scored.open(), "health", scored.root / "scorecards/health.yaml")
    assert p.current_version == p.candidate_version
    assert p.summary["transitions"]["changed_band"] == 0 and p.summary["movers"] == []


def test_a_new_scoring_moves_scores_and_names_the_measure(scored, tmp_path):
    """The file scores recency from 60 days instead of 30: A2 (20.583 days idle) goes from
    31.4 to 100 × (1 − 20.583/60) = 65.7, red → yellow, moved +34.3 points by that measure."""
    candidate = tmp_path / "health-60.yaml"
    candidate.write_text(RECENCY_SCORECARD.replace("from: 30", "from: 60"))
    p = pipeline.preview(scored.open(), "health", candidate, history=False)
    by = {m["account_id"]: m for m in p.summary["movers"]}
    assert by["A2"]["new_score"] == pytest.approx(100 * (1 - IDLE["A2"] / 60))
    assert (by["A2"]["old_band"], by["A2"]["new_band"]) == ("red", "yellow")
    (moved,) = by["A2"]["measures"]
    assert moved["measure"] == "days_since_last_activity"
    assert moved["points"] == pytest.approx(100 * (1 - IDLE["A2"] / 60)
                                            - 100 * (1 - IDLE["A2"] / 30))


def test_cli_prints_the_matrix_and_refuses_a_broken_file(scored, tmp_path):
    candidate = tmp_path / "health-new.yaml"
    candidate.write_text(RECENCY_SCORECARD.replace("from: 30", "from: 60"))
    result = CliRunner().invoke(cli, ["preview", "-w", str(scored.root), "-s", "health",
                                      "--scorecard", str(candidate)])
    assert result.exit_code == 0, result.output
    assert "Band now (rows)" in result.output and "Nothing was written." in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(RECENCY_SCORECARD.replace("days_since_last_activity", "no_such_measure"))
    result = CliRunner().invoke(cli, ["preview", "-w", str(scored.root), "--scorecard",
                                      str(broken)])
    assert result.exit_code == 2 and "no_such_measure" in result.output
