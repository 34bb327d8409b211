"""The accounts scored on a date: filter, search, sort, page (the accounts page, the API's
``/accounts``).

One query builds the date's list — each account's snapshot with its attributes on that date, its
7/30/90-day changes and days to renewal — as an Arrow table the reader may keep (the server does,
until the store changes); filters, sorting and paging then run over that table in memory. A sort
key or a filter value from a request never becomes SQL text: sort keys are looked up in
:data:`SORTS`, values are parameters.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from healthscore.errors import InputError
from healthscore.read.dates import ACCOUNTS_AS_OF, account_cutoff, resolve
from healthscore.read.reader import Reader, query_table
from healthscore.read.scorecards import Card

BANDS = ("red", "yellow", "green")

#: Sort keys → SQL over the date's list (text columns sort by their lower-cased copy ``_lc_*``).
#: Nothing else reaches ORDER BY.
SORTS: dict[str, str] = {
    "score": "score",
    "band": "CASE band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 END",
    "name": "_lc_name",
    "account_id": "account_id",
    "delta_30d": "delta_30d",
    "delta_7d": "delta_7d",
    "arr": "arr",
    "plan": "_lc_plan",
    "segment": "_lc_segment",
    "csm": "_lc_csm",
    "renewal_date": "renewal_date",
    "coverage": "coverage",
}

MAX_PER_PAGE = 500

#: A 30-day change smaller than this (points) shows as flat.
FLAT = 1.0

#: One row of the list: the snapshot of one date with the account's attributes on that date,
#: its 7/30/90-day changes, the band 30 days earlier and days to renewal; text columns also
#: lower-cased once (``_lc_name`` …) for sorting and search.
_DAY_SQL = f"""
    WITH s AS (SELECT * FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ?),
         p7 AS (SELECT account_id, score FROM snapshots
                WHERE scorecard = ? AND version = ? AND as_of = ?),
         p30 AS (SELECT account_id, score, band FROM snapshots
                 WHERE scorecard = ? AND version = ? AND as_of = ?),
         p90 AS (SELECT account_id, score FROM snapshots
                 WHERE scorecard = ? AND version = ? AND as_of = ?)
    SELECT s.account_id, a.name, s.score, s.band, s.grade, s.coverage, s.variant,
           s.score - p7.score AS delta_7d, s.score - p30.score AS delta_30d,
           p30.band AS band_30d_ago, a.arr, a.plan, a.segment, a.csm, a.renewal_date,
           date_diff('day', ?::DATE, a.renewal_date) AS days_to_renewal,
           s.score - p90.score AS delta_90d,
           lower(a.name) AS _lc_name, lower(a.plan) AS _lc_plan,
           lower(a.segment) AS _lc_segment, lower(a.csm) AS _lc_csm,
           lower(s.account_id) AS _lc_account_id
    FROM s LEFT JOIN p7 USING (account_id) LEFT JOIN p30 USING (account_id)
    LEFT JOIN p90 USING (account_id)
    LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
    ORDER BY s.account_id
"""

_LIST_COLUMNS = ("account_id, name, score, band, grade, coverage, variant, delta_7d, delta_30d, "
                 "band_30d_ago, arr, plan, segment, csm, renewal_date, days_to_renewal")


def day_table(r: Reader, card: Card, day: date) -> pa.Table:
    """The accounts list of ``day`` (a scored date) as an Arrow table, sorted by account id."""
    d = [card.name, card.version]
    params = (d + [day] + d + [day - timedelta(days=7)] + d + [day - timedelta(days=30)]
              + d + [day - timedelta(days=90)] + [day] + account_cutoff(day))
    return r.kept(("day", card.name, card.version, day), lambda: r.arrow(_DAY_SQL, params))


def trend_of(delta: float | None) -> str | None:
    """``up``, ``down`` or ``flat`` for a 30-day change (None when there is no earlier score)."""
    if delta is None:
        return None
    return "up" if delta >= FLAT else "down" if delta <= -FLAT else "flat"


def _one_of(field: str, value: str | list[str] | None, allowed: tuple[str, ...] | None = None
            ) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    values = [value] if isinstance(value, str) else list(value)
    values = [v for v in values if v != ""]
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise InputError(field, f"{bad[0]!r} is not one of {', '.join(allowed)}")
    return values or None


def accounts(r: Reader, card: Card, *, as_of: date | None = None,
             band: str | list[str] | None = None, segment: str | list[str] | None = None,
             csm: str | list[str] | None = None, renewal_within: int | None = None,
             q: str | None = None, sort: str = "score", desc: bool = False,
             page: int = 1, per_page: int = 50) -> dict:
    """One page of the accounts scored on ``as_of`` (default: the latest date), filtered and
    sorted.

    Filters combine with AND: ``band``, ``segment`` and ``csm`` take a value or a list of
    values; ``renewal_within`` keeps accounts renewing 0 to N days after ``as_of``; ``q``
    matches a part of the name or account id, ignoring case. ``sort`` is a key of
    :data:`SORTS`; empty values sort last either way; ties go by account id.

    Returns ``{"as_of", "total", "page", "per_page", "pages", "sort", "desc", "rows"}``; each
    row has the score, band, grade, coverage, variant, 7- and 30-day deltas, the band 30 days
    earlier, a ``trend`` (up / down / flat), and the account's name, ARR, plan, segment, CSM,
    renewal date and days to renewal. Raises :class:`InputError` naming a bad argument and
    :class:`~healthscore.errors.NotFound` for an ``as_of`` without a snapshot.
    """
    if sort not in SORTS:
        raise InputError("sort", f"{sort!r} is not a sort key",
                         hint="use one of " + ", ".join(SORTS))
    if page < 1:
        raise InputError("page", f"{page} is not a page number", hint="pages start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InputError("per_page", f"{per_page} is not 1-{MAX_PER_PAGE}")
    if renewal_within is not None and renewal_within < 0:
        raise InputError("renewal_within", f"{renewal_within} is negative",
                         hint="give a number of days, 0 or more")
    bands = _one_of("band", band, BANDS)
    segments = _one_of("segment", segment)
    csms = _one_of("csm", csm)
    out: dict[str, Any] = {"as_of": None, "total": 0, "page": page, "per_page": per_page,
                           "pages": 0, "sort": sort, "desc": desc, "rows": []}
    day = resolve(r, card, as_of)
    if day is None:
        return out
    where, params = [], []
    if bands:
        where.append("list_contains(?, band)")
        params.append(bands)
    if segments:
        where.append("list_contains(?, segment)")
        params.append(segments)
    if csms:
        where.append("list_contains(?, csm)")
        params.append(csms)
    if renewal_within is not None:
        where.append("renewal_date BETWEEN ? AND ?")
        params += [day, day + timedelta(days=renewal_within)]
    if q and q.strip():
        where.append("(contains(_lc_name, ?) OR contains(_lc_account_id, ?))")
        params += [q.strip().lower()] * 2
    cond = "WHERE " + " AND ".join(where) if where else ""
    order = f"{SORTS[sort]} {'DESC' if desc else 'ASC'} NULLS LAST, account_id"
    table = day_table(r, card, day)
    rows = query_table(table, f"SELECT {_LIST_COLUMNS}, count(*) OVER () AS _total FROM t "
                              f"{cond} ORDER BY {order} LIMIT ? OFFSET ?",
                       params + [per_page, (page - 1) * per_page])
    if rows:
        total = rows[0]["_total"]
    elif page > 1:  # past the last page: count without it
        total = query_table(table, f"SELECT count(*) AS n FROM t {cond}", params)[0]["n"]
    else:
        total = 0
    for row in rows:
        del row["_total"]
        row["trend"] = trend_of(row["delta_30d"])
    out.update(as_of=day, total=total, pages=-(-total // per_page), rows=rows)
    return out
