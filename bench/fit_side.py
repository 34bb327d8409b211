"""``python -m bench.fit_side --workspace DIR [--scorecard health] [--horizon 90]
[--every 15] [--no-commands]``: suggest-weights and predict, measured (issue 15).

1. **The commands**, each a subprocess: ``healthscore suggest-weights`` (reads only) and
   ``healthscore predict`` (fits, then stores a probability for every account on every
   scored date): wall time and peak RSS.
2. **The fitting data, three ways, side by side in one run** — the labelled observations of
   the training dates with each measure's stored score, the matrix ``suggest-weights`` fits:
   (a) healthscore's core (``labelled_split`` + ``validation.weights.measure_scores``, pivoted
   by DuckDB),
   (b) one hand-written DuckDB query (labels and the pivot in SQL), (c) plain pandas (the raw
   rows fetched by DuckDB, labels and pivot in pandas). The same ``fit_weights`` then runs on
   each matrix; the three must give the same rows, events and weights (to 1e-9), or the script
   exits 1.

Run it by hand on a workspace with a year of history and renewals (``bench/history_year.py``
builds one), not while another benchmark runs. ``predict`` writes the store (its predictions).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.proc import healthscore_cli, run_measured
from healthscore import read
from healthscore.validation.backtest import target_of
from healthscore.validation.fit import fit_weights
from healthscore.validation.weights import _matrix, labelled_split, measure_scores
from healthscore.workspace import Workspace


def way_core(ws: Workspace, card, loaded, horizon: int, every: int, until) -> tuple:
    with read.open_reader(ws) as r:
        found = labelled_split(r, card, target_of(card), horizon=horizon, train_until=until,
                               every=every, purpose="the benchmark")
        columns = [(g, m) for g, m, _ in loaded.scorecard.resolve("base").measures()]
        values = measure_scores(r, card, found.train_dates, columns)
    train = found.train.sort_values(["account_id", "as_of"]).reset_index(drop=True)
    return train["event"].to_numpy(bool), _matrix(values, train, columns)


SQL = """
    WITH s AS (
        SELECT account_id, as_of FROM snapshots
        WHERE scorecard = $scorecard AND version = $version AND score IS NOT NULL
          AND list_contains($dates, as_of)
    ), events AS (
        SELECT account_id, renewal_date AS day, outcome FROM renewals WHERE outcome IS NOT NULL
        UNION ALL
        SELECT account_id, churned_at, 'churned' FROM accounts
        WHERE _valid_to IS NULL AND churned_at IS NOT NULL
    ), obs AS (
        SELECT s.account_id, s.as_of, bool_or(e.outcome = 'churned') AS churned
        FROM s JOIN events e ON e.account_id = s.account_id AND e.day > s.as_of
         AND e.day <= s.as_of + CAST($horizon AS INTEGER)
        GROUP BY ALL
    )
    SELECT o.account_id, o.as_of, o.churned, {pivot}
    FROM obs o LEFT JOIN snapshot_measures m
      ON m.scorecard = $scorecard AND m.version = $version AND m.account_id = o.account_id
     AND m.as_of = o.as_of
    GROUP BY ALL ORDER BY o.account_id, o.as_of
"""


def way_sql(path: Path, card, columns, dates, horizon: int) -> tuple:
    pivot = ", ".join(
        f"max(CASE WHEN m.\"group\" = '{g}' AND m.measure = '{mid}' AND NOT m.missing "
        f"THEN m.score END) AS \"{g}.{mid}\"" for g, mid in columns)
    con = duckdb.connect(str(path), read_only=True)
    try:
        df = con.execute(SQL.format(pivot=pivot), {
            "scorecard": card.name, "version": card.version, "dates": dates,
            "horizon": horizon}).df()
    finally:
        con.close()
    return df["churned"].to_numpy(bool), df[[f"{g}.{m}" for g, m in columns]].to_numpy(float)


def way_pandas(path: Path, card, columns, dates, horizon: int) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        snaps = con.execute("SELECT account_id, as_of, score FROM snapshots WHERE scorecard = ? "
                            "AND version = ? AND list_contains(?, as_of)",
                            [card.name, card.version, dates]).df()
        renewals = con.execute("SELECT account_id, renewal_date, outcome FROM renewals").df()
        churned = con.execute("SELECT account_id, churned_at FROM accounts WHERE _valid_to IS "
                              "NULL AND churned_at IS NOT NULL").df()
        meas = con.execute("SELECT account_id, as_of, \"group\", measure, score, missing FROM "
                           "snapshot_measures WHERE scorecard = ? AND version = ? AND "
                           "list_contains(?, as_of)", [card.name, card.version, dates]).df()
    finally:
        con.close()
    snaps = snaps[snaps["score"].notna()]
    events = pd.concat([
        renewals.dropna(subset=["outcome"]).rename(columns={"renewal_date": "day"}),
        churned.rename(columns={"churned_at": "day"}).assign(outcome="churned")])
    events["day"] = pd.to_datetime(events["day"]).dt.normalize()
    joined = snaps.merge(events, on="account_id")
    as_of = pd.to_datetime(joined["as_of"])
    joined = joined[(joined["day"] > as_of) & (joined["day"] <= as_of + timedelta(days=horizon))]
    obs = (joined.assign(churned=joined["outcome"] == "churned")
           .groupby(["account_id", "as_of"], as_index=False)["churned"].any()
           .sort_values(["account_id", "as_of"]).reset_index(drop=True))
    meas = meas.assign(score=meas["score"].where(~meas["missing"]))
    wide = meas.pivot_table(index=["account_id", "as_of"], columns=["group", "measure"],
                            values="score", aggfunc="first", dropna=False)
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(columns))
    x = wide.reindex(pd.MultiIndex.from_frame(obs[["account_id", "as_of"]])).to_numpy(float)
    return obs["churned"].to_numpy(bool), x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--scorecard", default="health")
    ap.add_argument("--horizon", type=int, default=90)
    ap.add_argument("--every", type=int, default=15)
    ap.add_argument("--no-commands", action="store_true")
    ap.add_argument("--commands", default="suggest-weights,predict",
                    help="which commands to measure (comma-separated)")
    args = ap.parse_args(argv)
    ws = Workspace.open(args.workspace)
    (loaded,) = ws.scorecards([args.scorecard])
    card = read.Card.of(loaded)
    columns = [(g, m) for g, m, _ in loaded.scorecard.resolve("base").measures()]
    with read.open_reader(ws) as r:
        found = labelled_split(r, card, target_of(card), horizon=args.horizon,
                               train_until=None, every=args.every, purpose="the benchmark")
    dates, until = found.train_dates, found.until
    with read.open_reader(ws) as r:
        accounts = r.rows("SELECT count(DISTINCT account_id) AS n FROM snapshots WHERE "
                          "scorecard = ? AND version = ?", [card.name, card.version])[0]["n"]
    print(f"{args.workspace}: {card.name} {card.version}, {accounts:,} accounts scored; "
          f"training dates {dates[0]} … {dates[-1]} ({len(dates)}), labels up to {until}")
    results = {}
    for name, fn in (("healthscore core", lambda: way_core(ws, card, loaded, args.horizon,
                                                          args.every, until)),
                     ("hand-written DuckDB SQL", lambda: way_sql(ws.store_path, card, columns,
                                                                 dates, args.horizon)),
                     ("plain pandas", lambda: way_pandas(ws.store_path, card, columns, dates,
                                                         args.horizon))):
        start = time.perf_counter()
        event, x = fn()
        prep = time.perf_counter() - start
        start = time.perf_counter()
        weights = fit_weights(x, event).weights
        fit = time.perf_counter() - start
        results[name] = (event, x, weights)
        print(f"  {name:24} {len(event):>9,} rows, {int(event.sum()):>7,} events: data "
              f"{prep:6.2f} s, fit {fit:6.2f} s")
    base = results["healthscore core"]
    for name, (event, _, weights) in results.items():
        same = (len(event) == len(base[0]) and (event == base[0]).all()
                and np.allclose(weights, base[2], atol=1e-9))
        if not same:
            print(f"DISAGREE: {name} differs from healthscore's core")
            return 1
    print("  all three agree: same rows, events and fitted weights")
    if not args.no_commands:
        cli = healthscore_cli()
        for verb in ([v] for v in args.commands.split(",") if v):
            sample = run_measured([*cli, *verb, "-w", str(args.workspace), "-s",
                                   args.scorecard, "--horizon", str(args.horizon),
                                   "--every", str(args.every)])
            print(f"  healthscore {verb[0]:16} wall {sample.wall_s:7.1f} s, peak RSS "
                  f"{sample.peak_rss_mib:7.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
