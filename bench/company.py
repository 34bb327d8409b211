"""The benchmark companies: a demo company per size, generated once and ingested once.

Generation is not measured (it is the stand-in for a company's own exports); the ingest of the
files into the store is, once, as the figure "ingest of the company from files".
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bench.proc import Sample, healthscore_cli, run_measured, wait_for_quiet

#: Accounts per named size.
SIZES = {"S": 1_000, "M": 100_000}
SEED = 7
#: The first day without data: every event is before 2026-11-01 00:00 UTC.
END = date(2026, 11, 1)
DATA = Path(__file__).resolve().parent / "data"

GENERATED = ".bench-generated.json"
INGESTED = ".bench-ingest.json"


@dataclass
class Company:
    """A generated demo workspace and what is known about it."""

    root: Path
    accounts: int
    ingest: Sample

    @property
    def store(self) -> Path:
        return self.root / "healthscore.duckdb"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def generator_fingerprint() -> str:
    """A hash of the demo generator's code: when it changes, the company is generated again."""
    import healthscore.demo

    digest = hashlib.sha256()
    package = Path(healthscore.demo.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml"):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def prepare(root: Path, accounts: int, *, reingest: bool = False, quiet_wait: float = 0.0,
            say=print) -> Company:
    """Generate the company in ``root`` unless already there, and ingest it unless already done.

    The generation is keyed on (accounts, seed, end, the generator's code): a change of any
    generates it again (and ingests it again). The
    ingest is measured once and its figures kept next to the store; ``reingest`` measures it
    again on a fresh store.
    """
    root.mkdir(parents=True, exist_ok=True)
    wanted = {"accounts": accounts, "seed": SEED, "end": END.isoformat(),
              "generator": generator_fingerprint()}
    if _read(root / GENERATED) != wanted:
        say(f"generating the demo company: {accounts:,} accounts, seed {SEED}, end {END} "
            f"in {root} …")
        for stale in (INGESTED, "healthscore.duckdb", "healthscore.duckdb.wal"):
            (root / stale).unlink(missing_ok=True)
        shutil.rmtree(root / "data", ignore_errors=True)
        run_measured([*healthscore_cli(), "demo", "--out", str(root), "--accounts",
                      str(accounts), "--seed", str(SEED), "--end", END.isoformat(),
                      "--no-ingest", "--force"], log=root / "generate.log")
        (root / GENERATED).write_text(json.dumps(wanted))
    ingest = _read(root / INGESTED)
    if ingest is None or reingest or not (root / "healthscore.duckdb").exists():
        for stale in ("healthscore.duckdb", "healthscore.duckdb.wal"):
            (root / stale).unlink(missing_ok=True)
        if quiet_wait:
            wait_for_quiet(quiet_wait, say=say)
        say(f"ingesting {root} (measured) …")
        sample = run_measured([*healthscore_cli(), "ingest", "-w", str(root)],
                              log=root / "ingest.log")
        ingest = {**sample.to_dict(), "measured_at": datetime.now(UTC).isoformat(
            timespec="seconds")}
        (root / INGESTED).write_text(json.dumps(ingest, indent=2))
    sample = Sample(ingest["wall_s"], ingest["cpu_s"], ingest["peak_rss_mib"],
                    {"measured_at": ingest.get("measured_at")}, ingest.get("others_cpu_s", 0.0))
    return Company(root, accounts, sample)
