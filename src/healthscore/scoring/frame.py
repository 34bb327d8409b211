"""From the measure frame of one date to scores: variants, measure scores, weights, points,
coverage, bands and grades for every account at once.

Pure: the measure frame (one numpy array per column: one row per account, one column per
measure) and the overrides in force go in, Arrow tables come out; no database, no clock. The engine
(:mod:`healthscore.engine.evaluate`) builds the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa

from healthscore import arrays
from healthscore.config.columns import measure_key, percentile_column, value_columns
from healthscore.config.scorecard import MeasureConfig, ResolvedScorecard, Scorecard
from healthscore.scoring.combine import band, combine, grade
from healthscore.scoring.functions import score_values


@dataclass(frozen=True)
class Evaluation:
    """A scorecard evaluated as of a date: per-account scores and what the store keeps of the
    rest (:mod:`healthscore.store.values`); the per-measure and per-group tables are rebuilt
    from those on first use, by the code every read of history uses."""

    scorecard: Scorecard
    as_of: date
    accounts: pa.Table   # account_id, variant, score, band, grade, coverage
    values: pa.Table     # account_id and the version's value columns
    overrides: pa.Table  # account_id, measure, score, override_id: overrides applied

    @cached_property
    def _explained(self) -> tuple[pa.Table, pa.Table]:
        row = {a: i for i, a in enumerate(self.accounts["account_id"].to_pylist())}
        over = [(row[a], m, s, o) for a, m, s, o in zip(
            self.overrides["account_id"].to_pylist(), self.overrides["measure"].to_pylist(),
            self.overrides["score"].to_pylist(), self.overrides["override_id"].to_pylist(),
            strict=True)]
        return explain_values(self.scorecard, {"account_id": self.accounts["account_id"]},
                              arrays.to_objects(self.accounts["variant"]),
                              self.values, over)

    @property
    def measures(self) -> pa.Table:
        """account_id, group, measure, raw_value, score, weight, points, missing,
        override_id."""
        return self._explained[0]

    @property
    def groups(self) -> pa.Table:
        """account_id, group, score, weight, points."""
        return self._explained[1]


#: The measure frame: column name → one value per account (a pandas DataFrame will do).
Frame = Mapping[str, np.ndarray]


def assign_variants(sc: Scorecard, accounts: Frame) -> np.ndarray:
    """The variant of each account: the first whose ``when`` matches all its columns."""
    size = len(accounts["account_id"])
    out = np.full(size, "base", dtype=object)
    taken = np.zeros(size, dtype=bool)
    for name, variant in sc.variants.items():
        mask = ~taken
        for column, wanted in variant.when.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            mask &= np.fromiter((v in values for v in accounts[column]), bool, size)
        out[mask] = name
        taken |= mask
    return out


def score_frame(sc: Scorecard, resolved: dict[str, ResolvedScorecard], df: Frame,
                as_of: date, overrides: list[dict] | None = None) -> Evaluation:
    """Scores, points and coverage from the measure frame of one date (pure numpy).

    ``overrides`` (dicts of account_id, measure, score, override_id) replace measure scores.
    """
    variants = assign_variants(sc, df)
    ids = np.asarray(df["account_id"], dtype=object)
    values: dict[str, np.ndarray] = {}
    for col in value_columns(sc):
        raw = np.asarray(df[col.key], dtype=float)
        if col.scoring is None:
            values[col.name] = raw
        else:
            within = col.scoring.percentile.within
            # Percentiles rank among all active accounts, whatever their variant.
            values[col.name] = score_values(
                raw, col.scoring, within=None if within is None else
                np.asarray(df[within], dtype=object))
    over: list[tuple[int, str, float, int]] = []
    if overrides:
        row_of = {a: i for i, a in enumerate(ids)}
        over = [(row_of[o["account_id"]], o["measure"], o["score"], o["override_id"])
                for o in overrides if o["account_id"] in row_of]
    parts = []
    applied_cells: list[tuple[int, str, float, int]] = []
    for vname, r in resolved.items():
        rows = np.flatnonzero(variants == vname)
        if len(rows) == 0:
            continue
        acc, used = _score_variant(values, rows, r, over)
        acc["variant"] = np.full(len(rows), vname, dtype=object)
        parts.append((acc, {}, {}))
        applied_cells += used
    id_array = arrays.strings(ids)
    accounts = _table([p[0] for p in parts], {"account_id": id_array},
                      ["variant", "score", "band", "grade", "coverage"])
    stored = pa.table({"account_id": id_array,
                       **{k: arrays.floats(v) for k, v in values.items()}})
    applied_cells.sort()
    applied = pa.table({
        "account_id": arrays.strings([ids[i] for i, *_ in applied_cells]),
        "measure": arrays.strings([m for _, m, _, _ in applied_cells]),
        "score": arrays.floats(np.array([x for _, _, x, _ in applied_cells], dtype=float)),
        "override_id": arrays.ints(np.array([o for *_, o in applied_cells], dtype=np.int64))})
    return Evaluation(sc, as_of, accounts, stored, applied)


def explain_values(sc: Scorecard, keys: dict[str, pa.Array], variants: np.ndarray,
                   values: pa.Table | dict[str, np.ndarray],
                   overrides: list[tuple[int, str, float, int]]) -> tuple[pa.Table, pa.Table]:
    """The per-measure and per-group rows of stored snapshot rows, recomputed from what the
    store keeps — the same computation scoring did, so the same numbers.

    Parameters
    ----------
    keys
        Columns identifying each row (``account_id``, and ``as_of`` for rows of several
        dates), put in front of every output row of that input row.
    variants
        Each row's variant.
    values
        The version's value columns (:func:`healthscore.store.values.value_columns`), one
        entry per row (NULL/NaN: no data).
    overrides
        (row, measure, score, override_id) of each override applied.

    Returns
    -------
    (measures, groups)
        The key columns and ``group, measure, raw_value, score, weight, points, missing,
        override_id``; the key columns and ``group, score, weight, points``: rows in input
        order, each row's measures and groups in scorecard order.
    """
    if isinstance(values, pa.Table):
        values = {c: arrays.to_floats(values[c])
                  for c in values.column_names if c not in keys and c != "account_id"}
    measures, groups = [], []
    for vname in sc.variant_names():
        rows = np.flatnonzero(variants == vname)
        if len(rows) == 0:
            continue
        _, meas, grp = _explain(*_inputs(values, rows, sc.resolve(vname), overrides))
        measures.append(meas)
        groups.append(grp)
    return (_table(measures, keys, ["group", "measure", "raw_value", "score", "weight",
                                    "points", "missing", "override_id"]),
            _table(groups, keys, ["group", "score", "weight", "points"]))


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
        return arrays.take(arrays.strings(vocab), np.concatenate(codes)[order])
    flat = [np.array(v.vocab, dtype=object)[v.codes] if isinstance(v, Coded) else v
            for v in values]
    return arrays.strings(np.concatenate(flat)[order] if flat else [])


def _table(parts: list[dict], keys: dict[str, pa.Array], columns: list[str]) -> pa.Table:
    """Arrow table from per-variant numpy columns, in input row order (the frame's order is
    by account id) and, within a row, in scorecard order; ``keys`` are the input rows' key
    columns."""
    pos = np.concatenate([p["pos"] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    order = np.argsort(pos, kind="stable")
    out = {name: arrays.take(column, pos[order]) for name, column in keys.items()}
    for c in columns:
        if c in _STRINGS:
            out[c] = _strings([p[c] for p in parts], order)
            continue
        values = (np.concatenate([p[c] for p in parts])[order] if parts
                  else np.empty(0, dtype=float))
        if c == "override_id":
            out[c] = arrays.ints(values, values < 0)
        elif c == "missing":
            out[c] = arrays.bools(values)
        else:
            out[c] = arrays.floats(values)  # NaN -> NULL
    return pa.table(out)


def _inputs(values: dict[str, np.ndarray], rows: np.ndarray, r: ResolvedScorecard,
            overrides: list[tuple[int, str, float, int]]):
    """Raw values and measure scores of one variant's ``rows`` from the value columns, with
    the overrides applied; the override id per cell (-1: none)."""
    measures = r.measures()
    n, m = len(rows), len(measures)
    raw = np.empty((n, m))
    scores = np.empty((n, m))
    for j, (_, mid, cfg) in enumerate(measures):
        key = measure_key(mid, cfg)
        raw[:, j] = values[key][rows]
        if cfg.scoring.kind == "percentile":
            scores[:, j] = values[percentile_column(key, cfg.scoring)][rows]
        else:
            scores[:, j] = score_values(raw[:, j], cfg.scoring)
    measured_missing = np.isnan(scores)
    applied = np.full(scores.shape, -1, dtype=np.int64)
    if overrides:
        at = {row: i for i, row in enumerate(rows)}
        col_of = {mid: j for j, (_, mid, _) in enumerate(measures)}
        # Overrides are a handful of manual inputs, not a per-account computation.
        for row, measure, score, override_id in overrides:
            i, j = at.get(row), col_of.get(measure)
            if i is not None and j is not None:
                scores[i, j] = score
                applied[i, j] = override_id
    return rows, raw, scores, measured_missing, applied, r


def _score_variant(values: dict[str, np.ndarray], rows: np.ndarray, r: ResolvedScorecard,
                   overrides: list[tuple[int, str, float, int]]):
    """The account columns of one variant's rows, and the overrides it applied as (row,
    measure, score, override_id)."""
    inputs = _inputs(values, rows, r, overrides)
    acc, _, _ = _explain(*inputs, accounts_only=True)
    applied = inputs[4]
    names = [mid for _, mid, _ in r.measures()]
    used = [(int(rows[i]), names[j], float(inputs[2][i, j]), int(applied[i, j]))
            for i, j in zip(*np.nonzero(applied >= 0), strict=True)]
    return acc, used


def _explain(rows: np.ndarray, raw: np.ndarray, scores: np.ndarray,
             measured_missing: np.ndarray, applied: np.ndarray, r: ResolvedScorecard, *,
             accounts_only: bool = False):
    measures = r.measures()
    group_names = list(r.groups)
    n, m = len(rows), len(measures)
    weights = np.array([cfg.weight for _, _, cfg in measures], dtype=float)
    group_of = np.array([group_names.index(g) for g, _, _ in measures], dtype=int)
    group_weights = np.array([r.groups[g].weight for g in group_names], dtype=float)
    fixed = np.array([_fixed(cfg, r) for _, _, cfg in measures], dtype=float)
    c = combine(scores, weights, group_of, group_weights, fixed)
    # Fixed scores alone are not a score: with no data behind it, an account stays unscored.
    final = np.where(c.coverage > 0, c.score, np.nan)
    acc = {"pos": rows, "score": final, "band": band(final, r.bands),
           "grade": grade(final, r.grades), "coverage": c.coverage}
    if accounts_only:
        return acc, None, None
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
