"""``python -m bench.startup --workspace DIR [--repeat 10]``: how fast the CLI starts.

Times short commands in child processes (wall time, CPU time and peak RSS of each, from
``os.wait4``, as :mod:`bench.proc` measures every benchmark): the bare interpreter and a bare
Typer app's ``--help`` (the floors), ``import healthscore``, ``healthscore --help``,
``healthscore status -w DIR`` and ``healthscore score --help``. Each command runs once untimed
(to warm the file cache and the bytecode), then ``--repeat`` times; the table gives the median
and the fastest wall time, the median CPU time and the largest peak RSS, and checks the goals
of issue 17.

To compare with another checkout, run it with ``PYTHONPATH=<checkout>/src``: the children inherit
it and import that healthscore.

Exit codes: 0 done; 1 a command failed; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bench.proc import BenchError, Sample, healthscore_cli, python, run_measured, wait_for_quiet

#: Wall-time goals (seconds, median) of issue 17 on the 2-core bench machine.
GOALS = {"healthscore --help": 0.3, "healthscore status -w DIR": 0.8}

#: The least any Typer CLI with Rich help pays for ``--help``: a group with one command.
TYPER_FLOOR = """\
import typer
app = typer.Typer(add_completion=False)
app.callback()(lambda: None)
app.command("verb", help="A verb.")(lambda: None)
app(["--help"])
"""


def commands(workspace: Path) -> dict[str, list[str]]:
    """The timed rows: their label and their command line."""
    cli = healthscore_cli()
    return {
        "python -c pass (the floor)": [python(), "-c", "pass"],
        "a bare Typer app --help (the Typer floor)": [python(), "-c", TYPER_FLOOR],
        "import healthscore": [python(), "-c", "import healthscore"],
        "healthscore --help": [*cli, "--help"],
        "healthscore status -w DIR": [*cli, "status", "-w", str(workspace)],
        "healthscore score --help": [*cli, "score", "--help"],
    }


def measure(cmd: list[str], repeat: int) -> list[Sample]:
    """One untimed warm-up run, then ``repeat`` measured ones."""
    run_measured(cmd)
    return [run_measured(cmd) for _ in range(repeat)]


def table(rows: dict[str, list[Sample]]) -> str:
    lines = ["| command | median wall s | min wall s | median CPU s | peak RSS MiB | goal |",
             "|---|---:|---:|---:|---:|---|"]
    for label, samples in rows.items():
        wall = statistics.median(s.wall_s for s in samples)
        goal = GOALS.get(label)
        verdict = "–" if goal is None else f"≤ {goal} s: {'met' if wall <= goal else 'NOT met'}"
        lines.append(f"| {label} | {wall:.3f} | {min(s.wall_s for s in samples):.3f} | "
                     f"{statistics.median(s.cpu_s for s in samples):.3f} | "
                     f"{max(s.peak_rss_mib for s in samples):.0f} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.startup",
                                description=__doc__.splitlines()[0])
    p.add_argument("--workspace", "-w", type=Path, required=True,
                   help="a scored workspace for `status` (e.g. a 1,000-account demo)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs of each (median)")
    p.add_argument("--quiet-wait", type=float, default=60, metavar="SECONDS",
                   help="before each command, wait up to this long for other processes to "
                   "go quiet (default 60; 0: do not wait)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    if not (args.workspace / "healthscore.yaml").is_file():
        print(f"{args.workspace}: not a workspace (no healthscore.yaml)", file=sys.stderr)
        return 2
    rows: dict[str, list[Sample]] = {}
    others = []
    try:
        for label, cmd in commands(args.workspace).items():
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait, say=lambda m: print(m, file=sys.stderr))
            rows[label] = measure(cmd, args.repeat)
            others += [s.others_cpu_s / s.wall_s for s in rows[label] if s.wall_s]
    except BenchError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.repeat} run(s) of each after a warm-up; other processes used "
          f"{statistics.median(others):.2f} cores (median) while they ran.\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
