"""One benchmark run: the same day's health scores four ways, alternating, repeated, checked.

1. healthscore's CLI (``healthscore score … --lowest 0``), a child process;
2. healthscore's Python API (``healthscore.score``), a child process of its own;
3. the hand-written DuckDB SQL of bench/sql/health.sql, read-only on the same store;
4. plain pandas over the same store's tables.

After a warm-up round (one run of each, not counted), the four run in turn ``repeat`` times; the
figures are medians (peak RSS: the largest). The SQL's and pandas' scores and raw measure values
are checked against the snapshot healthscore stored, and the run fails if they differ.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from bench import check
from bench.company import Company, prepare
from bench.proc import BenchError, Sample, healthscore_cli, run_measured, wait_for_quiet

ROOT = Path(__file__).resolve().parent.parent
IMPLS = ("healthscore CLI", "healthscore API", "DuckDB SQL", "pandas")
CHECKED = {"DuckDB SQL": "sql", "pandas": "pandas"}


@dataclass
class Results:
    size: str
    company: Company
    as_of: date
    repeat: int
    warmup: bool
    usage_events: int
    accounts_stored: int
    accounts_scored: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    checks: dict[str, dict] = field(default_factory=dict)
    backfill: Sample | None = None
    backfill_days: int = 0
    started_at: str = ""
    finished_at: str = ""

    def others_cpu_s(self) -> float:
        """The most CPU time other processes used during any one timed run."""
        return max((s.others_cpu_s for v in self.samples.values() for s in v), default=0.0)

    def median(self, impl: str, attr: str) -> float | None:
        values = [getattr(s, attr) if attr != "work_s" else s.report.get("work_s")
                  for s in self.samples.get(impl, [])]
        values = [v for v in values if v is not None]
        if not values:
            return None
        return max(values) if attr == "peak_rss_mib" else statistics.median(values)

    def to_dict(self) -> dict:
        return {
            "size": self.size, "workspace": str(self.company.root),
            "accounts": self.company.accounts, "as_of": self.as_of.isoformat(),
            "repeat": self.repeat, "warmup": self.warmup, "usage_events": self.usage_events,
            "accounts_stored": self.accounts_stored, "accounts_scored": self.accounts_scored,
            "ingest": self.company.ingest.to_dict(),
            "samples": {k: [s.to_dict() for s in v] for k, v in self.samples.items()},
            "checks": self.checks, "machine": machine(),
            "backfill_days": self.backfill_days,
            "backfill": self.backfill.to_dict() if self.backfill else None,
            "started_at": self.started_at, "finished_at": self.finished_at,
        }


def machine() -> dict:
    """Cores, memory and the versions that matter."""
    import ibis
    import numpy
    import pandas
    import pyarrow

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": round(mem, 1), "cpu": cpu,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "ibis": ibis.__version__, "pandas": pandas.__version__, "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__, "healthscore_commit": _commit()}


def _commit() -> str:
    """The commit healthscore was measured at, and whether src/ had uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in src/' if dirty else ''}"


def _commands(ws: Path, as_of: date, out: Path) -> dict[str, list[str]]:
    child = [sys.executable, "-m", "bench.child"]
    day = as_of.isoformat()
    return {
        "healthscore CLI": [*healthscore_cli(), "score", "-w", str(ws), "--as-of", day,
                            "-s", "health", "--lowest", "0"],
        "healthscore API": [*child, "api", str(ws), day, str(out / "api")],
        "DuckDB SQL": [*child, "sql", str(ws), day, str(out / "sql")],
        "pandas": [*child, "pandas", str(ws), day, str(out / "pandas")],
    }


def _report_file(impl: str, out: Path) -> Path | None:
    sub = {"healthscore API": "api", "DuckDB SQL": "sql", "pandas": "pandas"}.get(impl)
    return out / sub / "report.json" if sub else None


def _store_facts(store: Path) -> tuple[int, int]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        events = con.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        accounts = con.execute("SELECT count(DISTINCT account_id) FROM accounts").fetchone()[0]
    finally:
        con.close()
    return events, accounts


def health_version(ws: Path) -> str:
    from healthscore import Workspace

    (loaded,) = Workspace.open(ws).scorecards(["health"])
    return loaded.scorecard.version


def _check(results: Results, out: Path, say) -> None:
    store = results.company.store
    expected = check.snapshot(store, "health", health_version(results.company.root),
                              results.as_of)
    results.accounts_scored = len(expected[0])
    for impl, sub in CHECKED.items():
        results.checks[impl] = check.compare(impl, out / sub, expected)
        say(f"  check {impl}: same scores and measure values as healthscore on "
            f"{results.checks[impl]['accounts']:,} accounts, "
            f"{results.checks[impl]['measure_rows']:,} measure rows (tolerance "
            f"{check.TOLERANCE:g})")


def copy_config(root: Path, work: Path) -> Path:
    """A new folder ``work`` holding the company's healthscore.yaml and scorecards."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in ("healthscore.yaml", "scorecards"):
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
    return work


def run_backfill(root: Path, as_of: date, days: int, *, env: dict, quiet_wait: float,
                 say=print) -> Sample:
    """Time ``healthscore backfill`` of the ``days`` days up to ``as_of`` (the `health`
    scorecard, every date scored) on a copy of the company's workspace, so the bench store
    keeps only its one-day snapshots."""
    work = copy_config(root, root / "bench-out" / "backfill-ws")
    shutil.copy2(root / "healthscore.duckdb", work / "healthscore.duckdb")
    cmd = [*healthscore_cli(), "backfill", "-w", str(work), "--days", str(days), "--to",
           as_of.isoformat(), "-s", "health", "--force"]
    if quiet_wait:
        wait_for_quiet(quiet_wait, say=say)
    try:
        sample = run_measured(cmd, cwd=ROOT, log=root / "bench-out" / "backfill.log", env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"  backfill  {days} days        wall {sample.wall_s:8.2f} s   cpu {sample.cpu_s:8.2f} s"
        f"   peak RSS {sample.peak_rss_mib:9.0f} MiB")
    return sample


def run_bench(size: str, root: Path, accounts: int, as_of: date, *, repeat: int = 3,
              warmup: bool = True, reingest: bool = False, quiet_wait: float = 0.0,
              backfill_days: int = 365, say=print) -> Results:
    """Prepare the company, run the four implementations alternating, check, return figures.

    ``quiet_wait``: before each measured run, wait up to this many seconds for the other
    processes of the machine to go quiet (0: do not wait). What they used anyway is recorded.
    """
    company = prepare(root, accounts, reingest=reingest, quiet_wait=quiet_wait, say=say)
    events, stored = _store_facts(company.store)
    results = Results(size, company, as_of, repeat, warmup, events, stored, 0,
                      started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    out = root / "bench-out"
    commands = _commands(root, as_of, out)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}

    def once(impl: str, label: str) -> Sample:
        if quiet_wait:
            wait_for_quiet(quiet_wait, say=say)
        sample = run_measured(commands[impl], cwd=ROOT, log=out / f"{impl.replace(' ', '_')}.log",
                              report=_report_file(impl, out), env=env)
        work = sample.report.get("work_s")
        say(f"  {label:<9} {impl:<16} wall {sample.wall_s:8.2f} s   cpu {sample.cpu_s:8.2f} s"
            f"   peak RSS {sample.peak_rss_mib:9.0f} MiB"
            + (f"   work {work:8.2f} s" if work is not None else "")
            + (f"   (others used {sample.others_cpu_s:.1f} CPU s)"
               if sample.others_cpu_s >= 0.5 else ""))
        return sample

    out.mkdir(parents=True, exist_ok=True)
    if warmup:
        for impl in IMPLS:
            once(impl, "warm-up")
        _check(results, out, say)  # fail early, before the long part
    for i in range(repeat):
        # Rotate the order so that no implementation always runs right after the same one.
        order = IMPLS[i % len(IMPLS):] + IMPLS[:i % len(IMPLS)]
        for impl in order:
            results.samples.setdefault(impl, []).append(once(impl, f"run {i + 1}/{repeat}"))
    _check(results, out, say)
    if backfill_days:
        results.backfill_days = backfill_days
        results.backfill = run_backfill(root, as_of, backfill_days, env=env,
                                        quiet_wait=quiet_wait, say=say)
    results.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    (root / "results.json").write_text(json.dumps(results.to_dict(), indent=2))
    return results


__all__ = ["BenchError", "Results", "run_bench"]
