"""The same scorecards on Spark (local mode, Java from Debian's packages) give DuckDB's results:
every account's score, band, grade, variant, coverage and every measure's raw value, equal to
1e-9, on several dates, for both demo scorecards; and a workspace whose engine is Spark scores,
explains and backfills through the CLI into its store.

One Spark session serves the module (a JVM starts in seconds); the tests share one xdist group
so that a single worker starts it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import NOW
from healthscore import pipeline, read
from healthscore.cli import app as cli
from healthscore.config.engine import EngineConfig
from healthscore.demo import generate_demo
from healthscore.engine.evaluate import Evaluator
from healthscore.read.account import activity
from healthscore.sources import ingest
from healthscore.store.lake import write_lake
from healthscore.workspace import Workspace

pyspark = pytest.importorskip("pyspark", reason="the Spark extra is not installed "
                              "(pip install 'healthscore[spark]'; make test installs it)")
if shutil.which("java") is None:
    pytest.skip("no Java for Spark (apt-get install default-jre-headless; make test installs "
                "it)", allow_module_level=True)

from healthscore.engine.spark import SparkEngine  # noqa: E402

pytestmark = pytest.mark.xdist_group("spark")

NOW_DATE = date(2026, 6, 1)
DATES = [date(2026, 1, 31), date(2026, 4, 15), date(2026, 5, 31)]


@pytest.fixture(scope="module")
def session():
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("healthscore-tests")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> tuple[Workspace, Path]:
    """A 40-account demo company on DuckDB, and its canonical tables as a Parquet lake."""


    root = tmp_path_factory.mktemp("spark") / "demo"
    generate_demo(root, accounts=40, seed=5, end=NOW_DATE)
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    lake = root.parent / "lake"
    with ws.store(read_only=True) as store:
        write_lake(store.con, lake)
    return ws, lake


def _same(a, b, what: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, what
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = a.astype(float), b.astype(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: missing values differ"
        ok = ~np.isnan(a)
        worst = float(np.max(np.abs(a[ok] - b[ok]), initial=0.0))
        assert worst <= 1e-9, f"{what}: differs by {worst}"
    else:
        assert a.tolist() == b.tolist(), what


def _equal(spark_ev, duck_ev, day: date, where: str):
    """Assert the Spark evaluation of ``day`` equals DuckDB's: every account's score, band,
    grade, variant, coverage and every measure's raw value. Returns DuckDB's."""
    s, d = spark_ev.evaluate(day), duck_ev.evaluate(day)
    assert s.accounts.num_rows == d.accounts.num_rows > 0, where
    text = ("account_id", "variant", "band", "grade")
    for col in d.accounts.column_names:
        _same(s.accounts.column(col).to_pylist() if col in text
              else s.accounts.column(col).to_numpy(zero_copy_only=False),
              d.accounts.column(col).to_pylist() if col in text
              else d.accounts.column(col).to_numpy(zero_copy_only=False), f"{where} {col}")
    assert s.values.column_names == d.values.column_names
    for col in d.values.column_names[1:]:  # every measure's raw value
        _same(s.values.column(col).to_numpy(zero_copy_only=False),
              d.values.column(col).to_numpy(zero_copy_only=False), f"{where} {col}")
    return d


def test_spark_gives_duckdbs_scores_bands_and_measures_on_every_account(company, session):
    ws, lake = company
    engine = SparkEngine(EngineConfig(kind="spark", tables=str(lake), master="local[2]"),
                         ws.root)
    compared = 0
    with ws.store(read_only=True) as store:
        for loaded in ws.scorecards():
            sc = loaded.scorecard
            spark_ev, duck_ev = engine.evaluator(sc), Evaluator(None, sc, store=store)
            for day in DATES:
                d = _equal(spark_ev, duck_ev, day, f"{sc.name} {day}")
                compared += d.accounts.num_rows
    engine.close()
    assert session.sparkContext._jsc is not None  # the test's session was left running
    assert compared > 200


def test_a_catalog_database_and_a_date_partitioned_event_folder_give_the_same_scores(
        company, session, tmp_path):
    """The lake as tables of a Spark catalog database (``engine.database``), and as folders
    with the usage events partitioned by day (``usage_events/event_date=…/``), as a company's
    own pipelines would write them: the same results as DuckDB's."""
    from pyspark.sql import functions as F

    ws, lake = company
    session.sql(f"CREATE DATABASE IF NOT EXISTS hs_test_lake LOCATION '{tmp_path / 'db'}'")
    parted = tmp_path / "parted"
    parted.mkdir()
    for file in sorted(lake.glob("*.parquet")):
        name = file.stem
        df = session.read.parquet(str(file))
        df.write.saveAsTable(f"hs_test_lake.{name}")
        if name == "usage_events":
            (df.withColumn("event_date", F.to_date("timestamp")).write
             .partitionBy("event_date").parquet(str(parted / name)))
        else:
            df.write.parquet(str(parted / name))
    assert len(list((parted / "usage_events").glob("event_date=*"))) > 100
    day = DATES[-1]
    with ws.store(read_only=True) as store:
        sc = next(s.scorecard for s in ws.scorecards() if s.name == "health")
        duck_ev = Evaluator(None, sc, store=store)
        for cfg in (EngineConfig(kind="spark", database="hs_test_lake", master="local[2]"),
                    EngineConfig(kind="spark", tables=str(parted), master="local[2]")):
            engine = SparkEngine(cfg, ws.root)
            _equal(engine.evaluator(sc), duck_ev, day, f"{cfg.database or 'folders'} {day}")
            engine.close()
    session.sql("DROP DATABASE hs_test_lake CASCADE")


def test_a_spark_workspace_scores_explains_and_backfills_through_the_cli(company, session,
                                                                        tmp_path):
    ws, lake = company
    root = tmp_path / "spark-ws"
    shutil.copytree(ws.root / "scorecards", root / "scorecards")
    (root / "healthscore.yaml").write_text(textwrap.dedent(f"""\
        name: spark-demo
        engine:
          kind: spark
          tables: {lake}
          master: local[2]
          output: out
        """))
    run = CliRunner()
    day = "2026-05-31"
    result = run.invoke(cli, ["score", "-w", str(root), "--as-of", day, "-s", "health",
                              "--lowest", "3"])
    assert result.exit_code == 0, result.output
    result = run.invoke(cli, ["backfill", "-w", str(root), "--from", "2026-05-29", "--to", day,
                              "-s", "health"])
    assert result.exit_code == 0, result.output
    spark_ws = Workspace.open(root)
    duck = pipeline.score(ws, date(2026, 5, 31), scorecards=["health"],
                          now=pipeline.clock.now())
    expected = {r["account_id"]: (r["score"], r["band"])
                for r in duck.evaluation("health").accounts.to_pylist()}
    with spark_ws.store(read_only=True) as store:
        rows = store.con.execute(
            "SELECT as_of, account_id, score, band FROM snapshots WHERE scorecard = 'health' "
            "ORDER BY as_of, account_id").fetchall()
    assert sorted({r[0] for r in rows}) == [date(2026, 5, 29), date(2026, 5, 30),
                                            date(2026, 5, 31)]
    last = {a: (s, b) for d, a, s, b in rows if d == date(2026, 5, 31)}
    assert last.keys() == expected.keys()
    for account, (score, band) in expected.items():
        assert abs(last[account][0] - score) <= 1e-9 and last[account][1] == band, account
    account = next(iter(sorted(expected)))
    result = run.invoke(cli, ["explain", "-w", str(root), account, "--as-of", day,
                              "-s", "health"])
    assert result.exit_code == 0, result.output
    assert f"{expected[account][0]:.1f}" in result.output
    # the store holds the lake's accounts, so the account is named as on DuckDB
    with ws.store(read_only=True) as store:
        name, = store.con.execute("SELECT name FROM accounts WHERE account_id = ? AND "
                                  "_valid_to IS NULL", [account]).fetchone()
    assert name and name in result.output
    # … and the recent tickets, survey answers, touchpoints and invoices the account page lists:
    # the same as on DuckDB, for accounts that have some of each
    with read.open_reader(ws) as r, read.open_reader(spark_ws) as s:
        busy = [row["account_id"] for row in r.rows(
            "SELECT account_id FROM tickets JOIN invoices USING (account_id) "
            "JOIN surveys USING (account_id) JOIN touchpoints USING (account_id) "
            "GROUP BY account_id ORDER BY account_id LIMIT 3")]
        assert busy
        for a in busy:
            theirs, ours = activity(r, a), activity(s, a)
            assert ours == theirs and all(theirs.values()), a
    # engine.output: each scored date's scores and measures as date-partitioned Parquet
    folder = root / "out" / "scores" / "scorecard=health"
    assert sorted(p.name for p in folder.iterdir()) == [
        "as_of=2026-05-29", "as_of=2026-05-30", "as_of=2026-05-31"]
    written = duckdb.sql(f"SELECT account_id, score, band FROM read_parquet("
                         f"'{folder}/as_of=2026-05-31/*.parquet')").fetchall()
    assert {a: (s, b) for a, s, b in written} == last
    assert any((root / "out" / "measures" / "scorecard=health" / "as_of=2026-05-31").iterdir())


def test_a_spark_command_prints_spark_errors_only(company, tmp_path):
    """Run as a user runs it (its own process, its own Spark): the command's output, and of
    Spark's logging only errors, not its start-up notes and warnings."""
    ws, lake = company
    root = tmp_path / "quiet-ws"
    shutil.copytree(ws.root / "scorecards", root / "scorecards")
    (root / "healthscore.yaml").write_text(
        f"name: quiet\nengine: {{kind: spark, tables: '{lake}', master: 'local[1]'}}\n")
    done = subprocess.run([str(Path(sys.executable).with_name("healthscore")), "score", "-w",
                           str(root), "--as-of", "2026-05-31", "-s", "health", "--lowest", "0"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "health as of 2026-05-31" in done.stdout
    # the JVM's own notice of an incubator module is printed by Java, not Spark's logging
    noise = [line for line in done.stderr.splitlines()
             if line.strip() and "incubator modules" not in line]
    assert noise == [], done.stderr
