"""Evaluate a scorecard for every active account as of a date: the whole engine, set-based.

1. The active accounts and every measure any variant uses are computed as Ibis expressions and
   fetched in one query: one row per account, one column per distinct measure.
2. Each account gets exactly one variant: the first whose ``when`` matches, else ``base``.
3. Per variant (a handful, not per account): raw values → measure scores → weights, missing-data
   policy, points, score, coverage, band and grade, all vectorised with numpy.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config.scorecard import MeasureConfig, ResolvedScorecard, Scorecard
from healthscore.measures.base import (
    CUTOFF_VARIABLE,
    MeasureContext,
    cutoff_of,
    get_measure,
    measure_expression,
)
from healthscore.measures.rollup import DIRECT_MAX, BatchMeasure, Need, build_grid, build_spans
from healthscore.scoring.combine import band, combine, grade
from healthscore.scoring.functions import score_values


@dataclass(frozen=True)
class Evaluation:
    """A scorecard evaluated as of a date: per-account, per-measure and per-group tables."""

    scorecard: Scorecard
    as_of: date
    accounts: pa.Table   # account_id, variant, score, band, grade, coverage
    measures: pa.Table   # account_id, group, measure, raw_value, score, weight, points, missing
    groups: pa.Table     # account_id, group, score, weight, points


def measure_key(mid: str, cfg: MeasureConfig) -> str:
    """A column name identifying what a measure computes (same measure + params: same key)."""
    what = ({"custom": cfg.custom.model_dump()} if cfg.custom is not None
            else {"measure": cfg.measure or mid, "params": cfg.params})
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode())
    return "m_" + digest.hexdigest()[:10]


def measure_expr(ctx: MeasureContext, mid: str, cfg: MeasureConfig):
    """(account_id, value) for every active account (whether its tables hold data is decided
    per date by :class:`Evaluator`)."""
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
    if cfg.custom is not None:
        return None
    spec = get_measure(cfg.measure or mid)
    return None if spec.batch is None else spec.batch(spec.parse_params(cfg.params))


_grid_names = itertools.count(1)


def measure_tables(mid: str, cfg: MeasureConfig) -> tuple[str, ...]:
    """The tables whose absence makes the measure missing."""
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

    On DuckDB the measure queries are compiled to SQL once, with the cutoff read from a DuckDB
    variable; each date then sets the variable and runs the same SQL (no re-compilation, and
    filter push-down still sees a constant). Other engines build the expressions per date.
    Both paths give the same values: single-date scoring and backfills share this class.
    """

    def __init__(self, backend, sc: Scorecard):
        self.backend = backend
        self.sc = sc
        self.resolved = {name: sc.resolve(name) for name in sc.variant_names()}
        self.measures: dict[str, tuple[str, MeasureConfig]] = {}
        for r in self.resolved.values():
            for _, mid, cfg in r.measures():
                self.measures.setdefault(measure_key(mid, cfg), (mid, cfg))
        self.columns = _account_columns(sc, self.resolved)
        self.tables = {key: measure_tables(mid, cfg) for key, (mid, cfg) in self.measures.items()}
        self.compiled = getattr(backend, "name", "") == "duckdb"
        self.ctx = MeasureContext(backend, date.today(), variables=self.compiled)
        #: measures computed for many dates in one pass (DuckDB only; see rollup.py)
        self.batch: dict[str, BatchMeasure] = {}
        self.prepared: set[date] = set()
        #: dates whose span counts are prepared (only batches of more than DIRECT_MAX dates:
        #: for fewer, the per-date query is cheaper)
        self.spanned: set[date] = set()
        if self.compiled:
            self.batch = {key: b for key, (mid, cfg) in self.measures.items()
                          if (b := measure_batch(mid, cfg)) is not None}
            self.grid = f"hs_usage_grid_{next(_grid_names)}"
            self.sql_accounts = str(ibis.to_sql(self._accounts_expr(self.ctx), "duckdb"))
            self.sql_active = str(ibis.to_sql(self.ctx.accounts(), "duckdb"))
            self.sql = {key: str(ibis.to_sql(measure_expr(self.ctx, mid, cfg), "duckdb"))
                        for key, (mid, cfg) in self.measures.items()
                        if key not in self.batch or self.batch[key].spans}

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
            build_grid(self.backend.con, self.grid, dates, usage)
        self.spanned = set()
        if needs - usage and len(dates) > DIRECT_MAX:
            build_spans(self.backend.con, f"{self.grid}_spans", dates, needs - usage)
            self.spanned = set(dates)
        self.prepared = set(dates)

    def _per_date(self, key: str, as_of: date) -> bool:
        """Whether ``key`` runs its per-date query for ``as_of`` (else the prepared batch)."""
        b = self.batch.get(key)
        return b is None or (b.spans and as_of not in self.spanned)

    def _accounts_expr(self, ctx: MeasureContext):
        return ctx.accounts().select("account_id", *self.columns)

    def frame(self, as_of: date) -> pd.DataFrame:
        """One row per account active at ``as_of`` (sorted by id): attributes and measures."""
        self.ctx.as_of = as_of  # what has_data() compares with (the cutoff lives in SQL)
        present = [k for k in self.measures
                   if all(self.ctx.has_data(t) for t in self.tables[k])]
        batched = None
        if self.compiled:
            con = self.backend.con
            con.execute(f"SET VARIABLE {CUTOFF_VARIABLE} = ?::TIMESTAMP", [cutoff_of(as_of)])
            df = con.sql(self.sql_accounts).df()
            if as_of not in self.prepared:
                self.prepare([as_of])
            per_date = [k for k in present if self._per_date(k, as_of)]
            # One query for the per-date measures: one plan, pivoted to one column per measure
            # by DuckDB, one transfer.
            wide_sql = ("PIVOT (" + " UNION ALL ".join(
                f"SELECT '{k}' AS key, account_id, value FROM ({self.sql[k]})"
                for k in per_date) + ") ON key IN (" + ", ".join(f"'{k}'" for k in per_date)
                + ") USING first(value) GROUP BY account_id")
            long = con.sql(wide_sql).df().set_index("account_id") if per_date else None
            batched = self._batched(as_of, [k for k in present
                                            if not self._per_date(k, as_of)])
        else:
            ctx = MeasureContext(self.backend, as_of)
            ctx._stats = self.ctx.table_stats()
            df = self._accounts_expr(ctx).to_pandas()
            parts = [measure_expr(ctx, *self.measures[k]).to_pandas().assign(key=k)
                     for k in present]
            long = pd.concat(parts) if parts else pd.DataFrame(columns=["key", "account_id",
                                                                        "value"])
        df = df.sort_values("account_id", kind="stable").reset_index(drop=True)
        if not self.compiled:
            long = long.pivot(index="account_id", columns="key", values="value") if len(long) \
                else None
        wide = (long.reindex(df["account_id"]) if long is not None
                else pd.DataFrame(index=df["account_id"]))
        if batched is not None:
            batched = batched.set_index("account_id").reindex(df["account_id"])
        for key in self.measures:
            source = batched if batched is not None and key in batched else wide
            df[key] = (source[key].to_numpy(dtype=float, na_value=np.nan) if key in source
                       else np.nan)
        return df

    def _batched(self, as_of: date, keys: list[str]) -> pd.DataFrame | None:
        """The batch measures of ``as_of`` from the prepared grids (wide: one column each)."""
        if not keys:
            return None
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
        return self.backend.con.sql(
            f"SELECT a.account_id, {cols} FROM ({self.sql_active}) a {' '.join(joins)}",
            params=params).df()

    def overrides(self, as_of: date) -> pd.DataFrame:
        """Overrides in force at the cutoff of ``as_of`` (account_id, measure, score, id)."""
        cutoff = cutoff_of(as_of)
        if self.compiled:
            from healthscore.store.manual import active_overrides

            return pd.DataFrame(active_overrides(self.backend.con, cutoff, self.sc.name),
                                columns=["account_id", "measure", "score", "override_id"])
        o = self.backend.table("overrides")
        o = o.filter((o.created_at < cutoff) & (o.expires_at.isnull() | (o.expires_at >= cutoff))
                     & (o.scorecard.isnull() | (o.scorecard == self.sc.name)))
        o = o.mutate(_n=ibis.row_number().over(group_by=["account_id", "measure"],
                                              order_by=[o.created_at.desc(),
                                                        o.override_id.desc()]))
        return o.filter(o._n == 0).select("account_id", "measure", "score",
                                          "override_id").to_pandas()

    def evaluate(self, as_of: date) -> Evaluation:
        """Score every account active at ``as_of``."""
        return score_frame(self.sc, self.resolved, self.frame(as_of), as_of,
                           self.overrides(as_of))


def assign_variants(sc: Scorecard, accounts: pd.DataFrame) -> np.ndarray:
    """The variant of each account: the first whose ``when`` matches all its columns."""
    out = np.full(len(accounts), "base", dtype=object)
    taken = np.zeros(len(accounts), dtype=bool)
    for name, variant in sc.variants.items():
        mask = ~taken
        for column, wanted in variant.when.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            mask &= accounts[column].isin(values).to_numpy()
        out[mask] = name
        taken |= mask
    return out


def score_frame(sc: Scorecard, resolved: dict[str, ResolvedScorecard], df: pd.DataFrame,
                as_of: date, overrides: pd.DataFrame | None = None) -> Evaluation:
    """Scores, points and coverage from the measure frame of one date (pure numpy/pandas).

    ``overrides`` (account_id, measure, score, override_id) replace measure scores.
    """
    variants = assign_variants(sc, df)
    parts: list[tuple[dict, dict, dict]] = []
    for vname, r in resolved.items():
        rows = np.flatnonzero(variants == vname)
        if len(rows) == 0:
            continue
        acc, meas, grp = _score_variant(df, rows, r, overrides)
        acc["variant"] = np.full(len(rows), vname, dtype=object)
        parts.append((acc, meas, grp))
    ids = pa.array(df["account_id"].to_numpy(dtype=object), pa.string())
    accounts = _table([p[0] for p in parts], ids, ["variant", "score", "band", "grade",
                                                   "coverage"])
    measures = _table([p[1] for p in parts], ids, ["group", "measure", "raw_value", "score",
                                                   "weight", "points", "missing", "override_id"])
    groups = _table([p[2] for p in parts], ids, ["group", "score", "weight", "points"])
    return Evaluation(sc, as_of, accounts, measures, groups)


def evaluate(ctx: MeasureContext, sc: Scorecard) -> Evaluation:
    """Score every account active at ``ctx.as_of`` with scorecard ``sc``."""
    return Evaluator(ctx.backend, sc).evaluate(ctx.as_of)


_STRINGS = {"variant", "band", "grade", "group", "measure"}


@dataclass(frozen=True)
class Coded:
    """A string column as codes into a short vocabulary (group and measure names repeat for
    every account: building Arrow strings from codes is far cheaper than from objects)."""

    vocab: list[str]
    codes: np.ndarray

    @classmethod
    def tile(cls, names: list[str], n: int) -> Coded:
        return cls(list(names), np.tile(np.arange(len(names)), n))


def _strings(values: list, order: np.ndarray) -> pa.Array:
    if values and all(isinstance(v, Coded) for v in values):
        vocab: list[str] = []
        codes = []
        for v in values:
            codes.append(v.codes + len(vocab))
            vocab += v.vocab
        return pa.array(vocab, pa.string()).take(pa.array(np.concatenate(codes)[order]))
    flat = [np.array(v.vocab, dtype=object)[v.codes] if isinstance(v, Coded) else v
            for v in values]
    return pa.array(np.concatenate(flat)[order] if flat else np.empty(0, dtype=object),
                    pa.string())


def _table(parts: list[dict], ids: pa.Array, columns: list[str]) -> pa.Table:
    """Arrow table from per-variant numpy columns, ordered by account (the frame's row order,
    which is sorted by account id) and, within an account, in scorecard order."""
    pos = np.concatenate([p["pos"] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    order = np.argsort(pos, kind="stable")
    out = {"account_id": ids.take(pa.array(pos[order], pa.int64()))}
    for c in columns:
        if c in _STRINGS:
            out[c] = _strings([p[c] for p in parts], order)
            continue
        values = (np.concatenate([p[c] for p in parts])[order] if parts
                  else np.empty(0, dtype=float))
        if c == "override_id":
            out[c] = pa.array(values, pa.int64(), mask=values < 0)
        elif c == "missing":
            out[c] = pa.array(values, pa.bool_())
        else:
            out[c] = pa.array(values, pa.float64(), from_pandas=True)  # NaN -> NULL
    return pa.table(out)


def _apply_overrides(ids: np.ndarray, measures: list, scores: np.ndarray,
                     overrides: pd.DataFrame | None) -> np.ndarray:
    """Put override scores in place; return the override id per cell (-1: none)."""
    applied = np.full(scores.shape, -1, dtype=np.int64)
    if overrides is None or overrides.empty:
        return applied
    row_of = {a: i for i, a in enumerate(ids)}
    col_of = {mid: j for j, (_, mid, _) in enumerate(measures)}
    # Overrides are a handful of manual inputs, not a per-account computation.
    for o in overrides.itertuples(index=False):
        i, j = row_of.get(o.account_id), col_of.get(o.measure)
        if i is not None and j is not None:
            scores[i, j] = o.score
            applied[i, j] = o.override_id
    return applied


def _score_variant(df: pd.DataFrame, rows: np.ndarray, r: ResolvedScorecard,
                   overrides: pd.DataFrame | None = None):
    measures = r.measures()
    group_names = list(r.groups)
    n, m = len(rows), len(measures)
    raw = np.empty((n, m))
    scores = np.empty((n, m))
    for j, (_, mid, cfg) in enumerate(measures):
        values = df[measure_key(mid, cfg)].to_numpy(dtype=float, na_value=np.nan)
        within = None
        if cfg.scoring.percentile and cfg.scoring.percentile.within:
            within = df[cfg.scoring.percentile.within].astype(str).to_numpy()
        # Percentiles rank among all active accounts, whatever their variant.
        scores[:, j] = score_values(values, cfg.scoring, within=within)[rows]
        raw[:, j] = values[rows]
    ids = df["account_id"].to_numpy()[rows]
    measured_missing = np.isnan(scores)
    applied = _apply_overrides(ids, measures, scores, overrides)
    weights = np.array([cfg.weight for _, _, cfg in measures], dtype=float)
    group_of = np.array([group_names.index(g) for g, _, _ in measures], dtype=int)
    group_weights = np.array([r.groups[g].weight for g in group_names], dtype=float)
    fixed = np.array([_fixed(cfg, r) for _, _, cfg in measures], dtype=float)
    c = combine(scores, weights, group_of, group_weights, fixed)
    # Fixed scores alone are not a score: with no data behind it, an account stays unscored.
    final = np.where(c.coverage > 0, c.score, np.nan)
    acc = {"pos": rows, "score": final, "band": band(final, r.bands),
           "grade": grade(final, r.grades), "coverage": c.coverage}
    missing = np.isnan(scores)
    meas = {
        "pos": np.repeat(rows, m),
        "group": Coded.tile([g for g, _, _ in measures], n),
        "measure": Coded.tile([mid for _, mid, _ in measures], n),
        "raw_value": raw.ravel(),
        "score": np.where(missing & ~np.isnan(fixed), fixed, scores).ravel(),
        "weight": c.weights.ravel(),
        "points": c.points.ravel(),
        "missing": (measured_missing & (applied < 0)).ravel(),
        "override_id": applied.ravel(),
    }
    gpoints = np.zeros((n, len(group_names)))
    np.add.at(gpoints.T, group_of, c.points.T)
    grp = {
        "pos": np.repeat(rows, len(group_names)),
        "group": Coded.tile(group_names, n),
        "score": c.group_scores.ravel(),
        "weight": c.group_weights.ravel(),
        "points": gpoints.ravel(),
    }
    return acc, meas, grp


def _fixed(cfg: MeasureConfig, r: ResolvedScorecard) -> float:
    policy = cfg.missing or r.missing
    return policy.score if policy.policy == "fixed" else np.nan
