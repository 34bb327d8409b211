"""score / explain / export / check through the CLI and the Python API, on the demo company."""

from datetime import date

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import healthscore as hs
from healthscore.cli import app

runner = CliRunner()
AS_OF = "2026-05-31"


def hs_cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = hs_cli("demo", "--out", str(out), "--accounts", "120", "--seed", "11",
                    "--end", "2026-06-01")
    assert result.exit_code == 0, result.output
    return out


def test_check_validates_both_demo_scorecards(demo):
    result = hs_cli("check", "-w", str(demo))
    assert result.exit_code == 0, result.output
    assert "scorecard health version" in result.output
    assert "scorecard expansion version" in result.output
    assert "variants: onboarding, enterprise, base" in result.output


def test_score_explain_export(demo, tmp_path):
    result = hs_cli("score", "-w", str(demo), "--as-of", AS_OF, "--lowest", "3")
    assert result.exit_code == 0, result.output
    for text in ("health as of 2026-05-31", "expansion as of 2026-05-31", "Lowest 3",
                 "mean coverage", "Variants: base"):
        assert text in result.output

    snap = hs.scores(hs.Workspace.open(demo), date(2026, 5, 31), scorecard="health")
    df = snap.to_pandas()
    assert len(df) > 50 and df.account_id.is_unique
    assert set(df.variant) <= {"base", "onboarding", "enterprise"}
    scored = df[df.score.notna()]
    assert scored.score.between(0, 100).all() and scored.coverage.between(0, 1).all()
    assert set(scored.band) <= {"red", "yellow", "green"}

    # explain: points add up to the score, shown per group and measure
    account = scored.sort_values("score").account_id.iloc[0]
    result = hs_cli("explain", account, "-w", str(demo), "--as-of", AS_OF, "-s", "health")
    assert result.exit_code == 0, result.output
    assert f"health {account}" in result.output and "Active seats (30 days)" in result.output
    why = hs.explain(hs.Workspace.open(demo), account, date(2026, 5, 31))
    assert sum(m["points"] for m in why["measures"]) == pytest.approx(why["score"])
    assert sum(g["points"] for g in why["groups"]) == pytest.approx(why["score"])
    assert sum(m["weight"] for m in why["measures"]) == pytest.approx(1.0)

    out = tmp_path / "scores.parquet"
    result = hs_cli("export", "-w", str(demo), "--as-of", AS_OF, "--out", str(out))
    assert result.exit_code == 0, result.output
    exported = pq.read_table(out).to_pandas()
    assert set(exported.scorecard) == {"health", "expansion"}
    assert len(exported) == 2 * len(df)

    out_csv = tmp_path / "measures.csv"
    result = hs_cli("export", "-w", str(demo), "--as-of", AS_OF, "--out", str(out_csv),
                    "--measures", "-s", "health")
    assert result.exit_code == 0
    assert out_csv.read_text().startswith("scorecard,version,as_of,account_id,group,measure")


def test_explain_and_export_without_a_snapshot_say_what_to_do(demo, tmp_path):
    result = hs_cli("explain", "ACC-000001", "-w", str(demo), "--as-of", "2026-01-15")
    assert result.exit_code == 1
    assert "snapshot of 'ACC-000001' on 2026-01-15" in result.output
    assert "healthscore score --as-of 2026-01-15" in result.output
    result = hs_cli("export", "-w", str(demo), "--as-of", "2026-01-15",
                    "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1 and "no snapshot as of 2026-01-15" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_bad_scorecard_is_reported_with_file_and_line(demo, tmp_path):
    bad = demo / "scorecards" / "zz_bad.yaml"
    bad.write_text("name: bad\ngroups:\n  usage:\n    measures:\n      nps:\n"
                   "        scoring: {linear: {from: 1, to: 1}}\n")
    try:
        result = hs_cli("check", "-w", str(demo))
        assert result.exit_code == 2
        assert "zz_bad.yaml:6: groups.usage.measures.nps.scoring.linear" in result.output
        assert "`from` and `to` must differ" in result.output
    finally:
        bad.unlink()


def test_bad_dates_are_usage_errors(demo):
    result = hs_cli("score", "-w", str(demo), "--as-of", "31/05/2026")
    assert result.exit_code == 2 and "not a date like 2026-06-30" in result.output
