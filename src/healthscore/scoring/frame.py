"""From the measure frame of one date to scores: variants, measure scores, weights, points,
coverage, bands and grades for every account at once.

Pure: a pandas frame (one row per account, one column per measure) and the overrides in force
go in, Arrow tables come out; no database, no clock. The engine
(:mod:`healthscore.engine.evaluate`) builds the frame.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config.scorecard import MeasureConfig, ResolvedScorecard, Scorecard
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
