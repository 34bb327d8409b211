"""What happened after each score: the backtest's observations.

For each account scored on each of the given dates, its score, band, variant and attributes on
that date, and the outcomes recorded within the horizon after it (renewals' outcomes, and the
account's ``churned_at`` as a churn): whether the event under test happened (``outcome``: a
renewal outcome such as ``churned`` or ``expanded``), contracted, any outcome at all (an account
with none in the window is censored: neither an event nor a plain renewal), and the first event
date.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from healthscore.read.measures import over_measures
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.read.status import series_table

#: Each snapshot as first computed: the earliest revision of each account and date (what the
#: team saw on the day, before late data revised it).
FIRST_KNOWN = """(SELECT * FROM (
        SELECT * EXCLUDE (superseded_at, superseded_by) FROM snapshot_revisions
        UNION ALL SELECT * FROM snapshots)
    QUALIFY row_number() OVER (PARTITION BY scorecard, version, account_id, as_of
                               ORDER BY computed_at) = 1)"""

_OBSERVATIONS = """
    WITH s AS (
        SELECT account_id, as_of, score, band, variant FROM {scores}
        WHERE scorecard = $scorecard AND version = $version AND list_contains($dates, as_of)
          AND score IS NOT NULL
    ), events AS (
        SELECT account_id, renewal_date AS day, outcome FROM renewals
        UNION ALL
        SELECT account_id, churned_at AS day, 'churned' AS outcome FROM accounts
        WHERE _valid_to IS NULL AND churned_at IS NOT NULL
    ), labelled AS (
        SELECT s.account_id, s.as_of, any_value(s.score) AS score, any_value(s.band) AS band,
               any_value(s.variant) AS variant,
               coalesce(bool_or(e.outcome = $outcome), false) AS event,
               coalesce(bool_or(e.outcome = 'contracted'), false) AS contracted,
               count(e.outcome) > 0 AS observed,
               min(e.day) FILTER (WHERE e.outcome = $outcome) AS event_date
        FROM s LEFT JOIN events e
          ON e.account_id = s.account_id AND e.day > s.as_of
         AND e.day <= s.as_of + CAST($horizon AS INTEGER)
        GROUP BY s.account_id, s.as_of
    )
    SELECT l.*, a.segment, a.plan, coalesce(a.arr, 0) AS arr
    FROM labelled l LEFT JOIN accounts a
      ON a.account_id = l.account_id
     AND (a._valid_from IS NULL OR a._valid_from < l.as_of + 1)
     AND (a._valid_to IS NULL OR a._valid_to >= l.as_of + 1)
    ORDER BY l.as_of, l.account_id
"""


def observations(r: Reader, card: Card, dates: list[date], horizon: int,
                 outcome: str = "churned", *, first_known: bool = False) -> pa.Table:
    """One row per account scored on each of ``dates`` (a score, not an unscored row):
    account_id, as_of, score, band, variant, event (an ``outcome`` within the horizon),
    contracted, observed (any outcome within it), event_date (the first ``outcome``), segment,
    plan, arr. With ``first_known``, each date's score as first computed (before revisions)."""
    sql = _OBSERVATIONS.format(scores=FIRST_KNOWN if first_known else "snapshots")
    return r.arrow(sql, {"scorecard": card.name, "version": card.version,
                                   "dates": dates, "horizon": horizon, "outcome": outcome})


_AT_RENEWAL = """
    WITH r AS (
        SELECT account_id, renewal_date, outcome FROM renewals
        WHERE renewal_date - CAST($days AS INTEGER) BETWEEN $first AND $last
    ), s AS (
        SELECT account_id, as_of, score, band, variant FROM {scores}
        WHERE scorecard = $scorecard AND version = $version AND score IS NOT NULL
    )
    SELECT s.account_id, s.as_of, s.score, s.band, s.variant,
           r.outcome = $outcome AS event, r.outcome = 'contracted' AS contracted,
           true AS observed,
           CASE WHEN r.outcome = $outcome THEN r.renewal_date END AS event_date,
           r.renewal_date, a.segment, a.plan, coalesce(a.arr, 0) AS arr
    FROM r JOIN s ON s.account_id = r.account_id
                 AND s.as_of = r.renewal_date - CAST($days AS INTEGER)
    LEFT JOIN accounts a
      ON a.account_id = s.account_id
     AND (a._valid_from IS NULL OR a._valid_from < s.as_of + 1)
     AND (a._valid_to IS NULL OR a._valid_to >= s.as_of + 1)
    ORDER BY s.as_of, s.account_id
"""


def renewal_dates(r: Reader, days: int, first: date, last: date) -> list[date]:
    """The dates ``days`` before each renewal on record, from ``first`` to ``last``."""
    return [row["d"] for row in r.rows(
        "SELECT DISTINCT renewal_date - CAST(? AS INTEGER) AS d FROM renewals "
        "WHERE renewal_date - CAST(? AS INTEGER) BETWEEN ? AND ? ORDER BY 1",
        [days, days, first, last])]


def at_renewal(r: Reader, card: Card, days: int, first: date, last: date,
               outcome: str = "churned", *, first_known: bool = False) -> pa.Table:
    """Each renewal on record whose date less ``days`` falls from ``first`` to ``last``, with the
    account's score on that date (renewals whose account was not scored then are left out):
    the columns of :func:`observations`, every row observed, labelled by the renewal's own
    outcome (``event``: it is ``outcome``), plus its ``renewal_date``. ``first_known``: as in
    :func:`observations`."""
    sql = _AT_RENEWAL.format(scores=FIRST_KNOWN if first_known else "snapshots")
    return r.arrow(sql, {"days": days, "first": first, "last": last,
                                 "scorecard": card.name, "version": card.version,
                                 "outcome": outcome})


def measure_values(r: Reader, card: Card, dates: list[date]) -> pa.Table:
    """Each measure's raw value, score, effective weight and whether its data was missing
    (with its group) for every account on ``dates``."""
    return over_measures(r, card.name, card.version, sorted(set(dates)), """
        SELECT account_id, as_of, "group", measure, raw_value, score, weight, missing
        FROM snapshot_measures
        ORDER BY as_of, account_id, measure
    """, arrow=True)


#: Each account's first event after $first up to $last: a renewal with $outcome and, for
#: ``churned``, the account's ``churned_at`` (account_id, event_date).
_FIRST_EVENTS = """
    SELECT account_id, min(day) AS event_date FROM (
        SELECT account_id, renewal_date AS day FROM renewals WHERE outcome = $outcome
        UNION ALL
        SELECT account_id, churned_at AS day FROM accounts
        WHERE $outcome = 'churned' AND _valid_to IS NULL AND churned_at IS NOT NULL)
    WHERE day > $first AND day <= $last
    GROUP BY account_id"""


def first_events(r: Reader, first: date, last: date, outcome: str = "churned"
                 ) -> dict[str, date]:
    """Account → the date of its first event after ``first`` up to ``last`` (a renewal with
    ``outcome``; for ``churned`` also the account's ``churned_at``), as the backtest counts
    them."""
    return {x["account_id"]: x["event_date"] for x in r.rows(
        _FIRST_EVENTS, {"outcome": outcome, "first": first, "last": last})}


def outcome_span(r: Reader, outcome: str = "churned") -> dict:
    """The renewals on record: how many, how many with ``outcome``, and the date range; and
    how many accounts have a ``churned_at``."""
    return r.rows("""
        SELECT count(*) AS renewals, count(*) FILTER (WHERE outcome = ?) AS events,
               min(renewal_date) AS first, max(renewal_date) AS last FROM renewals
    """, [outcome])[0] | r.rows("SELECT count(*) AS churned_at FROM accounts WHERE _valid_to "
                                "IS NULL AND churned_at IS NOT NULL")[0]


def event_histories(r: Reader, card: Card, *, first: date, last: date, lookback: int,
                    move: float, outcome: str = "churned", flag: str = "red") -> list[dict]:
    """Each account's first event (a renewal with ``outcome``; for ``churned`` also the
    account's ``churned_at``) after ``first`` up to ``last`` that has scores in the
    ``lookback`` days before it: the event date, its first score in the ``flag`` band and its
    first move of ``move`` points toward the event in that window — a drop below the best
    score so far before a churn, a rise above the lowest before another outcome."""
    sign = -1 if outcome == "churned" else 1  # a churn follows falling scores
    return r.rows(f"""
        WITH hit AS ({_FIRST_EVENTS}), pts AS (
            SELECT h.account_id, h.event_date, s.as_of, s.band, $sign * s.score AS toward,
                   min($sign * s.score) OVER (PARTITION BY h.account_id ORDER BY s.as_of
                                              ROWS UNBOUNDED PRECEDING) AS least
            FROM hit h JOIN {series_table(r)} s
              ON s.account_id = h.account_id AND s.scorecard = $scorecard
             AND s.version = $version
             AND s.as_of >= h.event_date - CAST($lookback AS INTEGER) AND s.as_of < h.event_date
        )
        SELECT account_id, event_date, min(as_of) FILTER (WHERE band = $flag) AS first_flag,
               min(as_of) FILTER (WHERE toward >= least + $move) AS first_move,
               count(*) AS scores
        FROM pts GROUP BY account_id, event_date ORDER BY account_id
    """, {"outcome": outcome, "first": first, "last": last, "sign": sign,
          "scorecard": card.name, "version": card.version, "lookback": lookback, "flag": flag,
          "move": move})


def timelines(r: Reader, card: Card, events: list[dict], lookback: int) -> list[dict]:
    """For each event (``{"account_id", "event_date"}``), the account's scores in the
    ``lookback`` days before it: ``{"account_id", "event_date", "points": [[date, score,
    band], ...]}`` — did the score tell the story?"""
    if not events:
        return []
    ids = [c["account_id"] for c in events]
    rows = r.rows(f"""
        SELECT account_id, as_of, score, band FROM {series_table(r)}
        WHERE scorecard = ? AND version = ? AND list_contains(?, account_id)
        ORDER BY account_id, as_of
    """, [card.name, card.version, ids])
    out = []
    for c in events:
        lo = c["event_date"] - timedelta(days=lookback)
        pts = [[p["as_of"], p["score"], p["band"]] for p in rows
               if p["account_id"] == c["account_id"] and lo <= p["as_of"] < c["event_date"]]
        out.append({"account_id": c["account_id"], "event_date": c["event_date"],
                    "points": pts})
    return out
