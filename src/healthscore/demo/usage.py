"""Product users and usage events, driven by latent health.

Usage is where most of the volume is (about 1,000 events per account over the window), so this
module never loops over events or accounts: event counts are Poisson draws over the whole
(account × day) grid of a chunk, and each event's time, user and feature are drawn with array
operations over all events at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import words
from .model import Health, sigmoid
from .portfolio import Contract, Portfolio
from .timeline import DAY_S, NEVER, Calendar, business_seconds

#: Scale of the event rate, calibrated so an average account makes ~1,000 events in 15 months.
EVENT_SCALE = 0.12
#: Events grow with users, but less than linearly (big accounts have more occasional users).
USER_EXPONENT = 0.85
#: Volume elasticity to health: events × exp(VOLUME_SLOPE × h).
VOLUME_SLOPE = 0.55
#: Weekend days see this share of a weekday's activity.
WEEKEND = 0.12
#: Days for a new customer's usage to ramp up (e-folding).
RAMP_DAYS = 20.0
#: Health levels the feature mix is tabulated at (bins of 0.75 over [-3, 3]).
LEVELS = 8

FEATURE_NAMES = tuple(f[0] for f in words.FEATURES)
_CORE = np.array([f[1] for f in words.FEATURES])
_MIN_PLAN = np.array([f[2] for f in words.FEATURES])
_BASE_W = np.array([f[3] for f in words.FEATURES])
_BATCHED = np.array([f[4] for f in words.FEATURES])
#: Health elasticity of each feature's share: advanced features fade first when health falls,
#: passive ones (viewing) gain share.
_GAMMA = np.where(_CORE, 0.0, 0.9) - 0.25 * np.isin(FEATURE_NAMES, words.PASSIVE_FEATURES)


@dataclass
class Users:
    """All users of a chunk, grouped by account (``first[a]`` is account ``a``'s admin)."""

    account: np.ndarray  # chunk row of the user's account
    rank: np.ndarray  # 0-based number within the account; 0 is the admin who set it up
    role: np.ndarray  # index into words.USER_ROLES
    created_s: np.ndarray  # Unix seconds
    deactivated_s: np.ndarray  # Unix seconds, NEVER_S while active
    first: np.ndarray  # (n + 1,) offsets: users of account a are first[a]:first[a + 1]

    def __len__(self) -> int:
        return len(self.account)

    def active(self, idx: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        return (self.created_s[idx] <= t_s) & (t_s < self.deactivated_s[idx])


NEVER_S = NEVER * DAY_S


def draw_users(
    rng: np.random.Generator, pf: Portfolio, health: Health, contract: Contract, cal: Calendar
) -> Users:
    n = len(pf)
    first = np.concatenate([[0], np.cumsum(pf.n_users)])
    account = np.repeat(np.arange(n), pf.n_users)
    rank = np.arange(first[-1]) - first[account]
    m = len(account)

    start = pf.start[account]
    life_end_acct = np.minimum(contract.churn, cal.e0)  # first day not a customer
    life_end = life_end_acct[account]
    older = start < cal.s0
    # older customers: most users exist before the window, a fifth joined during it;
    # new customers invite their team over the first weeks
    before = rng.random(m) < 0.8
    u = rng.random(m)
    day_old = np.where(before, start + u * (cal.s0 - start), cal.s0 + u * (life_end - cal.s0))
    day_new = start + rng.exponential(20.0, m)
    day = np.where(older, day_old, day_new).astype(np.int64)
    late = day >= life_end
    day = np.where(late, start + (rng.random(m) * (life_end - start)).astype(np.int64), day)
    created = day * DAY_S + business_seconds(rng, pf.offset_min[account])
    created = np.where(rank == 0, start * DAY_S, created)  # the admin exists from day one

    role = rng.choice(3, size=m, p=[0.05, 0.7, 0.25])
    role = np.where(rank == 0, 0, role)

    # unhealthy accounts lose users: deactivation odds follow health over the window
    mean_h = health.mean(np.maximum(pf.start, cal.s0), life_end_acct)[account]
    p_off = 0.06 + 0.3 * sigmoid(-2.0 * mean_h - 0.5)
    lo = np.maximum(created // DAY_S + 1, cal.s0)
    off_day = lo + (rng.random(m) * np.maximum(life_end - lo, 0)).astype(np.int64)
    leaves = (rng.random(m) < p_off) & (rank > 0) & (off_day < life_end)
    deact = np.where(leaves, off_day * DAY_S + business_seconds(rng, pf.offset_min[account]),
                     NEVER_S)
    # a churned account is offboarded: its remaining users are removed on the churn date
    churned = contract.churn[account] < cal.e0
    deact = np.where(churned & (deact == NEVER_S), contract.churn[account] * DAY_S, deact)
    return Users(account=account, rank=rank, role=role, created_s=created,
                 deactivated_s=deact, first=first)


def pick_users(
    rng: np.random.Generator, users: Users, rows: np.ndarray, t_s: np.ndarray,
    pool: np.ndarray | None = None, skew: float = 1.0, tries: int = 4,
) -> np.ndarray:
    """A user of account ``rows[i]`` who exists at second ``t_s[i]``, for every i.

    Draws among the first ``pool[i]`` users of the account (all of them by default), favouring
    low ranks when ``skew`` > 1; draws again for users not active at that moment, and falls
    back to the account's admin (who exists from the contract start).
    """
    size = users.first[rows + 1] - users.first[rows]
    pool = size if pool is None else np.minimum(pool, size)
    pick = users.first[rows].copy()
    todo = np.arange(len(rows))
    for _ in range(tries):
        if len(todo) == 0:
            break
        cand = users.first[rows[todo]] + (
            pool[todo] * rng.random(len(todo)) ** skew
        ).astype(np.int64)
        ok = users.active(cand, t_s[todo])
        pick[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return pick


def feature_tables(rng: np.random.Generator, pf: Portfolio, health: Health) -> np.ndarray:
    """Cumulative feature mix per (account, health level), flattened with a row offset so a
    single ``searchsorted`` draws features for all events (see :func:`draw_features`)."""
    n, f = len(pf), len(FEATURE_NAMES)
    plan_ok = pf.plan0[:, None] >= _MIN_PLAN[None, :]
    p_adopt = sigmoid(-0.3 + 0.7 * pf.plan0[:, None] + 1.0 * health.mu[:, None])
    adopted = _CORE[None, :] | (plan_ok & (rng.random((n, f)) < p_adopt))
    centers = -3.0 + 0.75 * (np.arange(LEVELS) + 0.5)
    w = (adopted[:, None, :] * _BASE_W[None, None, :]
         * np.exp(_GAMMA[None, None, :] * centers[None, :, None]))
    cdf = np.cumsum(w, axis=2)
    cdf /= cdf[:, :, -1:]
    rows = np.arange(n * LEVELS, dtype=np.float64).reshape(n, LEVELS, 1)
    return (cdf + rows).ravel()


def draw_features(
    rng: np.random.Generator, table: np.ndarray, rows: np.ndarray, h: np.ndarray
) -> np.ndarray:
    level = np.clip(((h + 3.0) / 0.75).astype(np.int64), 0, LEVELS - 1)
    row = rows * LEVELS + level
    u = np.minimum(rng.random(len(rows)), 1 - 1e-9)
    pos = np.searchsorted(table, row + u, side="right")
    return np.clip(pos - row * len(FEATURE_NAMES), 0, len(FEATURE_NAMES) - 1)


def event_rates(pf: Portfolio, health: Health, alive: np.ndarray, cal: Calendar) -> np.ndarray:
    """Expected events per (account, window day)."""
    size = pf.n_users.astype(np.float64) ** USER_EXPONENT
    weekday = np.where(cal.weekday() >= 5, WEEKEND, 1.0)
    t = (cal.window_days()[None, :] - pf.start[:, None]).astype(np.float64)
    ramp = 1.0 - np.exp(-(np.maximum(t, 0) + 1) / RAMP_DAYS)
    lam = (EVENT_SCALE * size[:, None] * weekday[None, :] * ramp
           * np.exp(VOLUME_SLOPE * health.window(cal)))
    return np.where(alive, lam, 0.0)


def draw_events(
    rng: np.random.Generator, pf: Portfolio, health: Health, users: Users, alive: np.ndarray,
    cal: Calendar,
) -> dict[str, np.ndarray]:
    """Usage events of a chunk, sorted by account and time.

    Returns chunk rows of account and user, feature index, time (Unix ms) and count.
    """
    intensity = rng.lognormal(0.0, 0.45, len(pf))  # some customers simply use it more
    spread = rng.normal(0.0, 0.6, len(pf))  # ... or have more occasional users
    lam = event_rates(pf, health, alive, cal) * intensity[:, None]
    counts = rng.poisson(lam)
    rows, cols = np.nonzero(counts)
    k = counts[rows, cols]
    rows, cols = np.repeat(rows, k), np.repeat(cols, k)
    n = len(rows)

    sec = business_seconds(rng, pf.offset_min[rows])
    t_ms = ((cal.s0 + cols) * DAY_S + sec) * 1000 + rng.integers(0, 1000, n)
    h = health.window(cal)[rows, cols]
    # fewer people log in when health falls: events come from the top `pool` users
    share = sigmoid(0.3 + spread[rows] + 1.1 * h)
    pool = np.maximum(1, np.ceil(share * pf.n_users[rows])).astype(np.int64)
    user = pick_users(rng, users, rows, t_ms // 1000, pool=pool, skew=1.7)
    feature = draw_features(rng, feature_tables(rng, pf, health), rows, h)
    count = np.where(_BATCHED[feature], rng.geometric(0.35, n), 1).astype(np.int32)

    order = np.lexsort((t_ms, rows))
    return {"account": rows[order], "user": user[order], "feature": feature[order],
            "time_ms": t_ms[order], "count": count[order]}
