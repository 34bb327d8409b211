"""A whole snapshot: the scores of a date as a table (the Python API, exports) and the summaries
``healthscore score`` prints (bands, variants, the lowest accounts)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from healthscore.read.dates import ACCOUNTS_AS_OF, account_cutoff
from healthscore.read.measures import measure_table, over_measures
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card


def snapshot_query(as_of: date, cards: list[Card]) -> tuple[str, list]:
    """SQL and parameters for the snapshots of ``as_of`` of each card's version: one row per
    account and scorecard."""
    pairs = " OR ".join("(scorecard = ? AND version = ?)" for _ in cards) or "false"
    params = [as_of] + [x for c in cards for x in (c.name, c.version)]
    return (f"SELECT * FROM snapshots WHERE as_of = ? AND ({pairs}) "
            "ORDER BY scorecard, account_id", params)


def snapshot_table(r: Reader, as_of: date, cards: list[Card], measures: bool = False
                   ) -> pa.Table:
    """The snapshots of ``as_of`` (see :func:`snapshot_query`) as an Arrow table, or with
    ``measures`` one row per account and measure (:func:`~healthscore.read.measures.
    measure_table`), by scorecard, account, then scorecard order."""
    if not measures:
        return r.arrow(*snapshot_query(as_of, cards))
    return pa.concat_tables([measure_table(r, c.name, c.version, [as_of])
                             for c in sorted(cards, key=lambda c: c.name)]
                            or [measure_table(r, "", "", [])])


def band_summary(r: Reader, card: Card, as_of: date) -> list[dict]:
    """Accounts, ARR, mean score and coverage per band of one snapshot (red first)."""
    return r.rows(f"""
        SELECT s.band, count(*) AS accounts, sum(a.arr) AS arr, avg(s.score) AS mean_score,
               avg(s.coverage) AS mean_coverage
        FROM snapshots s LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ?
        GROUP BY s.band
        ORDER BY CASE s.band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 ELSE 3 END
    """, account_cutoff(as_of) + [card.name, card.version, as_of])


def variant_summary(r: Reader, card: Card, as_of: date) -> list[dict]:
    """Accounts and mean score per variant of one snapshot."""
    return r.rows(
        "SELECT variant, count(*) AS accounts, avg(score) AS mean_score FROM snapshots "
        "WHERE scorecard = ? AND version = ? AND as_of = ? GROUP BY 1 ORDER BY 1",
        [card.name, card.version, as_of])


def lowest(r: Reader, card: Card, as_of: date, limit: int = 10) -> list[dict]:
    """The lowest-scoring accounts of one snapshot, each with the measure that cost it the
    most points (``weakest``)."""
    low = r.rows(f"""
        WITH low AS (
            SELECT * FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ?
            ORDER BY score ASC NULLS LAST, account_id LIMIT ?
        )
        SELECT low.account_id, a.name, a.segment, a.arr, a.csm, a.renewal_date, low.variant,
               low.score, low.band, low.grade, low.coverage
        FROM low LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        ORDER BY low.score ASC NULLS LAST, low.account_id
    """, [card.name, card.version, as_of, limit] + account_cutoff(as_of))
    weakest = {x["account_id"]: x["weakest"] for x in over_measures(
        r, card.name, card.version, [as_of], """
        SELECT account_id, arg_max(measure, weight * 100 - points) AS weakest
        FROM snapshot_measures WHERE weight > 0 GROUP BY 1""",
        accounts=[x["account_id"] for x in low])}
    return [{**x, "weakest": weakest.get(x["account_id"])} for x in low]
