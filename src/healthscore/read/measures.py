"""Each measure's and group's part in stored scores, rebuilt from the compact history.

The store keeps per account and day the score and the measures' raw values
(:mod:`healthscore.store.values`); the per-measure rows (raw value, score, effective weight,
points, missing, override) and per-group rows every explanation reads are recomputed here by the
code that scored them (:func:`healthscore.scoring.frame.explain_values`) from the scorecard
version's stored definition. :func:`measure_table` gives them as Arrow tables with the columns
of the tables schema 10 stored; :func:`over_measures` runs SQL over them (tables
``snapshot_measures`` and ``snapshot_groups``) in an in-memory DuckDB.

``known_at`` (a UTC time) reads what the store held then: the revision of each date computed
by then and not yet superseded (:mod:`healthscore.store.values`, "Revisions").
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa

from healthscore import arrays
from healthscore.config.scorecard import Scorecard
from healthscore.read.reader import Params, Reader, query_tables
from healthscore.scoring.frame import explain_values
from healthscore.store.values import VALUE_KEYS, values_table

MEASURE_COLUMNS = ["scorecard", "version", "as_of", "account_id", "group", "measure",
                   "raw_value", "score", "weight", "points", "missing", "override_id"]
GROUP_COLUMNS = ["scorecard", "version", "as_of", "account_id", "group", "score", "weight",
                 "points"]


def definition(r: Reader, name: str, version: str) -> Scorecard | None:
    """The scorecard version as it was stored with its first snapshot (None: unknown)."""
    def load() -> Scorecard | None:
        rows = r.rows("SELECT definition FROM scorecard_versions WHERE scorecard = ? AND "
                      "version = ? LIMIT 1", [name, version])
        return Scorecard.model_validate(json.loads(rows[0]["definition"])) if rows else None
    return r.kept(("definition", name, version), load)


def has_values(r: Reader, name: str, version: str) -> bool:
    """Whether the version has a values table (it has once a snapshot of it was written)."""
    table = values_table(name, version)
    return r.kept(("values-table", table), lambda: bool(r.rows(
        "SELECT 1 AS x FROM information_schema.tables WHERE table_schema = 'main' AND "
        "table_name = ?", [table])))


def heads_sql(known_at: datetime | None) -> tuple[str, list]:
    """SQL of the snapshot heads current at ``known_at`` (None: the latest), and its
    parameters."""
    if known_at is None:
        return "snapshots", []
    return ("(SELECT * EXCLUDE (superseded_at, superseded_by) FROM snapshot_revisions "
            "WHERE computed_at <= ? AND superseded_at > ? "
            "UNION ALL SELECT * FROM snapshots WHERE computed_at <= ?)",
            [known_at, known_at, known_at])


def current(alias: str, known_at: datetime | None) -> tuple[str, list]:
    """The condition on a values/overrides table's rows current at ``known_at``."""
    if known_at is None:
        return f"{alias}.superseded_at IS NULL", []
    return (f"{alias}.computed_at <= ? AND ({alias}.superseded_at IS NULL OR "
            f"{alias}.superseded_at > ?)", [known_at, known_at])


def measure_table(r: Reader, name: str, version: str, dates: list[date],
                  accounts: list[str] | None = None, *, known_at: datetime | None = None,
                  groups: bool = False) -> pa.Table | tuple[pa.Table, pa.Table]:
    """The per-measure rows (and with ``groups`` the per-group rows too) of the snapshots of
    (``name``, ``version``) on ``dates`` — of ``accounts`` only when given — ordered by date,
    account, then scorecard order. Dates stored without values have no rows."""
    sc = definition(r, name, version) if dates else None
    if sc is None or not has_values(r, name, version) or accounts == []:
        empty = (_empty(MEASURE_COLUMNS), _empty(GROUP_COLUMNS))
        return empty if groups else empty[0]
    heads, hparams = heads_sql(known_at)
    cur, cparams = current("v", known_at)
    marks = ", ".join("?" for _ in dates)
    who = " AND list_contains(?, s.account_id)" if accounts is not None else ""
    wparams = [accounts] if accounts is not None else []
    table = values_table(name, version)
    rows = r.arrow(f"""
        SELECT s.as_of, s.account_id, s.variant,
               v.* EXCLUDE ({VALUE_KEYS})
        FROM {heads} s JOIN "{table}" v ON v.as_of = s.as_of AND v.account_id = s.account_id
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of IN ({marks}) {who}
          AND v.as_of IN ({marks}) AND {cur}
        ORDER BY s.as_of, s.account_id""",
        [*hparams, name, version, *dates, *wparams, *dates, *cparams])
    ocur, oparams = current("o", known_at)
    over = r.rows(f"""
        SELECT o.as_of, o.account_id, o.measure, o.score, o.override_id
        FROM snapshot_overrides o
        WHERE o.scorecard = ? AND o.version = ? AND o.as_of IN ({marks}) AND {ocur}""",
                  [name, version, *dates, *oparams])
    n = rows.num_rows
    at = {}
    if over:
        at = {(a, d): i for i, (a, d) in enumerate(zip(
            rows["account_id"].to_pylist(), rows["as_of"].to_pylist(), strict=True))}
    applied = [(at[(o["account_id"], o["as_of"])], o["measure"], o["score"], o["override_id"])
               for o in over if (o["account_id"], o["as_of"]) in at]
    keys = {"scorecard": arrays.strings([name] * n),
            "version": arrays.strings([version] * n),
            "as_of": rows["as_of"], "account_id": rows["account_id"]}
    measures, grouped = explain_values(
        sc, keys, arrays.to_objects(rows["variant"]),
        rows.drop_columns(["as_of", "account_id", "variant"]), applied)
    return (measures, grouped) if groups else measures


def over_measures(r: Reader, name: str, version: str, dates: list[date], sql: str,
                  params: Params = (), accounts: list[str] | None = None, *,
                  known_at: datetime | None = None, arrow: bool = False,
                  tables: dict[str, pa.Table] | None = None) -> list[dict] | pa.Table:
    """``sql`` over the per-measure and per-group rows of :func:`measure_table` (tables
    ``snapshot_measures`` and ``snapshot_groups``) and any other ``tables``, run by an
    in-memory DuckDB (an Arrow table with ``arrow``)."""
    measures, groups = measure_table(r, name, version, dates, accounts, known_at=known_at,
                                     groups=True)
    return query_tables({"snapshot_measures": measures, "snapshot_groups": groups,
                         **(tables or {})}, sql, params, arrow=arrow)


def values_dates(r: Reader, name: str, version: str) -> list[date]:
    """The dates of the version stored with their measures' values, oldest first."""
    if not has_values(r, name, version):
        return []
    return [x["as_of"] for x in r.rows(
        f'SELECT DISTINCT as_of FROM "{values_table(name, version)}" '
        "WHERE superseded_at IS NULL ORDER BY 1")]


def _empty(columns: list[str]) -> pa.Table:
    types = {"as_of": pa.date32(), "missing": pa.bool_(), "override_id": pa.int64()}
    strings = {"scorecard", "version", "account_id", "group", "measure"}
    return pa.table({c: pa.array([], types.get(c, pa.string() if c in strings
                                               else pa.float64())) for c in columns})

