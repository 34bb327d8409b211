"""The measure framework: a point-in-time view of the store, and the registry of measures.

A measure is a small function ``fn(ctx, params) -> ibis.Table`` returning one row per account
that has data, with columns ``account_id`` and ``value`` (float). It reads the store only through
:class:`MeasureContext`, which shows each table *as of* a date: only rows that existed then, state
tables as they were then, values not yet known hidden. So every measure is point-in-time correct
by construction, and engine-neutral (Ibis expressions run on DuckDB or Spark alike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, ValidationError

from healthscore.errors import ConfigError
from healthscore.measures.cutoff import CUTOFF_VARIABLE, cutoff_of, held_data, table_stats
from healthscore.schemas import TABLES, Table

#: The columns every measure result has.
RESULT_COLUMNS = ("account_id", "value")


#: Ibis types of the canonical column types (for columns a store does not have yet).
_IBIS_TYPES = {"string": "string", "integer": "int64", "number": "float64", "date": "date",
               "timestamp": "timestamp", "boolean": "boolean", "json": "json"}


class NoParams(BaseModel):
    """This measure takes no parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Params(BaseModel):
    """Base of measure parameter models (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@ibis.udf.scalar.builtin(name="getvariable")
def _variable_ts(name: str) -> dt.Timestamp(scale=6):  # type: ignore[valid-type]
    """DuckDB's GETVARIABLE, typed as a timestamp."""


@dataclass
class MeasureContext:
    """The store as of the end of ``as_of`` (UTC), for measures to read.

    Parameters
    ----------
    backend
        An Ibis backend connected to the store (DuckDB by default).
    as_of
        The scoring date. Data up to the end of that day counts: the cutoff is the next midnight.
    variables
        Build expressions whose cutoff is read from the DuckDB variable ``hs_cutoff`` instead of
        a literal, so one compiled query serves every date (set the variable, run it again).
        Measures cannot tell the difference: they only use :attr:`cutoff`, :meth:`since`,
        :attr:`as_of_date` and :meth:`since_date`, never ``as_of`` itself.
    active_table
        With ``variables``: :meth:`accounts` reads this table (its schema taken from the
        active-accounts expression) instead of computing the active accounts in every measure's
        query; whoever runs the compiled SQL fills it per date (the DuckDB evaluator does).
    """

    backend: Any
    as_of: date
    variables: bool = False
    active_table: str | None = None
    _cache: dict[str, ir.Table] = field(default_factory=dict, repr=False)
    _has_data: dict[str, bool] = field(default_factory=dict, repr=False)
    _stats: dict[str, tuple[int, Any]] | None = field(default=None, repr=False)

    @property
    def cutoff_dt(self) -> datetime:
        return cutoff_of(self.as_of)

    @property
    def cutoff(self) -> ir.TimestampScalar:
        """The first moment *not* included (midnight after ``as_of``)."""
        if self.variables:
            return _variable_ts(CUTOFF_VARIABLE).name("hs_cutoff")
        return ibis.timestamp(self.cutoff_dt)

    @property
    def as_of_date(self) -> ir.DateScalar:
        """The as-of date (the day before the cutoff)."""
        if self.variables:
            return (self.cutoff - ibis.interval(days=1)).date()
        return ibis.date(self.as_of)

    def since(self, days: int) -> ir.TimestampScalar:
        """Start of a window of the last ``days`` days up to the cutoff."""
        if self.variables:
            return self.cutoff - ibis.interval(days=days)
        return ibis.timestamp(self.cutoff_dt - timedelta(days=days))

    def days_before_cutoff(self, moment: ir.TimestampValue) -> ir.FloatingValue:
        """Days (fractional) from ``moment`` to the cutoff: 0.25 = six hours before it."""
        return (self.cutoff.epoch_seconds() - moment.epoch_seconds()) / 86400

    def since_date(self, days: int) -> ir.DateScalar:
        """The first day of a window of the last ``days`` days ending on the as-of date."""
        return self.since(days).date()

    def table(self, name: str) -> ir.Table:
        """Canonical table ``name`` as it was known at the cutoff.

        - rows whose time column is after the cutoff are left out;
        - state tables show the version valid at the cutoff;
        - later facts about earlier rows are hidden: a ticket closed after the cutoff is open, an
          invoice paid after it is unpaid, a CSAT given at a later close is not there yet.
        """
        if name not in self._cache:
            self._cache[name] = self._as_of(TABLES[name])
        return self._cache[name]

    def _as_of(self, spec: Table) -> ir.Table:
        t = self.backend.table(spec.name)
        cut, day = self.cutoff, self.as_of_date
        if spec.kind == "state":
            t = t.filter((t._valid_from.isnull() | (t._valid_from < cut))
                         & (t._valid_to.isnull() | (t._valid_to >= cut)))
            if spec.time is not None and spec.column(spec.time).not_future:
                # a user created after the cutoff did not exist yet
                t = t.filter(t[spec.time].isnull() | (t[spec.time] < cut))
        elif spec.time is not None:
            col = t[spec.time]
            t = t.filter(col < cut if spec.column(spec.time).type == "timestamp" else col <= day)
        hidden: dict[str, ir.Value] = {}
        for c in spec.columns:
            if c.not_future and c.name != spec.time:
                later = t[c.name] >= cut if c.type == "timestamp" else t[c.name] > day
                hidden[c.name] = ibis.ifelse(later, ibis.null(t[c.name].type()), t[c.name])
        for c in spec.columns:
            if c.known_with:
                w = spec.column(c.known_with)
                later = t[w.name] >= cut if w.type == "timestamp" else t[w.name] > day
                unknown = t[w.name].isnull() | later
                hidden[c.name] = ibis.ifelse(unknown, ibis.null(t[c.name].type()), t[c.name])
        # a store not migrated yet (opened read-only) lacks the columns added later: empty
        hidden |= {c.name: ibis.null(_IBIS_TYPES[c.type]) for c in spec.columns
                   if c.added and c.name not in t.columns}
        t = t.mutate(**hidden) if hidden else t
        return t.select(*spec.column_names)

    def accounts(self) -> ir.Table:
        """The customers active at ``as_of``: contract started, not churned yet.

        An account has churned when its (as-of) ``churned_at`` is on or before ``as_of`` or a
        renewal on or before ``as_of`` has the outcome ``churned``.
        """
        if self.active_table is None:
            return self.active_accounts()
        if "_active_table" not in self._cache:
            self._cache["_active_table"] = ibis.table(self.active_accounts().schema(),
                                                      name=self.active_table)
        return self._cache["_active_table"]

    def active_accounts(self) -> ir.Table:
        """:meth:`accounts` computed from the accounts and renewals (what ``active_table``
        holds, when one is named)."""
        if "_active_accounts" not in self._cache:
            a = self.table("accounts")
            day = self.as_of_date
            r = self.table("renewals")
            churned = r.filter((r.outcome == "churned") & (r.renewal_date <= day)).select(
                "account_id").distinct()
            active = a.filter((a.contract_start.isnull() | (a.contract_start <= day))
                              & (a.churned_at.isnull() | (a.churned_at > day)))
            self._cache["_active_accounts"] = active.anti_join(churned, "account_id")
        return self._cache["_active_accounts"]

    def table_stats(self) -> dict[str, tuple[int, Any]]:
        """Rows and earliest time of every canonical table (one query each, cached)."""
        if self._stats is None:
            con = getattr(self.backend, "con", None) if self.backend.name == "duckdb" else None
            if con is not None:  # plain SQL: no expression to compile per table
                self._stats = table_stats(con)
            else:
                self._stats = {}
                for spec in TABLES.values():
                    t = self.backend.table(spec.name)
                    first = t[spec.time].min() if spec.time else ibis.null()
                    rows, earliest = t.aggregate(n=t.count(), first=first).execute().iloc[0]
                    self._stats[spec.name] = (int(rows),
                                              None if earliest != earliest else earliest)
        return self._stats

    def has_data(self, name: str) -> bool:
        """Whether table ``name`` held any row by the cutoff (False: that data is missing).

        Decided from the table's earliest time, so it costs nothing per date.
        """
        return held_data(self.table_stats(), name, self.as_of)


MeasureFn = Callable[[MeasureContext, Any], ir.Table]


@dataclass(frozen=True)
class MeasureSpec:
    """A registered measure.

    ``tables`` are the canonical tables it reads: when one of them holds no data at all as of the
    date, the measure is missing for every account. ``absent`` is the value of an active account
    with no rows in the result while the tables do hold data (0 for a count of tickets).
    """

    name: str
    family: str
    unit: str
    fn: MeasureFn
    params: type[BaseModel]
    tables: tuple[str, ...]
    absent: float | None
    doc: str
    #: The set-based form for many dates at once (DuckDB): see healthscore.measures.rollup.
    batch: Callable[[Any], Any] | None = None

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    def parse_params(self, raw: dict[str, Any], where: str = "") -> BaseModel:
        """Validate ``params`` from a scorecard; errors name the measure and the key."""
        try:
            return self.params.model_validate(raw or {})
        except ValidationError as exc:
            problems = [f"{where}params.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors()]
            raise ConfigError(f"invalid params for measure {self.name!r}", problems=problems,
                              hint=f"see `{self.name}` in docs/measures.md") from None


REGISTRY: dict[str, MeasureSpec] = {}

FAMILIES = ("usage", "support", "sentiment", "engagement", "relationship", "advocacy",
            "financial", "enablement", "roi", "manual", "lifecycle")


def measure(name: str, *, family: str, unit: str, params: type[BaseModel] = NoParams,
            tables: tuple[str, ...] = (), absent: float | None = None,
            batch: Callable[[Any], Any] | None = None) -> Callable[[MeasureFn], MeasureFn]:
    """Register a measure function under ``name`` (its docstring is its documentation)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown measure family {family!r}")

    def register(fn: MeasureFn) -> MeasureFn:
        if name in REGISTRY:
            raise ValueError(f"measure {name!r} registered twice")
        REGISTRY[name] = MeasureSpec(name, family, unit, fn, params, tables, absent,
                                     fn.__doc__ or "", batch)
        return fn

    return register


def get_measure(name: str) -> MeasureSpec:
    from healthscore.measures import load_library

    load_library()

    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown measure {name!r}",
            hint="see docs/measures.md for the built-in measures, or write a `custom:` "
                 "measure") from None


def evaluate_measure(ctx: MeasureContext, spec: MeasureSpec, params: BaseModel) -> ir.Table:
    """``spec`` for every active account: (account_id, value), value NULL where missing."""
    if any(not ctx.has_data(t) for t in spec.tables):
        return ctx.accounts().select("account_id").mutate(value=ibis.null("float64"))
    return measure_expression(ctx, spec, params)


def measure_expression(ctx: MeasureContext, spec: MeasureSpec, params: BaseModel) -> ir.Table:
    """(account_id, value) for every active account, ignoring whether the tables hold data
    (the caller decides that per date: see :meth:`MeasureContext.has_data`)."""
    accounts = ctx.accounts().select("account_id")
    result = spec.fn(ctx, params).select(account_id="account_id",
                                         value=lambda t: t.value.cast("float64"),
                                         _found=ibis.literal(True))
    joined = accounts.left_join(result, "account_id")
    value = joined.value
    if spec.absent is not None:
        # Only accounts without a result row get the absent value; a NULL the measure returned
        # itself stays missing.
        value = ibis.ifelse(joined._found.isnull(), ibis.literal(spec.absent, "float64"), value)
    return joined.select(accounts.account_id, value=value)
