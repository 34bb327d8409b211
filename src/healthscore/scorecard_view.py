"""The scorecards as people read them: measure labels, scoring functions in words, each
variant's groups and measures with their shares of the score, and the versions in the store.
The scorecards page and ``/api/v1/scorecards`` show these; history's explanations use the
labels."""

from __future__ import annotations

from healthscore.store.store import Store, dict_rows
from healthscore.workspace import Workspace


def measure_labels(scorecard) -> dict[str, str]:
    """Measure id → label (or the id with spaces) over every variant of a scorecard model."""
    labels: dict[str, str] = {}
    for name in scorecard.variant_names():
        for _, mid, cfg in scorecard.resolve(name).measures():
            labels.setdefault(mid, cfg.label or mid.replace("_", " "))
    return labels


def describe_scoring(scoring) -> str:
    """A scoring function in words: ``linear 0.05 → 0.5``, ``≤ 2: 100, ≤ 7: 70, else 0``."""
    kind = scoring.kind
    if kind == "linear":
        return f"linear: {scoring.linear.from_:g} scores 0, {scoring.linear.to:g} scores 100"
    if kind == "tiers":
        parts = []
        for t in scoring.tiers:
            if t.at_least is not None:
                parts.append(f"≥ {t.at_least:g}: {t.score:g}")
            elif t.at_most is not None:
                parts.append(f"≤ {t.at_most:g}: {t.score:g}")
            else:
                parts.append(f"else {t.score:g}")
        return "tiers: " + ", ".join(parts)
    if kind == "percentile":
        p = scoring.percentile
        return ("percentile rank" + (f" within {p.within}" if p.within else "")
                + ("" if p.higher_is_better else ", lower is better"))
    if kind == "boolean":
        return f"yes: {scoring.boolean.when_true:g}, no: {scoring.boolean.when_false:g}"
    return "map: " + ", ".join(f"{k} → {v:g}" for k, v in scoring.map.items())


def _variant_table(scorecard, name: str) -> dict:
    resolved = scorecard.resolve(name)
    group_total = sum(g.weight for g in resolved.groups.values()) or 1.0
    groups = []
    for gid, group in resolved.groups.items():
        m_total = sum(m.weight for m in group.measures.values()) or 1.0
        share = group.weight / group_total
        measures = []
        for mid, cfg in group.measures.items():
            missing = cfg.missing or resolved.missing
            measures.append({
                "id": mid, "label": cfg.label or mid.replace("_", " "),
                "measure": "custom" if cfg.custom is not None else (cfg.measure or mid),
                "params": dict(cfg.params), "scoring": describe_scoring(cfg.scoring),
                "weight": cfg.weight, "share_in_group": cfg.weight / m_total,
                "share": share * cfg.weight / m_total,
                "missing": missing.policy + (f" {missing.score:g}" if missing.policy == "fixed"
                                             else "")})
        groups.append({"id": gid, "label": group.label or gid, "weight": group.weight,
                       "share": share, "measures": measures})
    variant = scorecard.variants.get(name)
    return {"name": name, "description": variant.description if variant else None,
            "when": dict(variant.when) if variant else {},
            "bands": {"red": resolved.bands.red, "yellow": resolved.bands.yellow},
            "groups": groups}


def scorecard_overview(workspace: Workspace, store: Store | None = None) -> list[dict]:
    """Each scorecard of the workspace as readable tables: description, bands, grades, and per
    variant (base first) its groups and measures with scoring, weights and shares of the score;
    with ``store``, also its stored versions (each with its snapshot dates)."""
    versions = scorecard_history(store) if store is not None else []
    out = []
    for loaded in workspace.scorecards():
        sc = loaded.scorecard
        out.append({
            "name": sc.name, "description": sc.description, "version": sc.version,
            "file": str(loaded.path), "bands": {"red": sc.bands.red, "yellow": sc.bands.yellow},
            "grades": dict(sc.grades), "missing": sc.missing.policy,
            "variants": [_variant_table(sc, n) for n in ["base", *sc.variants]],
            "versions": [v for v in versions if v["scorecard"] == sc.name],
        })
    return out


def scorecard_history(store: Store) -> list[dict]:
    """Every scorecard version ever used, newest first, with its first and last snapshot dates
    and how many dates it scored."""
    return dict_rows(store.con.execute("""
        WITH v AS (
            SELECT scorecard, version, any_value(source_file) AS source_file,
                   min(first_used_at) AS first_used_at
            FROM scorecard_versions GROUP BY 1, 2
        ), d AS (
            SELECT scorecard, version, count(DISTINCT as_of) AS dates, min(as_of) AS first_as_of,
                   max(as_of) AS last_as_of
            FROM snapshots GROUP BY 1, 2
        )
        SELECT v.*, coalesce(d.dates, 0) AS dates, d.first_as_of, d.last_as_of
        FROM v LEFT JOIN d USING (scorecard, version)
        ORDER BY v.scorecard, v.first_used_at DESC
    """))
