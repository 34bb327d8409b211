"""The benchmark machinery on a tiny company, so that bench/ does not rot.

Runs ``python -m bench run`` end to end on 40 accounts (generate, ingest, healthscore's CLI and
API, the hand-written SQL, pandas, one repeat, no warm-up) and checks that the SQL and pandas
agree with healthscore's snapshot; then that a disagreement is caught. No timings are asserted:
figures belong in bench/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_checks_and_catches_a_disagreement(tmp_path, monkeypatch):
    data = tmp_path / "c40"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--accounts", "40", "--data-dir", str(data),
         "--repeat", "1", "--no-warmup", "--quiet-wait", "0", "--backfill-days", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for row in ("ingest of the company from files", "healthscore CLI", "healthscore API",
                "DuckDB SQL", "pandas", "healthscore backfill, 5 days daily"):
        assert f"| {row}" in done.stdout
    assert "backfill of 5 days / one day" in done.stdout
    assert "check DuckDB SQL: same scores" in done.stderr
    assert "check pandas: same scores" in done.stderr
    assert (data / "results.json").exists() and (data / "results.md").exists()
    out = data / "bench-out" / "sql"
    accounts = pd.read_parquet(out / "accounts.parquet")
    measures = pd.read_parquet(out / "measures.parquet")
    assert len(accounts) > 0 and accounts.score.dropna().between(0, 100).all()

    # the backfill floor script on the same store: the hand SQL for 2 dates, the year's parts
    floor = subprocess.run(
        [sys.executable, "-m", "bench.backfill_floor", "--data-dir", str(data), "--sample",
         "2", "--days", "10"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert floor.returncode == 0, floor.stderr
    assert "hand-written SQL (health.sql), 2 dates one by one" in floor.stdout
    for part in ("(account, user) active day", "(account, feature) active day",
                 "sliding sum", "text account ids, one statement"):
        assert part in floor.stdout

    # The same check fails loudly on a result that differs.
    monkeypatch.syspath_prepend(str(ROOT))
    from bench import check
    from bench.proc import BenchError
    from bench.run import health_version

    expected = check.snapshot(data / "healthscore.duckdb", "health", health_version(data),
                              date(2026, 10, 31))
    accounts.loc[accounts.score.first_valid_index(), "score"] += 1e-3
    measures.loc[3, "raw_value"] = 12345.0
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    accounts.to_parquet(tampered / "accounts.parquet")
    measures.to_parquet(tampered / "measures.parquet")
    with pytest.raises(BenchError, match=r"score differs for 1 accounts[\s\S]*raw_value"):
        check.compare("tampered", tampered, expected)


def test_write_floor_writes_the_snapshots_it_times():
    """The write-floor script on 50 accounts: it stores 2 dates of the M shape through
    Store.write_snapshot (the compact history) and prints its figures beside schema 10's."""
    done = subprocess.run([sys.executable, "-m", "bench.write_floor", "--accounts", "50",
                           "--dates", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("one date: 50 account rows and 50 value rows (18 values each); schema 10 wrote 850 "
            "measure rows and 350 group rows instead") in done.stdout
    assert "write_snapshot, one date per transaction" in done.stdout
    assert "schema 10's measure rows alone, 2 dates in one INSERT" in done.stdout
