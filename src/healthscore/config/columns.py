"""The columns a scorecard's evaluation produces: one per measure computation (its key) and,
for a measure scored by percentile, one for its score — the frame the engine builds, and the
values the store keeps of each snapshot (:mod:`healthscore.store.values`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from healthscore.config.scorecard import MeasureConfig, Scorecard, Scoring


def measure_key(mid: str, cfg: MeasureConfig) -> str:
    """A column name identifying what a measure computes (same measure + params: same key)."""
    what = ({"custom": cfg.custom.model_dump()} if cfg.custom is not None
            else {"measure": cfg.measure or mid, "params": cfg.params})
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode())
    return "m_" + digest.hexdigest()[:10]


@dataclass(frozen=True)
class ValueColumn:
    """One value column of a version's values table: a measure computation's raw value, or
    (``scoring`` set) the percentile score of a measure ranked with that scoring."""

    name: str
    key: str
    scoring: Scoring | None = None


def percentile_column(key: str, scoring: Scoring) -> str:
    """The column of a percentile score: the computation and the ranking rule."""
    what = json.dumps([key, scoring.model_dump(mode="json", by_alias=True)], sort_keys=True)
    return "p_" + hashlib.sha256(what.encode()).hexdigest()[:10]


def value_columns(sc: Scorecard) -> list[ValueColumn]:
    """The value columns a scorecard version keeps, in a fixed order (raw values by first use
    over the variants and measures, then percentile scores)."""
    raw: dict[str, ValueColumn] = {}
    pct: dict[str, ValueColumn] = {}
    for variant in sc.variant_names():
        for _, mid, cfg in sc.resolve(variant).measures():
            key = measure_key(mid, cfg)
            raw.setdefault(key, ValueColumn(key, key))
            if cfg.scoring.kind == "percentile":
                name = percentile_column(key, cfg.scoring)
                pct.setdefault(name, ValueColumn(name, key, cfg.scoring))
    return [*raw.values(), *pct.values()]
