"""Read queries over the store's snapshots, for the surfaces (CLI, API, pages).

Surfaces never write SQL of their own: they call these, which return plain dicts and lists.
"""

from __future__ import annotations

from datetime import date, timedelta

from healthscore.store.store import Store, dict_rows

#: The account versions that held at the end of a date (as the scores saw them); parameters:
#: :func:`account_cutoff` of that date.
ACCOUNTS_AS_OF = """
    SELECT * FROM accounts
    WHERE (_valid_from IS NULL OR _valid_from < ?) AND (_valid_to IS NULL OR _valid_to >= ?)
"""


def account_cutoff(as_of: date) -> list:
    """The parameters of :data:`ACCOUNTS_AS_OF` for ``as_of``."""
    cutoff = as_of + timedelta(days=1)
    return [cutoff, cutoff]


def snapshot_dates(store: Store, scorecard: str, version: str) -> list[date]:
    return [r[0] for r in store.con.execute(
        "SELECT DISTINCT as_of FROM snapshots WHERE scorecard = ? AND version = ? ORDER BY 1",
        [scorecard, version]).fetchall()]


def band_summary(store: Store, scorecard: str, version: str, as_of: date) -> list[dict]:
    """Accounts, ARR, mean score and coverage per band of one snapshot."""
    return dict_rows(store.con.execute(f"""
        SELECT s.band, count(*) AS accounts, sum(a.arr) AS arr, avg(s.score) AS mean_score,
               avg(s.coverage) AS mean_coverage
        FROM snapshots s LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ?
        GROUP BY s.band
        ORDER BY CASE s.band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 ELSE 3 END
    """, account_cutoff(as_of) + [scorecard, version, as_of]))


def variant_summary(store: Store, scorecard: str, version: str, as_of: date) -> list[dict]:
    return dict_rows(store.con.execute(
        "SELECT variant, count(*) AS accounts, avg(score) AS mean_score FROM snapshots "
        "WHERE scorecard = ? AND version = ? AND as_of = ? GROUP BY 1 ORDER BY 1",
        [scorecard, version, as_of]))


def lowest_accounts(store: Store, scorecard: str, version: str, as_of: date,
                    limit: int = 10) -> list[dict]:
    """The lowest-scoring accounts, each with the measure that cost it the most points."""
    return dict_rows(store.con.execute(f"""
        WITH low AS (
            SELECT * FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ?
            ORDER BY score ASC NULLS LAST, account_id LIMIT ?
        ), lost AS (
            SELECT m.account_id, arg_max(m.measure, m.weight * 100 - m.points) AS weakest
            FROM snapshot_measures m SEMI JOIN low USING (account_id)
            WHERE m.scorecard = ? AND m.version = ? AND m.as_of = ? AND m.weight > 0
            GROUP BY 1
        )
        SELECT low.account_id, a.name, a.segment, a.arr, a.csm, a.renewal_date, low.variant,
               low.score, low.band, low.grade, low.coverage, lost.weakest
        FROM low LEFT JOIN lost USING (account_id)
        LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        ORDER BY low.score ASC NULLS LAST, low.account_id
    """, [scorecard, version, as_of, limit, scorecard, version, as_of] + account_cutoff(as_of)))


def explain(store: Store, scorecard: str, version: str, as_of: date,
            account_id: str) -> dict | None:
    """One account's snapshot: score, band, grade, coverage, variant, groups and measures."""
    key = [scorecard, version, as_of, account_id]
    head = dict_rows(store.con.execute(f"""
        SELECT s.*, a.name, a.segment, a.plan, a.csm, a.arr, a.renewal_date
        FROM snapshots s LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ? AND s.account_id = ?
    """, account_cutoff(as_of) + key))
    if not head:
        return None
    out = head[0]
    out["groups"] = dict_rows(store.con.execute(
        "SELECT \"group\", score, weight, points FROM snapshot_groups WHERE scorecard = ? AND "
        "version = ? AND as_of = ? AND account_id = ? ORDER BY rowid", key))
    out["measures"] = dict_rows(store.con.execute(
        "SELECT m.\"group\", m.measure, m.raw_value, m.score, m.weight, m.points, m.missing, "
        "m.override_id, o.author AS override_author, o.comment AS override_comment, "
        "o.expires_at AS override_expires FROM snapshot_measures m LEFT JOIN overrides o "
        "USING (override_id) WHERE m.scorecard = ? AND m.version = ? AND m.as_of = ? AND "
        "m.account_id = ? ORDER BY m.rowid", key))
    return out


def _snapshot_query(as_of: date, versions: dict[str, str], measures: bool
                    ) -> tuple[str, list]:
    table = "snapshot_measures" if measures else "snapshots"
    pairs = " OR ".join("(scorecard = ? AND version = ?)" for _ in versions) or "false"
    params = [as_of] + [x for kv in versions.items() for x in kv]
    order = "scorecard, account_id" + (", rowid" if measures else "")
    return f"SELECT * FROM {table} WHERE as_of = ? AND ({pairs}) ORDER BY {order}", params


def snapshot_table(store: Store, as_of: date, versions: dict[str, str],
                   measures: bool = False):
    """The snapshots of ``as_of`` (scorecard → version) as an Arrow table."""
    query, params = _snapshot_query(as_of, versions, measures)
    return store.con.sql(query, params=params).to_arrow_table()


def export_snapshot(store: Store, as_of: date, path: str, fmt: str,
                    versions: dict[str, str], measures: bool = False) -> int:
    """Write the snapshots of ``as_of`` (scorecard → version) to a CSV or Parquet file."""
    if not versions:
        return 0
    query, params = _snapshot_query(as_of, versions, measures)
    n = store.con.execute(f"SELECT count(*) FROM ({query})", params).fetchall()[0][0]
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
    safe = path.replace("'", "''")
    store.con.execute(f"COPY ({query}) TO '{safe}' ({options})", params)
    return n


# -- history ---------------------------------------------------------------------------------


def latest_date(store: Store, scorecard: str, version: str) -> date | None:
    rows = store.con.execute("SELECT max(as_of) FROM snapshots WHERE scorecard = ? AND "
                             "version = ?", [scorecard, version]).fetchall()
    return rows[0][0]


def account_history(store: Store, scorecard: str, version: str, account_id: str, *,
                    days: int, end: date | None) -> dict:
    """Daily scores of one account over ``days`` up to ``end``, band changes, deltas."""
    end = end or latest_date(store, scorecard, version)
    if end is None:
        return {"points": [], "band_changes": [], "deltas": {}, "end": None}
    start = end - timedelta(days=days)
    points = dict_rows(store.con.execute(
        "SELECT as_of, score, band, grade, coverage, variant FROM snapshots WHERE scorecard = ? "
        "AND version = ? AND account_id = ? AND as_of BETWEEN ? AND ? ORDER BY as_of",
        [scorecard, version, account_id, start, end]))
    changes = [{"as_of": b["as_of"], "from": a["band"], "to": b["band"]}
               for a, b in zip(points, points[1:], strict=False) if a["band"] != b["band"]]
    deltas = {}
    trends = dict_rows(store.con.execute(
        "SELECT delta_7d, delta_30d, delta_90d FROM snapshot_trends WHERE scorecard = ? AND "
        "version = ? AND account_id = ? AND as_of = ?", [scorecard, version, account_id, end]))
    if trends:
        deltas = {k.removeprefix("delta_"): v for k, v in trends[0].items()}
    return {"points": points, "band_changes": changes, "deltas": deltas, "end": end}


def measure_pairs(store: Store, scorecard: str, version: str, account_id: str, start: date,
                  end: date) -> list[dict]:
    """Each measure of an account at two dates side by side (a full outer join)."""
    return dict_rows(store.con.execute("""
        WITH a AS (SELECT * FROM snapshot_measures WHERE scorecard = ? AND version = ?
                   AND account_id = ? AND as_of = ?),
             b AS (SELECT * FROM snapshot_measures WHERE scorecard = ? AND version = ?
                   AND account_id = ? AND as_of = ?)
        SELECT coalesce(b."group", a."group") AS "group", coalesce(b.measure, a.measure) AS measure,
               a.raw_value AS raw_before, b.raw_value AS raw_after,
               a.score AS score_before, b.score AS score_after,
               coalesce(a.weight, 0) AS weight_before, coalesce(b.weight, 0) AS weight_after,
               coalesce(a.points, 0) AS points_before, coalesce(b.points, 0) AS points_after,
               coalesce(a.missing, true) AS missing_before,
               coalesce(b.missing, true) AS missing_after,
               a.override_id AS override_before, b.override_id AS override_after
        FROM a FULL OUTER JOIN b USING (measure)
    """, [scorecard, version, account_id, start, scorecard, version, account_id, end]))


def score_change(store: Store, scorecard: str, version: str, account_id: str, start: date,
                 end: date) -> dict | None:
    heads = dict_rows(store.con.execute(
        "SELECT as_of, score, band, grade, coverage, variant FROM snapshots WHERE scorecard = ? "
        "AND version = ? AND account_id = ? AND as_of IN (?, ?)",
        [scorecard, version, account_id, start, end]))
    by_date = {h["as_of"]: h for h in heads}
    if start not in by_date or end not in by_date:
        return None
    return {"before": by_date[start], "after": by_date[end],
            "measures": measure_pairs(store, scorecard, version, account_id, start, end)}


def movers(store: Store, scorecard: str, version: str, *, days: int, end: date | None,
           limit: int) -> dict:
    """Largest drops and rises between ``end - days`` and ``end``, with the measure that moved
    each the most in that direction."""
    end = end or latest_date(store, scorecard, version)
    if end is None:
        return {"end": None, "start": None, "drops": [], "rises": []}
    start = end - timedelta(days=days)
    base = f"""
        WITH pairs AS (
            SELECT b.account_id, a.score AS score_before, b.score AS score_after,
                   b.score - a.score AS delta, a.band AS band_before, b.band AS band_after
            FROM snapshots b JOIN snapshots a USING (scorecard, version, account_id)
            WHERE b.scorecard = ? AND b.version = ? AND b.as_of = ? AND a.as_of = ?
              AND a.score IS NOT NULL AND b.score IS NOT NULL
        ), moved AS (
            SELECT coalesce(mb.account_id, ma.account_id) AS account_id,
                   coalesce(mb.measure, ma.measure) AS measure,
                   coalesce(mb.points, 0) - coalesce(ma.points, 0) AS contribution,
                   ma.raw_value AS raw_before, mb.raw_value AS raw_after
            FROM (SELECT * FROM snapshot_measures WHERE scorecard = ? AND version = ?
                  AND as_of = ?) mb
            FULL OUTER JOIN (SELECT * FROM snapshot_measures WHERE scorecard = ? AND version = ?
                  AND as_of = ?) ma USING (account_id, measure)
        ), top AS (
            -- arg_min/arg_max skip NULL arguments; a ranked row keeps a missing raw value
            SELECT * FROM moved
            QUALIFY row_number() OVER (PARTITION BY account_id
                                       ORDER BY contribution {{order}}, measure) = 1
        )
        SELECT p.*, n.name, n.csm, n.segment, n.arr, t.measure AS top_measure,
               t.contribution AS top_contribution, t.raw_before AS top_raw_before,
               t.raw_after AS top_raw_after
        FROM pairs p JOIN top t USING (account_id)
        LEFT JOIN ({ACCOUNTS_AS_OF}) n USING (account_id)
        WHERE p.delta {{cmp}} 0
        ORDER BY p.delta {{order}}, p.account_id
        LIMIT ?
    """
    params = ([scorecard, version, end, start, scorecard, version, end, scorecard, version,
               start] + account_cutoff(end) + [limit])
    drops = dict_rows(store.con.execute(base.format(cmp="<", order="ASC"), params))
    rises = dict_rows(store.con.execute(base.format(cmp=">", order="DESC"), params))
    return {"end": end, "start": start, "drops": drops, "rises": rises}
