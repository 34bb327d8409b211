"""The customer base: who the accounts are, and their contract over time.

:func:`draw_portfolio` draws the firmographics of one chunk of accounts (segment, plan, seats,
price, contract start, CSM, region). :class:`Contract` holds what changes at renewals and in
between (seats, plan, churn) and answers "what did the CRM say on day *t*" for whole arrays of
accounts, which is what the quarterly CRM snapshots are made of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import words
from .timeline import NEVER, Calendar, next_anniversary

#: Share of accounts by segment (SMB, Mid-Market, Enterprise).
SEGMENT_SHARE = (0.55, 0.33, 0.12)
#: Plan mix by segment: rows are segments, columns plans (Starter, Business, Enterprise).
PLAN_BY_SEGMENT = np.array([[0.75, 0.25, 0.0], [0.1, 0.7, 0.2], [0.0, 0.25, 0.75]])
#: Seats: median and clip range by segment.
SEATS_MEDIAN = np.array([12.0, 60.0, 250.0])
SEATS_MIN = np.array([3, 25, 100])
SEATS_MAX = np.array([40, 200, 1500])
#: Share of today's customers who signed inside the window (the rest are older customers).
NEW_SHARE = 0.25
#: Special names (non-ASCII, commas, quotes) for this share of accounts.
SPECIAL_NAME_SHARE = 0.03
N_SPECIAL = len(words.SPECIAL_STEMS) * len(words.SPECIAL_FORMS)


def csm_count(accounts: int) -> int:
    """How many CSMs a book of ``accounts`` needs (one per ~50 accounts, at least 3)."""
    return max(3, round(accounts / 50))


def csm_names(count: int) -> list[str]:
    """``count`` distinct CSM logins such as ``maria.lopez``, in a fixed order."""
    first, last = words.FIRST_NAMES, words.LAST_NAMES
    # a stride coprime with len(last) walks all combinations without obvious patterns
    names = []
    for i in range(count):
        f = first[i % len(first)]
        ln = last[(i * 7 + i // len(first)) % len(last)]
        name = f"{f}.{ln}"
        rounds = i // (len(first) * len(last))
        names.append(name if rounds == 0 else f"{name}{rounds + 1}")
    return names


@dataclass
class Portfolio:
    """Firmographics of one chunk of accounts; every array has one entry per account."""

    number: np.ndarray  # global account number (ACC-000042 → 42)
    segment: np.ndarray  # index into words.SEGMENTS
    plan0: np.ndarray  # plan at the window start (or at signing)
    industry: np.ndarray
    name_stem: np.ndarray
    name_word: np.ndarray
    name_legal: np.ndarray
    name_special: np.ndarray  # stem + len(SPECIAL_STEMS) × form; -1 for a generated name
    offset_min: np.ndarray  # the customer's UTC offset, minutes
    start: np.ndarray  # contract start, epoch day
    seats0: np.ndarray
    discount: np.ndarray  # negotiated share of list price
    annual_billing: np.ndarray  # bool: one invoice a year instead of monthly
    terms_days: np.ndarray  # payment terms
    csm0: np.ndarray  # index into the CSM roster
    csm1: np.ndarray
    csm_switch: np.ndarray  # epoch day the account moves from csm0 to csm1 (NEVER if not)
    n_users: np.ndarray

    def __len__(self) -> int:
        return len(self.number)

    def csm_at(self, day: int | np.ndarray) -> np.ndarray:
        return np.where(np.asarray(day) >= self.csm_switch, self.csm1, self.csm0)


def draw_portfolio(
    rng: np.random.Generator, first_number: int, n: int, cal: Calendar, n_csm: int
) -> Portfolio:
    """Draw ``n`` accounts numbered from ``first_number``."""
    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    cum = PLAN_BY_SEGMENT.cumsum(axis=1)[segment]
    plan0 = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), 2)
    seats = np.exp(np.log(SEATS_MEDIAN[segment]) + rng.normal(0, 0.5, n))
    seats0 = np.clip(np.round(seats), SEATS_MIN[segment], SEATS_MAX[segment]).astype(np.int64)
    # bigger deals get bigger discounts
    discount = np.clip(1.0 - 0.06 * segment - rng.gamma(2.0, 0.04, n), 0.55, 1.0)

    new = rng.random(n) < NEW_SHARE
    # new customers signed inside the window, at least a few days before its end
    new_start = cal.s0 + (rng.random(n) * (cal.days - 5)).astype(np.int64)
    # older customers: tenure at the window start, mostly 1-4 years, a long tail to 8
    tenure = np.minimum(30 + rng.gamma(1.6, 420, n), 8 * 365).astype(np.int64)
    start = np.where(new, new_start, cal.s0 - tenure)

    annual = np.where(plan0 == 2, True, np.where(plan0 == 1, rng.random(n) < 0.4, False))
    terms = np.where(plan0 == 2, rng.choice([30, 45, 60], size=n, p=[0.4, 0.4, 0.2]), 30)

    csm0 = rng.integers(0, n_csm, n)
    csm1 = (csm0 + rng.integers(1, max(n_csm, 2), n)) % n_csm
    moves = rng.random(n) < 0.25  # a quarter of accounts change CSM during the window
    switch = np.maximum(start, cal.s0) + (rng.random(n) * (cal.days - 1)).astype(np.int64)
    csm_switch = np.where(moves & (switch < cal.e0), switch, NEVER)

    n_users = np.maximum(1, np.round(seats0 * rng.beta(6, 2, n))).astype(np.int64)

    special = rng.random(n) < SPECIAL_NAME_SHARE
    industry = rng.integers(0, len(words.INDUSTRIES), n)
    offsets = np.asarray(words.UTC_OFFSETS)[
        rng.choice(len(words.UTC_OFFSETS), size=n, p=np.asarray(words.UTC_OFFSET_WEIGHTS)
                   / sum(words.UTC_OFFSET_WEIGHTS))
    ]
    return Portfolio(
        number=np.arange(first_number, first_number + n, dtype=np.int64),
        segment=segment,
        plan0=plan0,
        industry=industry,
        name_stem=rng.integers(0, len(words.NAME_STEMS), n),
        name_word=rng.integers(0, 5, n),
        name_legal=rng.integers(0, len(words.LEGAL_FORMS), n),
        name_special=np.where(special, rng.integers(0, N_SPECIAL, n), -1),
        offset_min=offsets,
        start=start,
        seats0=seats0,
        discount=discount,
        annual_billing=annual,
        terms_days=terms,
        csm0=csm0,
        csm1=csm1,
        csm_switch=csm_switch,
        n_users=n_users,
    )


def account_names(pf: Portfolio) -> np.ndarray:
    """Company names (object array): "<stem> <industry word> <legal form>", or for a few
    accounts a special international one."""
    stem = np.asarray(words.NAME_STEMS, dtype=object)[pf.name_stem]
    word = np.asarray(words.INDUSTRY_WORDS, dtype=object)[pf.industry, pf.name_word]
    legal = np.asarray([f" {x}" if x else "" for x in words.LEGAL_FORMS], dtype=object)
    names = stem + " " + word + legal[pf.name_legal]
    forms = np.asarray(words.SPECIAL_FORMS, dtype=object)
    sp = np.maximum(pf.name_special, 0)
    stems = np.asarray(words.SPECIAL_STEMS, dtype=object)[sp % len(words.SPECIAL_STEMS)]
    form = forms[sp // len(words.SPECIAL_STEMS)]
    special = form[:, 0] + stems + form[:, 1]
    return np.where(pf.name_special >= 0, special, names)


def _col(day: int | np.ndarray) -> np.ndarray:
    """A scalar day, or one day per account as a column against (n, 2) renewal arrays."""
    d = np.asarray(day)
    return d if d.ndim == 0 else d[:, None]


@dataclass
class Contract:
    """What the contract does over time: up to two renewals in the window and one mid-term
    seat change. The ``*_at`` methods take one day, or one day per account. ``renewal[:, k]`` is the k-th anniversary inside the window (NEVER if none);
    ``outcome`` indexes words.OUTCOMES (-1 when there is no renewal)."""

    renewal: np.ndarray  # (n, 2) epoch days
    outcome: np.ndarray  # (n, 2)
    seat_delta: np.ndarray  # (n, 2) seats added (or removed, < 0) at that renewal
    upgrade: np.ndarray  # (n, 2) bool: moved up a plan at that renewal
    churn: np.ndarray  # (n,) epoch day of churn (a renewal date) or NEVER
    mid_day: np.ndarray  # (n,) mid-term seat change, NEVER if none
    mid_delta: np.ndarray  # (n,) seats added mid-term

    def plan_at(self, pf: Portfolio, day: int | np.ndarray) -> np.ndarray:
        ups = (self.upgrade & (self.renewal <= _col(day))).sum(axis=1)
        return np.minimum(pf.plan0 + ups, 2)

    def seats_at(self, pf: Portfolio, day: int | np.ndarray) -> np.ndarray:
        delta = np.where(self.renewal <= _col(day), self.seat_delta, 0).sum(axis=1)
        delta = delta + np.where(self.mid_day <= day, self.mid_delta, 0)
        return pf.seats0 + delta

    def arr_at(self, pf: Portfolio, day: int | np.ndarray) -> np.ndarray:
        """ARR on ``day``, in whole multiples of $120 (so a monthly invoice is whole dollars);
        0 from the churn date on. A seat costs more than $120 a year even at the deepest
        discount, so every seat added or removed moves ARR."""
        price = np.asarray(words.SEAT_PRICE)[self.plan_at(pf, day)]
        arr = np.maximum(1, np.round(self.seats_at(pf, day) * price * pf.discount / 120)) * 120
        return np.where(day >= self.churn, 0.0, arr)

    def next_renewal_at(self, pf: Portfolio, day: int | np.ndarray) -> np.ndarray:
        """The renewal date the CRM shows on ``day``: the next contract anniversary, or for a
        churned account the renewal it churned at."""
        return np.where(day >= self.churn, self.churn, next_anniversary(pf.start, day))

    def lifecycle_at(self, pf: Portfolio, day: int | np.ndarray) -> np.ndarray:
        """Index into words.LIFECYCLE on ``day``."""
        tenure = day - pf.start + 1
        to_renewal = self.next_renewal_at(pf, day) - day
        stage = np.where(tenure < 365, 1, 2)  # adoption in the first year, then mature
        stage = np.where(to_renewal <= 90, 3, stage)
        stage = np.where(tenure < 90, 0, stage)
        return np.where(day >= self.churn, 4, stage)
