"""Which accounts each rule holds for on a scored date, with the facts its message needs.

A rule reads the stored snapshot of its scorecard's current version on the date (score, band,
the score ``drop.days`` before), the accounts as they stood then (name, CSM, plan, segment,
ARR, renewal date), the stored churn probability, and — for ``champion_left``,
``invoice_overdue``, ``pulse`` and ``measure`` — library measures computed point in time
exactly as scoring computes them (so a rule may read a measure its scorecard does not use).
Nothing here writes; :mod:`healthscore.alerts.episodes` turns what holds into alerts.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from healthscore.config.alerts import Rule, When
from healthscore.errors import ConfigError
from healthscore.read.dates import ACCOUNTS_AS_OF, account_cutoff
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card

#: The pulse in force at or below which ``pulse: red`` / ``pulse: yellow`` holds (1-5 scale).
PULSE_AT_MOST = {"red": 1.0, "yellow": 3.0, "green": 5.0}

#: The columns of a rule's facts frame (one row per account it holds for).
FACTS = ["account_id", "name", "csm", "plan", "segment", "lifecycle_stage", "arr",
         "renewal_date", "score", "band", "change", "days_to_renewal", "probability", "value"]


def library_conditions(when: When) -> list[tuple[str, dict, str, float]]:
    """The measure conditions of ``when`` as (measure, params, comparison, bound)."""
    out = []
    if when.champion_left is not None:
        out.append(("champion_left", {"window_days": when.champion_left}, ">=", 1.0))
    if when.invoice_overdue is not None:
        out.append(("days_past_due", {}, ">", float(when.invoice_overdue)))
    if when.pulse is not None:
        out.append(("csm_pulse", {}, "<=", PULSE_AT_MOST[when.pulse]))
    if when.measure is not None:
        op, bound = when.measure.bound
        out.append((when.measure.measure, dict(when.measure.params), op, bound))
    return out


def check_rules(rules: dict[str, Rule], scorecards: list[str]) -> None:
    """Refuse rules that name a scorecard the workspace lacks, or a measure (or parameters)
    the library does not know — before anything is evaluated."""
    from healthscore.measures.base import get_measure

    problems = []
    for name, rule in rules.items():
        if rule.scorecard not in scorecards:
            problems.append(f"alerts.rules.{name}.scorecard: no scorecard named "
                            f"{rule.scorecard!r} (the workspace has: {', '.join(scorecards)})")
        for measure, params, _, _ in library_conditions(rule.when):
            try:
                get_measure(measure).parse_params(params)
            except ConfigError as exc:
                problems.append(f"alerts.rules.{name}.when: {exc.message}")
    if problems:
        raise ConfigError("the alert rules have problems", problems=problems,
                          hint="see docs/alerts.md and docs/measures.md")


def _facts(r: Reader, card: Card, as_of: date, drop_days: int) -> pd.DataFrame:
    before = as_of - timedelta(days=drop_days)
    return r.arrow(f"""
        WITH s AS (SELECT account_id, score, band FROM snapshots
                   WHERE scorecard = ? AND version = ? AND as_of = ? AND score IS NOT NULL),
             p AS (SELECT account_id, score AS before FROM snapshots
                   WHERE scorecard = ? AND version = ? AND as_of = ?),
             a AS ({ACCOUNTS_AS_OF})
        SELECT s.account_id, a.name, a.csm, a.plan, a.segment, a.lifecycle_stage, a.arr,
               a.renewal_date, s.score, s.band, s.score - p.before AS change,
               date_diff('day', ?::DATE, a.renewal_date) AS days_to_renewal
        FROM s LEFT JOIN a USING (account_id) LEFT JOIN p USING (account_id)
        ORDER BY s.account_id
    """, [card.name, card.version, as_of, card.name, card.version, before,
          *account_cutoff(as_of), as_of]).to_pandas()


def scored_on(r: Reader, card: Card, as_of: date) -> bool:
    """Whether the card's current version has a snapshot on ``as_of`` (a rule is evaluated
    only then: an unscored date says nothing about who holds)."""
    return bool(r.rows("SELECT 1 AS x FROM snapshots WHERE scorecard = ? AND version = ? AND "
                       "as_of = ? LIMIT 1", [card.name, card.version, as_of]))


def _only(facts: pd.DataFrame, rule: Rule) -> pd.Series:
    keep = pd.Series(True, index=facts.index)
    only = rule.only
    for column in ("segment", "plan", "lifecycle_stage", "csm"):
        allowed = getattr(only, column)
        if allowed is not None:
            keep &= facts[column].isin(allowed)
    if only.arr_at_least is not None:
        keep &= facts["arr"].fillna(-np.inf) >= only.arr_at_least
    return keep


_COMPARE = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}


def holding(r: Reader, library: LibraryMeasures, card: Card, rule: Rule, as_of: date
            ) -> pd.DataFrame:
    """The accounts ``rule`` holds for on ``as_of`` with their :data:`FACTS` (``value``: what
    its ``measure`` condition read, else its last library condition's value), by account id.
    ``library`` computes library measures over the same store."""
    when = rule.when
    facts = _facts(r, card, as_of, when.drop.days if when.drop else 30)
    facts["probability"] = np.nan
    facts["value"] = np.nan
    keep = _only(facts, rule)
    if when.band is not None:
        keep &= facts["band"] == when.band
    if when.drop is not None:
        keep &= facts["change"].fillna(np.inf) <= -when.drop.points
    if when.renewal is not None:
        days = facts["days_to_renewal"]
        keep &= days.notna() & (days >= 0) & (days <= when.renewal.within_days)
        keep &= facts["band"].isin(when.renewal.bands)
    if when.probability is not None:
        p = _probabilities(r, card, as_of, when.probability.target)
        facts["probability"] = facts["account_id"].map(p).astype(float)
        keep &= facts["probability"].fillna(-1) >= when.probability.at_least
    for measure, params, op, bound in library_conditions(when):
        if not keep.any():
            break
        values = library.values(measure, params, as_of)
        v = facts["account_id"].map(values).astype(float)
        keep &= v.notna() & _COMPARE[op](v.fillna(0), bound)
        facts["value"] = v
    return facts.loc[keep, FACTS].reset_index(drop=True)


def _probabilities(r: Reader, card: Card, as_of: date, target: str) -> pd.Series:
    rows = r.arrow("SELECT account_id, probability FROM predictions WHERE scorecard = ? AND "
                   "target = ? AND as_of = ?", [card.name, target, as_of]).to_pandas()
    return rows.set_index("account_id")["probability"]


class LibraryMeasures:
    """Library measures for every active account on a date, point in time, as scoring
    computes them: each (measure, parameters) compiled to SQL once, with its cutoff read
    from a DuckDB variable, so a replay over a year compiles nothing per date. ``con``: the
    store's DuckDB connection."""

    def __init__(self, con):
        self.con = con  # the store's DuckDB connection
        self._ctx = None
        self.sql: dict[tuple, str] = {}

    @property
    def ctx(self):
        """The measure context (built on first use: Ibis loads only when a rule needs a
        library measure)."""
        if self._ctx is None:
            import ibis

            from healthscore.measures.base import MeasureContext

            self._ctx = MeasureContext(ibis.duckdb.from_connection(self.con), date(2000, 1, 1),
                                       variables=True)
        return self._ctx

    def values(self, measure: str, params: dict, as_of: date) -> pd.Series:
        """account_id → value (missing where the measure's tables hold no data yet)."""
        import json

        import ibis

        from healthscore.measures.base import (
            CUTOFF_VARIABLE,
            cutoff_of,
            get_measure,
            measure_expression,
        )

        spec = get_measure(measure)
        self.ctx.as_of = as_of  # what has_data() compares with (the cutoff lives in SQL)
        if not all(self.ctx.has_data(t) for t in spec.tables):
            return pd.Series(dtype=float)
        key = (measure, json.dumps(params, sort_keys=True, default=str))
        if key not in self.sql:
            expr = measure_expression(self.ctx, spec, spec.parse_params(params))
            self.sql[key] = str(ibis.to_sql(expr, "duckdb"))
        self.con.execute(f"SET VARIABLE {CUTOFF_VARIABLE} = ?::TIMESTAMP", [cutoff_of(as_of)])
        found = self.con.sql(self.sql[key]).df()
        return found.set_index("account_id")["value"]
