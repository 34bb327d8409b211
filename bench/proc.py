"""Run one child process and measure it: wall time, CPU time (user + sys), peak RSS.

``os.wait4`` returns the resource usage of that one child (and of the processes it waited for),
so every figure is per process, unlike ``getrusage(RUSAGE_CHILDREN)``, which keeps the maximum
RSS of every child seen so far.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """A benchmarked command failed, or two implementations disagree."""


@dataclass
class Sample:
    """One measured run of one command."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    #: Figures the child reported about itself (``work_s``: time of the work alone, without
    #: interpreter start-up and imports; rows read; …).
    report: dict = field(default_factory=dict)
    #: CPU time the rest of the machine used while the child ran (a disturbed figure).
    others_cpu_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux; 0 elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait_s: float, *, threshold: float = 0.2, say=None) -> float:
    """Wait (up to ``max_wait_s``) until other processes use less than ``threshold`` of a core.

    Probes one second at a time; returns the load of the last probe, in cores.
    """
    waited, load = 0.0, 0.0
    while True:
        before = busy_cpu_s()
        time.sleep(1.0)
        load = busy_cpu_s() - before
        if load < threshold or waited >= max_wait_s:
            return load
        if say and waited == 0:
            say(f"  (the machine is busy: {load:.1f} cores in use by other processes; "
                f"waiting up to {max_wait_s:.0f} s)")
        waited += 1.0


def run_measured(cmd: list[str], *, cwd: Path | None = None, log: Path | None = None,
                 report: Path | None = None, env: dict | None = None) -> Sample:
    """Run ``cmd`` to completion; raise :class:`BenchError` with its output tail if it fails.

    ``report`` is a JSON file the child writes with figures about itself; it is read back into
    :attr:`Sample.report`.
    """
    if report is not None:
        report.unlink(missing_ok=True)
    log = log or Path(os.devnull)
    with open(log, "wb") as out:
        busy = busy_cpu_s()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy = busy_cpu_s() - busy
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = ""
        if log != Path(os.devnull):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BenchError(f"command failed with exit code {proc.returncode}: {' '.join(cmd)}"
                         f"\n{tail}")
    # ru_maxrss is in KiB on Linux.
    cpu = usage.ru_utime + usage.ru_stime
    sample = Sample(wall_s=wall, cpu_s=cpu, peak_rss_mib=usage.ru_maxrss / 1024,
                    others_cpu_s=max(0.0, busy - cpu))
    if report is not None and report.exists():
        sample.report = json.loads(report.read_text())
    return sample


def python() -> str:
    return sys.executable


def healthscore_cli() -> list[str]:
    """The installed ``healthscore`` command next to this interpreter."""
    script = Path(sys.executable).with_name("healthscore")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from healthscore.cli import main; sys.exit(main())"]
