"""Pydantic models of a scorecard file (``scorecards/<name>.yaml``).

A scorecard turns measures into one 0-100 score: each measure's raw value is scored 0-100 by a
scoring function, measures are weighted inside groups, groups are weighted in the scorecard,
missing data follows a declared policy, and bands and grades name the result. Variants override
parts of the base scorecard for the accounts their ``when`` selects.

These models are the one source of truth: they validate the YAML, produce the JSON Schema and the
reference page docs/scorecards.md (``python -m healthscore.config.reference``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Scalar = str | int | float | bool


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- scoring functions: raw value -> 0..100 -------------------------------------------------


class Linear(_Model):
    """Linear between two bounds, clamped: ``from`` scores 0, ``to`` scores 100.

    Either direction: ``{from: 0.1, to: 0.7}`` rewards high values, ``{from: 30, to: 0}`` rewards
    low ones (30 days since last login scores 0, 0 days scores 100).
    """

    from_: float = Field(alias="from", description="The raw value that scores 0.")
    to: float = Field(description="The raw value that scores 100.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _distinct(self):
        if self.from_ == self.to:
            raise ValueError("`from` and `to` must differ")
        return self


class Log(Linear):
    """Logarithmic between two positive bounds, clamped: ``from`` scores 0, ``to`` scores 100,
    and each doubling of the value adds the same points — for counts and amounts that span
    orders of magnitude (10 → 100 exports is worth what 100 → 1,000 is). Either direction.
    Values at or below the smaller bound (0 included) score as that bound.
    """

    from_: float = Field(alias="from", gt=0, description="The raw value that scores 0 (> 0).")
    to: float = Field(gt=0, description="The raw value that scores 100 (> 0).")


class Tier(_Model):
    """One tier of a ``tiers`` scoring: the first tier whose condition holds gives the score."""

    at_least: float | None = Field(None, description="Holds when the value is ≥ this.")
    at_most: float | None = Field(None, description="Holds when the value is ≤ this.")
    score: float = Field(ge=0, le=100, description="The score (0-100) when the tier holds.")

    @model_validator(mode="after")
    def _one_bound(self) -> Tier:
        if self.at_least is not None and self.at_most is not None:
            raise ValueError("a tier has `at_least` or `at_most`, not both (use two tiers)")
        return self


class Percentile(_Model):
    """Percentile rank among the active accounts (within a segment column if given), × 100."""

    within: str | None = Field(
        None, description="An accounts column (e.g. `segment`, `plan`): rank within accounts "
        "with the same value. Default: the whole portfolio.")
    higher_is_better: bool = Field(True, description="False ranks low values high.")


class Boolean(_Model):
    """For yes/no measures: the score of a true (non-zero) and of a false (zero) value.

    Written ``{true: 100, false: 0}`` (YAML reads those keys as booleans; both spellings work).
    """

    when_true: float = Field(100, alias="true", ge=0, le=100,
                             description="Score when the value is true (non-zero).")
    when_false: float = Field(0, alias="false", ge=0, le=100,
                              description="Score when the value is false (zero).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _yaml_booleans(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {("true" if k is True else "false" if k is False else k): v
                    for k, v in data.items()}
        return data


#: The scoring functions, in the order the reference lists them.
SCORINGS = ("linear", "log", "tiers", "percentile", "boolean", "map")


class Scoring(_Model):
    """How a raw value becomes a 0-100 measure score: exactly one of the keys below."""

    linear: Linear | None = Field(None, description="Linear between two bounds, clamped.")
    log: Log | None = Field(None, description="Logarithmic between two positive bounds, "
                            "clamped (counts and amounts spanning orders of magnitude).")
    tiers: list[Tier] | None = Field(
        None, description="Thresholds: the first tier whose `at_least`/`at_most` holds; a tier "
        "with neither always holds (put it last as the catch-all).")
    percentile: Percentile | None = Field(
        None, description="Percentile rank among active accounts, optionally within a segment.")
    boolean: Boolean | None = Field(None, description="True/false scores.")
    map: dict[str, float] | None = Field(
        None, description="A mapping table: raw value (written as text, e.g. `\"3\"`) → score. "
        "Unlisted values are treated as missing.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Scoring:
        given = [k for k in SCORINGS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of linear, log, tiers, percentile, boolean, map "
                             f"(got {', '.join(given) or 'none'})")
        if self.tiers is not None and not self.tiers:
            raise ValueError("`tiers` needs at least one tier")
        if self.map is not None:
            bad = [v for v in self.map.values() if not 0 <= v <= 100]
            if bad:
                raise ValueError(f"map scores must be 0-100, got {bad}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SCORINGS if getattr(self, k) is not None)


# -- measures, groups, scorecard ------------------------------------------------------------


class Missing(_Model):
    """What to do when a measure has no data for an account."""

    policy: Literal["renormalize", "fixed"] = Field(
        "renormalize", description="`renormalize`: leave the measure out and share its weight "
        "among the measures (and groups) that have data. `fixed`: score it `score`.")
    score: float | None = Field(None, ge=0, le=100,
                                description="The score given to missing data with `fixed`.")

    @model_validator(mode="after")
    def _score_for_fixed(self) -> Missing:
        if self.policy == "fixed" and self.score is None:
            raise ValueError("policy `fixed` needs a `score`")
        return self


class CustomMeasure(_Model):
    """A measure written in the scorecard: an aggregate over one canonical table.

    Expressions are a small SQL subset (columns, numbers, strings, + - * /, comparisons, AND, OR,
    NOT, IN, IS NULL, LIKE, and count / sum / avg / min / max / count(DISTINCT …)), parsed and
    checked, then compiled to engine-neutral Ibis expressions: never evaluated as Python.
    """

    table: str = Field(description="The canonical table to aggregate (docs/data.md).")
    aggregate: str = Field(
        description="The aggregate per account, e.g. `count(*)`, `count(DISTINCT user_id)`, "
        "`sum(quantity)`, `avg(score)`, `ln(1 + sum(value))`. Both expressions take columns, "
        "literals, `+ - * /`, comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE/ILIKE, "
        "`coalesce abs lower upper ln log log10 log2 sqrt round floor ceil greatest least`, "
        "casts (`CAST(x AS DOUBLE)`, `x::DATE`, TRY_CAST) and `date_diff('day', start, end)`, "
        "`epoch(time)`; anything else is refused, naming the function as written.")
    where: str | None = Field(
        None, description="A row filter, e.g. `event IN ('report.created', 'report.shared')`.")
    window_days: int | None = Field(
        None, gt=0, description="Only rows from the last N days up to the as-of date (by the "
        "table's time column). Default: all history up to the as-of date.")
    per: str | None = Field(
        None, description="Divide by this accounts column (e.g. `seats`, `arr`).")
    absent: float | None = Field(
        None, description="Value for an account with no matching rows (e.g. 0 for a count). "
        "Default: missing.")
    unit: str = Field("", description="Unit of the value, for explanations.")


class MeasureConfig(_Model):
    """A measure in a group: what it measures, how it is scored, how much it weighs."""

    measure: str | None = Field(
        None, description="A built-in measure (docs/measures.md). Default: the entry's own name.")
    custom: CustomMeasure | None = Field(None, description="A custom measure instead of a "
                                         "built-in one.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters of the built-in measure (window_days, "
        "features, …; see docs/measures.md).")
    scoring: Scoring = Field(description="How the raw value becomes 0-100.")
    weight: float = Field(1.0, ge=0, description="Weight inside the group (relative).")
    missing: Missing | None = Field(
        None, description="Missing-data policy of this measure. Default: the scorecard's.")
    label: str | None = Field(None, description="Name shown in explanations.")
    actionable: bool | None = Field(
        None, description="A lever the CSM team can pull (adoption, training, sponsor "
        "contact): `healthscore suggest-weights` keeps it at a floor share of the score "
        "however little it adds to predicting. Not part of the version: it changes no score.")

    @model_validator(mode="after")
    def _builtin_or_custom(self) -> MeasureConfig:
        if self.measure is not None and self.custom is not None:
            raise ValueError("give `measure` (built-in) or `custom`, not both")
        if self.custom is not None and self.params:
            raise ValueError("`params` apply to built-in measures; a custom measure takes its "
                             "settings under `custom`")
        return self


class Group(_Model):
    """A group of measures (usage, support, sentiment, …) with its weight in the scorecard."""

    weight: float = Field(1.0, ge=0, description="Weight of the group in the score (relative).")
    label: str | None = Field(None, description="Name shown in explanations.")
    measures: dict[str, MeasureConfig] = Field(
        description="Measures of the group by id (unique within the scorecard).")

    @field_validator("measures")
    @classmethod
    def _not_empty(cls, v: dict) -> dict:
        if not v:
            raise ValueError("a group needs at least one measure")
        return v


class Bands(_Model):
    """Traffic-light bands on the 0-100 score: below ``red`` is red, below ``yellow`` yellow."""

    red: float = Field(40, ge=0, le=100, description="Scores below this are red.")
    yellow: float = Field(70, ge=0, le=100, description="Scores below this (and ≥ red) are "
                          "yellow; the rest green.")

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.red > self.yellow:
            raise ValueError("`red` must not be above `yellow`")
        return self


DEFAULT_GRADES = {"A": 85.0, "B": 70.0, "C": 55.0, "D": 40.0, "F": 0.0}


class Variant(_Model):
    """A segment variant: overrides of the base scorecard for the accounts ``when`` selects.

    ``when`` maps accounts columns to a value or a list of values; all must match. Overrides are
    merged into the base: a group or measure listed here replaces only the keys it gives (set a
    measure's ``weight: 0`` to leave it out, add new measures by new ids).
    """

    when: dict[str, Scalar | list[Scalar]] = Field(
        description="Accounts column → value or list of values; the variant applies when all "
        "match (e.g. `{lifecycle_stage: onboarding}`, `{segment: [enterprise]}`).")
    description: str | None = Field(None, description="What the variant is for.")
    groups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Overrides of groups (weight, measures, …), merged "
        "into the base.")
    bands: Bands | None = Field(None, description="Other bands for this variant.")
    missing: Missing | None = Field(None, description="Other missing-data policy.")

    @field_validator("when")
    @classmethod
    def _when_not_empty(cls, v: dict) -> dict:
        if not v:
            raise ValueError("`when` needs at least one accounts column")
        return v


class Scorecard(_Model):
    """A scorecard: groups of weighted, scored measures, bands, grades and segment variants."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$",
                      description="Identifier (lower case), e.g. `health` or `expansion`.")
    description: str = Field("", description="What question the score answers.")
    predicts: Literal["churn", "expansion"] = Field(
        "churn", description="What a backtest tests the score against: `churn` (a low score "
        "should come before a churn) or `expansion` (a high score should come before an "
        "expansion). Not part of the version: it changes no score.")
    bands: Bands = Field(default_factory=Bands, description="Red / yellow / green thresholds.")
    grades: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_GRADES),
        description="Letter grades: each grade applies from its minimum score up; the lowest "
        "must be 0.")
    missing: Missing = Field(default_factory=Missing,
                             description="Default missing-data policy for every measure.")
    groups: dict[str, Group] = Field(description="The groups of measures by id.")
    variants: dict[str, Variant] = Field(
        default_factory=dict, description="Segment variants in order: an account gets the first "
        "whose `when` matches, else the base (`base`).")

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or min(v.values()) != 0:
            raise ValueError("grades need a lowest grade starting at 0 (e.g. `F: 0`)")
        if any(not 0 <= x <= 100 for x in v.values()):
            raise ValueError("grade minimums must be 0-100")
        return dict(sorted(v.items(), key=lambda kv: -kv[1]))

    @model_validator(mode="after")
    def _unique_measure_ids(self) -> Scorecard:
        seen: dict[str, str] = {}
        for gname, group in self.groups.items():
            for mid in group.measures:
                if mid in seen:
                    raise ValueError(f"[at groups.{gname}.measures.{mid}] measure id {mid!r} is "
                                     f"also in group {seen[mid]!r}; ids must be unique")
                seen[mid] = gname
        if "base" in self.variants:
            raise ValueError("[at variants.base] `base` is the name of the unmodified "
                             "scorecard; choose another variant name")
        for name in self.variants:
            try:
                self.resolve(name)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"[at variants.{name}.groups] after merging into the base, "
                                 f"{loc}: {first['msg']}") from None
        return self

    @property
    def version(self) -> str:
        """Content hash of the scorecard's meaning (not its comments or layout)."""
        dumped = _without_later_nulls(self.model_dump(mode="json", by_alias=True,
                                                      exclude={"predicts"}))
        canonical = json.dumps(dumped, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def resolve(self, variant: str = "base") -> ResolvedScorecard:
        """The scorecard one variant's accounts are scored with (base with overrides merged)."""
        if variant == "base":
            return ResolvedScorecard(self.name, "base", self.bands, self.grades, self.missing,
                                     self.groups)
        v = self.variants[variant]
        merged = copy.deepcopy(self.model_dump(by_alias=True, exclude_none=True)["groups"])
        _deep_merge(merged, v.groups)
        groups = {k: Group.model_validate(g) for k, g in merged.items()}
        return ResolvedScorecard(self.name, variant, v.bands or self.bands, self.grades,
                                 v.missing or self.missing, groups)

    def variant_names(self) -> list[str]:
        return [*self.variants, "base"]


def _deep_merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


class ResolvedScorecard:
    """One variant of a scorecard with overrides applied: what the engine evaluates."""

    def __init__(self, name: str, variant: str, bands: Bands, grades: dict[str, float],
                 missing: Missing, groups: dict[str, Group]):
        self.name = name
        self.variant = variant
        self.bands = bands
        self.grades = grades
        self.missing = missing
        self.groups = groups

    def measures(self) -> list[tuple[str, str, MeasureConfig]]:
        """(group id, measure id, config) of every measure, in file order."""
        return [(g, m, cfg) for g, group in self.groups.items()
                for m, cfg in group.measures.items()]


#: The starter scorecards ``healthscore init`` writes (name → file text), commented.
STARTERS = {name: (resources.files("healthscore.config") / "starters" / f"{name}.yaml")
            .read_text(encoding="utf-8") for name in ("health", "expansion")}

#: Keys added to the scorecard model after versions were stored: left out of the version
#: while unset, so a file that does not use them keeps its version (and its history).
_ADDED_LATER = frozenset({"log"})
#: Keys that change no score: never part of the version.
_NOT_SCORED = frozenset({"actionable"})


def _without_later_nulls(value):
    if isinstance(value, dict):
        return {k: _without_later_nulls(v) for k, v in value.items()
                if not (k in _ADDED_LATER and v is None) and k not in _NOT_SCORED}
    if isinstance(value, list):
        return [_without_later_nulls(v) for v in value]
    return value


class LoadedScorecard:
    """A scorecard read from a file, with the file's line index for error messages."""

    def __init__(self, path, scorecard: Scorecard, document):
        self.path = path
        self.scorecard = scorecard
        self.document = document

    @property
    def name(self) -> str:
        return self.scorecard.name

    def where(self, *loc: str | int) -> str:
        """``file:line`` of a key path in the scorecard file."""
        return self.document.where(tuple(loc))


def load_scorecard(path) -> LoadedScorecard:
    """Read and validate one scorecard file; errors name the file, line and key path."""
    from healthscore.config.yamlfile import load_model

    doc, scorecard = load_model(path, Scorecard, "scorecard", "name:, groups:, …")
    return LoadedScorecard(path, scorecard, doc)
