"""``generate_demo``: write the demo company's exports and a workspace config into a folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import pyarrow as pa

from ..errors import HealthScoreError
from . import contracts, signals
from .company import CHUNK_ACCOUNTS, Chunk, build_chunk, chunk_count
from .portfolio import csm_count, csm_names
from .timeline import Calendar
from .usage import draw_events
from .workspace import ALERTS_YAML, WORKSPACE_YAML
from .writers import (
    ACCOUNTS_DIR,
    EVENTS_DIR,
    EVENTS_GLOB,
    TICKETS,
    ChunkText,
    Sink,
    accounts_table,
    advocacy_table,
    contacts_table,
    csat_table,
    events_table,
    invoices_table,
    nps_table,
    outcomes_table,
    pulses_table,
    renewals_table,
    snapshot_path,
    ticket_lines,
    touchpoints_table,
    trainings_table,
    users_table,
)

Progress = Callable[[int, int, str], None]

#: The earliest ``end`` accepted: older customers' contracts start up to eight years before
#: the window, and dates before 1970 would need negative epoch days.
EARLIEST_END = date(1990, 1, 1)
FIRST_TICKET_ID = 10_001


class DemoError(HealthScoreError, ValueError):
    """Arguments the demo generator cannot work with (a usage error: CLI exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote.

    ``rows`` maps each file (path relative to ``out_dir``; the usage-event part files together
    as ``data/product/events/part-*.parquet``) to the number of rows, lines or events in it.
    """

    out_dir: Path
    end: date
    seed: int
    accounts: int
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        """Usage events written."""
        return self.rows.get(EVENTS_GLOB, 0)


def generate_demo(
    out_dir: str | Path,
    *,
    accounts: int = 1000,
    seed: int = 7,
    end: date | None = None,
    progress: Progress | None = None,
    alerts: bool = False,
) -> DemoSummary:
    """Write a synthetic SaaS company's exports and a ``healthscore.yaml`` into ``out_dir``.

    Fifteen months of data end the day before ``end`` (every timestamp is before ``end``
    00:00 UTC): quarterly CRM account snapshots, users and ~1,000 usage events per account,
    tickets, NPS and CSAT, invoices, touchpoints, contacts, trainings, advocacy, outcomes, CSM
    pulses and renewal outcomes, all driven by one latent health trajectory per account (see
    ``docs/demo.md``). The same ``(accounts, seed, end)`` give byte-identical files.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Files the demo writes are replaced; stale
        snapshot and event part files from an earlier run are removed first.
    accounts
        Number of customer accounts (at least 1). Work and memory are bounded by chunks of
        500 accounts, so 100,000 accounts (~100M events) fit in a few GiB.
    seed
        Random seed (a non-negative integer).
    end
        The first day *without* data; ``date.today()`` when not given.
    progress
        Called as ``progress(done, total, "accounts")`` after each chunk.
    alerts
        Also write four alert rules delivered to ``alerts/alerts.jsonl`` into the
        ``healthscore.yaml`` (``healthscore demo`` does; docs/alerts.md).

    Returns
    -------
    DemoSummary

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from healthscore.demo import generate_demo
    >>> summary = generate_demo(tempfile.mkdtemp(), accounts=20, end=date(2026, 7, 1))
    >>> summary.rows["data/crm/accounts/accounts_2026-06-30.csv"]
    20
    """
    if isinstance(accounts, bool) or not isinstance(accounts, int) or accounts < 1:
        raise DemoError(f"accounts must be a positive whole number, not {accounts!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoError(f"seed must be a non-negative whole number, not {seed!r}")
    if end is None:
        end = date.today()
    if isinstance(end, datetime):
        end = end.date()
    if not isinstance(end, date) or end < EARLIEST_END:
        raise DemoError(f"end must be a date on or after {EARLIEST_END}, not {end!r}")

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in [*root.glob(f"{ACCOUNTS_DIR}/accounts_*.csv"), *root.glob(EVENTS_GLOB)]:
        stale.unlink()

    cal = Calendar(end)
    n_csm = csm_count(accounts)
    roster = pa.array(csm_names(n_csm), pa.string())
    chunks = chunk_count(accounts)
    counters = {"ticket": FIRST_TICKET_ID, "invoice": 1}
    if progress:
        progress(0, accounts, "accounts")
    with Sink(root) as sink:
        for index in range(chunks):
            ch = build_chunk(seed, index, accounts, cal, n_csm)
            _write_chunk(sink, ch, ChunkText(ch, roster), counters)
            if progress:
                progress(min((index + 1) * CHUNK_ACCOUNTS, accounts), accounts, "accounts")
    (root / "healthscore.yaml").write_text(WORKSPACE_YAML + (ALERTS_YAML if alerts else ""),
                                           encoding="utf-8")
    _write_scorecards(root)
    return DemoSummary(out_dir=root, end=end, seed=seed, accounts=accounts,
                       rows=dict(sorted(sink.rows.items())))


def _write_scorecards(root: Path) -> None:
    """The demo's scorecards (health, expansion), shipped with the package."""
    folder = root / "scorecards"
    folder.mkdir(exist_ok=True)
    for item in resources.files("healthscore.demo").joinpath("scorecards").iterdir():
        if item.name.endswith(".yaml"):
            (folder / item.name).write_text(item.read_text(encoding="utf-8"), encoding="utf-8")


def _write_chunk(sink: Sink, ch: Chunk, tx: ChunkText, counters: dict[str, int]) -> None:
    for day in ch.cal.snapshot_days():
        sink.csv(snapshot_path(day), accounts_table(ch, tx, day))
    sink.csv("data/product/users.csv", users_table(ch, tx))

    events = draw_events(ch.rng("events"), ch.pf, ch.health, ch.users, ch.alive, ch.cal)
    sink.parquet(f"{EVENTS_DIR}/part-{ch.index:05d}.parquet", events_table(tx, events),
                 EVENTS_GLOB)

    tickets = signals.tickets(ch)
    sink.lines(TICKETS, ticket_lines(ch, tx, tickets, counters["ticket"]))
    counters["ticket"] += len(tickets["account"])

    sink.csv("data/surveys/nps.csv", nps_table(tx, signals.nps(ch)))
    done = signals.trainings(ch)
    sink.csv("data/lms/trainings.csv", trainings_table(tx, done))
    sink.csv("data/surveys/csat.csv", csat_table(tx, signals.csat(ch, done)))

    inv = contracts.invoices(ch)
    sink.csv("data/billing/invoices.csv", invoices_table(tx, inv, counters["invoice"]))
    counters["invoice"] += len(inv["account"])

    sink.csv("data/crm/touchpoints.csv", touchpoints_table(tx, signals.touchpoints(ch)))
    sink.csv("data/crm/contacts.csv", contacts_table(ch, tx, contracts.contacts(ch)))
    sink.csv("data/marketing/advocacy.csv", advocacy_table(tx, signals.advocacy(ch)))
    sink.csv("data/cs/outcomes.csv", outcomes_table(tx, signals.outcomes(ch)))
    sink.csv("data/cs/pulses.csv", pulses_table(tx, signals.pulses(ch)))
    sink.csv("data/crm/renewals.csv", renewals_table(tx, contracts.renewals(ch)))


__all__ = ["DemoError", "DemoSummary", "Progress", "generate_demo"]
