"""Usage measures for many dates in one set-based pass (DuckDB): daily roll-ups and sweeps.

Scoring one date reads the usage window of every account once per measure. A backfill of a
year would re-read it 365 times. This module computes the usage measures for a whole batch of
dates at once, from one scan of the store's daily roll-ups:

1. **Daily roll-ups** per account and UTC day: quantity, quantity by identified users, last
   event time (``usage_daily``), the distinct users and events of each day (``usage_user_days``,
   ``usage_event_days``). The store keeps them up to date as events arrive
   (:mod:`healthscore.store.rollups`), so neither a daily run nor a backfill reads raw events.
2. A **dense calendar** per account (every day from the start of the longest window before the
   first date to the last date), so a window of W days is exactly ``ROWS W-1 PRECEDING``:
   sliding sums of quantities and of user-days are window aggregates, evaluated once per day.
3. **Distinct users (or features) over sliding windows** by a sweep, not by re-scanning: each
   active day of a user covers the windows ending in [day, day + W - 1]. Consecutive active days
   closer than W apart merge into one covered interval (an island); the sweep adds +1 where an
   island starts and -1 the day after it ends, and a running sum of those per account is the
   number of distinct users whose window contains the day.

The result is one row per (date, account with activity) holding the aggregates each usage
measure needs; a measure's value is then a small expression over that row and the account
(see ``batch=`` on the measures in :mod:`healthscore.measures.usage`). Scoring a single date
uses this same path with a batch of one date, so a backfill gives exactly the scores of each
date scored on its own; the per-date Ibis expressions stay the definition (and the path on
other engines), and a test checks the two agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from healthscore.measures.cutoff import cutoff_of

# The store's roll-ups of the usage events, maintained as events arrive
# (:mod:`healthscore.store.rollups`): quantities and last event time per account and day, the
# distinct (account, user, day) and (account, event, day), and the last time of each.
from healthscore.store.rollups import DAILY, LAST, PAIR_LAST, PAIRS

#: Aggregate kinds a batch measure can ask for.
KINDS = ("users", "userdays", "qty", "qty_ident", "qty_before", "features", "last_ts")


@dataclass(frozen=True)
class Need:
    """One aggregate column of the usage grid: ``kind`` over the ``window`` days ending at
    each date (``qty_before``: the ``window`` days before those; ``last_ts``: all history).
    ``features`` restricts a ``features`` count to those event names."""

    kind: str
    window: int = 0
    features: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown usage aggregate {self.kind!r}")

    @property
    def column(self) -> str:
        name = f"{self.kind}_{self.window}"
        if self.features is not None:
            name += "_" + hashlib.sha256("\x00".join(self.features).encode()).hexdigest()[:8]
        return name

    @property
    def span(self) -> int:
        """Days of events before (and including) a date that this aggregate reads."""
        return 2 * self.window if self.kind == "qty_before" else self.window


@dataclass(frozen=True)
class BatchMeasure:
    """How a usage measure is computed from the grid: the aggregates it needs, and a SQL
    expression of its value over ``a`` (the active account, all its columns) and the needed
    aggregates, written as ``{0}``, ``{1}`` … in the order of ``needs``. An account without
    activity has NULL aggregates (``last_ts``) or 0 (counts and sums)."""

    needs: tuple[Need | Span, ...]
    expr: str

    def sql(self) -> str:
        """The expression, aggregates read from ``u`` (the usage grid) and ``s`` (spans)."""
        return "(" + self.expr.format(*(f"{'s' if isinstance(n, Span) else 'u'}.{n.column}"
                                        for n in self.needs)) + ")"

    @property
    def spans(self) -> bool:
        """Whether it counts spans (worth it only for more than DIRECT_MAX dates)."""
        return any(isinstance(n, Span) for n in self.needs)


def _sliding(column: str, window: int, *, offset: int = 0) -> str:
    """Sum of ``column`` over the ``window`` days ending ``offset`` days before each day."""
    lo, hi = offset + window - 1, offset
    end = "CURRENT ROW" if hi == 0 else f"{hi} PRECEDING"
    return f"sum({column}) OVER (PARTITION BY account_id ORDER BY day ROWS BETWEEN {lo} " \
           f"PRECEDING AND {end})"


def _sweep(name: str, key: str, source: str, window: int) -> str:
    """+1 / -1 per (account, day) for the islands of ``key``'s active days in ``source``."""
    return f"""{name} AS (
        SELECT account_id, day, sum(delta) AS delta FROM (
            SELECT account_id, day, 1 AS delta FROM {source}
            WHERE prev IS NULL OR day - prev >= {window}
            UNION ALL
            SELECT account_id, day + {window}, -1 FROM {source}
            WHERE nxt IS NULL OR nxt - day >= {window}
        ) GROUP BY account_id, day
    )"""


def _keyed_days(name: str, key: str, where: str, since: date, until: date) -> str:
    """(account, key, day) from ``since`` to ``until`` (a roll-up of distinct pairs, see
    :data:`PAIRS`), with the key's previous and next active day. Days before ``since`` are
    left out: they would only cover windows ending before the first date (``since`` is the
    first day of the longest window that reads them)."""
    return f"""{name} AS MATERIALIZED (
        SELECT account_id, day,
               lag(day) OVER w AS prev, lead(day) OVER w AS nxt
        FROM (SELECT account_id, {key} AS k, day FROM {PAIRS[key]}
              WHERE ({where}) AND day BETWEEN DATE '{since}' AND DATE '{until}')
        WINDOW w AS (PARTITION BY account_id, k ORDER BY day)
    )"""


def _since(dates: list[date], needs: list[Need], kinds: tuple[str, ...],
           features: tuple[str, ...] | None = None) -> date:
    """The first day of the longest window among ``needs`` of ``kinds`` (and ``features``)."""
    widest = max([n.window for n in needs if n.kind in kinds
                  and (n.kind != "features" or n.features == features)] + [1])
    return dates[0] - timedelta(days=widest - 1)


#: Up to this many dates, the aggregates are computed straight from the events of each window
#: (a filter per date); above it, by the dense calendar and sweeps (work independent of the
#: number of dates). Both give identical values: counts are exact, and quantities are summed
#: as decimals, so the order of additions cannot change a result.
DIRECT_MAX = 3

def _feature_filter(features: tuple[str, ...] | None, column: str = "event") -> str:
    if features is None:
        return "TRUE"
    return f"{column} IN (" + ", ".join("'" + f.replace("'", "''") + "'" for f in features) + ")"


def build_grid(con, table: str, dates: Iterable[date], needs: Iterable[Need]) -> None:
    """Create temp table ``table``: (as_of, account_id, one column per need) for ``dates``.

    Rows exist for accounts with usage in the longest window before the dates, or any usage
    before them when ``last_ts`` is needed; an account without a row, or a NULL aggregate,
    means no activity.
    """
    dates = sorted(set(dates))
    needs = sorted(set(needs), key=lambda n: n.column)
    if not dates or not needs:
        raise ValueError("build_grid needs dates and aggregates")
    if len(dates) <= DIRECT_MAX:
        (last,) = con.execute(f"SELECT max(last_ts) FROM {LAST}").fetchall()[0]
        query = _direct(dates, needs, last)
    else:
        query = _swept(dates, needs)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query} ORDER BY as_of, account_id")


def _range(dates: list[date], needs: list[Need]) -> tuple[date, date]:
    """First day of events read (the longest window before the first date) and the midnight
    after the last date."""
    span = max([n.span for n in needs] + [1])
    return dates[0] - timedelta(days=span - 1), dates[-1] + timedelta(days=1)


def _direct(dates: list[date], needs: list[Need], last: datetime | None = None) -> str:
    """Each aggregate straight from the roll-up days in each date's window (constant filters,
    so the scans skip the row groups of other days). ``last``: the store's last event time.
    As of a date after it (no event after the date), the last activity is each account's last
    event (:data:`LAST`), and a user or feature was active in a window when its last day
    (:data:`PAIR_LAST`) falls in it; else the days of the window are read."""
    parts = []
    for d in dates:
        after = last is None or last < cutoff_of(d)
        def window(src: str, w: int, offset: int = 0, d=d) -> str:
            lo, hi = d - timedelta(days=offset + w - 1), d - timedelta(days=offset)
            return f"FROM {src} e WHERE e.day BETWEEN DATE '{lo}' AND DATE '{hi}'"

        users = PAIRS["user_id"]
        for n in needs:
            c, w = n.column, n.window
            if n.kind == "users" and after:
                agg = f"count(*) AS {c}"
                src = (f"FROM {PAIR_LAST['user_id']} e "
                       f"WHERE e.last_day >= DATE '{d - timedelta(days=w - 1)}'")
            elif n.kind == "users":
                agg, src = f"count(DISTINCT e.user_id) AS {c}", window(users, w)
            elif n.kind == "userdays":
                agg, src = f"count(*) AS {c}", window(users, w)
            elif n.kind in ("qty", "qty_ident"):
                agg, src = f"CAST(sum(e.{n.kind}) AS DOUBLE) AS {c}", window(DAILY, w)
            elif n.kind == "qty_before":
                agg, src = f"CAST(sum(e.qty) AS DOUBLE) AS {c}", window(DAILY, w, offset=w)
            elif n.kind == "features" and after:
                agg = f"count(*) AS {c}"
                src = (f"FROM {PAIR_LAST['event']} e "
                       f"WHERE e.last_day >= DATE '{d - timedelta(days=w - 1)}' "
                       f"AND {_feature_filter(n.features, 'e.event')}")
            elif n.kind == "features":
                agg = f"count(DISTINCT e.event) AS {c}"
                src = (window(PAIRS["event"], w)
                       + f" AND {_feature_filter(n.features, 'e.event')}")
            elif after:
                agg, src = f"max(e.last_ts) AS {c}", f"FROM {LAST} e"  # nothing after d
            else:  # last_ts: every day up to the date
                agg, src = f"max(e.last_ts) AS {c}", f"FROM {DAILY} e WHERE e.day <= DATE '{d}'"
            parts.append(f"SELECT DATE '{d}' AS as_of, e.account_id, {agg} {src} "
                         "GROUP BY e.account_id")
    cols = ", ".join(f"max({n.column}) AS {n.column}" for n in needs)
    return (f"SELECT as_of, account_id, {cols} FROM ("
            + " UNION ALL BY NAME ".join(parts) + ") GROUP BY as_of, account_id")


def _swept(dates: list[date], needs: list[Need]) -> str:
    """The aggregates of every date from one pass: daily roll-ups on a dense calendar, sliding
    windows, and island sweeps for the distinct counts."""
    start, end = _range(dates, needs)
    last = dates[-1]
    ctes = [_keyed_days("user_days", "user_id", "TRUE",
                        _since(dates, needs, ("users", "userdays")), last)]
    ctes.append(f"""daily AS MATERIALIZED (
        SELECT account_id, day, qty, qty_ident, last_ts FROM {DAILY}
        WHERE day BETWEEN DATE '{start}' AND DATE '{last}'
    )""")
    ctes.append("""daily_users AS (
        SELECT account_id, day, count(*) AS users FROM user_days GROUP BY account_id, day
    )""")
    joins, dense_cols, out_cols = [], [], []
    feature_sets: dict[tuple[str, ...] | None, str] = {}
    for n in needs:
        c = n.column
        if n.kind in ("users", "features"):
            if n.kind == "users":
                source = "user_days"
            else:
                if n.features not in feature_sets:
                    source = f"feature_days_{len(feature_sets)}"
                    ctes.append(_keyed_days(source, "event", _feature_filter(n.features),
                                            _since(dates, needs, ("features",), n.features),
                                            last))
                    feature_sets[n.features] = source
                source = feature_sets[n.features]
            ctes.append(_sweep(f"sweep_{c}", "k", source, n.window))
            joins.append(f"LEFT JOIN sweep_{c} USING (account_id, day)")
            dense_cols.append(f"coalesce(sweep_{c}.delta, 0) AS d_{c}")
            out_cols.append(f"sum(d_{c}) OVER (PARTITION BY account_id ORDER BY day "
                            f"ROWS UNBOUNDED PRECEDING) AS {c}")
        elif n.kind == "userdays":
            out_cols.append(f"{_sliding('users', n.window)} AS {c}")
        elif n.kind in ("qty", "qty_ident"):
            out_cols.append(f"CAST({_sliding(n.kind, n.window)} AS DOUBLE) AS {c}")
        elif n.kind == "qty_before":
            out_cols.append(f"CAST({_sliding('qty', n.window, offset=n.window)} AS DOUBLE) "
                            f"AS {c}")
        elif n.kind == "last_ts":
            out_cols.append("max(last_ts) OVER (PARTITION BY account_id ORDER BY day "
                            f"ROWS UNBOUNDED PRECEDING) AS {c}")
    ctes.append(f"""dense AS (
        SELECT g.account_id, g.day, coalesce(dl.qty, 0) AS qty,
               coalesce(dl.qty_ident, 0) AS qty_ident, coalesce(du.users, 0) AS users,
               dl.last_ts{''.join(', ' + d for d in dense_cols)}
        FROM (SELECT a.account_id, CAST(r.day AS DATE) AS day
              FROM (SELECT DISTINCT account_id FROM daily) a,
                   range(DATE '{start}', DATE '{end}', INTERVAL 1 DAY) r(day)) g
        LEFT JOIN daily dl USING (account_id, day)
        LEFT JOIN daily_users du USING (account_id, day)
        {' '.join(joins)}
    )""")
    ctes.append(f"""rolled AS (
        SELECT account_id, day AS as_of, {', '.join(out_cols)} FROM dense
    )""")
    date_list = ", ".join(f"DATE '{d}'" for d in dates)
    select = "SELECT r.* FROM rolled r WHERE r.as_of IN (" + date_list + ")"
    if any(n.kind == "last_ts" for n in needs):
        # Accounts whose last use was before the first window: their last event still counts.
        ctes.append(f"""prior AS (
            SELECT account_id, max(last_ts) AS last_ts FROM {DAILY}
            WHERE day < DATE '{start}' GROUP BY account_id
        )""")
        last_cols = [n.column for n in needs if n.kind == "last_ts"]
        others = [n.column for n in needs if n.kind != "last_ts"]
        fix = ", ".join(f"greatest(r.{c}, p.last_ts) AS {c}" for c in last_cols)
        keep = "".join(f", r.{c}" for c in others)
        select = f"""
            SELECT r.as_of, r.account_id{keep}, {fix}
            FROM (SELECT * FROM rolled WHERE as_of IN ({date_list})) r
            LEFT JOIN prior p USING (account_id)
            UNION ALL
            SELECT d.as_of, p.account_id{''.join(f', NULL AS {c}' for c in others)},
                   {', '.join(f'p.last_ts AS {c}' for c in last_cols)}
            FROM prior p CROSS JOIN (SELECT unnest([{date_list}]) AS as_of) d
            WHERE p.account_id NOT IN (SELECT account_id FROM daily)"""
    return f"WITH {', '.join(ctes)} {select}"


# -- spans: rows valid over a range of days ----------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The number of rows per account of ``source`` whose days ``[lo, hi)`` hold the date.

    ``source`` is SQL selecting ``account_id``, ``lo`` (the first as-of date the row counts
    on; NULL: since always) and ``hi`` (the first date it no longer counts; NULL: never), both
    DATE. A measure states there how its point-in-time filters turn into days: a condition
    ``ts < cutoff`` holds from the day of ``ts`` on, ``ts >= cutoff`` until the day of ``ts``
    (the cutoff of a date is the midnight after it).
    """

    source: str

    @property
    def column(self) -> str:
        return "n_" + hashlib.sha256(self.source.encode()).hexdigest()[:12]


def build_spans(con, table: str, dates: Iterable[date], spans: Iterable[Span]) -> None:
    """Create temp table ``table``: (as_of, account_id, one count per span) for ``dates``.

    One pass over each source whatever the number of dates: every row adds +1 on its first
    day and -1 on its last; each step is moved to the first date on or after it (an ASOF
    join), and a running sum per account over the dates is the count at each date.
    """
    dates = sorted(set(dates))
    spans = sorted(set(spans), key=lambda n: n.column)
    if not dates or not spans:
        raise ValueError("build_spans needs dates and spans")
    date_list = ", ".join(f"DATE '{d}'" for d in dates)
    steps = []
    for i, n in enumerate(spans):
        ones = ", ".join(("{}" if j == i else "0") + f" AS c{j}" for j in range(len(spans)))
        src = f"(SELECT * FROM ({n.source}) WHERE lo IS NULL OR hi IS NULL OR lo < hi)"
        steps.append(f"SELECT account_id, coalesce(lo, DATE '{dates[0]}') AS day, "
                     + ones.format(1) + f" FROM {src}")
        steps.append("SELECT account_id, hi AS day, " + ones.format(-1)
                     + f" FROM {src} WHERE hi IS NOT NULL")
    sums = ", ".join(f"sum(c{j}) AS c{j}" for j in range(len(spans)))
    running = ", ".join(
        f"sum(coalesce(b.c{j}, 0)) OVER (PARTITION BY a.account_id ORDER BY d.as_of "
        f"ROWS UNBOUNDED PRECEDING) AS {n.column}" for j, n in enumerate(spans))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
        WITH dates AS (SELECT unnest([{date_list}]) AS as_of),
        steps AS ({' UNION ALL '.join(steps)}),
        bucketed AS MATERIALIZED (
            SELECT s.account_id, d.as_of, {sums}
            FROM steps s ASOF JOIN dates d ON s.day <= d.as_of GROUP BY ALL
        )
        SELECT d.as_of, a.account_id, {running}
        FROM (SELECT DISTINCT account_id FROM bucketed) a CROSS JOIN dates d
        LEFT JOIN bucketed b ON b.account_id = a.account_id AND b.as_of = d.as_of
        ORDER BY d.as_of, a.account_id""")
