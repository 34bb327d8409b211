"""``python -m bench.spark_side --size S|M``: one day of `health` scored by the Spark engine
(local mode) beside the same day on DuckDB, on the bench company, with the results compared.

The company's store is written to a Parquet lake once (`healthscore lake`, timed, not part of
the comparison); a second workspace whose ``engine`` is Spark (``local[2]``: this machine's two
cores) reads it. Each side runs ``healthscore score -w … --as-of 2026-10-31 -s health`` as a
child process, alternating, ``--repeat`` times. Spark runs in a JVM the Python process starts,
so memory is the peak of the whole process tree's resident memory (sampled every 0.1 s) and
CPU is what the machine spent while the command ran (both sides measured the same way).
Afterwards the two stores' snapshots of the date are compared account by account: scores,
bands and every measure's raw value (tolerance 1e-9). See bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import threading
import time
from datetime import date
from pathlib import Path

import duckdb

from bench.company import DATA, SIZES, prepare
from bench.proc import BenchError, busy_cpu_s, healthscore_cli, wait_for_quiet
from healthscore.store.values import values_table

AS_OF = date(2026, 10, 31)


def _tree_rss_kib(root: int) -> int:
    """Resident memory of process ``root`` and all its descendants (KiB)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure_tree(cmd: list[str], log: Path) -> dict:
    """Run ``cmd``; wall seconds, machine CPU seconds, peak resident memory of its tree (MiB)."""
    peak = 0
    with open(log, "wb") as out:
        busy = busy_cpu_s()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, _tree_rss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        cpu = busy_cpu_s() - busy
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BenchError(f"command failed with exit code {code}: {' '.join(cmd)}\n{tail}")
    return {"wall_s": wall, "machine_cpu_s": cpu, "peak_tree_mib": peak / 1024}


def spark_workspace(root: Path, lake: Path, work: Path, driver_memory: str) -> Path:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(root / "scorecards", work / "scorecards")
    (work / "healthscore.yaml").write_text(
        "name: spark-bench\n"
        "engine:\n"
        "  kind: spark\n"
        f"  tables: {lake}\n"
        "  master: local[2]\n"
        f"  conf: {{spark.driver.memory: {driver_memory}}}\n")
    return work


def compare(duck_store: Path, spark_store: Path, as_of: date) -> dict:
    """Account by account: the largest score and raw-value difference, differing bands."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{duck_store}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{spark_store}' AS s (READ_ONLY)")
    day = f"DATE '{as_of}'"
    accounts, worst, bands, missing = con.execute(f"""
        SELECT count(*), max(abs(d.score - s.score)), count(*) FILTER (d.band <> s.band),
               count(*) FILTER (s.account_id IS NULL)
        FROM (SELECT * FROM d.snapshots WHERE scorecard = 'health' AND as_of = {day}) d
        LEFT JOIN (SELECT * FROM s.snapshots WHERE scorecard = 'health' AND as_of = {day}) s
          USING (account_id)""").fetchone()
    extra = con.execute(f"""
        SELECT count(*) FROM s.snapshots WHERE scorecard = 'health' AND as_of = {day}
          AND account_id NOT IN (SELECT account_id FROM d.snapshots
                                 WHERE scorecard = 'health' AND as_of = {day})""").fetchone()[0]
    tables = [values_table("health", v) for (v,) in con.execute(
        f"SELECT DISTINCT version FROM s.snapshots WHERE scorecard = 'health' "
        f"AND as_of = {day}").fetchall()]
    value_worst, values = 0.0, 0
    for table in tables:
        cols = [r[0] for r in con.execute(
            f"SELECT column_name FROM duckdb_columns() WHERE database_name = 's' AND "
            f"table_name = '{table}' AND data_type = 'DOUBLE'").fetchall()]
        for c in cols:
            n, w, nulls = con.execute(f"""
                SELECT count(*), max(abs(d."{c}" - s."{c}")),
                       count(*) FILTER ((d."{c}" IS NULL) <> (s."{c}" IS NULL))
                FROM (SELECT * FROM d."{table}" WHERE as_of = {day}
                      AND superseded_at IS NULL) d
                JOIN (SELECT * FROM s."{table}" WHERE as_of = {day}
                      AND superseded_at IS NULL) s USING (account_id)""").fetchone()
            values += n
            value_worst = max(value_worst, w or 0.0, float("inf") if nulls else 0.0)
    return {"accounts": accounts, "score_worst": worst, "bands_differ": bands,
            "missing": missing, "extra": extra, "values": values, "value_worst": value_worst}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.spark_side",
                                description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="S")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--quiet-wait", type=float, default=0.0)
    p.add_argument("--rewrite-lake", action="store_true",
                   help="write the lake again (after the company's data changed)")
    args = p.parse_args(argv)
    root = DATA / args.size
    company = prepare(root, SIZES[args.size])
    out = root / "bench-out"
    out.mkdir(parents=True, exist_ok=True)
    lake = out / "lake"
    if args.rewrite_lake and lake.exists():
        shutil.rmtree(lake)
    if not lake.exists():
        t = time.perf_counter()
        subprocess.run([*healthscore_cli(), "lake", "-w", str(root), "--out", str(lake)],
                       check=True, capture_output=True)
        size = sum(f.stat().st_size for f in lake.glob("*.parquet"))
        print(f"lake written in {time.perf_counter() - t:.1f} s ({size / 2**20:,.0f} MiB)")
    work = spark_workspace(root, lake, out / "spark-ws", args.driver_memory)
    day = AS_OF.isoformat()
    cmds = {"DuckDB (store)": [*healthscore_cli(), "score", "-w", str(root), "--as-of", day,
                               "-s", "health", "--lowest", "0"],
            "Spark local[2]": [*healthscore_cli(), "score", "-w", str(work), "--as-of", day,
                               "-s", "health", "--lowest", "0"]}
    samples: dict[str, list[dict]] = {k: [] for k in cmds}
    for i in range(args.repeat):
        for name, cmd in (cmds.items() if i % 2 == 0 else reversed(cmds.items())):
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait)
            s = measure_tree(cmd, out / f"spark_side_{name.split()[0]}.log")
            samples[name].append(s)
            print(f"  run {i + 1}/{args.repeat} {name:<15} wall {s['wall_s']:8.2f} s   "
                  f"machine CPU {s['machine_cpu_s']:8.2f} s   peak tree RSS "
                  f"{s['peak_tree_mib']:8.0f} MiB")
    print(f"\n{args.size}: {SIZES[args.size]:,} accounts, health as of {day}, "
          f"median of {args.repeat}")
    print("| engine | wall s | machine CPU s | peak RSS MiB (process tree) |")
    print("|---|---:|---:|---:|")
    for name, runs in samples.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"| {name} | {med['wall_s']:.2f} | {med['machine_cpu_s']:.2f} | "
              f"{med['peak_tree_mib']:,.0f} |")
    c = compare(company.store, work / "healthscore.duckdb", AS_OF)
    print(f"\ncompared: {c['accounts']:,} accounts (missing on Spark {c['missing']}, extra "
          f"{c['extra']}), largest score difference {c['score_worst']:.3g}, bands differing "
          f"{c['bands_differ']}; {c['values']:,} measure values, largest difference "
          f"{c['value_worst']:.3g}")
    ok = (not c["missing"] and not c["extra"] and not c["bands_differ"]
          and (c["score_worst"] or 0) <= 1e-9 and c["value_worst"] <= 1e-9)
    print("equal to 1e-9" if ok else "NOT EQUAL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
