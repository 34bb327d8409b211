"""The latent health model: one hidden number per account per day that drives every signal.

Health ``h`` is on a z-like scale (0 ≈ an ordinary customer, +1 thriving, −1.5 in trouble). Per
account it is a mean-reverting random walk (an AR(1)/Ornstein-Uhlenbeck process) around a target
that is the account's own level ``mu`` plus, for some accounts, a regime shift that ramps in over
weeks: a *decline* (a reorg, a lost champion, a competitor) or a *recovery* (a rescue plan that
works). New customers go through an onboarding dip. Renewal outcomes are decided from health in
the 90 days before each renewal, plus noise, so churn is foreshadowed by every signal the health
drives, yet no single signal decides it. See docs/demo.md for the numbers and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .portfolio import Contract, Portfolio
from .timeline import NEVER, Calendar, next_anniversary

#: Daily pull back to the target (a shock halves in about a month).
THETA = 1 / 45
#: Stationary standard deviation of the walk around its target.
SIGMA = 0.55
#: Share of accounts that decline / recover during the simulated span.
DECLINE_SHARE = 0.22
RECOVER_SHARE = 0.10
#: Renewal decision: z = mean health (90 d) + TREND_WEIGHT × recent trend + N(0, DECISION_NOISE);
#: z below CHURN_AT churns, below CONTRACT_AT contracts, above EXPAND_AT expands.
DECISION_NOISE = 0.5
TREND_WEIGHT = 0.4
CHURN_AT = -1.2
CONTRACT_AT = -0.7
EXPAND_AT = 0.85
#: Churn for reasons health cannot see (acquired, budget freeze), at any health.
SURPRISE_CHURN = 0.02


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Health:
    """Latent health ``h`` (n × span); column ``j`` is epoch day ``cal.h0 + j``."""

    h: np.ndarray
    mu: np.ndarray
    regime: np.ndarray  # 0 steady, 1 declining, 2 recovering
    shift_day: np.ndarray  # epoch day the regime shift starts ramping in
    h0: int

    def at(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Health of account ``rows[i]`` on epoch day ``days[i]`` (clipped to the span)."""
        cols = np.clip(np.asarray(days) - self.h0, 0, self.h.shape[1] - 1)
        return self.h[rows, cols]

    def mean(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per-account mean health over epoch days ``[lo, hi)`` (one window per account)."""
        csum = np.concatenate([np.zeros((len(self.h), 1)), np.cumsum(self.h, axis=1)], axis=1)
        rows = np.arange(len(self.h))
        a = np.clip(np.asarray(lo) - self.h0, 0, self.h.shape[1])
        b = np.clip(np.asarray(hi) - self.h0, 0, self.h.shape[1])
        return (csum[rows, b] - csum[rows, a]) / np.maximum(b - a, 1)

    def window(self, cal: Calendar) -> np.ndarray:
        """Health over the data window only (n × cal.days)."""
        return self.h[:, cal.burn:]


def simulate_health(rng: np.random.Generator, pf: Portfolio, cal: Calendar) -> Health:
    n, span = len(pf), cal.span
    mu = rng.normal(0.25, 0.55, n) + np.array([-0.1, 0.0, 0.15])[pf.segment]

    u = rng.random(n)
    regime = np.where(u < DECLINE_SHARE, 1, np.where(u < DECLINE_SHARE + RECOVER_SHARE, 2, 0))
    shift_day = cal.h0 + 30 + (rng.random(n) * (span - 30)).astype(np.int64)
    ramp_days = rng.uniform(45, 150, n)
    size = np.where(regime == 1, -rng.uniform(1.0, 2.5, n), 0.0)
    dip = rng.uniform(0.8, 1.8, n)
    mu = np.where(regime == 2, mu - dip, mu)
    size = np.where(regime == 2, dip, size)

    days = cal.h0 + np.arange(span)
    ramp = np.clip((days[None, :] - shift_day[:, None]) / ramp_days[:, None], 0.0, 1.0)
    target = mu[:, None] + size[:, None] * ramp

    step_sd = SIGMA * np.sqrt(2 * THETA - THETA**2)
    shocks = rng.normal(0.0, step_sd, (n, span))
    h = np.empty((n, span))
    x = target[:, 0] + rng.normal(0.0, SIGMA, n)
    for j in range(span):  # one vector step per day; accounts are the vector
        x = x + THETA * (target[:, j] - x) + shocks[:, j]
        h[:, j] = x

    # onboarding dip: health sags in the first weeks (peak at day 30) and comes back; deeper
    # for the third of customers whose onboarding is rocky
    t = (days[None, :] - pf.start[:, None]).astype(np.float64)
    depth = np.where(rng.random(n) < 0.35, 0.9, 0.25)
    bump = np.where(t >= 0, (t / 30) * np.exp(1 - t / 30), 0.0)
    h -= depth[:, None] * bump
    return Health(h=h, mu=mu, regime=regime, shift_day=shift_day, h0=cal.h0)


def settle_contracts(
    rng: np.random.Generator, pf: Portfolio, health: Health, cal: Calendar
) -> Contract:
    """Decide every renewal inside the window from health before it, plus mid-term seat adds."""
    n = len(pf)
    first = next_anniversary(pf.start, cal.s0 - 1)
    second = next_anniversary(pf.start, first)
    renewal = np.stack([first, second], axis=1)
    renewal = np.where(renewal < cal.e0, renewal, NEVER)

    # a mid-term seat add, more likely when things go well (cancelled below if after churn)
    lo = np.maximum(pf.start, cal.s0)
    mid_day = lo + (rng.random(n) * np.maximum(cal.e0 - lo, 1)).astype(np.int64)
    p_add = 0.35 * sigmoid(2.0 * health.at(np.arange(n), mid_day) - 1.0)
    adds = (rng.random(n) < p_add) & (mid_day < cal.e0)
    mid_delta = np.maximum(1, np.round(pf.seats0 * rng.uniform(0.05, 0.3, n))).astype(np.int64)

    contract = Contract(
        renewal=renewal,
        outcome=np.full((n, 2), -1, dtype=np.int64),
        seat_delta=np.zeros((n, 2), dtype=np.int64),
        upgrade=np.zeros((n, 2), dtype=bool),
        churn=np.full(n, NEVER, dtype=np.int64),
        mid_day=np.where(adds, mid_day, NEVER),
        mid_delta=np.where(adds, mid_delta, 0),
    )
    for k in range(2):  # in date order: the second renewal sees the first one's seats
        r = renewal[:, k]
        due = (r < NEVER) & (contract.churn == NEVER)
        level = health.mean(r - 90, r)
        trend = health.mean(r - 30, r) - level
        z = level + TREND_WEIGHT * trend + rng.normal(0.0, DECISION_NOISE, n)
        z = np.where(rng.random(n) < SURPRISE_CHURN, -np.inf, z)
        out = np.select([z < CHURN_AT, z < CONTRACT_AT, z > EXPAND_AT], [0, 1, 3], 2)
        seats = contract.seats_at(pf, r - 1)
        out = np.where((out == 1) & (seats < 2), 2, out)  # one seat left: nothing to cut
        cut = np.minimum(np.maximum(1, np.round(seats * rng.uniform(0.1, 0.4, n))), seats - 1)
        add = np.maximum(1, np.round(seats * rng.uniform(0.1, 0.6, n)))
        delta = np.select([out == 1, out == 3], [-cut, add], 0).astype(np.int64)
        contract.outcome[:, k] = np.where(due, out, -1)
        contract.seat_delta[:, k] = np.where(due, delta, 0)
        contract.upgrade[:, k] = due & (out == 3) & (rng.random(n) < 0.3)
        contract.churn = np.where(due & (out == 0), r, contract.churn)
    contract.renewal = np.where(contract.outcome >= 0, renewal, NEVER)
    late_add = contract.mid_day >= contract.churn
    contract.mid_day = np.where(late_add, NEVER, contract.mid_day)
    contract.mid_delta = np.where(late_add, 0, contract.mid_delta)
    return contract


def alive(pf: Portfolio, contract: Contract, cal: Calendar) -> np.ndarray:
    """(n × window days) bool: a customer on that day (signed, and before its churn date)."""
    days = cal.window_days()[None, :]
    return (days >= pf.start[:, None]) & (days < contract.churn[:, None])
