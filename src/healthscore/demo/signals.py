"""Every signal other than product usage, each a noisy function of latent health.

Each function takes a :class:`~healthscore.demo.company.Chunk` and returns plain numpy columns
(chunk rows of the account, Unix seconds, indices into the word lists); writers.py turns them
into the export files. Rates are per (account × window day) and zero outside the customer's
life, so nothing happens before a contract starts or on/after a churn date.
"""

from __future__ import annotations

import numpy as np

from . import words
from .company import Chunk
from .model import sigmoid
from .timeline import DAY_S, business_seconds
from .usage import pick_users

Columns = dict[str, np.ndarray]


def cells(rng: np.random.Generator, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts over an (account × day) rate grid, as one (row, column) per occurrence."""
    counts = rng.poisson(rate)
    rows, cols = np.nonzero(counts)
    k = counts[rows, cols]
    return np.repeat(rows, k), np.repeat(cols, k)


def _weekday(ch: Chunk, weekend: float) -> np.ndarray:
    return np.where(ch.cal.weekday() >= 5, weekend, 1.0)[None, :]


def _stamp(rng: np.random.Generator, ch: Chunk, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Unix seconds in working hours of the customer on window day ``cols``."""
    return (ch.cal.s0 + cols) * DAY_S + business_seconds(rng, ch.pf.offset_min[rows])


def csm_of(ch: Chunk, rows: np.ndarray, day: np.ndarray) -> np.ndarray:
    pf = ch.pf
    return np.where(day >= pf.csm_switch[rows], pf.csm1[rows], pf.csm0[rows])


def _pick_text(rng: np.random.Generator, buckets: tuple[tuple[str, ...], ...],
               bucket: np.ndarray) -> np.ndarray:
    """An index into the flattened ``buckets`` for each row's bucket."""
    sizes = np.array([len(b) for b in buckets])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return starts[bucket] + (rng.random(len(bucket)) * sizes[bucket]).astype(np.int64)


def _sorted(cols: Columns, key: str) -> Columns:
    order = np.argsort(cols[key], kind="stable")
    return {k: v[order] for k, v in cols.items()}


def _distinct(cols: Columns, keys: tuple[str, ...]) -> Columns:
    """Drop rows that repeat another row's ``keys`` exactly (two draws in the same second):
    an export holds one row per event, and ingest would quarantine the copy."""
    if not len(cols[keys[0]]):
        return cols
    order = np.lexsort([cols[k] for k in reversed(keys)])
    ordered = {k: v[order] for k, v in cols.items()}
    same = np.ones(len(order) - 1, dtype=bool)
    for k in keys:
        same &= ordered[k][1:] == ordered[k][:-1]
    keep = np.concatenate([[True], ~same])
    return {k: v[keep] for k, v in ordered.items()}


def tickets(ch: Chunk) -> Columns:
    """Support tickets: more of them, and more urgent, as health falls; worse ratings too."""
    rng, pf, hw = ch.rng("tickets"), ch.pf, ch.hw
    size = pf.n_users.astype(np.float64) ** 0.45
    rate = 0.006 * size[:, None] * np.exp(-0.6 * hw) * _weekday(ch, 0.3) * ch.alive
    rows, cols = cells(rng, rate)
    n, h = len(rows), hw[rows, cols]
    opened = _stamp(rng, ch, rows, cols)

    logits = np.stack([-3.2 - 0.8 * h, -1.6 - 0.5 * h, np.full(n, 0.6), np.zeros(n)], axis=1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    priority = np.minimum((rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1), 3)

    median_hours = np.array([4.0, 16.0, 40.0, 72.0])[priority]
    hours = median_hours * np.exp(-0.15 * h + rng.normal(0.0, 0.9, n))
    closed = opened + np.maximum(hours * 3600, 300).astype(np.int64)
    still_open = (closed >= ch.cal.end_s) | (rng.random(n) < 0.02)
    closed = np.where(still_open, -1, closed)

    rated = ~still_open & (rng.random(n) > 0.55)
    good = rng.random(n) < sigmoid(1.6 + 0.9 * h - 0.6 * (priority == 0))
    rating = np.where(rated, np.where(good, 0, 1), 2)  # good, bad, offered (no rating)
    subject = rng.integers(0, len(words.TICKET_SUBJECTS), n)
    return _sorted({"account": rows, "opened_s": opened, "closed_s": closed,
                    "priority": priority, "rating": rating, "subject": subject}, "opened_s")


def nps_campaign_days(ch: Chunk) -> np.ndarray:
    """The quarterly relationship-NPS send dates: the 10th of Feb, May, Aug and Nov."""
    days = ch.cal.window_days()
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return days[(dom == 10) & np.isin(month, (2, 5, 8, 11))]


def nps(ch: Chunk) -> Columns:
    """NPS answers from quarterly campaigns: healthy customers answer more, and score higher."""
    rng, pf, cal = ch.rng("nps"), ch.pf, ch.cal
    n = len(pf)
    out: list[Columns] = []
    for day in nps_campaign_days(ch):
        live = (pf.start <= day) & (day < ch.contract.churn)
        h = ch.health.at(np.arange(n), np.full(n, day))
        invited = np.minimum(pf.n_users, 60)
        k = np.where(live, rng.binomial(invited, 0.05 + 0.1 * sigmoid(h)), 0)
        rows = np.repeat(np.arange(n), k)
        resp_day = day + np.minimum(rng.exponential(3.0, len(rows)).astype(np.int64), 20)
        keep = (resp_day < cal.e0) & (resp_day < ch.contract.churn[rows])
        rows, resp_day = rows[keep], resp_day[keep]
        t = resp_day * DAY_S + business_seconds(rng, pf.offset_min[rows])
        t -= t % 60  # the survey tool exports minutes
        hr = ch.health.at(rows, resp_day)
        score = np.clip(np.round(7.6 + 1.7 * hr + rng.normal(0.0, 1.7, len(rows))), 0, 10)
        score = score.astype(np.int64)
        bucket = np.select([score <= 6, score <= 8], [0, 1], 2)
        comment = np.where(rng.random(len(rows)) < 0.45,
                           _pick_text(rng, words.NPS_COMMENTS, bucket), -1)
        user = pick_users(rng, ch.users, rows, t)
        out.append({"account": rows, "user": user, "score": score, "time_s": t,
                    "comment": comment})
    return _sorted(_concat(out, ("account", "user", "score", "time_s", "comment")), "time_s")


def trainings(ch: Chunk) -> Columns:
    """Courses completed: a burst while onboarding, then steadily, more when healthy."""
    rng, pf, hw = ch.rng("trainings"), ch.pf, ch.hw
    since = (ch.cal.window_days()[None, :] - pf.start[:, None])
    onboarding = (since >= 0) & (since < 60)
    size = pf.n_users.astype(np.float64) ** 0.6
    rate = (0.0015 * size[:, None] * sigmoid(0.5 + 1.2 * hw) * (1 + 6 * onboarding)
            * _weekday(ch, 0.1) * ch.alive)
    rows, cols = cells(rng, rate)
    t = _stamp(rng, ch, rows, cols)
    early = since[rows, cols] < 90
    course = np.where(early, rng.integers(0, 4, len(rows)),
                      rng.integers(0, len(words.COURSES), len(rows)))
    user = pick_users(rng, ch.users, rows, t)
    return _sorted({"account": rows, "user": user, "course": course, "time_s": t}, "time_s")


def csat(ch: Chunk, done_trainings: Columns) -> Columns:
    """CSAT surveys (1-5): after a third of trainings, and once after onboarding (day 45)."""
    rng, pf, cal = ch.rng("csat"), ch.pf, ch.cal
    sel = rng.random(len(done_trainings["account"])) < 0.35
    rows_t = done_trainings["account"][sel]
    user_t = done_trainings["user"][sel]
    t_t = done_trainings["time_s"][sel] + rng.integers(600, 2 * DAY_S, len(rows_t))

    day45 = pf.start + 45
    due = (day45 >= cal.s0) & (rng.random(len(pf)) < 0.6)
    rows_o = np.nonzero(due)[0]
    t_o = day45[rows_o] * DAY_S + business_seconds(rng, pf.offset_min[rows_o])
    user_o = ch.users.first[rows_o]

    rows = np.concatenate([rows_t, rows_o])
    t = np.concatenate([t_t, t_o])
    user = np.concatenate([user_t, user_o])
    keep = (t < cal.end_s) & (t < ch.contract.churn[rows] * DAY_S)
    rows, t, user = rows[keep], t[keep], user[keep]
    h = ch.health.at(rows, t // DAY_S)
    score = np.clip(np.round(3.9 + 0.75 * h + rng.normal(0.0, 0.8, len(rows))), 1, 5)
    return _sorted({"account": rows, "user": user, "score": score.astype(np.int64),
                    "time_s": t}, "time_s")


#: Touchpoints per 30 days by segment (SMB, Mid-Market, Enterprise) at ordinary health.
TOUCH_RATES = {"Meeting": (0.15, 0.6, 1.5), "Call": (0.3, 0.8, 1.5), "Email": (1.0, 2.5, 4.0)}
TOUCH_KINDS = ("Meeting", "Call", "Email", "QBR")


def touchpoints(ch: Chunk) -> Columns:
    """CSM meetings and calls (fewer get held as health falls: the customer stops answering),
    e-mails (a CSM chases harder), and quarterly business reviews held when things go well."""
    rng, pf, hw, cal = ch.rng("touchpoints"), ch.pf, ch.hw, ch.cal
    parts: list[Columns] = []
    for kind, (name, base) in enumerate(TOUCH_RATES.items()):
        response = np.exp(-0.25 * hw) if name == "Email" else 2 * sigmoid(0.3 + 1.0 * hw)
        per_day = np.asarray(base)[pf.segment][:, None] / 30 * 7 / 5
        rate = per_day * response * _weekday(ch, 0.02) * ch.alive
        rows, cols = cells(rng, rate)
        parts.append({"account": rows, "kind": np.full(len(rows), kind),
                      "time_s": _stamp(rng, ch, rows, cols)})
    n = len(pf)
    p_base = np.array([-2.5, 0.3, 1.2])[pf.segment]
    for block in range(-(-cal.days // 91)):
        day = cal.s0 + 91 * block + rng.integers(30, 85, n)
        h = ch.health.at(np.arange(n), day)
        held = ((rng.random(n) < sigmoid(p_base + 1.3 * h)) & (day < cal.e0)
                & (day >= pf.start) & (day < ch.contract.churn))
        rows = np.nonzero(held)[0]
        t = day[rows] * DAY_S + business_seconds(rng, pf.offset_min[rows])
        parts.append({"account": rows, "kind": np.full(len(rows), 3), "time_s": t})
    out = _distinct(_concat(parts, ("account", "kind", "time_s")), ("account", "kind", "time_s"))
    out["owner"] = csm_of(ch, out["account"], out["time_s"] // DAY_S)
    return _sorted(out, "time_s")


def advocacy(ch: Chunk) -> Columns:
    """Reviews, referrals and case studies: rare, and almost only from thriving accounts."""
    rng, pf, hw = ch.rng("advocacy"), ch.pf, ch.hw
    rate = (0.0008 * (1 + 0.5 * pf.segment)[:, None] * np.exp(1.4 * hw)
            * _weekday(ch, 0.2) * ch.alive)
    rows, cols = cells(rng, rate)
    kind = rng.choice(3, size=len(rows), p=[0.6, 0.3, 0.1])
    kind = np.where((kind == 2) & (pf.segment[rows] == 0), 0, kind)  # SMB: no case studies
    return _sorted(_distinct({"account": rows, "kind": kind,
                              "time_s": _stamp(rng, ch, rows, cols)},
                             ("account", "kind", "time_s")), "time_s")


def outcomes(ch: Chunk) -> Columns:
    """Business goals achieved with the product, more likely when health is high."""
    rng, pf, hw = ch.rng("outcomes"), ch.pf, ch.hw
    rate = (0.0025 * (1 + 0.5 * pf.segment)[:, None] * sigmoid(2.0 * hw - 0.5)
            * _weekday(ch, 0.05) * ch.alive)
    rows, cols = cells(rng, rate)
    goal = rng.integers(0, len(words.GOALS), len(rows))
    return _sorted({"account": rows, "goal": goal, "time_s": _stamp(rng, ch, rows, cols)},
                   "time_s")


def gives_pulses(csm: np.ndarray) -> np.ndarray:
    """A quarter of the CSMs record pulses (a fixed rule, so it is the same in every chunk)."""
    return (csm * 37 + 11) % 4 == 0


def pulses(ch: Chunk) -> Columns:
    """The CSM's red/yellow/green read, from the CSMs who record one: health seen with noise."""
    rng, pf, hw, cal = ch.rng("pulses"), ch.pf, ch.hw, ch.cal
    days = cal.window_days()[None, :]
    csm = np.where(days >= pf.csm_switch[:, None], pf.csm1[:, None], pf.csm0[:, None])
    rate = gives_pulses(csm) / 90 * _weekday(ch, 0.0) * 7 / 5 * ch.alive
    rows, cols = cells(rng, rate)
    seen = hw[rows, cols] + rng.normal(0.0, 0.5, len(rows))
    value = np.select([seen < -0.6, seen > 0.6], [0, 2], 1)  # red, yellow, green
    comment = np.where(rng.random(len(rows)) < 0.7,
                       _pick_text(rng, words.PULSE_COMMENTS, value), -1)
    t = _stamp(rng, ch, rows, cols)
    return _sorted({"account": rows, "value": value, "comment": comment, "time_s": t,
                    "author": csm[rows, cols]}, "time_s")


def _concat(parts: list[Columns], keys: tuple[str, ...]) -> Columns:
    if not parts:
        return {k: np.zeros(0, dtype=np.int64) for k in keys}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}
