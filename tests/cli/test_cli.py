"""End to end through the command line, on a fresh workspace."""

import textwrap

from typer.testing import CliRunner

from conftest import ACCOUNTS_CSV
from healthscore.cli import app

runner = CliRunner()


def hs(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_fresh_workspace_init_ingest_reingest_status_quarantine(tmp_path):
    root = tmp_path / "acme"
    result = hs("init", str(root))
    assert result.exit_code == 0, result.output
    assert (root / "healthscore.yaml").exists() and (root / "healthscore.duckdb").exists()

    result = hs("ingest", "-w", str(root))
    assert result.exit_code == 0 and "no sources yet" in result.output

    (root / "data/accounts.csv").write_text(ACCOUNTS_CSV + "A3,,starter,1,1,2027-01-01,"
                                            "2025-01-01\n")
    (root / "data/events.csv").write_text(
        "account_id,event,timestamp\nA1,login,2026-01-01T00:00:00Z\nA2,login,1767225600\n")
    cfg = (root / "healthscore.yaml").read_text().replace("sources: {}", textwrap.dedent("""\
        sources:
          crm: {table: accounts, path: data/accounts.csv}
          events: {table: usage_events, path: data/events.csv}"""))
    (root / "healthscore.yaml").write_text(cfg)

    result = hs("ingest", "-w", str(root))  # 1 of 3 accounts rejected: over the 10 % allowed
    assert result.exit_code == 1, result.output
    assert ("4 rows accepted (4 new, 0 changed, 0 already stored), 1 rejected."
            in result.output)
    assert "data/accounts.csv:3 name = None: required value is empty" in result.output
    assert "source 'crm': 1 of 3 rows rejected (33%)" in result.output
    assert "The accepted rows were loaded" in result.output

    result = hs("ingest", "-w", str(root))  # same files again: nothing new
    assert result.exit_code == 1
    # unchanged files are skipped, but the one with a rejected row is read again
    assert "1 rows accepted" not in result.output
    assert "(0 new, 0 changed, 2 already stored), 1 rejected." in result.output

    result = hs("status", "-w", str(root))
    assert result.exit_code == 0
    status_rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
                   if line.count("│") > 3}
    assert "2" in status_rows["accounts"].split("│")[2]
    assert "2" in status_rows["usage_events"].split("│")[2]
    assert "Quarantine: 1 rejected row(s)" in result.output

    result = hs("quarantine", "-w", str(root), "--csv", str(tmp_path / "q.csv"))
    assert result.exit_code == 0
    assert "required value is empty" in (tmp_path / "q.csv").read_text()


def test_strict_ingest_exits_1_and_config_errors_exit_2(tmp_path):
    root = tmp_path / "w"
    hs("init", str(root))
    (root / "data/accounts.csv").write_text("account_id,name\nA1,\n")
    (root / "healthscore.yaml").write_text(
        "name: w\nsources:\n  crm: {table: accounts, path: data/accounts.csv}\n")
    result = hs("ingest", "-w", str(root), "--strict")
    assert result.exit_code == 1
    assert "1 row(s) rejected; --strict: nothing was written" in result.output

    (root / "healthscore.yaml").write_text("name: w\nsources:\n  crm: {table: acounts}\n")
    result = hs("ingest", "-w", str(root))
    assert result.exit_code == 2
    assert "healthscore.yaml:3: sources.crm.table" in result.output


def test_missing_workspace_is_a_usage_error(tmp_path):
    result = hs("status", "-w", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "not a healthscore workspace" in result.output and "healthscore init" in result.output


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "status", "-w", str(tmp_path)])
    assert result.exit_code != 0 and result.exception is not None


def test_demo_command_builds_a_workspace_that_ingests_cleanly(tmp_path):
    out = tmp_path / "demo"
    result = hs("demo", "--out", str(out), "--accounts", "60", "--seed", "3",
                "--end", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert ", 0 rejected." in result.output
    result = hs("status", "-w", str(out))
    assert "Quarantine: 0 rejected row(s)" in result.output
    # a second ingest of the untouched files reads nothing and adds nothing
    result = hs("ingest", "-w", str(out))
    assert "0 rows accepted (0 new, 0 changed, 0 already stored), 0 rejected." in result.output
    # regenerating needs --force
    result = hs("demo", "--out", str(out), "--accounts", "60")
    assert result.exit_code == 2 and "--force" in result.output
