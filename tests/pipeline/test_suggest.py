"""`healthscore scorecard suggest`: a first scorecard from what a workspace loaded — only
measures whose data is there, features named from the data — that checks and scores."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE
from healthscore.cli import app as cli

# A1 has 50 seats, A2 10 (ACCOUNTS_CSV); exports 5 times, logs in 3, one api call
EVENTS = "account_id,user_id,event,timestamp\n" + "".join(
    f"A{1 + i % 2},u{i % 3},{e},2026-05-{10 + i:02d}T10:00:00Z\n"
    for i, e in enumerate(["export"] * 5 + ["login"] * 3 + ["api.call"]))


def test_suggest_proposes_only_what_the_data_supports_and_it_scores(ws):
    """No tickets, surveys or touchpoints: only usage measures; seats and user ids are there,
    so the ratio of seats in use; the features are the data's own events, most used first; the
    file checks and scores; a second suggest does not overwrite it without --force."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/events.csv", EVENTS)
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events.csv}")
    ws.ingest()
    root = str(ws.root)
    result = CliRunner().invoke(cli, ["scorecard", "suggest", "-w", root])
    assert result.exit_code == 0, result.output
    assert "5 measures in 1 groups (usage)" in result.output
    written = yaml.safe_load((ws.root / "scorecards" / "health.yaml").read_text())
    measures = written["groups"]["usage"]["measures"]
    assert list(written["groups"]) == ["usage"]
    assert list(measures) == ["active_user_ratio", "active_days_per_user",
                              "days_since_last_activity", "usage_trend", "feature_breadth"]
    assert measures["feature_breadth"]["params"]["features"] == ["export", "login", "api.call"]
    assert measures["days_since_last_activity"]["scoring"] == {
        "percentile": {"higher_is_better": False}}
    assert "# the most used events: export (5), login (3), api.call (1)" in (
        ws.root / "scorecards" / "health.yaml").read_text()
    assert CliRunner().invoke(cli, ["check", "-w", root]).exit_code == 0
    scored = CliRunner().invoke(cli, ["score", "-w", root, "--lowest", "0"])
    assert scored.exit_code == 0 and "health as of 2026-05-18" in scored.output
    again = CliRunner().invoke(cli, ["scorecard", "suggest", "-w", root])
    assert again.exit_code == 2 and "exists" in again.output and "--force" in again.output


def test_suggest_on_an_empty_store_says_to_ingest_first(ws):
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.config(ACCOUNTS_SOURCE)
    ws.ingest()
    result = CliRunner().invoke(cli, ["scorecard", "suggest", "-w", str(ws.root)])
    assert result.exit_code == 1
    assert "no data to suggest measures from" in result.output
    assert "healthscore ingest" in result.output


def test_init_writes_starters_that_check_and_suggest_replaces_an_unedited_one(tmp_path):
    """`init` writes commented health and expansion starters that validate; after an ingest,
    `scorecard suggest` replaces the health starter while it is unedited, and keeps an edited
    one unless --force."""
    root = tmp_path / "acme"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    health = root / "scorecards" / "health.yaml"
    assert health.read_text().startswith("# A starter health scorecard")
    assert (root / "scorecards" / "expansion.yaml").exists()
    assert CliRunner().invoke(cli, ["check", "-w", str(root)]).exit_code == 0
    (root / "data" / "accounts.csv").write_text(ACCOUNTS_CSV)
    (root / "data" / "events.csv").write_text(EVENTS)
    cfg = (root / "healthscore.yaml").read_text().replace("sources: {}", (
        "sources:\n  crm: {table: accounts, path: data/accounts.csv}\n"
        "  events: {table: usage_events, path: data/events.csv}"))
    (root / "healthscore.yaml").write_text(cfg)
    assert CliRunner().invoke(cli, ["ingest", "-w", str(root)]).exit_code == 0
    result = CliRunner().invoke(cli, ["scorecard", "suggest", "-w", str(root)])
    assert result.exit_code == 0, result.output
    assert health.read_text().startswith("# A first health scorecard, suggested")
    health.write_text(health.read_text() + "# my edit\n")
    again = CliRunner().invoke(cli, ["scorecard", "suggest", "-w", str(root)])
    assert again.exit_code == 2 and "exists" in again.output
