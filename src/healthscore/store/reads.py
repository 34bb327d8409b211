"""Read queries over the store's snapshots, for the surfaces (CLI, API, pages).

Surfaces never write SQL of their own: they call these, which return plain dicts and lists.
"""

from __future__ import annotations

from datetime import date, timedelta

from healthscore.store.store import Store


def _rows(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


_ACCOUNT_AS_OF = """
    SELECT * FROM accounts
    WHERE (_valid_from IS NULL OR _valid_from < ?) AND (_valid_to IS NULL OR _valid_to >= ?)
"""


def _cut(as_of: date) -> list:
    cutoff = as_of + timedelta(days=1)
    return [cutoff, cutoff]


def snapshot_dates(store: Store, scorecard: str, version: str) -> list[date]:
    return [r[0] for r in store.con.execute(
        "SELECT DISTINCT as_of FROM snapshots WHERE scorecard = ? AND version = ? ORDER BY 1",
        [scorecard, version]).fetchall()]


def band_summary(store: Store, scorecard: str, version: str, as_of: date) -> list[dict]:
    """Accounts, ARR, mean score and coverage per band of one snapshot."""
    return _rows(store.con.execute(f"""
        SELECT s.band, count(*) AS accounts, sum(a.arr) AS arr, avg(s.score) AS mean_score,
               avg(s.coverage) AS mean_coverage
        FROM snapshots s LEFT JOIN ({_ACCOUNT_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ?
        GROUP BY s.band
        ORDER BY CASE s.band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 ELSE 3 END
    """, _cut(as_of) + [scorecard, version, as_of]))


def variant_summary(store: Store, scorecard: str, version: str, as_of: date) -> list[dict]:
    return _rows(store.con.execute(
        "SELECT variant, count(*) AS accounts, avg(score) AS mean_score FROM snapshots "
        "WHERE scorecard = ? AND version = ? AND as_of = ? GROUP BY 1 ORDER BY 1",
        [scorecard, version, as_of]))


def lowest_accounts(store: Store, scorecard: str, version: str, as_of: date,
                    limit: int = 10) -> list[dict]:
    """The lowest-scoring accounts, each with the measure that cost it the most points."""
    return _rows(store.con.execute(f"""
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
        LEFT JOIN ({_ACCOUNT_AS_OF}) a USING (account_id)
        ORDER BY low.score ASC NULLS LAST, low.account_id
    """, [scorecard, version, as_of, limit, scorecard, version, as_of] + _cut(as_of)))


def explain(store: Store, scorecard: str, version: str, as_of: date,
            account_id: str) -> dict | None:
    """One account's snapshot: score, band, grade, coverage, variant, groups and measures."""
    key = [scorecard, version, as_of, account_id]
    head = _rows(store.con.execute(f"""
        SELECT s.*, a.name, a.segment, a.plan, a.csm, a.arr, a.renewal_date
        FROM snapshots s LEFT JOIN ({_ACCOUNT_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ? AND s.account_id = ?
    """, _cut(as_of) + key))
    if not head:
        return None
    out = head[0]
    out["groups"] = _rows(store.con.execute(
        "SELECT \"group\", score, weight, points FROM snapshot_groups WHERE scorecard = ? AND "
        "version = ? AND as_of = ? AND account_id = ? ORDER BY rowid", key))
    out["measures"] = _rows(store.con.execute(
        "SELECT \"group\", measure, raw_value, score, weight, points, missing FROM "
        "snapshot_measures WHERE scorecard = ? AND version = ? AND as_of = ? AND "
        "account_id = ? ORDER BY rowid", key))
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
