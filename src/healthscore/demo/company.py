"""One chunk of the demo company: accounts, their health, contracts and users, drawn together.

Every chunk has its own random streams, derived from ``(seed, chunk index, stream)`` with
``numpy.random.SeedSequence``; chunks have a fixed size, so the output depends only on the seed,
the end date and the number of accounts, never on the machine or on how many chunks ran.
Each kind of data draws from its own stream, so changing one signal leaves the others as they
were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Health, alive, settle_contracts, simulate_health
from .portfolio import Contract, Portfolio, draw_portfolio
from .timeline import Calendar
from .usage import Users, draw_users

#: Accounts per chunk. Part of the output's definition: changing it changes the data.
CHUNK_ACCOUNTS = 500

#: Stream numbers: one independent random stream per kind of data.
STREAMS = {
    name: i for i, name in enumerate((
        "portfolio", "health", "contract", "users", "events", "tickets", "nps", "csat",
        "touchpoints", "trainings", "advocacy", "outcomes", "pulses", "contacts", "invoices",
    ))
}


@dataclass
class Chunk:
    cal: Calendar
    pf: Portfolio
    health: Health
    contract: Contract
    users: Users
    alive: np.ndarray  # (n × window days) bool
    seed: int
    index: int

    def rng(self, stream: str) -> np.random.Generator:
        return stream_rng(self.seed, self.index, stream)

    @property
    def hw(self) -> np.ndarray:
        """Health over the window (n × days)."""
        return self.health.window(self.cal)


def stream_rng(seed: int, index: int, stream: str) -> np.random.Generator:
    ss = np.random.SeedSequence(seed, spawn_key=(index, STREAMS[stream]))
    return np.random.default_rng(ss)


def build_chunk(seed: int, index: int, accounts: int, cal: Calendar, n_csm: int) -> Chunk:
    """Chunk ``index`` of a company of ``accounts`` accounts."""
    first = index * CHUNK_ACCOUNTS
    n = min(CHUNK_ACCOUNTS, accounts - first)
    pf = draw_portfolio(stream_rng(seed, index, "portfolio"), first + 1, n, cal, n_csm)
    health = simulate_health(stream_rng(seed, index, "health"), pf, cal)
    contract = settle_contracts(stream_rng(seed, index, "contract"), pf, health, cal)
    users = draw_users(stream_rng(seed, index, "users"), pf, health, contract, cal)
    return Chunk(cal=cal, pf=pf, health=health, contract=contract, users=users,
                 alive=alive(pf, contract, cal), seed=seed, index=index)


def chunk_count(accounts: int) -> int:
    return -(-accounts // CHUNK_ACCOUNTS)
