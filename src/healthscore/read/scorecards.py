"""The scorecards as reads see them: which series to read (:class:`Card`), measure and group
labels, scoring functions in words, each variant's groups and measures with their shares of the
score, and the versions stored. The scorecards page, ``/api/v1/scorecards`` and the
explanations in words read these."""

from __future__ import annotations

from dataclasses import dataclass, field

from healthscore.config.scorecard import LoadedScorecard, Scorecard
from healthscore.errors import InputError
from healthscore.read.reader import Reader
from healthscore.workspace import Workspace


@dataclass(frozen=True)
class Card:
    """One scorecard's series of snapshots: its name, the version read, and the labels of its
    measures and groups (from the scorecard file, over every variant)."""

    name: str
    version: str
    scorecard: Scorecard | None = None
    labels: dict[str, str] = field(default_factory=dict)
    group_labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, loaded: LoadedScorecard | Scorecard, version: str | None = None) -> Card:
        """The card of a loaded scorecard (its current version unless ``version``)."""
        sc = loaded.scorecard if isinstance(loaded, LoadedScorecard) else loaded
        return cls(sc.name, version or sc.version, sc, measure_labels(sc), group_labels(sc))

    def bands_of(self, variant: str | None):
        """The red/yellow thresholds of a variant (the scorecard's own when unknown)."""
        sc = self.scorecard
        if sc is None:
            return None
        return sc.resolve(variant).bands if variant in sc.variant_names() else sc.bands


def card(workspace: Workspace, name: str | None = None, version: str | None = None,
         *, loaded: list[LoadedScorecard] | None = None) -> Card:
    """The card of scorecard ``name`` (default: ``health``, else the workspace's first), at
    ``version`` (default: the current file's). ``loaded`` saves parsing the files again.

    Raises :class:`InputError` (field ``scorecard``) for a name the workspace lacks, or when it
    has no scorecard at all."""
    cards = loaded if loaded is not None else workspace.scorecards()
    by_name = {c.name: c for c in cards}
    if name is None:
        if not cards:
            raise InputError("scorecard", "the workspace has no scorecards",
                             hint="add a scorecard file under scorecards/ (docs/scorecards.md)")
        name = "health" if "health" in by_name else cards[0].name
    if name not in by_name:
        raise InputError("scorecard", f"no scorecard named {name!r}",
                         hint="the workspace has: " + (", ".join(by_name) or "none"))
    return Card.of(by_name[name], version)


def measure_labels(scorecard: Scorecard) -> dict[str, str]:
    """Measure id → label (or the id with spaces) over every variant of a scorecard."""
    labels: dict[str, str] = {}
    for name in scorecard.variant_names():
        for _, mid, cfg in scorecard.resolve(name).measures():
            labels.setdefault(mid, cfg.label or mid.replace("_", " "))
    return labels


def group_labels(scorecard: Scorecard) -> dict[str, str]:
    """Group id → label (or the id) over every variant of a scorecard."""
    labels: dict[str, str] = {}
    for name in scorecard.variant_names():
        for gid, group in scorecard.resolve(name).groups.items():
            labels.setdefault(gid, group.label or gid)
    return labels


def describe_scoring(scoring) -> str:
    """A scoring function in words: ``linear: 0.05 scores 0, 0.5 scores 100``,
    ``tiers: ≤ 2: 100, ≤ 7: 70, else 0``."""
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


def _variant_table(scorecard: Scorecard, name: str) -> dict:
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


def scorecards(r: Reader, loaded: list[LoadedScorecard]) -> list[dict]:
    """Each scorecard of the workspace (``loaded``) as readable tables: description, bands,
    grades, and per variant (base first) its groups and measures with scoring, weights and
    shares of the score; and its stored versions, each with its snapshot dates."""
    stored = versions(r)
    out = []
    for sc_file in loaded:
        sc = sc_file.scorecard
        out.append({
            "name": sc.name, "description": sc.description, "version": sc.version,
            "file": str(sc_file.path), "bands": {"red": sc.bands.red, "yellow": sc.bands.yellow},
            "grades": dict(sc.grades), "missing": sc.missing.policy,
            "variants": [_variant_table(sc, n) for n in ["base", *sc.variants]],
            "versions": [v for v in stored if v["scorecard"] == sc.name],
        })
    return out


def versions(r: Reader) -> list[dict]:
    """Every scorecard version ever used, newest first per scorecard, with its first and last
    snapshot dates and how many dates it scored."""
    return [dict(v) for v in r.kept(("versions",), lambda: r.rows("""
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
    """))]
