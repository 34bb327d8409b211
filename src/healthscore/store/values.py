"""The compact history: what the store keeps per account and day, the rest recomputed on read.

A snapshot's explanation — each measure's score, effective weight and points, each group's
score, weight and points — follows from the raw values the measures returned, the scorecard
version (its scoring functions, weights, missing-data policy and variants, kept in
``scorecard_versions``), the account's variant (kept in ``snapshots``) and the overrides in force.
So per account and day the store keeps only:

- the head: score, band, grade, coverage, variant (``snapshots``, unchanged);
- the raw values: one wide table per scorecard version, ``snapshot_values_<id>``, one row per
  account and date and one DOUBLE column per distinct measure computation (named by its key,
  :func:`~healthscore.config.columns.measure_key`), plus, for a measure scored by
  percentile — which ranks each account against every account of the date — its score;
- the overrides that replaced a measure's score (``snapshot_overrides``, a row per override
  applied: a handful).

Reads rebuild the per-measure and per-group rows with the same code that scored them
(:func:`healthscore.scoring.frame.explain_values`), so they are what scoring produced, bit for
bit. A wide, typed table compresses to a few bytes per value (a long row per measure cost ~30).

**Revisions.** Re-scoring a date whose result changed keeps the earlier one: its head moves to
``snapshot_revisions`` and its value and override rows are marked ``superseded_at``; reads use
the latest unless asked what was known at a time (``known_at``). A re-score that changes
nothing keeps the stored rows (and their run).
"""

from __future__ import annotations

import hashlib
import json

from healthscore.errors import StoreError

#: Columns of every values table before the value columns.
VALUE_KEYS = "as_of, account_id, computed_at, superseded_at"


def values_table(scorecard: str, version: str) -> str:
    """The name of the values table of one scorecard version."""
    digest = hashlib.sha256(f"{scorecard}\0{version}".encode()).hexdigest()[:12]
    return f"snapshot_values_{digest}"


def values_ddl(table: str, columns: list[str]) -> str:
    cols = "".join(f', "{c}" DOUBLE' for c in columns)
    return (f'CREATE TABLE IF NOT EXISTS "{table}" (as_of DATE NOT NULL, account_id VARCHAR '
            f"NOT NULL, computed_at TIMESTAMP NOT NULL, superseded_at TIMESTAMP{cols})")


def migrate_to_values(con) -> None:
    """Schema 11: move per-measure rows (``snapshot_measures``) into the versions' values
    tables and the overrides they record into ``snapshot_overrides``; drop the per-measure and
    per-group tables (their content is recomputed on read)."""
    # the scorecard models: loaded only by the migration (a store opens faster without them)
    from healthscore.config.columns import measure_key, percentile_column, value_columns
    from healthscore.config.scorecard import Scorecard

    has = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    if "snapshot_measures" not in has:
        return
    for name, version, definition in con.execute(
            "SELECT scorecard, version, definition FROM scorecard_versions").fetchall():
        try:
            sc = Scorecard.model_validate(json.loads(definition))
        except ValueError as exc:  # the transaction rolls back: the store stays as it was
            raise StoreError(
                f"cannot migrate the store: scorecard {name!r} version {version}'s stored "
                f"definition does not read ({str(exc).splitlines()[0]})",
                hint="the store is unchanged (schema 10); report this with the definition "
                     "(scorecard_versions), or use the release that wrote it") from None
        columns = value_columns(sc)
        table = values_table(name, version)
        con.execute(values_ddl(table, [c.name for c in columns]))
        ids = {c.name: set() for c in columns}
        for variant in sc.variant_names():
            for _, mid, cfg in sc.resolve(variant).measures():
                key = measure_key(mid, cfg)
                ids[key].add(mid)
                if cfg.scoring.kind == "percentile":
                    ids[percentile_column(key, cfg.scoring)].add(mid)

        def lit(xs: set[str]) -> str:
            return "[" + ", ".join("'" + x.replace("'", "''") + "'" for x in sorted(xs)) + "]"

        picks = "".join(
            (f", max(m.raw_value) FILTER (WHERE list_contains({lit(ids[c.name])}, m.measure))"
             if c.scoring is None else
             f", max(m.score) FILTER (WHERE list_contains({lit(ids[c.name])}, m.measure) "
             "AND NOT m.missing AND m.override_id IS NULL)")
            for c in columns)
        con.execute(f"""
            INSERT INTO "{table}"
            SELECT m.as_of, m.account_id, any_value(s.computed_at), NULL{picks}
            FROM snapshot_measures m JOIN snapshots s
              ON s.scorecard = m.scorecard AND s.version = m.version AND s.as_of = m.as_of
             AND s.account_id = m.account_id
            WHERE m.scorecard = ? AND m.version = ?
            GROUP BY m.as_of, m.account_id ORDER BY m.as_of, m.account_id""", [name, version])
    con.execute("""
        INSERT INTO snapshot_overrides
        SELECT m.scorecard, m.version, m.as_of, m.account_id, m.measure, m.score, m.override_id,
               s.computed_at, NULL
        FROM snapshot_measures m JOIN snapshots s
          ON s.scorecard = m.scorecard AND s.version = m.version AND s.as_of = m.as_of
         AND s.account_id = m.account_id
        WHERE m.override_id IS NOT NULL""")
    con.execute("DROP TABLE snapshot_measures")
    con.execute("DROP TABLE IF EXISTS snapshot_groups")
