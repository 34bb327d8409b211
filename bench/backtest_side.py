"""``python -m bench.backtest_side --workspace DIR [--scorecard health] [--horizon 90]
[--every 30] [--repeat 3] [--no-command]``: the backtest's core, side by side (issue 12).

The same work done three ways on one workspace's store, in one run:

1. **healthscore**: (a) the whole ``healthscore backtest`` command as a subprocess (wall time,
   peak RSS), which computes much more than the core below (bootstrap intervals, Kaplan-Meier
   curves, lead times, each measure's AUC, baselines, calibration, timelines, and it records
   a run in the store); (b) in process, the core only: ``sample_dates`` +
   ``read.outcomes.observations`` + ``validation.metrics.auc`` / ``by_band`` / ``deciles``.
2. **hand-written DuckDB SQL**: one query over the store (sample dates, labelling, AUC by
   average ranks over tie groups, churn rate per band, top-decile lift).
3. **plain pandas**: the raw rows fetched by DuckDB (snapshots on the sample dates, renewals,
   accounts: the I/O), then the labelling (merge + filter), AUC (``rank(method="average")``),
   band rates and top decile in pandas / numpy.

The work: sample dates every ``--every`` days from the first to the last scored date of the
scorecard's current version; each account with a score on a sample date ``d`` is *observed*
when an outcome (a renewal, or the account's ``churned_at`` as a churn) falls in
``(d, d + horizon]``, and *churned* when one of them is a churn; observed rows only. Figures:
labelled rows, churners, ROC AUC of ``risk = 100 - score`` for churn (ties count half), churn
rate per band and the top-decile lift (risk descending, ties by account id then date; the top
decile has ``ceil(n / 10)`` rows, as ``numpy.array_split`` cuts).

Every way opens the store itself (read-only) inside its timing; the card (its version) is read
once before. Times are the best of ``--repeat``. The three must agree (labelled and churners
exactly, AUC to 1e-9, band rates to 1e-12, lift to 1e-9; the command's JSON too): the script
exits 1 when they do not. The command writes a run record to the store; the other ways only
read. Run it by hand, not while another benchmark runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd

from healthscore import read
from healthscore.read.outcomes import observations
from healthscore.validation import metrics
from healthscore.validation.backtest import sample_dates
from healthscore.workspace import Workspace

BANDS = ("red", "yellow", "green")
VENV_BIN = Path(sys.executable).parent

#: Tolerances of the agreement check.
TOLERANCE = {"auc": 1e-9, "band": 1e-12, "top_lift": 1e-9}


def _figures(labelled: int, churners: int, auc: float, rates: dict, top_lift) -> dict:
    return {"labelled": int(labelled), "churners": int(churners), "auc": float(auc),
            "bands": {b: (None if rates.get(b) is None else float(rates[b])) for b in BANDS},
            "top_lift": None if top_lift is None else float(top_lift)}


# -- 1a. the whole command -------------------------------------------------------------------

def way_command(root: Path, scorecard: str, horizon: int, every: int) -> dict:
    """``healthscore backtest ... --json``, its figures read back from the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "backtest.json"
        done = subprocess.run([str(VENV_BIN / "healthscore"), "backtest", "-w", str(root),
                               "-s", scorecard, "--horizon", str(horizon), "--every",
                               str(every), "--json", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            sys.exit(f"healthscore backtest failed ({done.returncode}):\n{done.stderr}")
        s = json.loads(out.read_text(encoding="utf-8"))
    rates = {row["band"]: row["event_rate"] for row in s["bands"]}
    return _figures(s["labelled"], s["events"], s["auc"], rates, s["top_lift"])


# -- 1b. healthscore's core, in process ------------------------------------------------------

def way_core(ws: Workspace, card, horizon: int, every: int) -> dict:
    with read.open_reader(ws) as r:
        dates = sample_dates(r, card, start=None, end=None, every=every)
        obs = observations(r, card, dates, horizon).to_pandas()
    labelled = obs[obs["observed"]].reset_index(drop=True)
    event = labelled["event"].to_numpy(dtype=bool)
    risk = 100 - labelled["score"].to_numpy(dtype=float)
    arr = labelled["arr"].to_numpy(dtype=float)
    ids = labelled["account_id"].to_numpy(dtype=object)
    bands = metrics.by_band(event, labelled["band"].to_numpy(dtype=object), arr)
    top = metrics.deciles(event, risk, arr, ids)
    return _figures(len(labelled), event.sum(), metrics.auc(event, risk),
                    {row["band"]: row["event_rate"] for row in bands["bands"]}, top["top_lift"])


# -- 2. hand-written DuckDB SQL --------------------------------------------------------------

SQL = """
    WITH span AS (
        SELECT min(as_of) AS first, max(as_of) AS last FROM snapshots
        WHERE scorecard = $scorecard AND version = $version
    ), dates AS (
        SELECT first + CAST(unnest(generate_series(0, last - first, $every)) AS INTEGER) AS d
        FROM span
    ), s AS (
        SELECT account_id, as_of, band, 100 - score AS risk FROM snapshots
        WHERE scorecard = $scorecard AND version = $version AND score IS NOT NULL
          AND as_of IN (SELECT d FROM dates)
    ), events AS (
        SELECT account_id, renewal_date AS day, outcome FROM renewals WHERE outcome IS NOT NULL
        UNION ALL
        SELECT account_id, churned_at, 'churned' FROM accounts
        WHERE _valid_to IS NULL AND churned_at IS NOT NULL
    ), obs AS (
        SELECT s.account_id, s.as_of, any_value(s.band) AS band, any_value(s.risk) AS risk,
               bool_or(e.outcome = 'churned') AS churned
        FROM s JOIN events e
          ON e.account_id = s.account_id AND e.day > s.as_of
         AND e.day <= s.as_of + CAST($horizon AS INTEGER)
        GROUP BY s.account_id, s.as_of
    ), ranked AS (
        SELECT churned, band,
               rank() OVER (ORDER BY risk) + (count(*) OVER (PARTITION BY risk) - 1) / 2.0::DOUBLE
                   AS avg_rank,
               row_number() OVER (ORDER BY risk DESC, account_id, as_of) AS pos
        FROM obs
    ), totals AS (
        SELECT count(*) AS n, count(*) FILTER (WHERE churned) AS p,
               sum(avg_rank) FILTER (WHERE churned) AS rank_sum
        FROM ranked
    )
    SELECT any_value(t.n) AS labelled, any_value(t.p) AS churners,
           (any_value(t.rank_sum) - any_value(t.p) * (any_value(t.p) + 1) / 2.0::DOUBLE)
               / (any_value(t.p) * (any_value(t.n) - any_value(t.p)))::DOUBLE AS auc,
           avg(r.churned::DOUBLE) FILTER (WHERE r.band = 'red') AS red,
           avg(r.churned::DOUBLE) FILTER (WHERE r.band = 'yellow') AS yellow,
           avg(r.churned::DOUBLE) FILTER (WHERE r.band = 'green') AS green,
           avg(r.churned::DOUBLE) FILTER (WHERE r.pos <= ceil(t.n / 10.0::DOUBLE))
               / (any_value(t.p)::DOUBLE / any_value(t.n)) AS top_lift
    FROM ranked r, totals t
"""


def way_sql(path: Path, scorecard: str, version: str, horizon: int, every: int) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(SQL, {"scorecard": scorecard, "version": version,
                                "horizon": horizon, "every": every}).fetchone()
    finally:
        con.close()
    n, p, auc, red, yellow, green, lift = row
    return _figures(n, p, auc, {"red": red, "yellow": yellow, "green": green}, lift)


# -- 3. plain pandas -------------------------------------------------------------------------

def way_pandas(path: Path, scorecard: str, version: str, horizon: int, every: int) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:  # the I/O: raw rows only
        first, last = con.execute("SELECT min(as_of), max(as_of) FROM snapshots "
                                  "WHERE scorecard = ? AND version = ?",
                                  [scorecard, version]).fetchone()
        dates = [first + timedelta(days=k) for k in range(0, (last - first).days + 1, every)]
        snaps = con.execute("SELECT account_id, as_of, score, band FROM snapshots "
                            "WHERE scorecard = ? AND version = ? AND list_contains(?, as_of)",
                            [scorecard, version, dates]).df()
        renewals = con.execute("SELECT account_id, renewal_date, outcome FROM renewals").df()
        accounts = con.execute("SELECT account_id, churned_at, _valid_to FROM accounts").df()
    finally:
        con.close()
    # labelling
    s = snaps[snaps["score"].notna()].reset_index(drop=True)
    s["as_of"] = pd.to_datetime(s["as_of"])
    s["risk"] = 100 - s["score"]
    current = accounts[accounts["_valid_to"].isna() & accounts["churned_at"].notna()]
    events = pd.concat([
        renewals[renewals["outcome"].notna()].rename(columns={"renewal_date": "day"}),
        pd.DataFrame({"account_id": current["account_id"], "day": current["churned_at"],
                      "outcome": "churned"})], ignore_index=True)
    events["day"] = pd.to_datetime(events["day"])
    pairs = s[["account_id", "as_of"]].reset_index().merge(events, on="account_id")
    inside = pairs[(pairs["day"] > pairs["as_of"])
                   & (pairs["day"] <= pairs["as_of"] + pd.Timedelta(days=horizon))]
    churned = (inside["outcome"] == "churned").groupby(inside["index"]).any()
    obs = s.loc[churned.index].assign(churned=churned.to_numpy())
    # metrics
    n, p = len(obs), int(obs["churned"].sum())
    ranks = obs["risk"].rank(method="average")
    auc = (ranks[obs["churned"]].sum() - p * (p + 1) / 2) / (p * (n - p))
    rates = obs.groupby("band")["churned"].mean()
    ordered = obs.sort_values(["risk", "account_id", "as_of"], ascending=[False, True, True],
                              kind="mergesort")
    top = ordered["churned"].to_numpy()[: math.ceil(n / 10)]
    lift = top.mean() / (p / n)
    return _figures(n, p, auc, {b: rates.get(b) for b in BANDS}, lift)


# -- the run ---------------------------------------------------------------------------------

def _best(fn, repeat: int) -> tuple[float, dict]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def _disagreements(name: str, got: dict, want: dict) -> list[str]:
    out = []
    for key in ("labelled", "churners"):
        if got[key] != want[key]:
            out.append(f"{name}: {key} {got[key]} != {want[key]}")
    pairs = [("auc", got["auc"], want["auc"], TOLERANCE["auc"]),
             ("top_lift", got["top_lift"], want["top_lift"], TOLERANCE["top_lift"])]
    pairs += [(f"{b} rate", got["bands"][b], want["bands"][b], TOLERANCE["band"]) for b in BANDS]
    for key, a, b, tol in pairs:
        if (a is None) != (b is None) or (a is not None and not abs(a - b) <= tol):
            out.append(f"{name}: {key} {a!r} != {b!r} (tolerance {tol:g})")
    return out


def _rate(x) -> str:
    return "–" if x is None else f"{x:.4f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.backtest_side",
                                description=__doc__.splitlines()[0])
    p.add_argument("--workspace", "-w", type=Path, required=True)
    p.add_argument("--scorecard", default="health")
    p.add_argument("--horizon", type=int, default=90)
    p.add_argument("--every", type=int, default=30)
    p.add_argument("--repeat", type=int, default=3, help="timed runs per way (best kept)")
    p.add_argument("--no-command", action="store_true",
                   help="skip the whole `healthscore backtest` command")
    args = p.parse_args(argv)

    ws = Workspace.open(args.workspace)
    card = read.card(ws, args.scorecard)
    path = ws.store_path
    con = duckdb.connect(str(path), read_only=True)
    size = con.execute("SELECT (SELECT count(*) FROM accounts WHERE _valid_to IS NULL), "
                       "(SELECT count(*) FROM snapshots WHERE scorecard = ? AND version = ?), "
                       "(SELECT count(*) FROM renewals)", [card.name, card.version]).fetchone()
    con.close()
    print(f"{args.workspace}: {card.name} version {card.version}; {size[0]:,} accounts, "
          f"{size[1]:,} snapshot rows of it, {size[2]:,} renewals; horizon {args.horizon} "
          f"days, every {args.every} days; best of {args.repeat}; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    ways = []  # (name, seconds, figures, note)
    if not args.no_command:  # first: it writes a run record, so no reader may hold the store
        secs, fig = _best(lambda: way_command(args.workspace, card.name, args.horizon,
                                              args.every), args.repeat)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
        ways.append(("healthscore backtest (whole command)", secs, fig,
                     f"subprocess, peak RSS {peak:,.0f} MiB; also intervals, KM, lead "
                     "times, measures, baselines, calibration, timelines, run record"))
    for name, fn, note in (
            ("healthscore core (in process)",
             lambda: way_core(ws, card, args.horizon, args.every),
             "sample_dates + observations + metrics.auc/by_band/deciles"),
            ("hand-written DuckDB SQL",
             lambda: way_sql(path, card.name, card.version, args.horizon, args.every),
             "one query"),
            ("plain pandas",
             lambda: way_pandas(path, card.name, card.version, args.horizon, args.every),
             "DuckDB fetches raw rows; merge, rank, groupby in pandas")):
        secs, fig = _best(fn, args.repeat)
        ways.append((name, secs, fig, note))

    ref = ways[0][2] if args.no_command else ways[1][2]
    print(f"\nlabelled {ref['labelled']:,}, churners {ref['churners']:,}, AUC "
          f"{ref['auc']:.6f}, churn rate red/yellow/green "
          f"{'/'.join(_rate(ref['bands'][b]) for b in BANDS)}, top-decile lift "
          f"{ref['top_lift']:.4f}\n")
    width = max(len(w[0]) for w in ways)
    print(f"{'way':<{width}}  {'seconds':>8}  note")
    for name, secs, _, note in ways:
        print(f"{name:<{width}}  {secs:>8.3f}  {note}")

    problems = [x for name, _, fig, _ in ways for x in _disagreements(name, fig, ref)]
    if problems:
        print("\nDISAGREE:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"\nall {len(ways)} agree: labelled and churners exactly, AUC to "
          f"{TOLERANCE['auc']:g}, band rates to {TOLERANCE['band']:g}, lift to "
          f"{TOLERANCE['top_lift']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
