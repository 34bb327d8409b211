"""The commercial side: key contacts, invoices and renewal outcomes.

Contacts leave their role at a daily hazard that rises as health falls (champions most of all);
invoices are paid late, or not at all, more often by unhealthy accounts and by a few chronically
slow payers whatever their health.
"""

from __future__ import annotations

import numpy as np

from . import words
from .company import Chunk
from .model import sigmoid
from .signals import Columns
from .timeline import add_months, add_years

#: Daily hazard of leaving the role at health 0, and how strongly low health raises it, in the
#: order of words.CONTACT_ROLES (champion, exec_sponsor, decision_maker, admin, user).
LEAVE_BASE = np.array([0.0006, 0.00025, 0.0002, 0.00015, 0.0002])
LEAVE_SLOPE = np.array([1.1, 0.5, 0.3, 0.0, 0.0])


def first_crossing(cum: np.ndarray, rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each i, the first column where row ``rows[i]`` of the row-wise non-decreasing
    ``cum`` reaches ``target[i]``; ``cum.shape[1]`` (or more) when it never does.

    One ``searchsorted`` over all rows at once: each row is lifted by its index times a step
    larger than any row's range, which keeps the flattened array sorted.
    """
    n, d = cum.shape
    step = float(cum.max(initial=0.0)) + 1.0
    flat = (cum + step * np.arange(n)[:, None]).ravel()
    pos = np.searchsorted(flat, target + step * rows, side="left")
    return pos - rows * d


def contacts(ch: Chunk) -> Columns:
    rng, pf, cal, hw = ch.rng("contacts"), ch.pf, ch.cal, ch.hw
    n, seg = len(pf), pf.segment
    counts = np.stack([
        1 + ((seg >= 1) & (rng.random(n) < 0.4)),  # champions
        rng.random(n) < np.array([0.25, 0.7, 1.0])[seg],  # exec sponsor
        rng.random(n) < 0.85,  # decision maker
        1 + (seg == 2),  # admins
        rng.integers(0, 3, n),  # other users we know
    ], axis=1).astype(np.int64)
    rows = np.repeat(np.repeat(np.arange(n), 5), counts.ravel())
    role = np.repeat(np.tile(np.arange(5), n), counts.ravel())
    m = len(rows)
    life_end = np.minimum(ch.contract.churn, cal.e0)[rows]
    since = pf.start[rows] + rng.exponential(45.0, m).astype(np.int64)
    since = np.minimum(since, life_end - 1)

    # leaving: cumulative hazard per role over the window, first crossing of an Exp(1) draw
    until = np.full(m, -1, dtype=np.int64)
    for r in range(5):
        sel = np.nonzero(role == r)[0]
        hazard = LEAVE_BASE[r] * np.exp(-LEAVE_SLOPE[r] * hw) * ch.alive
        cum = np.cumsum(hazard, axis=1)
        lo = np.clip(since[sel] - cal.s0, 0, cal.days)
        before = np.where(lo > 0, cum[rows[sel], np.maximum(lo - 1, 0)], 0.0)
        col = first_crossing(cum, rows[sel], before + rng.exponential(1.0, len(sel)))
        day = cal.s0 + col
        until[sel] = np.where((col < cal.days) & (day < life_end[sel]), day, -1)

    # a departed champion is replaced, in two weeks to three months, if the account is healthy
    left = np.nonzero((role == 0) & (until >= 0))[0]
    h_left = ch.health.at(rows[left], until[left])
    new_since = until[left] + rng.integers(14, 90, len(left))
    hired = (rng.random(len(left)) < sigmoid(0.5 + h_left)) & (new_since < life_end[left])
    new = left[hired]
    rows = np.concatenate([rows, rows[new]])
    role = np.concatenate([role, np.zeros(len(new), dtype=np.int64)])
    since = np.concatenate([since, new_since[hired]])
    until = np.concatenate([until, np.full(len(new), -1, dtype=np.int64)])

    order = np.lexsort((since, rows))
    rows, role, since, until = rows[order], role[order], since[order], until[order]
    first_of = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))[:-1]])
    number = np.arange(len(rows)) - first_of[rows] + 1
    m = len(rows)
    return {"account": rows, "number": number, "role": role, "since": since, "until": until,
            "first": rng.integers(0, len(words.FIRST_NAMES), m),
            "last": rng.integers(0, len(words.CONTACT_LAST_NAMES), m)}


def _month_index(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(
        "datetime64[M]").astype(np.int64)


def invoices(ch: Chunk) -> Columns:
    """Monthly invoices on the contract's day of month, or one a year on its anniversary."""
    rng, pf, cal, ct = ch.rng("invoices"), ch.pf, ch.cal, ch.contract
    n = len(pf)
    life_end = np.minimum(ct.churn, cal.e0)
    lo = np.maximum(pf.start, cal.s0)

    months = np.maximum(_month_index(np.full(n, cal.s0)) - _month_index(pf.start) - 1, 0)
    years = np.maximum(months // 12 - 1, 0)
    steps = np.where(pf.annual_billing[:, None], years[:, None] + np.arange(18)[None, :],
                     months[:, None] + np.arange(18)[None, :])
    starts = np.broadcast_to(pf.start[:, None], steps.shape)
    by_month = add_months(starts.ravel(), steps.ravel()).reshape(steps.shape)
    by_year = add_years(starts.ravel(), steps.ravel()).reshape(steps.shape)
    issued = np.where(pf.annual_billing[:, None], by_year, by_month)
    valid = (issued >= lo[:, None]) & (issued < life_end[:, None])
    amount = np.stack([ct.arr_at(pf, issued[:, j]) for j in range(steps.shape[1])], axis=1)
    amount = np.where(pf.annual_billing[:, None], amount, amount / 12)

    rows, cols = np.nonzero(valid)
    day, amount = issued[rows, cols], amount[rows, cols]
    m = len(rows)
    h = ch.health.at(rows, day)
    slow_payer = rng.normal(0.0, 0.9, n)[rows]
    late = rng.random(m) < sigmoid(-2.0 - 1.4 * h + slow_payer)
    terms = pf.terms_days[rows]
    due = day + terms
    on_time = day + (rng.uniform(0.1, 1.0, m) * terms).astype(np.int64)
    overdue = due + 1 + rng.exponential(12.0 * np.exp(-0.4 * h)).astype(np.int64)
    paid = np.where(late, overdue, on_time)
    written_off = rng.random(m) < sigmoid(-4.5 - 1.5 * h + 0.5 * slow_payer)
    paid = np.where(written_off | (paid >= cal.e0), -1, paid)
    order = np.lexsort((rows, day))
    return {"account": rows[order], "issued": day[order], "due": due[order],
            "paid": paid[order], "amount": amount[order]}


def renewals(ch: Chunk) -> Columns:
    """One row per renewal date inside the window, with ARR just before and after it."""
    pf, ct = ch.pf, ch.contract
    parts = []
    for k in range(2):
        r = ct.renewal[:, k]
        sel = np.nonzero(ct.outcome[:, k] >= 0)[0]
        parts.append({"account": sel, "day": r[sel], "outcome": ct.outcome[sel, k],
                      "before": ct.arr_at(pf, r - 1)[sel], "after": ct.arr_at(pf, r)[sel]})
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((out["account"], out["day"]))
    return {k: v[order] for k, v in out.items()}
