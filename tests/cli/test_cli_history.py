"""backfill / run / trend / why / movers / pulse / override through the CLI."""

import pytest
from typer.testing import CliRunner

from healthscore.cli import app

runner = CliRunner()


def hs(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("hdemo") / "demo"
    assert hs("demo", "--out", str(out), "--accounts", "50", "--seed", "4",
              "--end", "2026-06-01").exit_code == 0
    result = hs("backfill", "-w", str(out), "--from", "2026-05-01", "--to", "2026-05-31",
                "--step", "5", "-s", "health")
    assert result.exit_code == 0, result.output
    assert "health: 7 dates scored, 0 already there" in result.output
    return out


def test_backfill_again_skips_what_is_there(demo):
    result = hs("backfill", "-w", str(demo), "--days", "3", "--to", "2026-05-31", "-s", "health")
    assert result.exit_code == 0
    assert "health: 2 dates scored, 1 already there (from 2026-05-29 to 2026-05-31)" \
        in result.output
    result = hs("backfill", "-w", str(demo), "-s", "health")
    assert result.exit_code == 2 and "give --from or --days" in result.output


def test_trend_why_movers(demo):
    result = hs("movers", "-w", str(demo), "--days", "30", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "Largest drops 2026-05-01 → 2026-05-31" in result.output
    account = next(line.split("│")[1].strip() for line in result.output.splitlines()
                   if "│ ACC-" in line)
    result = hs("trend", account, "-w", str(demo), "--days", "30")
    assert result.exit_code == 0, result.output
    assert f"health {account}" in result.output and "change: 7d" in result.output
    result = hs("why", account, "-w", str(demo), "--from", "2026-05-01", "--to", "2026-05-31")
    assert result.exit_code == 0, result.output
    assert "points (" in result.output and "total" in result.output
    result = hs("why", account, "-w", str(demo), "--from", "2026-05-02", "--to", "2026-05-31")
    assert result.exit_code == 1 and "no health snapshot of" in result.output
    assert "last scored on 2026-05-01" in result.output  # says which date it has


def test_pulse_and_override_show_in_explain(demo):
    account = "ACC-000001"
    result = hs("pulse", account, "-w", str(demo), "--value", "purple", "--comment", "x",
                "--author", "y")
    assert result.exit_code == 2 and "red, yellow, green or 1-5" in result.output
    result = hs("pulse", "ACC-999999", "-w", str(demo), "--value", "red", "--comment", "x",
                "--author", "y")
    assert result.exit_code == 1 and "unknown account" in result.output
    result = hs("override", account, "-w", str(demo), "--measure", "nps_average", "--score",
                "15", "--comment", "survey outage", "--author", "maria", "-s", "health")
    assert result.exit_code == 0, result.output
    # the override applies from now on: score today, months after the demo's data ended
    result = hs("score", "-w", str(demo), "-s", "health", "--lowest", "0", "--as-of", "today")
    assert result.exit_code == 2 and "--allow-stale" in result.output
    result = hs("score", "-w", str(demo), "-s", "health", "--lowest", "0", "--as-of", "today",
                "--allow-stale")
    assert result.exit_code == 0 and "days after the last data health reads" in result.output
    result = hs("explain", account, "-w", str(demo), "-s", "health")
    if "no snapshot" not in result.output:  # the account may have churned by today
        assert "score overridden by maria" in result.output


def test_daily_run(demo):
    result = hs("run", "-w", str(demo), "--as-of", "2026-05-31")
    assert result.exit_code == 0, result.output
    assert "health as of 2026-05-31" in result.output and "ok." in result.output
