"""Throughput of ``POST /api/v1/events``: batches of 10,000 events against a real uvicorn.

``python -m bench.api_ingest [--workspace bench/data/S] [--batches 20] [--batch-size 10000]``

The workspace is copied to a temporary folder first (the original is never written); a write
token is made there; the server runs in its own process (``healthscore.server.create_app`` under
uvicorn on 127.0.0.1); batches of new, valid events (random accounts of the workspace, past
timestamps) are posted one after another as JSON lines with httpx. Printed: events/s over all
batches, p50 / p95 / max seconds per batch, the body size of a batch, and the same for re-posting
a batch already stored (the idempotent path, where every row is found by its content hash).
Run by hand; the figures are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx

from healthscore.pipeline import utcnow
from healthscore.store import tokens
from healthscore.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _batch(rng: random.Random, accounts: list[str], n: int, start: datetime) -> bytes:
    lines = []
    for _ in range(n):
        at = start + timedelta(seconds=rng.randrange(0, 86400 * 28))
        lines.append(json.dumps({
            "account_id": rng.choice(accounts), "user_id": f"U-bench-{rng.randrange(5000)}",
            "event": rng.choice(("report.created", "dashboard.viewed", "export.run", "login")),
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "quantity": rng.randrange(1, 4)}))
    return ("\n".join(lines) + "\n").encode()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def run(workspace: Path, batches: int, size: int, seed: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hs-api-bench-"))
    root = tmp / "ws"
    shutil.copytree(workspace, root, ignore=shutil.ignore_patterns("bench-out", "*.log"))
    ws = Workspace.open(root)
    with ws.store() as store:
        token, _ = tokens.create_token(store, name="bench", now=utcnow(None))
        events_before = store.con.execute("SELECT count(*) FROM usage_events").fetchall()[0][0]
    con = duckdb.connect(str(ws.store_path), read_only=True)
    accounts = [r[0] for r in con.execute(
        "SELECT DISTINCT account_id FROM accounts ORDER BY 1").fetchall()]
    con.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, uvicorn; from healthscore.server import create_app; "
         "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
         "log_level='warning')", str(root), str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    rng = random.Random(seed)
    start = utcnow(None) - timedelta(days=30)
    bodies = [_batch(rng, accounts, size, start) for _ in range(batches)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    try:
        with httpx.Client(base_url=url, timeout=300) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
            times, inserted = [], 0
            t0 = time.perf_counter()
            for body in bodies:
                t = time.perf_counter()
                r = client.post("/api/v1/events", content=body, headers=headers)
                times.append(time.perf_counter() - t)
                r.raise_for_status()
                out = r.json()
                if out["rows_rejected"]:
                    raise RuntimeError(f"rows rejected: {out['errors'][:3]}")
                inserted += out["inserted"]
            total = time.perf_counter() - t0
            repost = []
            for body in bodies[: min(5, batches)]:
                t = time.perf_counter()
                r = client.post("/api/v1/events", content=body, headers=headers)
                repost.append(time.perf_counter() - t)
                r.raise_for_status()
                if r.json()["inserted"]:
                    raise RuntimeError("a re-posted batch inserted rows")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "workspace": str(workspace), "events_before": events_before, "batches": batches,
        "batch_size": size, "batch_bytes": round(statistics.mean(len(b) for b in bodies)),
        "inserted": inserted, "seconds": total, "events_per_s": inserted / total,
        "p50_s": statistics.median(times), "p95_s": _pct(times, 0.95), "max_s": max(times),
        "repost_p50_s": statistics.median(repost),
        "repost_events_per_s": size * len(repost) / sum(repost),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.api_ingest",
                                description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=ROOT / "bench" / "data" / "S",
                   help="workspace to copy (default bench/data/S; `python -m bench run` "
                        "makes it)")
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not (args.workspace / "healthscore.yaml").is_file():
        print(f"no workspace at {args.workspace}", file=sys.stderr)
        return 2
    r = run(args.workspace, args.batches, args.batch_size, args.seed)
    print(f"POST /api/v1/events, {r['batches']} batches of {r['batch_size']:,} events "
          f"(~{r['batch_bytes'] / 1e6:.2f} MB each) into {r['workspace']} "
          f"({r['events_before']:,} events stored before)")
    print(f"  {r['inserted']:,} events in {r['seconds']:.1f} s: {r['events_per_s']:,.0f} events/s;"
          f" per batch p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s, max {r['max_s']:.3f} s")
    print(f"  re-posting stored batches (nothing new): p50 {r['repost_p50_s']:.3f} s, "
          f"{r['repost_events_per_s']:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
