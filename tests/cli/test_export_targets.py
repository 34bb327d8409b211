"""``healthscore export --to``: PostgreSQL (a real server, tests/pg_server.py) and a folder of
date-partitioned Parquet files, through the CLI, on the REST tests' scored demo company
(tests/rest_server.py: 40 accounts, both scorecards, three dates).

The oracle is ``healthscore export --out x.csv`` of the same date: the CSV's rows, read back as
written, must be the target's rows (same accounts, scores equal to 1e-9, same bands, grades,
variants, versions); the account attributes must be those the read layer gives for the date
(``read.lowest`` over every account, which reads them by its own query)."""

from __future__ import annotations

import csv
import re
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from healthscore import read
from healthscore.cli import app
from healthscore.workspace import Workspace
from pg_server import free_port
from rest_server import DATES

runner = CliRunner()
FIRST, MIDDLE, LAST = DATES
CARDS = ("expansion", "health")
#: Columns compared to 1e-9 (the others exactly).
FLOATS = ("score", "coverage", "raw_value", "weight", "points")


def hs(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def scored(workspace) -> Path:
    """The scored demo of tests/rest_server.py (not changed here)."""
    return workspace.root


def count(ws: Path, scorecard: str, *days: date) -> int:
    """Snapshot rows of the scorecard on ``days`` (every date when none), from the store."""
    with Workspace.open(ws).store(read_only=True) as store:
        return store.con.execute(
            "SELECT count(*) FROM snapshots WHERE scorecard = ? AND (? OR list_contains(?, "
            "as_of))", [scorecard, not days, list(days)]).fetchone()[0]


@pytest.fixture
def demo(scored, tmp_path) -> Path:
    """A copy of the scored demo a test may change."""
    return Path(shutil.copytree(scored, tmp_path / "demo"))


def file_rows(ws: Path, day: date, tmp: Path, *extra: str) -> list[dict]:
    """The oracle: ``export --out x.csv`` of ``day``, read back."""
    out = tmp / f"oracle-{day}{'-'.join(extra)}.csv"
    result = hs("export", "-w", str(ws), "--as-of", str(day), "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def pg_rows(url: str, table: str, where: str = "TRUE") -> list[dict]:
    with psycopg.connect(url) as con:
        cur = con.execute(f"SELECT * FROM healthscore.{table} WHERE {where} "
                          "ORDER BY as_of, account_id" + (", measure" if "measures" in table
                                                          else ""))
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def same(expected: list[dict], got: list[dict]) -> None:
    """``got`` (typed rows of a target) holds ``expected`` (CSV text) row for row."""
    assert len(got) == len(expected) > 0
    for want, row in zip(expected, got, strict=True):
        for column, text in want.items():
            value = row[column]
            if text == "":
                assert value is None, (column, row)
            elif column in FLOATS:
                assert value == pytest.approx(float(text), abs=1e-9), (column, row)
            elif column == "computed_at":  # TIMESTAMPTZ; the store's naive times are UTC
                assert value.astimezone(UTC).replace(tzinfo=None) == \
                    datetime.fromisoformat(text), (column, row)
            elif isinstance(value, bool):
                assert value == (text == "true"), (column, row)
            else:
                assert str(value) == text, (column, row)


def test_postgres_tables_equal_the_file_export(scored, pg_url, tmp_path):
    result = hs("export", "-w", str(scored), "--to", pg_url, "--as-of", str(MIDDLE))
    assert result.exit_code == 0, result.output
    n = count(scored, "health", MIDDLE)
    assert f"healthscore.health_scores: {n} rows ({MIDDLE}; {n} new or changed)" \
        in result.output

    oracle = file_rows(scored, MIDDLE, tmp_path)
    ws = Workspace.open(scored)
    with read.open_reader(ws) as r:
        for name in CARDS:
            got = pg_rows(pg_url, f"{name}_scores")
            same([x for x in oracle if x["scorecard"] == name], got)
            people = read.lowest(r, read.card(ws, name), MIDDLE, 1000)
            assert {x["account_id"]: (x["account_name"], x["segment"], x["arr"], x["csm"])
                    for x in got} == {x["account_id"]: (x["name"], x["segment"], x["arr"],
                                                        x["csm"]) for x in people}

    with psycopg.connect(pg_url) as con:
        types = dict(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = 'healthscore' AND table_name = 'health_scores'").fetchall())
        indexes = {r[0] for r in con.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'health_scores'").fetchall()}
    assert (types["as_of"], types["score"], types["band"], types["computed_at"]) == (
        "date", "double precision", "text", "timestamp with time zone")
    assert any("UNIQUE" in i and "(as_of, account_id)" in i for i in indexes)
    assert any("(account_id)" in i and "UNIQUE" not in i for i in indexes)


def test_exporting_again_changes_nothing_and_new_dates_add(scored, pg_url):
    def content():
        return {name: pg_rows(pg_url, f"{name}_scores") for name in CARDS}

    assert hs("export", "-w", str(scored), "--to", pg_url).exit_code == 0  # the latest date
    first = content()
    assert {r["as_of"] for r in first["health"]} == {LAST}
    again = hs("export", "-w", str(scored), "--to", pg_url)
    assert f"{count(scored, 'health', LAST)} rows ({LAST}; 0 new or changed)" in again.output
    assert content() == first

    n = count(scored, "health", MIDDLE)
    result = hs("export", "-w", str(scored), "--to", pg_url, "--from", str(MIDDLE),
                "--until", str(MIDDLE + timedelta(days=1)))
    assert f"health_scores: {n} rows ({MIDDLE}; {n} new or changed)" in result.output
    result = hs("export", "-w", str(scored), "--to", pg_url, "--all")
    assert (f"health_scores: {count(scored, 'health')} rows (3 dates, {FIRST} to {LAST}; "
            f"{count(scored, 'health', FIRST)} new or changed)") in result.output
    final = content()
    assert [r for r in final["health"] if r["as_of"] == LAST] == first["health"]
    assert {name: len(rows) for name, rows in final.items()} == {
        name: count(scored, name) for name in CARDS}


def test_a_rescored_date_replaces_that_date_only(demo, pg_url, tmp_path):
    assert hs("export", "-w", str(demo), "--to", pg_url, "--all", "-s", "health"
              ).exit_code == 0
    before = pg_rows(pg_url, "health_scores")
    card = demo / "scorecards" / "health.yaml"
    card.write_text(card.read_text().replace("weight: 35", "weight: 70", 1))
    result = hs("score", "-w", str(demo), "--as-of", str(MIDDLE), "-s", "health",
                "--lowest", "0")
    assert result.exit_code == 0, result.output

    result = hs("export", "-w", str(demo), "--to", pg_url, "--as-of", str(MIDDLE),
                "-s", "health")
    assert result.exit_code == 0, result.output
    after = pg_rows(pg_url, "health_scores")
    rescored = [r for r in after if r["as_of"] == MIDDLE]
    same([x for x in file_rows(demo, MIDDLE, tmp_path) if x["scorecard"] == "health"],
         rescored)
    assert [r["score"] for r in rescored] != [r["score"] for r in before
                                              if r["as_of"] == MIDDLE]
    assert {r["version"] for r in rescored} != {r["version"] for r in before}
    assert [r for r in after if r["as_of"] != MIDDLE] == \
        [r for r in before if r["as_of"] != MIDDLE]


def test_measures_go_to_their_own_table(scored, pg_url, tmp_path):
    result = hs("export", "-w", str(scored), "--to", pg_url, "--measures", "-s", "health")
    assert result.exit_code == 0, result.output
    assert f"healthscore.health_scores: {count(scored, 'health', LAST)} rows" in result.output
    oracle = file_rows(scored, LAST, tmp_path, "--measures", "-s", "health")
    key = [(x["account_id"], x["measure"]) for x in oracle]
    got = {(r["account_id"], r["measure"]): r for r in pg_rows(pg_url, "health_measures")}
    same(oracle, [got[k] for k in key])
    assert len(got) == len(oracle)
    again = hs("export", "-w", str(scored), "--to", pg_url, "--measures", "-s", "health")
    assert f"health_measures: {len(oracle):,} rows ({LAST}; 0 new or changed)" in again.output


def test_connection_failures_say_where_and_never_show_the_password(scored, pg_url,
                                                                   monkeypatch):
    port = free_port()  # nothing listens there
    result = hs("export", "-w", str(scored), "--to",
                f"postgresql://hs:s3cret-pw@127.0.0.1:{port}/nowhere")
    assert result.exit_code == 1
    assert f"postgresql://hs:***@127.0.0.1:{port}/nowhere: cannot connect" in result.output
    assert "s3cret-pw" not in result.output and "PGPASSWORD" in result.output

    # a password in the URL (the test server does not check it): said to be unwise, not shown
    with_password = pg_url.replace("hs@", "hs:s3cret-pw@")
    result = hs("export", "-w", str(scored), "--to", with_password, "-s", "health")
    assert result.exit_code == 0 and "s3cret-pw" not in result.output
    assert "hs:***@" in result.output and "password on the command line" in result.output

    monkeypatch.setenv("HS_TEST_EXPORT_URL", with_password)
    result = hs("export", "-w", str(scored), "--to", "env:HS_TEST_EXPORT_URL", "-s", "health")
    assert result.exit_code == 0 and "0 new or changed" in result.output
    assert "s3cret-pw" not in result.output and "command line" not in result.output
    monkeypatch.delenv("HS_TEST_EXPORT_URL")
    result = hs("export", "-w", str(scored), "--to", "env:HS_TEST_EXPORT_URL")
    assert result.exit_code == 2 and "HS_TEST_EXPORT_URL is not set" in result.output


def test_bad_arguments_are_usage_errors(scored, tmp_path):
    for args, says in (
        (["--to", "mysql://db/x"], "cannot export to a mysql:// URL"),
        (["--to", str(tmp_path / "p"), "--out", str(tmp_path / "x.csv")], "--out FILE"),
        ([], "--out FILE"),
        (["--out", str(tmp_path / "x.csv"), "--all"], "--out writes one date"),
        (["--to", str(tmp_path / "p"), "--as-of", str(LAST), "--all"], "one date"),
        (["--to", str(tmp_path / "p"), "--format", "csv"], "--format csv is for --out"),
        (["--to", str(tmp_path / "p"), "--schema", "bi"], "a schema is for a database"),
    ):
        result = hs("export", "-w", str(scored), *args)
        assert result.exit_code == 2 and says in result.output, (args, result.output)
    result = hs("export", "-w", str(scored), "--to", str(tmp_path / "p"), "--from",
                "2026-07-01")
    assert result.exit_code == 1
    assert "no snapshot on or after 2026-07-01" in result.output
    assert f"3 dates are scored, {FIRST} to {LAST}" in result.output


def test_a_failed_export_writes_nothing(scored, pg_url):
    """health_scores exists with other columns: the export fails on it, after it wrote
    expansion_scores in the same transaction, which is rolled back."""
    with psycopg.connect(pg_url) as con:
        con.execute("CREATE SCHEMA healthscore")
        con.execute("CREATE TABLE healthscore.health_scores (as_of DATE, account_id TEXT)")
    result = hs("export", "-w", str(scored), "--to", pg_url)
    assert result.exit_code == 1
    assert "healthscore.health_scores exists without the column(s) scorecard" in result.output
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT to_regclass('healthscore.expansion_scores')"
                           ).fetchone() == (None,)


def test_without_the_driver_the_error_says_what_to_install(scored, pg_url, monkeypatch):
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql", None)
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)
    result = hs("export", "-w", str(scored), "--to", pg_url)
    assert result.exit_code == 1
    assert "pip install 'healthscore[postgres]'" in result.output


def test_partitioned_parquet_folder(scored, tmp_path):
    out = tmp_path / "lake"
    result = hs("export", "-w", str(scored), "--to", str(out), "--all", "--measures")
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(f"{kind}/scorecard={name}/as_of={day}/part-0.parquet"
                           for kind in ("measures", "scores") for name in CARDS
                           for day in DATES)

    def lake(kind: str, columns: str = "*") -> list[tuple]:
        return duckdb.sql(f"SELECT {columns} FROM read_parquet('{out}/{kind}/**/*.parquet', "
                          "hive_partitioning = true) ORDER BY scorecard, as_of, account_id"
                          + (", measure" if kind == "measures" else "")).fetchall()

    with Workspace.open(scored).store(read_only=True) as store:
        stored = store.con.execute(
            "SELECT version, account_id, variant, score, band, grade, coverage, run_id, "
            "computed_at, as_of, scorecard FROM snapshots ORDER BY scorecard, as_of, "
            "account_id").fetchall()
    # the files' columns, then the partitions' (typed by DuckDB: as_of is a DATE)
    assert lake("scores", "* EXCLUDE (account_name, segment, plan, arr, csm, renewal_date)"
                ) == stored
    oracle = sorted((x for day in DATES for x in file_rows(scored, day, tmp_path, "--measures")),
                    key=lambda x: (x["scorecard"], x["as_of"], x["account_id"], x["measure"]))
    measures = lake("measures")
    names = [d[0] for d in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet("
                                      f"'{out}/measures/**/*.parquet', hive_partitioning = "
                                      "true)").fetchall()]
    same(oracle, [dict(zip(names, r, strict=True)) for r in measures])

    scores = lake("scores")
    before = set(out.rglob("*.parquet"))
    result = hs("export", "-w", str(scored), "--to", str(out), "--all", "--measures")
    assert result.exit_code == 0, result.output
    assert lake("scores") == scores and lake("measures") == measures
    assert set(out.rglob("*.parquet")) == before  # replaced, nothing added
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_the_documented_queries_run_on_both_targets(scored, pg_url, tmp_path):
    """Every query of docs/bi.md (its ```sql blocks that start with SELECT or WITH) runs on
    the exported tables in PostgreSQL, and over the Parquet folder through the page's DuckDB
    views gives the same rows."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "bi.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", page, flags=re.S)
    queries = [b for b in blocks if b.lstrip().startswith(("SELECT", "WITH"))]
    views = next(b for b in blocks if "read_parquet" in b)
    assert len(queries) >= 5
    lake = tmp_path / "lake"
    for to in (pg_url, str(lake)):
        assert hs("export", "-w", str(scored), "--to", to, "--all", "--measures").exit_code == 0

    def plain(rows):  # numbers as floats: PostgreSQL and DuckDB round to decimals of their own
        return [tuple(float(x) if isinstance(x, Decimal) else x for x in r) for r in rows]

    duck = duckdb.connect()
    duck.execute(views.replace("'lake/", f"'{lake}/"))
    with psycopg.connect(pg_url) as con:
        for sql in queries:
            assert plain(con.execute(sql).fetchall()) == plain(duck.execute(sql).fetchall()), sql
        assert con.execute(queries[0]).fetchall()  # the latest date's lowest scores
