"""Daily roll-ups of the usage events, kept up to date as events arrive.

Scoring a date needs, for each usage measure, aggregates over a window of days (distinct users
over the last 30 days, quantity over 60 …). Read from the raw events, every daily run would
scan the window's events again; a backfill of a year, the year. The store keeps three roll-ups
instead, each one row per account and UTC day with activity:

- ``usage_daily``: quantity (``quantity``, 1 when empty, summed as an exact decimal), quantity
  by identified users, the last event's time, the number of events;
- ``usage_user_days``: each (account, user, day) with an event of that user;
- ``usage_event_days``: each (account, event name, day) — features used;
- ``usage_last``: each account's last event time (one row per account), and
  ``usage_user_last`` / ``usage_event_last``: the last day of each (account, user) and
  (account, event name). As of a date on or after the store's last event they answer "last
  activity", "distinct users in the last 30 days", "features used in the last 30 days"
  without reading every day of the window (the daily run's date is such a date).

Every window aggregate the usage measures need follows from these exactly (see
:mod:`healthscore.measures.rollup`): sums of decimals do not depend on the order of additions,
and distinct users over a window are the distinct users of its days.

**Maintenance.** Events are only ever appended (:meth:`Store._append_events`); each append
rolls up the events it inserted and merges them into the roll-ups in the same transaction: a
day's quantities are added to that day's row, new (user, day) and (event, day) pairs are
inserted. An event that arrives late for an earlier day changes that day's rows, so the next
score of any date whose window holds the day sees it. :func:`rebuild` computes the roll-ups
from all stored events (the migration of a store that predates them, and the oracle the tests
compare the maintained roll-ups with).
"""

from __future__ import annotations

#: The event table the roll-ups summarise.
SOURCE = "usage_events"

#: Quantities are summed as exact decimals, then read as doubles: the order in which events
#: arrive cannot change a sum.
DECIMAL = "DECIMAL(38, 10)"

DDL = [
    f"""CREATE TABLE IF NOT EXISTS usage_daily (
        account_id VARCHAR NOT NULL,
        day DATE NOT NULL,
        qty {DECIMAL} NOT NULL,
        qty_ident {DECIMAL},
        last_ts TIMESTAMP NOT NULL,
        events BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS usage_user_days (
        account_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        day DATE NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS usage_event_days (
        account_id VARCHAR NOT NULL,
        event VARCHAR NOT NULL,
        day DATE NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS usage_last (
        account_id VARCHAR NOT NULL,
        last_ts TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS usage_user_last (
        account_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        last_day DATE NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS usage_event_last (
        account_id VARCHAR NOT NULL,
        event VARCHAR NOT NULL,
        last_day DATE NOT NULL
    )""",
]

#: Per account and day; each account's last event time.
DAILY = "usage_daily"
LAST = "usage_last"

#: The roll-up tables, in the order above.
TABLES = ("usage_daily", "usage_user_days", "usage_event_days", "usage_last",
          "usage_user_last", "usage_event_last")

#: The pair roll-ups by key, and the last day of each pair.
PAIRS = {"user_id": "usage_user_days", "event": "usage_event_days"}
PAIR_LAST = {"user_id": "usage_user_last", "event": "usage_event_last"}


def present(con, table: str) -> bool:
    """Whether the store of ``con`` has roll-up ``table`` (a store opened read-only may predate
    it: its readers then fall back to the events)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                            "AND table_name = ?", [table]).fetchall()[0][0])


def _daily(events: str) -> str:
    """``usage_daily`` rows of the events selected by ``events`` (SQL over usage_events)."""
    return f"""SELECT account_id, CAST("timestamp" AS DATE) AS day,
               sum(CAST(coalesce(quantity, 1) AS {DECIMAL})) AS qty,
               sum(CAST(coalesce(quantity, 1) AS {DECIMAL})) FILTER (WHERE user_id IS NOT NULL)
                   AS qty_ident,
               max("timestamp") AS last_ts, count(*) AS events
        FROM ({events}) WHERE account_id IS NOT NULL AND "timestamp" IS NOT NULL
        GROUP BY account_id, day"""


def _pairs(events: str, key: str) -> str:
    """Distinct (account, ``key``, day) of the events selected by ``events``."""
    return f"""SELECT DISTINCT account_id, {key}, CAST("timestamp" AS DATE) AS day
        FROM ({events})
        WHERE account_id IS NOT NULL AND {key} IS NOT NULL AND "timestamp" IS NOT NULL"""


def rebuild(con, *, last: bool = True) -> None:
    """Compute the roll-ups from every stored usage event (replaces what they held); the
    last-time roll-ups too unless not ``last``."""
    for stmt in DDL:
        con.execute(stmt)
    every = f"SELECT * FROM {SOURCE}"
    for table, select in (("usage_daily", _daily(every)),
                          ("usage_user_days", _pairs(every, "user_id")),
                          ("usage_event_days", _pairs(every, "event"))):
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} {select} ORDER BY day")
    if last:
        rebuild_last(con)


def rebuild_last(con, tables: tuple[str, ...] = (LAST, *PAIR_LAST.values())) -> None:
    """The last-time roll-ups among ``tables`` from the daily ones (replaces what they held)."""
    for stmt in DDL:
        con.execute(stmt)
    if LAST in tables:
        con.execute(f"DELETE FROM {LAST}")
        con.execute(f"INSERT INTO {LAST} SELECT account_id, max(last_ts) FROM usage_daily "
                    "GROUP BY account_id ORDER BY account_id")
    for key, table in PAIR_LAST.items():
        if table in tables:
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT account_id, {key}, max(day) "
                        f"FROM {PAIRS[key]} GROUP BY account_id, {key} ORDER BY account_id")


def merge(con, events: str, params: list) -> int:
    """Add the events selected by ``events`` (SQL over usage_events, with ``params``) to the
    roll-ups; returns how many events were rolled up.

    Only roll-up rows of the days the new events fall on are read (the tables are stored in
    day order, so the other days' row groups are skipped).
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hs_new_daily AS {_daily(events)}", params)
    n, lo, hi = con.execute(
        "SELECT coalesce(sum(events), 0), min(day), max(day) FROM _hs_new_daily").fetchall()[0]
    if not n:
        con.execute("DROP TABLE _hs_new_daily")
        return 0
    days = "day BETWEEN ? AND ?"
    con.execute(f"""UPDATE usage_daily d SET qty = d.qty + n.qty,
            qty_ident = CASE WHEN d.qty_ident IS NULL THEN n.qty_ident
                             WHEN n.qty_ident IS NULL THEN d.qty_ident
                             ELSE d.qty_ident + n.qty_ident END,
            last_ts = greatest(d.last_ts, n.last_ts), events = d.events + n.events
        FROM _hs_new_daily n
        WHERE d.account_id = n.account_id AND d.day = n.day AND d.{days}""", [lo, hi])
    con.execute(f"""INSERT INTO usage_daily
        SELECT n.* FROM _hs_new_daily n
        ANTI JOIN (SELECT account_id, day FROM usage_daily WHERE {days}) d
            ON d.account_id = n.account_id AND d.day = n.day
        ORDER BY n.day""", [lo, hi])
    _merge_last(con, LAST, "last_ts", ["account_id"],
                "SELECT account_id, max(last_ts) AS last_ts FROM _hs_new_daily GROUP BY ALL")
    con.execute("DROP TABLE _hs_new_daily")
    for key, table in PAIRS.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE _hs_new_pairs AS {_pairs(events, key)}",
                    params)
        con.execute(f"""INSERT INTO {table}
            SELECT n.* FROM _hs_new_pairs n
            ANTI JOIN (SELECT account_id, {key}, day FROM {table} WHERE {days}) d
                ON d.account_id = n.account_id AND d.{key} = n.{key} AND d.day = n.day
            ORDER BY n.day""", [lo, hi])
        _merge_last(con, PAIR_LAST[key], "last_day", ["account_id", key],
                    f"SELECT account_id, {key}, max(day) AS last_day FROM _hs_new_pairs "
                    "GROUP BY ALL")
        con.execute("DROP TABLE _hs_new_pairs")
    return int(n)


def _merge_last(con, table: str, column: str, keys: list[str], new: str) -> None:
    """Raise ``table``'s ``column`` to the new rows' (``new``: SQL) where later; add new
    keys (one MERGE: one pass over the table)."""
    on = " AND ".join(f"l.{k} = n.{k}" for k in keys)
    con.execute(f"""MERGE INTO {table} l USING ({new}) n ON ({on})
        WHEN MATCHED AND n.{column} > l.{column} THEN UPDATE SET {column} = n.{column}
        WHEN NOT MATCHED THEN INSERT VALUES ({", ".join(f"n.{c}" for c in [*keys, column])})""")
