"""Check an implementation's results against healthscore's stored snapshot, account by account.

The snapshot is what ``healthscore score`` stored for the date (the current version of the
scorecard). Scores, coverage, raw measure values, measure scores, effective weights and points
must agree within ``TOLERANCE``; variants, bands, grades and which measures are missing exactly.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench.proc import BenchError

TOLERANCE = 1e-6
ACCOUNT_FLOATS = ("score", "coverage")
ACCOUNT_LABELS = ("variant", "band", "grade")
MEASURE_FLOATS = ("raw_value", "score", "weight", "points")


def snapshot(store: Path, scorecard: str, version: str, as_of: date
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """healthscore's stored (accounts, measures) of one date, sorted like the results."""
    from healthscore.read.measures import over_measures
    from healthscore.read.reader import StoreReader
    from healthscore.store import Store

    with Store(store, read_only=True) as opened:
        con = opened.con
        key = [scorecard, version, as_of]
        accounts = con.execute(
            "SELECT account_id, variant, score, band, grade, coverage FROM snapshots "
            "WHERE scorecard = ? AND version = ? AND as_of = ? ORDER BY account_id", key).df()
        # the per-measure rows as every read rebuilds them from the stored values
        measures = over_measures(StoreReader(opened), scorecard, version, [as_of], (
            'SELECT account_id, "group", measure, raw_value, score, weight, points, missing '
            "FROM snapshot_measures ORDER BY account_id, measure"), arrow=True).to_pandas()
    if accounts.empty:
        raise BenchError(f"no {scorecard} snapshot (version {version}) of {as_of} in {store}: "
                         "run healthscore score first")
    return accounts, measures


def _floats_differ(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = a.to_numpy(dtype=float, na_value=np.nan)
    y = b.to_numpy(dtype=float, na_value=np.nan)
    both_nan = np.isnan(x) & np.isnan(y)
    with np.errstate(invalid="ignore"):
        close = np.abs(x - y) <= TOLERANCE
    return ~(both_nan | close)


def _labels_differ(a: pd.Series, b: pd.Series) -> np.ndarray:
    x = a.astype(object).where(a.notna(), None).to_numpy()
    y = b.astype(object).where(b.notna(), None).to_numpy()
    return np.array([u != v for u, v in zip(x, y, strict=True)], dtype=bool)


def compare(name: str, result_dir: Path, expected: tuple[pd.DataFrame, pd.DataFrame]) -> dict:
    """Compare ``result_dir``'s accounts.parquet and measures.parquet with the snapshot.

    Returns counts of what was compared; raises :class:`BenchError` listing the first
    differences when anything disagrees.
    """
    exp_acc, exp_meas = expected
    got_acc = pd.read_parquet(result_dir / "accounts.parquet")
    got_meas = pd.read_parquet(result_dir / "measures.parquet")
    problems: list[str] = []

    got_ids, exp_ids = set(got_acc.account_id), set(exp_acc.account_id)
    if got_ids != exp_ids:
        problems.append(f"accounts differ: {len(got_ids - exp_ids)} only in {name} "
                        f"(e.g. {sorted(got_ids - exp_ids)[:3]}), {len(exp_ids - got_ids)} only "
                        f"in healthscore (e.g. {sorted(exp_ids - got_ids)[:3]})")
    acc = exp_acc.merge(got_acc, on="account_id", suffixes=("_hs", "_other"))
    for col in ACCOUNT_FLOATS + ACCOUNT_LABELS:
        test = _floats_differ if col in ACCOUNT_FLOATS else _labels_differ
        bad = test(acc[f"{col}_hs"], acc[f"{col}_other"])
        if bad.any():
            rows = acc.loc[bad, ["account_id", f"{col}_hs", f"{col}_other"]].head(5)
            problems.append(f"{col} differs for {int(bad.sum())} accounts, e.g.\n"
                            f"{rows.to_string(index=False)}")

    keys = ["account_id", "measure"]
    if len(got_meas) != len(exp_meas):
        problems.append(f"{len(got_meas)} measure rows in {name}, {len(exp_meas)} in healthscore")
    meas = exp_meas.merge(got_meas, on=keys, suffixes=("_hs", "_other"))
    for col in (*MEASURE_FLOATS, "missing", "group"):
        test = _floats_differ if col in MEASURE_FLOATS else _labels_differ
        bad = test(meas[f"{col}_hs"], meas[f"{col}_other"])
        if bad.any():
            rows = meas.loc[bad, [*keys, f"{col}_hs", f"{col}_other"]].head(5)
            problems.append(f"measure {col} differs on {int(bad.sum())} rows, e.g.\n"
                            f"{rows.to_string(index=False)}")
    if problems:
        raise BenchError(f"{name} disagrees with healthscore's snapshot "
                         f"({result_dir}):\n" + "\n".join(problems))
    return {"accounts": len(acc), "measure_rows": len(meas)}
