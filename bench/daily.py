"""The daily job with one new day of events, against hand-written SQL over all the events.

``python -m bench.daily --size S|M [--repeat 3] [--as-of 2026-10-31]``

The bench company (``python -m bench run`` generates and ingests it) holds every event up to
``--as-of``. This script makes the morning of that date's daily run:

1. a copy of the workspace whose store lacks the events of ``--as-of`` (deleted, and the
   daily roll-ups rebuilt from what is left, as if that day had not arrived yet; the data
   files are linked, not copied);
2. the day's events as one new export file in the events folder, in the export's own shape
   (the product-analytics Parquet: account, user, event_name, time in epoch ms, count).

The copy scores the ``health`` scorecard only and has no alert rules, so both sides do the
same work, and its store holds the compiled plan a previous run leaves (engine/plan.py).
Then it times, alternating: ``healthscore run --as-of DAY`` (ingest finds the one new file,
merges its events into the roll-ups, scores the day), on a fresh copy of that store each time, and the hand-written DuckDB SQL of bench/sql/health.sql, which
scores the same day from all the raw events of the full store. Each healthscore run's scores
and measure values are checked against the full store's (``healthscore score`` of the same
day, every account and measure): incremental equals from scratch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from bench import check
from bench.company import DATA, SIZES, prepare
from bench.proc import healthscore_cli, run_measured, wait_for_quiet
from bench.run import ROOT, copy_config, health_version

EVENTS = Path("data/product/events")


def _morning(root: Path, work: Path, day: date) -> Path:
    """Build ``work``: the workspace the morning ``day``'s events arrive; return its store
    as it was before that (a template copied for each run)."""
    import ibis

    from healthscore import Workspace
    from healthscore.engine import Evaluator
    from healthscore.store import Store, rollups

    copy_config(root, work)
    # the same work as the SQL: the `health` scorecard only, no alert rules to check
    for card in (work / "scorecards").glob("*.yaml"):
        if card.name != "health.yaml":
            card.unlink()
    config = yaml.safe_load((work / "healthscore.yaml").read_text())
    config.pop("alerts", None)
    (work / "healthscore.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # the data folder: every file linked, the events folder a real folder of links
    for src in (root / "data").rglob("*"):
        if src.is_file():
            dst = work / src.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dst)
    template = work / "before.duckdb"
    shutil.copy2(root / "healthscore.duckdb", template)
    con = duckdb.connect(str(template))
    try:
        con.execute("SET TimeZone = 'UTC'")
        where = f"CAST(\"timestamp\" AS DATE) = DATE '{day}'"
        con.execute(f"""COPY (SELECT account_id AS account, user_id AS "user",
                                     event AS event_name, epoch_ms("timestamp") AS time,
                                     quantity AS count
                              FROM usage_events WHERE {where} ORDER BY "timestamp")
                        TO '{work / EVENTS / f"day-{day}.parquet"}' (FORMAT parquet)""")
        con.execute(f"DELETE FROM usage_events WHERE {where}")
        rollups.rebuild(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    # yesterday's run left the compiled plan in the store (engine/plan.py)
    with Store(template) as store:
        with store.transaction():  # the day was not scored yet that morning
            for (card,) in store.con.execute(
                    "SELECT DISTINCT scorecard FROM snapshots WHERE as_of >= ?", [day]).fetchall():
                for (d,) in store.con.execute("SELECT DISTINCT as_of FROM snapshots WHERE "
                                              "scorecard = ? AND as_of >= ?", [card, day]
                                              ).fetchall():
                    store.forget_snapshot(card, d)
        (loaded,) = Workspace.open(work).scorecards(["health"])
        Evaluator(ibis.duckdb.from_connection(store.con), loaded.scorecard, store=store)
    return template


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.daily", description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="S")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31))
    p.add_argument("--quiet-wait", type=float, default=300)
    p.add_argument("--prepare-only", action="store_true",
                   help="only build the morning's workspace (bench-out/daily-ws)")
    p.add_argument("--keep", action="store_true", help="keep bench-out/daily-ws afterwards")
    args = p.parse_args(argv)
    root = (DATA / args.size).resolve()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    company = prepare(root, SIZES[args.size], quiet_wait=args.quiet_wait, say=say)
    day = args.as_of.isoformat()
    out = root / "bench-out"
    work = out / "daily-ws"
    template = work / "before.duckdb"
    if args.prepare_only:
        _morning(root, work, args.as_of)
        return 0
    # in a child: this process stays small, and the measured children (forked from it) start
    # with its memory in their peak RSS
    subprocess.run([sys.executable, "-m", "bench.daily", "--size", args.size, "--as-of", day,
                    "--prepare-only", "--quiet-wait", "0"], check=True, cwd=ROOT)
    events = duckdb.connect().execute(
        f"SELECT count(*) FROM '{work / EVENTS / f'day-{day}.parquet'}'").fetchone()[0]
    say(f"daily run of {day}: {events:,} new events in one file; the store before it "
        f"{template.stat().st_size / 2**20:,.0f} MiB")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    commands = {
        "healthscore run (one new day)": [*healthscore_cli(), "run", "-w", str(work),
                                          "--as-of", day],
        "DuckDB SQL over all events": [sys.executable, "-m", "bench.child", "sql",
                                       str(root), day, str(out / "sql")],
    }
    # what scoring the full store gives (not timed; kept as it is when already scored)
    run_measured([*healthscore_cli(), "score", "-w", str(root), "--as-of", day, "-s", "health",
                  "--lowest", "0"], cwd=ROOT, log=out / "daily-full.log", env=env)
    expected = check.snapshot(company.store, "health", health_version(root), args.as_of)
    samples: dict[str, list] = {k: [] for k in commands}
    for i in range(args.repeat):
        for name, cmd in (list(commands.items()) if i % 2 == 0
                          else list(commands.items())[::-1]):
            if name.startswith("healthscore"):
                shutil.copy2(template, work / "healthscore.duckdb")
                (work / "healthscore.duckdb.wal").unlink(missing_ok=True)
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait, say=say)
            s = run_measured(cmd, cwd=ROOT, log=out / "daily.log", env=env)
            samples[name].append(s)
            say(f"  run {i + 1}/{args.repeat} {name:<32} wall {s.wall_s:7.2f} s   "
                f"cpu {s.cpu_s:7.2f} s   peak RSS {s.peak_rss_mib:7.0f} MiB")
            if name.startswith("healthscore"):
                got = check.snapshot(work / "healthscore.duckdb", "health",
                                     health_version(root), args.as_of)
                for a, b in zip(got, expected, strict=True):  # bit for bit
                    pd.testing.assert_frame_equal(a, b, check_exact=True)
    med = {k: sorted(s.wall_s for s in v)[len(v) // 2] for k, v in samples.items()}
    names = list(commands)
    print(f"| {args.size} | {events:,} | {med[names[0]]:.2f} s | {med[names[1]]:.2f} s | "
          f"{med[names[0]] / med[names[1]]:.2f}x | "
          f"{max(s.peak_rss_mib for s in samples[names[0]]):,.0f} MiB |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
