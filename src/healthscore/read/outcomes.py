"""What happened after each score: the backtest's observations.

For each account scored on each of the given dates, its score, band, variant and attributes on
that date, and the outcomes recorded within the horizon after it (renewals' outcomes, and the
account's ``churned_at``): churned, contracted, any outcome at all (an account with none in the
window is censored: neither a churn nor a renewal), and the first churn date.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.read.status import series_table

_OBSERVATIONS = """
    WITH s AS (
        SELECT account_id, as_of, score, band, variant FROM snapshots
        WHERE scorecard = ? AND version = ? AND list_contains(?, as_of) AND score IS NOT NULL
    ), events AS (
        SELECT account_id, renewal_date AS day, outcome FROM renewals
        UNION ALL
        SELECT account_id, churned_at AS day, 'churned' AS outcome FROM accounts
        WHERE _valid_to IS NULL AND churned_at IS NOT NULL
    ), labelled AS (
        SELECT s.account_id, s.as_of, any_value(s.score) AS score, any_value(s.band) AS band,
               any_value(s.variant) AS variant,
               coalesce(bool_or(e.outcome = 'churned'), false) AS churned,
               coalesce(bool_or(e.outcome = 'contracted'), false) AS contracted,
               count(e.outcome) > 0 AS observed,
               min(e.day) FILTER (WHERE e.outcome = 'churned') AS churn_date
        FROM s LEFT JOIN events e
          ON e.account_id = s.account_id AND e.day > s.as_of
         AND e.day <= s.as_of + CAST(? AS INTEGER)
        GROUP BY s.account_id, s.as_of
    )
    SELECT l.*, a.segment, a.plan, coalesce(a.arr, 0) AS arr
    FROM labelled l LEFT JOIN accounts a
      ON a.account_id = l.account_id
     AND (a._valid_from IS NULL OR a._valid_from < l.as_of + 1)
     AND (a._valid_to IS NULL OR a._valid_to >= l.as_of + 1)
    ORDER BY l.as_of, l.account_id
"""


def observations(r: Reader, card: Card, dates: list[date], horizon: int) -> pa.Table:
    """One row per account scored on each of ``dates`` (a score, not an unscored row):
    account_id, as_of, score, band, variant, churned, contracted, observed, churn_date,
    segment, plan, arr."""
    return r.arrow(_OBSERVATIONS, [card.name, card.version, dates, horizon])


_AT_RENEWAL = """
    WITH r AS (
        SELECT account_id, renewal_date, outcome FROM renewals
        WHERE renewal_date - CAST(? AS INTEGER) BETWEEN ? AND ?
    ), s AS (
        SELECT account_id, as_of, score, band, variant FROM snapshots
        WHERE scorecard = ? AND version = ? AND score IS NOT NULL
    )
    SELECT s.account_id, s.as_of, s.score, s.band, s.variant,
           r.outcome = 'churned' AS churned, r.outcome = 'contracted' AS contracted,
           true AS observed,
           CASE WHEN r.outcome = 'churned' THEN r.renewal_date END AS churn_date,
           r.renewal_date, a.segment, a.plan, coalesce(a.arr, 0) AS arr
    FROM r JOIN s ON s.account_id = r.account_id
                 AND s.as_of = r.renewal_date - CAST(? AS INTEGER)
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


def at_renewal(r: Reader, card: Card, days: int, first: date, last: date) -> pa.Table:
    """Each renewal on record whose date less ``days`` falls from ``first`` to ``last``, with the
    account's score on that date (renewals whose account was not scored then are left out):
    the columns of :func:`observations`, every row observed, labelled by the renewal's own
    outcome, plus its ``renewal_date``."""
    return r.arrow(_AT_RENEWAL, [days, first, last, card.name, card.version, days])


def measure_values(r: Reader, card: Card, dates: list[date]) -> pa.Table:
    """Each measure's raw value, score and effective weight for every account on ``dates``."""
    return r.arrow("""
        SELECT account_id, as_of, measure, raw_value, score, weight FROM snapshot_measures
        WHERE scorecard = ? AND version = ? AND list_contains(?, as_of)
        ORDER BY as_of, account_id, measure
    """, [card.name, card.version, dates])


def outcome_span(r: Reader) -> dict:
    """The renewals on record: how many, how many churned, and the date range."""
    return r.rows("""
        SELECT count(*) AS renewals, count(*) FILTER (WHERE outcome = 'churned') AS churned,
               min(renewal_date) AS first, max(renewal_date) AS last FROM renewals
    """)[0] | r.rows("SELECT count(*) AS churned_at FROM accounts WHERE _valid_to IS NULL "
                     "AND churned_at IS NOT NULL")[0]


def group_scores(r: Reader, card: Card, dates: list[date], group: str) -> pa.Table:
    """One group's score for every account on ``dates`` (account_id, as_of, score)."""
    return r.arrow("""
        SELECT account_id, as_of, score FROM snapshot_groups
        WHERE scorecard = ? AND version = ? AND list_contains(?, as_of) AND "group" = ?
    """, [card.name, card.version, dates, group])


def churn_histories(r: Reader, card: Card, *, first: date, last: date, lookback: int,
                    drop: float) -> list[dict]:
    """Each account's first churn between ``first`` and ``last`` (renewals and churned_at)
    that has scores in the ``lookback`` days before it: the churn date, its first red score
    and its first drop of ``drop`` points below its best score so far in that window."""
    return r.rows(f"""
        WITH churns AS (
            SELECT account_id, min(day) AS churn_date FROM (
                SELECT account_id, renewal_date AS day FROM renewals WHERE outcome = 'churned'
                UNION ALL
                SELECT account_id, churned_at AS day FROM accounts
                WHERE _valid_to IS NULL AND churned_at IS NOT NULL)
            GROUP BY account_id
            HAVING min(day) > ? AND min(day) <= ?
        ), pts AS (
            SELECT c.account_id, c.churn_date, s.as_of, s.score, s.band,
                   max(s.score) OVER (PARTITION BY c.account_id ORDER BY s.as_of
                                      ROWS UNBOUNDED PRECEDING) AS best
            FROM churns c JOIN {series_table(r)} s
              ON s.account_id = c.account_id AND s.scorecard = ? AND s.version = ?
             AND s.as_of >= c.churn_date - CAST(? AS INTEGER) AND s.as_of < c.churn_date
        )
        SELECT account_id, churn_date, min(as_of) FILTER (WHERE band = 'red') AS first_red,
               min(as_of) FILTER (WHERE score <= best - ?) AS first_drop, count(*) AS scores
        FROM pts GROUP BY account_id, churn_date ORDER BY account_id
    """, [first, last, card.name, card.version, lookback, drop])


def timelines(r: Reader, card: Card, churns: list[dict], lookback: int) -> list[dict]:
    """For each churn (``{"account_id", "churn_date"}``), the account's scores in the
    ``lookback`` days before it: ``{"account_id", "churn_date", "points": [[date, score,
    band], ...]}`` — did the score tell the story?"""
    if not churns:
        return []
    ids = [c["account_id"] for c in churns]
    rows = r.rows(f"""
        SELECT account_id, as_of, score, band FROM {series_table(r)}
        WHERE scorecard = ? AND version = ? AND list_contains(?, account_id)
        ORDER BY account_id, as_of
    """, [card.name, card.version, ids])
    out = []
    for c in churns:
        lo = c["churn_date"] - timedelta(days=lookback)
        pts = [[p["as_of"], p["score"], p["band"]] for p in rows
               if p["account_id"] == c["account_id"] and lo <= p["as_of"] < c["churn_date"]]
        out.append({"account_id": c["account_id"], "churn_date": c["churn_date"],
                    "points": pts})
    return out
