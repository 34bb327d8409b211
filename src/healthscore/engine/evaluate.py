"""Evaluate a scorecard for every active account as of a date, on DuckDB: the engine.

1. The active accounts and every measure any variant uses are computed as Ibis expressions,
   compiled to DuckDB SQL once per scorecard (and kept in the store for the next run, see
   :mod:`healthscore.engine.plan`), and fetched per date in one query: one row per
   account, one column per distinct measure (usage measures come from set-based roll-ups
   prepared for a batch of dates, see :mod:`healthscore.measures.rollup`).
2. The overrides in force at the date are read from the store.
3. :func:`healthscore.scoring.frame.score_frame` (pure numpy) turns the frame into scores,
   points, coverage, bands and grades.

This evaluator runs on DuckDB only (another Ibis backend raises :class:`EngineError`); the
Spark engine (:mod:`healthscore.engine.spark`) evaluates the same measures' Ibis expressions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from healthscore.config.scorecard import MeasureConfig, ResolvedScorecard, Scorecard
from healthscore.engine.plan import Plan, plan_key, stored_plan
from healthscore.errors import EngineError
from healthscore.measures.cutoff import CUTOFF_VARIABLE, cutoff_of, held_data, table_stats
from healthscore.measures.rollup import DIRECT_MAX, BatchMeasure, Need, build_grid, build_spans
from healthscore.scoring.frame import Evaluation, measure_key, score_frame
from healthscore.store.reads import dict_rows
from healthscore.store.schema import PLANS_SINCE
from healthscore.store.store import Store

if TYPE_CHECKING:
    from healthscore.measures.base import MeasureContext

# Ibis, pandas and the measure library are imported where they are used: scoring with a plan
# the store holds needs none of them (about half a second of start-up).


def measure_expr(ctx: MeasureContext, mid: str, cfg: MeasureConfig):
    """(account_id, value) for every active account (whether its tables hold data is decided
    per date by :class:`Evaluator`)."""
    import ibis

    from healthscore.measures.base import get_measure, measure_expression

    if cfg.custom is None:
        spec = get_measure(cfg.measure or mid)
        return measure_expression(ctx, spec, spec.parse_params(cfg.params))
    from healthscore.measures.custom import compile_custom

    accounts = ctx.accounts().select("account_id")
    result = compile_custom(ctx, cfg.custom).mutate(_found=ibis.literal(True))
    joined = accounts.left_join(result, "account_id")
    value = joined.value
    if cfg.custom.absent is not None:
        # only accounts with no matching rows; a NULL from `per` (no seats) stays missing
        value = ibis.ifelse(joined._found.isnull(), ibis.literal(cfg.custom.absent, "float64"),
                            value)
    return joined.select(accounts.account_id, value=value)


def measure_batch(mid: str, cfg: MeasureConfig) -> BatchMeasure | None:
    """The set-based form of a measure (usage measures on DuckDB), else None."""
    from healthscore.measures.base import get_measure

    if cfg.custom is not None:
        return None
    spec = get_measure(cfg.measure or mid)
    return None if spec.batch is None else spec.batch(spec.parse_params(cfg.params))


_grid_names = itertools.count(1)

#: The temporary table of the accounts active at the date being scored: filled once per date
#: (:meth:`Evaluator.arrays`) and read by every measure's compiled query, which would otherwise
#: each compute it again (about 15 ms a query at 100,000 accounts).
ACTIVE_TABLE = "hs_active_accounts"


def measure_tables(mid: str, cfg: MeasureConfig) -> tuple[str, ...]:
    """The tables whose absence makes the measure missing."""
    from healthscore.measures.base import get_measure

    if cfg.custom is not None:
        return (cfg.custom.table,)
    return get_measure(cfg.measure or mid).tables


def _account_columns(sc: Scorecard, resolved: dict[str, ResolvedScorecard]) -> list[str]:
    cols = {c for v in sc.variants.values() for c in v.when}
    for r in resolved.values():
        for _, _, cfg in r.measures():
            if cfg.scoring.percentile and cfg.scoring.percentile.within:
                cols.add(cfg.scoring.percentile.within)
    return sorted(cols - {"account_id"})


class Evaluator:
    """Evaluates one scorecard for any as-of date, compiling its measures only once.

    The measure queries are compiled to DuckDB SQL once, with the cutoff read from a DuckDB
    variable; each date then sets the variable and runs the same SQL (no re-compilation, and
    filter push-down still sees a constant). Single-date scoring and backfills share this class.

    Raises
    ------
    EngineError
        ``backend`` is not DuckDB (the only engine this evaluator runs on today).
    """

    def __init__(self, backend, sc: Scorecard, *, store: Store | None = None):
        if backend is None and store is None:
            raise ValueError("an Evaluator needs an Ibis backend or a store")
        # the Ibis backend is made only to compile a plan the store does not hold
        self._backend = backend
        self.con = store.con if backend is None else getattr(backend, "con", None)
        self.sc = sc
        self.resolved = {name: sc.resolve(name) for name in sc.variant_names()}
        self.measures: dict[str, tuple[str, MeasureConfig]] = {}
        for r in self.resolved.values():
            for _, mid, cfg in r.measures():
                self.measures.setdefault(measure_key(mid, cfg), (mid, cfg))
        self.columns = _account_columns(sc, self.resolved)
        if backend is not None and getattr(backend, "name", "") != "duckdb":
            raise EngineError(
                f"scoring runs on DuckDB; the {getattr(backend, 'name', backend)!r} backend is "
                "not supported yet", hint="use the workspace's DuckDB store (engine: duckdb)")
        #: rows and earliest time of each table (None: read on first use)
        self.stats: dict | None = None
        #: dates whose batch measures are prepared (see prepare)
        self.prepared: set[date] = set()
        #: dates whose span counts are prepared (only batches of more than DIRECT_MAX dates:
        #: for fewer, the per-date query is cheaper)
        self.spanned: set[date] = set()
        self.grid = f"hs_usage_grid_{next(_grid_names)}"
        #: the per-date measure query of each set of measures, prepared once it is run again
        #: (see _per_date_query): name, or None after its first run
        self.prepared_sql: dict[tuple[str, ...], str | None] = {}
        #: whether the plan was read from the store (False: compiled by this evaluator)
        self.plan_stored = False
        plan = self._plan(store)
        #: measures computed for many dates in one pass (see rollup.py)
        self.batch: dict[str, BatchMeasure] = plan.batch
        self.tables = plan.tables
        self.sql_accounts, self.sql_active, self.sql = (plan.sql_accounts, plan.sql_active,
                                                        plan.sql)

    @property
    def read_tables(self) -> set[str]:
        """Every table the scorecard's measures read."""
        return {t for ts in self.tables.values() for t in ts}

    @property
    def backend(self):
        """The Ibis backend over the store's connection (made on first use)."""
        if self._backend is None:
            import ibis

            self._backend = ibis.duckdb.from_connection(self.con)
        return self._backend

    @cached_property
    def ctx(self):
        """The measures' view of the store (a MeasureContext); the compiled SQL reads the cutoff
        from a variable and the active accounts from :data:`ACTIVE_TABLE`, both set per date
        (:meth:`arrays`)."""
        from healthscore.measures.base import MeasureContext

        return MeasureContext(self.backend, date(2000, 1, 1), variables=True,
                              active_table=ACTIVE_TABLE)

    def _plan(self, store: Store | None) -> Plan:
        """The compiled SQL: from the store when it holds it under the same key, else compiled
        (and kept in the store for the next run when it may be written)."""
        if store is None:
            return self._compile()
        plan = stored_plan(store, self.sc)
        if plan is not None:
            self.plan_stored = True
            return plan
        plan = self._compile()
        if not store.read_only and store.schema_version() >= PLANS_SINCE:
            store.save_plan(plan_key(store.con, self.sc.model_dump_json()), self.sc.name,
                            plan.to_json())
        return plan

    def _compile(self) -> Plan:
        """Every measure as DuckDB SQL (its Ibis expression compiled; about a second)."""
        import ibis

        batch = {key: b for key, (mid, cfg) in self.measures.items()
                 if (b := measure_batch(mid, cfg)) is not None}
        return Plan(
            sql_accounts=str(ibis.to_sql(self._accounts_expr(self.ctx), "duckdb")),
            sql_active=str(ibis.to_sql(self.ctx.active_accounts(), "duckdb")),
            sql={key: str(ibis.to_sql(measure_expr(self.ctx, mid, cfg), "duckdb"))
                 for key, (mid, cfg) in self.measures.items()
                 if key not in batch or batch[key].spans},
            batch=batch,
            tables={key: measure_tables(mid, cfg) for key, (mid, cfg) in self.measures.items()})

    def prepare(self, dates: Iterable[date]) -> None:
        """Compute the batch measures of all ``dates`` in one set-based pass (a backfill calls
        this per chunk of dates; a single date prepares itself). Replaces what was prepared.

        Usage measures always take this path; span counts (users trained …) only for more
        than DIRECT_MAX dates, fewer run their per-date query."""
        dates = sorted(set(dates))
        if not self.batch or not dates:
            return
        needs = {n for b in self.batch.values() for n in b.needs}
        usage = {n for n in needs if isinstance(n, Need)}
        if usage:
            build_grid(self.con, self.grid, dates, usage)
        self.spanned = set()
        if needs - usage and len(dates) > DIRECT_MAX:
            build_spans(self.con, f"{self.grid}_spans", dates, needs - usage)
            self.spanned = set(dates)
        self.prepared = set(dates)

    def _per_date(self, key: str, as_of: date) -> bool:
        """Whether ``key`` runs its per-date query for ``as_of`` (else the prepared batch)."""
        b = self.batch.get(key)
        return b is None or (b.spans and as_of not in self.spanned)

    def _accounts_expr(self, ctx):
        return ctx.accounts().select("account_id", *self.columns)

    def arrays(self, as_of: date) -> dict[str, np.ndarray]:
        """The measure frame of ``as_of``: one entry per column (account_id, the variant and
        percentile columns, one float column per measure, NaN where missing), one row per
        account active at ``as_of``, sorted by id."""
        if self.stats is None:
            self.stats = table_stats(self.con)
        present = [k for k in self.measures
                   if all(held_data(self.stats, t, as_of) for t in self.tables[k])]
        con = self.con
        con.execute(f"SET VARIABLE {CUTOFF_VARIABLE} = ?::TIMESTAMP", [cutoff_of(as_of)])
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ACTIVE_TABLE} AS {self.sql_active}")
        out = fetch_columns(con.sql(f"SELECT * FROM ({self.sql_accounts}) ORDER BY account_id"))
        if as_of not in self.prepared:
            self.prepare([as_of])
        per_date = [k for k in present if self._per_date(k, as_of)]
        batched = [k for k in present if not self._per_date(k, as_of)]
        # One query for the per-date measures: one plan, pivoted to one column per measure by
        # DuckDB, one transfer; the batch measures come from the prepared grids.
        found: dict[str, np.ndarray] = {}
        if per_date:
            found |= _aligned(out["account_id"], fetch_columns(self._per_date_query(per_date)))
        if batched:
            sql, params = self._batched_sql(batched, as_of)
            found |= _aligned(out["account_id"],
                              fetch_columns(con.sql(sql, params=params or None)))
        n = len(out["account_id"])
        for key in self.measures:
            out[key] = found[key].astype(float) if key in found else np.full(n, np.nan)
        return out

    def frame(self, as_of: date):
        """:meth:`arrays` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.arrays(as_of))

    def _pivot_sql(self, keys: list[str]) -> str:
        """The per-date measures of ``keys``, pivoted to one column each."""
        return ("PIVOT (" + " UNION ALL ".join(
            f"SELECT '{k}' AS key, account_id, value FROM ({self.sql[k]})" for k in keys)
            + ") ON key IN (" + ", ".join(f"'{k}'" for k in keys)
            + ") USING first(value) GROUP BY account_id ORDER BY account_id")

    def _per_date_query(self, keys: list[str]):
        """The relation of the per-date measures ``keys`` at the date set in the variables.

        Run as it is the first time; from the second, as a statement prepared on this
        connection, which DuckDB does not parse again (a date of a backfill at 1,000 accounts
        spends more time parsing this query than running it). A statement reading
        ``GETVARIABLE`` is bound again at each execution, so it reads each date's cutoff."""
        key = tuple(keys)
        if key not in self.prepared_sql:
            self.prepared_sql[key] = None
            return self.con.sql(self._pivot_sql(keys))
        name = self.prepared_sql[key]
        if name is None:
            name = self.prepared_sql[key] = f"hs_measures_{next(_grid_names)}"
            self.con.execute(f"PREPARE {name} AS {self._pivot_sql(keys)}")
        return self.con.sql(f"EXECUTE {name}")

    def _batched_sql(self, keys: list[str], as_of: date) -> tuple[str, list]:
        """The batch measures of ``as_of`` from the prepared grids (wide: one column each)."""
        cols = ", ".join(f"CAST({self.batch[k].sql()} AS DOUBLE) AS {k}" for k in keys)
        needs = {n for k in keys for n in self.batch[k].needs}
        joins, params = [], []
        if any(isinstance(n, Need) for n in needs):
            joins.append(f"LEFT JOIN {self.grid} u ON u.account_id = a.account_id "
                         "AND u.as_of = ?")
            params.append(as_of)
        if any(not isinstance(n, Need) for n in needs):
            joins.append(f"LEFT JOIN {self.grid}_spans s ON s.account_id = a.account_id "
                         "AND s.as_of = ?")
            params.append(as_of)
        return (f"SELECT a.account_id, {cols} FROM {ACTIVE_TABLE} a {' '.join(joins)} "
                "ORDER BY a.account_id",
                params)

    def overrides(self, as_of: date) -> list[dict]:
        """Overrides in force at the cutoff of ``as_of`` (account_id, measure, score,
        override_id)."""
        return active_overrides(self.con, cutoff_of(as_of), self.sc.name)

    def evaluate(self, as_of: date) -> Evaluation:
        """Score every account active at ``as_of``."""
        return score_frame(self.sc, self.resolved, self.arrays(as_of), as_of,
                           self.overrides(as_of))




class DuckDBEngine:
    """The default engine: scorecards evaluated on the workspace's store (see
    :class:`healthscore.engine.spark.SparkEngine` for the other)."""

    name = "duckdb"

    def __init__(self, store: Store):
        self.store = store

    def evaluator(self, sc: Scorecard) -> Evaluator:
        return Evaluator(None, sc, store=self.store)

    def table_ends(self, tables) -> dict[str, date]:
        from healthscore.engine.freshness import table_ends

        return table_ends(self.store.con, tables)

    def sync_store(self) -> None:
        """Nothing to copy: the store holds the tables."""

    def close(self) -> None:
        """Nothing to stop: the store belongs to the caller."""


def active_overrides(con, cutoff: datetime, scorecard: str) -> list[dict]:
    """Overrides in force at ``cutoff`` for ``scorecard``: the newest per account and measure
    (an override made after the cutoff, or expired by it, does not count)."""
    return dict_rows(con.execute("""
        SELECT account_id, measure, score, override_id FROM overrides
        WHERE created_at < ? AND (expires_at IS NULL OR expires_at >= ?)
          AND (scorecard IS NULL OR scorecard = ?)
        QUALIFY row_number() OVER (PARTITION BY account_id, measure
                                   ORDER BY created_at DESC, override_id DESC) = 1
    """, [cutoff, cutoff, scorecard]))


def fetch_columns(relation) -> dict[str, np.ndarray]:
    """A DuckDB relation's rows as one numpy array per column, NULL as NaN in numeric columns
    and None in the others (numpy only: pandas is not needed to score)."""
    out = {}
    for name, col in relation.fetchnumpy().items():
        if isinstance(col, np.ma.MaskedArray):
            col = (col.astype(float).filled(np.nan) if col.dtype.kind in "biuf"
                   else col.astype(object).filled(None))
        out[name] = col
    return out


def _aligned(ids: np.ndarray, found: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``found``'s value columns in the row order of ``ids`` (NaN for an id it lacks).

    The queries return the accounts in ``ids``' order (both sorted by id), so the columns are
    usually taken as they are; otherwise they are matched by id."""
    got = found.pop("account_id")
    if len(got) == len(ids) and (got == ids).all():
        return {key: col.astype(float) for key, col in found.items()}
    row = {a: i for i, a in enumerate(got)}
    at = np.fromiter((row.get(a, -1) for a in ids), np.int64, len(ids))
    out = {}
    for key, col in found.items():
        col = np.append(col.astype(float), np.nan)  # index -1: the NaN appended
        out[key] = col[at]
    return out
