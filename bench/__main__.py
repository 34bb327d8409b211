"""``python -m bench run --size S|M [--repeat 3] [--as-of YYYY-MM-DD]``: see bench/RESULTS.md.

Exit codes: 0 done (the table is printed and saved next to the data); 1 a command failed or an
implementation disagrees with healthscore's scores; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bench.company import DATA, SIZES
from bench.proc import BenchError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="generate + ingest once, then time the four "
                         "implementations side by side and check they agree")
    run.add_argument("--size", choices=sorted(SIZES), default="S",
                     help="S = 1,000 accounts (~1M usage events), M = 100,000 (~100M)")
    run.add_argument("--accounts", type=int, default=None,
                     help="another number of accounts instead of a named size (for tests)")
    run.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")
    run.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31),
                     help="the scoring date (default 2026-10-31, the last day of data)")
    run.add_argument("--no-warmup", dest="warmup", action="store_false",
                     help="skip the warm-up round")
    run.add_argument("--reingest", action="store_true",
                     help="ingest again into a fresh store and measure it again")
    run.add_argument("--quiet-wait", type=float, default=300, metavar="SECONDS",
                     help="before each measured run, wait up to this long for other processes "
                     "to go quiet (default 300; 0: do not wait)")
    run.add_argument("--backfill-days", type=int, default=365, metavar="N",
                     help="also time a daily backfill of N days up to --as-of, on a copy of "
                     "the workspace (default 365; 0: skip)")
    run.add_argument("--data-dir", type=Path, default=None,
                     help="where the company lives (default bench/data/<size>)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    from bench.report import markdown
    from bench.run import run_bench

    size = args.size if args.accounts is None else f"{args.accounts}"
    accounts = SIZES[args.size] if args.accounts is None else args.accounts
    root = (args.data_dir or DATA / size).resolve()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        results = run_bench(size, root, accounts, args.as_of, repeat=args.repeat,
                            warmup=args.warmup, reingest=args.reingest,
                            quiet_wait=args.quiet_wait, backfill_days=args.backfill_days,
                            say=say)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    table = markdown(results)
    (root / "results.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
