"""``python -m bench.web --size S|M [--repeat 20]``: dashboard page times on a bench company.

Serves the bench workspace (``bench/data/<size>``, built by ``python -m bench run``) with a real
uvicorn on 127.0.0.1 and times full page requests (query, template, HTTP on loopback): the
portfolio, the accounts list (default order, sorted by 30-day change and filtered, searched, a
deep page) and account pages. Prints p50 / p95 / max in milliseconds per page and how many
snapshot dates the store holds (band history and deltas depend on it). The first request of
each page (``first ms``, untimed in the percentiles) may fill the server's read cache, which
later requests reuse until the store file changes; the cache starts empty. Read-only: it never
writes to the store. Run it by hand, not while another benchmark runs.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from bench.company import DATA, SIZES
from healthscore import read
from healthscore.server import create_app
from healthscore.workspace import Workspace


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(root: Path) -> tuple[uvicorn.Server, str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="S")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    p.add_argument("--scorecard", default="health")
    p.add_argument("--no-held", action="store_true",
                   help="open the store for each request (do not keep the read connection "
                        "between requests), as releases before the held connection did")
    args = p.parse_args(argv)
    if args.no_held:
        from healthscore.server.cache import HELD

        done = HELD.done

        def done_and_close(workspace, store):
            done(workspace, store)
            if not HELD._held[Path(workspace.store_path).resolve()][1]:
                HELD.release(workspace)

        HELD.done = done_and_close
    root = args.data_dir or DATA / args.size
    ws = Workspace.open(root)
    version = read.card(ws, args.scorecard).version
    with ws.store(read_only=True) as store:
        dates = store.con.execute(
            "SELECT count(DISTINCT as_of), min(as_of), max(as_of), count(*) FROM snapshots "
            "WHERE scorecard = ? AND version = ?", [args.scorecard, version]).fetchall()[0]
        ids = [r[0] for r in store.con.execute(
            "SELECT account_id FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ? "
            "ORDER BY hash(account_id) LIMIT ?",
            [args.scorecard, version, dates[2], args.repeat]).fetchall()]
    if not dates[0]:
        print(f"{root}: no {args.scorecard} snapshots of version {version}; score first",
              file=sys.stderr)
        return 1
    print(f"{root}: {args.scorecard} {version}, {dates[0]} snapshot date(s) "
          f"{dates[1]} .. {dates[2]}, {dates[3]:,} snapshot rows")
    sc = f"scorecard={args.scorecard}"
    pages = {
        "portfolio /": [f"/?{sc}"],
        "accounts (score)": [f"/accounts?{sc}"],
        "accounts sort 30d desc, red+yellow, renewal 90d":
            [f"/accounts?{sc}&sort=delta_30d&desc=1&band=red&band=yellow&renewal_within=90"],
        "accounts sort name, page 1000": [f"/accounts?{sc}&sort=name&page=1000"],
        "accounts search 'north'": [f"/accounts?{sc}&q=north&sort=arr&desc=1"],
        "account page (random accounts)": [f"/accounts/{i}?{sc}" for i in ids],
    }
    server, url = _serve(root)
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for name, urls in pages.items():
                t0 = time.perf_counter()
                client.get(urls[0])  # warm-up (first open of the file, caches)
                first = (time.perf_counter() - t0) * 1000
                times = []
                for k in range(args.repeat):
                    t0 = time.perf_counter()
                    r = client.get(urls[k % len(urls)])
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        print(f"{name}: HTTP {r.status_code}", file=sys.stderr)
                        return 1
                rows.append((name, first, statistics.median(times), _pct(times, 0.95), max(times)))
    finally:
        server.should_exit = True
    width = max(len(r[0]) for r in rows)
    print(f"{'page':<{width}}  {'first ms':>8}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}   "
          f"({args.repeat} requests each)")
    for name, first, p50, p95, worst in rows:
        print(f"{name:<{width}}  {first:8.0f}  {p50:8.0f}  {p95:8.0f}  {worst:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
