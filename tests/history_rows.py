"""Per-measure history written by hand (a seam we own) into the compact store.

Tests that build a history without running the engine give each snapshot's measures as long
rows (account, date, group, measure, raw value); the store keeps raw values per scorecard
version (``healthscore.store.values``), so they go through the same step that moves a schema-10
store's per-measure rows there (``migrate_to_values``). Scores, weights and points are then
recomputed on read from the version's definition, which the caller stores first
(:func:`store_version`).
"""

from __future__ import annotations

import json

from healthscore.store.schema import MEASURE_ROWS_DDL
from healthscore.store.values import migrate_to_values


def store_version(con, scorecard, *, version: str | None = None, now=None) -> str:
    """Record a :class:`~healthscore.config.scorecard.Scorecard` as a stored version (its
    own version unless given); returns the version."""
    version = version or scorecard.version
    con.execute("INSERT INTO scorecard_versions VALUES (?, ?, ?, 'by hand', ?)",
                [scorecard.name, version,
                 json.dumps(scorecard.model_dump(mode="json", by_alias=True)), now])
    return version


def store_measures(con, rows) -> None:
    """Store raw values given as (scorecard, version, as_of, account_id, group, measure,
    raw_value) rows — a list of tuples, or a SQL query yielding those columns. The snapshots
    (heads) and the version must be stored already."""
    con.execute(MEASURE_ROWS_DDL[0])
    con.execute("ALTER TABLE snapshot_measures ADD COLUMN IF NOT EXISTS override_id BIGINT")
    insert = ("INSERT INTO snapshot_measures SELECT *, NULL, 0, 0, false, NULL FROM "
              "({})")
    if isinstance(rows, str):
        con.execute(insert.format(rows))
    elif rows:
        con.executemany(insert.format("SELECT ?, ?, ?::DATE, ?, ?, ?, ?::DOUBLE"),
                        [list(r) for r in rows])
    migrate_to_values(con)


def measure_rows(store, *, groups: bool = False):
    """Every per-measure row of the store's current snapshots (with ``groups`` the per-group
    rows too), as the read layer rebuilds them: Arrow tables with the columns of the tables
    schema 10 stored."""
    import pyarrow as pa

    from healthscore.read.measures import GROUP_COLUMNS, MEASURE_COLUMNS, _empty, measure_table
    from healthscore.read.reader import StoreReader

    r = StoreReader(store)
    found = [], []
    for name, version in store.con.execute(
            "SELECT scorecard, version FROM scorecard_versions ORDER BY 1, 2").fetchall():
        dates = [d for (d,) in store.con.execute(
            "SELECT DISTINCT as_of FROM snapshots WHERE scorecard = ? AND version = ? "
            "ORDER BY 1", [name, version]).fetchall()]
        m, g = measure_table(r, name, version, dates, groups=True)
        found[0].append(m)
        found[1].append(g)
    m = pa.concat_tables(found[0]) if found[0] else _empty(MEASURE_COLUMNS)
    g = pa.concat_tables(found[1]) if found[1] else _empty(GROUP_COLUMNS)
    return (m, g) if groups else m


def registered(store):
    """Register :func:`measure_rows` on the store's connection as ``snapshot_measures`` and
    ``snapshot_groups`` (queries written against schema 10 run unchanged); returns them."""
    m, g = measure_rows(store, groups=True)
    store.con.register("snapshot_measures", m)
    store.con.register("snapshot_groups", g)
    return m, g


def drop_values(con, as_of=None) -> None:
    """Delete the stored measure values (of one date), keeping the scores: a store written by
    another tool, or trimmed."""
    for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name LIKE 'snapshot_values_%'").fetchall():
        if as_of is None:
            con.execute(f'DELETE FROM "{table}"')
        else:
            con.execute(f'DELETE FROM "{table}" WHERE as_of = ?', [as_of])


def downgrade_to_10(store) -> None:
    """Rewrite a current store in the layout schema 10 kept (a long row per account, measure and
    date in ``snapshot_measures``, per group in ``snapshot_groups``; no values tables, overrides
    table or revisions) from the rows the read layer rebuilds — what a release before the
    compact history left on disk."""
    from healthscore.store.schema import MEASURE_ROWS_DDL

    m, g = measure_rows(store, groups=True)
    con = store.con
    con.register("_m", m)
    con.register("_g", g)
    for stmt in MEASURE_ROWS_DDL:
        con.execute(stmt)
    con.execute("ALTER TABLE snapshot_measures ADD COLUMN override_id BIGINT")
    con.execute("INSERT INTO snapshot_measures SELECT * FROM _m")
    con.execute("INSERT INTO snapshot_groups SELECT * FROM _g")
    for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND "
            "(table_name LIKE 'snapshot_values_%' OR table_name IN ('snapshot_overrides', "
            "'snapshot_revisions'))").fetchall():
        con.execute(f'DROP TABLE "{table}"')
    con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    con.unregister("_m")
    con.unregister("_g")
