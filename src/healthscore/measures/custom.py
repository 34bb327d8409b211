"""Custom measures: a small SQL subset, checked and compiled to Ibis, never evaluated.

A scorecard's ``custom: {table, aggregate, where, window_days, per, absent, unit}`` is parsed by
sqlglot (DuckDB dialect) into a syntax tree, checked against the grammar below and the table's
columns, then compiled node by node into Ibis expressions. No text reaches Python's ``eval`` or
the engine as SQL, so a measure runs on any Ibis backend, and a spec outside the grammar is
refused before any data is read.

Grammar. Both keys: the table's columns, number / string / TRUE / FALSE literals, ``+ - * /``,
unary minus, ``= <> != < <= > >=``, ``AND OR NOT``, ``IN (literal, …)``, ``BETWEEN``,
``IS [NOT] NULL``, ``[NOT] LIKE`` / ``ILIKE``, parentheses, ``coalesce abs lower upper``, the
numeric functions ``ln log log10 log2 sqrt round floor ceil greatest least``, casts
(``CAST(x AS DOUBLE)``, ``x::DATE``, ``TRY_CAST``; to a number, integer, text, date, time or
boolean) and the date functions ``date_diff('day', start, end)`` and ``epoch(time)`` (NULL only
in ``IS [NOT] NULL`` and ``coalesce``); a date or time column compares with an ISO string
(``timestamp >= '2026-06-01'``). A function outside the grammar is named as it was written. ``where`` is one condition on a row. ``aggregate`` is
one number built from ``count(*)``, ``count(x)``, ``count(DISTINCT x)``, ``sum(x)``, ``avg(x)``,
``min(x)``, ``max(x)`` (``x`` a row expression over a column), literals, arithmetic and those
functions, e.g. ``sum(quantity) / count(DISTINCT user_id)``. Division by zero gives NULL.
"""

from __future__ import annotations

import operator
import re
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from healthscore.config.scorecard import CustomMeasure
from healthscore.errors import ConfigError
from healthscore.measures.base import MeasureContext
from healthscore.schemas import TABLES, Table

__all__ = ["check_custom", "compile_custom"]

_DIALECT = "duckdb"
_MAX_CHARS = 1000
_AGGREGATES = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min",
               exp.Max: "max"}
_SCALARS = {exp.Coalesce: "coalesce", exp.Abs: "abs", exp.Lower: "lower", exp.Upper: "upper"}
#: Numeric functions: numbers in, a number out.
_MATH = {exp.Ln: "ln", exp.Log: "log", exp.Sqrt: "sqrt", exp.Round: "round",
         exp.Floor: "floor", exp.Ceil: "ceil", exp.Greatest: "greatest", exp.Least: "least"}
#: Cast targets: the SQL type names a cast may name, and the kind and Ibis type they give.
_CASTS = {"DOUBLE": ("number", "float64"), "FLOAT": ("number", "float64"),
          "DECIMAL": ("number", "float64"), "REAL": ("number", "float64"),
          "BIGINT": ("number", "int64"), "INT": ("number", "int64"),
          "SMALLINT": ("number", "int64"), "VARCHAR": ("string", "string"),
          "TEXT": ("string", "string"), "DATE": ("date", "date"),
          "TIMESTAMP": ("timestamp", "timestamp"), "BOOLEAN": ("boolean", "boolean")}
_DATE_UNITS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second")
#: Every function name the grammar knows, as a user may write it.
_FUNCTION_NAMES = frozenset({
    "count", "sum", "avg", "min", "max", "coalesce", "abs", "lower", "upper", "ln", "log",
    "log10", "log2", "sqrt", "round", "floor", "ceil", "ceiling", "greatest", "least", "cast",
    "try_cast", "date_diff", "datediff", "epoch", "distinct"})
_ARITH = {exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul,
          exp.Div: lambda a, b: a / b.nullif(0)}
_COMPARE = {exp.EQ: operator.eq, exp.NEQ: operator.ne, exp.LT: operator.lt,
            exp.LTE: operator.le, exp.GT: operator.gt, exp.GTE: operator.ge}
_LOGIC = {exp.And: operator.and_, exp.Or: operator.or_}
#: Arguments a node may carry besides ``this`` and ``expression`` (parser flags are falsy);
#: anything else (ESCAPE, FILTER, OVER, a subquery in IN, …) is refused.
_ARGS: dict[type, set[str]] = {
    exp.Column: {"table"}, exp.Literal: {"is_string"}, exp.Count: {"big_int"},
    exp.Div: {"typed", "safe"}, exp.In: {"expressions"}, exp.Between: {"low", "high"},
    exp.Like: {"negate"}, exp.ILike: {"negate"}, exp.Coalesce: {"expressions"},
    exp.Round: {"decimals"}, exp.Greatest: {"expressions", "ignore_nulls"},
    exp.Least: {"expressions", "ignore_nulls"}, exp.Cast: {"to"}, exp.TryCast: {"to", "safe"},
    exp.DateDiff: {"unit", "date_part_boundary"}}
_KINDS = {"string": "string", "integer": "number", "number": "number", "date": "date",
          "timestamp": "timestamp", "boolean": "boolean", "json": "json"}
_ROW_FUNCS = ("coalesce, abs, lower, upper, ln, log, log10, log2, sqrt, round, floor, ceil, "
              "greatest, least, CAST/TRY_CAST/::, date_diff('day', start, end), epoch")
_AGG_FUNCS = "count, sum, avg, min, max, count(DISTINCT …)"
_GRAMMAR = ("columns, literals, + - * /, comparisons, AND/OR/NOT, IN (…), BETWEEN, "
            "IS [NOT] NULL, LIKE/ILIKE, " + _ROW_FUNCS)


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect=_DIALECT, comments=False)


def _column_name(spec: Table, node: exp.Column) -> str | None:
    """The canonical column ``node`` names (unquoted names are case-insensitive), or None."""
    if node.name in spec.column_names:
        return node.name
    quoted = isinstance(node.this, exp.Identifier) and node.this.quoted
    return node.name.lower() if not quoted and node.name.lower() in spec.column_names else None


class _Checker:
    """Walks one parsed expression, returning each node's kind and collecting problems.

    ``level`` is ``row`` (in ``where``), ``group`` (the top of ``aggregate``: aggregates
    allowed, bare columns not) or ``inside`` (the argument of an aggregate).
    """

    def __init__(self, key: str, spec: Table, text: str = ""):
        self.key, self.spec, self.text = key, spec, text
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        if f"{self.key}: {message}" not in self.problems:
            self.problems.append(f"{self.key}: {message}")

    def visit(self, node: exp.Expression, level: str) -> str | None:
        """The kind of ``node``'s value (number, string, boolean, date, timestamp, null)."""
        t = type(node)
        allowed = {"this", "expression", *_ARGS.get(t, ())}
        if any(v for k, v in node.args.items() if k not in allowed):
            return self.refuse(node)
        if t is exp.Paren:
            return self.visit(node.this, level)
        if t is exp.Column:
            return self.column(node, level)
        if t in (exp.Literal, exp.Boolean, exp.Null):
            return {exp.Boolean: "boolean", exp.Null: "null"}.get(
                t, "string" if node.is_string else "number")
        operands = [n for n in (node.this, node.args.get("expression")) if n is not None]
        if t in _ARITH or t is exp.Neg:
            return self.expect(node, operands, level, "number", "arithmetic", "number")
        if t in _LOGIC or t is exp.Not:
            return self.expect(node, operands, level, "boolean", "AND/OR/NOT", "boolean")
        if t in (exp.Like, exp.ILike):
            return self.expect(node, operands, level, "string", "LIKE", "boolean")
        if t in _COMPARE or t is exp.Between:
            rights = [node.expression] if t in _COMPARE else [node.args["low"], node.args["high"]]
            return self.compare(node, rights, level)
        if t is exp.In:
            if not all(isinstance(i, (exp.Literal, exp.Boolean)) for i in node.expressions):
                self.fail(f"`{_sql(node)}`: IN takes a list of literal values, e.g. "
                          "event IN ('report.created', 'report.shared')")
                return "boolean"
            return self.compare(node, node.expressions, level)
        if t is exp.Is:
            if not isinstance(node.expression, exp.Null):
                self.fail(f"`{_sql(node)}`: IS only tests for NULL (IS NULL, IS NOT NULL)")
            self.visit(node.this, level)
            return "boolean"
        if t in _AGGREGATES:
            return self.aggregate(node, level)
        if t is exp.Coalesce:
            kinds = {self.visit(n, level) for n in (node.this, *node.expressions)} - {"null"}
            if None not in kinds and len(kinds) > 1:
                self.fail(f"`{_sql(node)}`: coalesce needs values of one kind, got "
                          f"{' and '.join(sorted(kinds))}")
            return min(kinds - {None}, default="null")
        if t in _SCALARS:
            kind = "number" if t is exp.Abs else "string"
            return self.expect(node, operands, level, kind, f"{_SCALARS[t]}()", kind)
        if t in _MATH:
            digits = node.args.get("decimals")
            if digits is not None and not (isinstance(digits, exp.Literal)
                                           and digits.this.isdigit()):
                self.fail(f"`{_sql(node)}`: round() takes a whole number of decimals, e.g. "
                          "round(x, 2)")
            args = operands + list(node.expressions)
            return self.expect(node, args, level, "number", f"{_MATH[t]}()", "number")
        if t in (exp.Cast, exp.TryCast):
            target = node.args["to"].this.name if node.args.get("to") else ""
            if target not in _CASTS:
                self.fail(f"`{_sql(node)}`: cast to {target.lower() or '?'} is not allowed; "
                          "cast to DOUBLE, BIGINT, VARCHAR, DATE, TIMESTAMP or BOOLEAN")
                return None
            self.visit(node.this, level)
            return _CASTS[target][0]
        if t is exp.DateDiff:
            unit = node.args.get("unit")
            if unit is None or unit.name.lower() not in _DATE_UNITS:
                self.fail(f"`{_sql(node)}`: date_diff takes a unit first, one of "
                          f"{', '.join(_DATE_UNITS)} (e.g. date_diff('day', opened_at, "
                          "closed_at))")
            for n in operands:
                if self.visit(n, level) not in ("date", "timestamp", "string", "null", None):
                    self.fail(f"`{_sql(node)}`: date_diff compares dates or times")
            return "number"
        if t is exp.TimeToUnix:
            if self.visit(node.this, level) not in ("date", "timestamp", None):
                self.fail(f"`{_sql(node)}`: epoch() takes a date or time")
            return "number"
        return self.refuse(node)

    def refuse(self, node: exp.Expression) -> None:
        if isinstance(node, (exp.Query, exp.Subquery)) or node.args.get("query"):
            self.fail(f"subqueries are not allowed (`{_sql(node)}`); a custom measure reads "
                      f"only {self.spec.name}, filtered by `where`")
        elif isinstance(node, exp.Window):
            self.fail(f"window functions (… OVER …) are not allowed: `{_sql(node)}`")
        elif isinstance(node, exp.Star):
            self.fail("`*` is only allowed in count(*)")
        elif isinstance(node, exp.Placeholder):
            self.fail("query parameters (`?`, `$1`) are not allowed; write the value")
        elif isinstance(node, exp.Func) and type(node) not in _AGGREGATES | _SCALARS:
            written = [m for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", self.text)
                       if m.lower() not in _FUNCTION_NAMES]
            name = written[0] if written else (
                node.name if isinstance(node, exp.Anonymous) else node.sql_name().lower())
            allowed = _ROW_FUNCS if self.key == "where" else f"{_AGG_FUNCS}, {_ROW_FUNCS}"
            self.fail(f"function {name!r} is not allowed; allowed: {allowed}")
        else:
            self.fail(f"`{_sql(node)}` is not allowed; allowed: {_GRAMMAR}")

    def column(self, node: exp.Column, level: str) -> str | None:
        spec = self.spec
        if isinstance(node.this, exp.Star):
            return self.refuse(node.this)
        if node.table and node.table != spec.name:
            hint = ", and divides by an accounts column with `per`" * (node.table == "accounts")
            self.fail(f"column `{_sql(node)}` is from another table; a custom measure reads "
                      f"only its table ({spec.name}){hint}")
            return None
        name = _column_name(spec, node)
        if name is None:
            elsewhere = [t.name for t in TABLES.values() if node.name in t.column_names]
            note = (f" ({node.name!r} is a column of {', '.join(elsewhere)}; a custom measure "
                    "reads one table)") if elsewhere else ""
            self.fail(f"unknown column {node.name!r} in table {spec.name}; its columns are "
                      f"{', '.join(spec.column_names)}{note}")
            return None
        if level == "group":
            self.fail(f"column {name!r} must be inside an aggregate, e.g. max({name}); "
                      f"allowed: {_AGG_FUNCS}")
        return _KINDS[spec.column(name).type]

    def operand(self, node: exp.Expression, level: str) -> str | None:
        """The kind of an operand, which may not be NULL (``x = NULL`` is never true)."""
        kind = self.visit(node, level)
        if kind == "null":
            self.fail("NULL is only allowed in IS [NOT] NULL and coalesce(); anything compared "
                      "or computed with NULL is NULL (write `x IS NULL`)")
        return None if kind == "null" else kind

    def expect(self, node: exp.Expression, operands: list[exp.Expression], level: str,
               wanted: str, what: str, result: str) -> str:
        for operand in operands:
            kind = self.operand(operand, level)
            if kind not in (wanted, None):
                self.fail(f"{what} needs {wanted} values, but `{_sql(operand)}` is a {kind} "
                          f"(in `{_sql(node)}`)")
        return result

    def compare(self, node: exp.Expression, rights: list[exp.Expression], level: str) -> str:
        left = self.operand(node.this, level)
        for right in rights:
            kind = self.operand(right, level)
            pair = {left, kind}
            if None in pair or len(pair) == 1 or pair == {"date", "timestamp"}:
                continue
            if pair <= {"date", "timestamp", "string"} and isinstance(right, exp.Literal):
                try:
                    datetime.fromisoformat(right.this)
                except ValueError:
                    self.fail(f"{right.this!r} is not a date or time (write e.g. '2026-06-30' "
                              f"or '2026-06-30 14:00:00') in `{_sql(node)}`")
                continue
            self.fail(f"cannot compare a {left} with a {kind} in `{_sql(node)}`")
        return "boolean"

    def aggregate(self, node: exp.Expression, level: str) -> str | None:
        name = _AGGREGATES[type(node)]
        if level != "group":
            where = "a row filter; put it in `aggregate`" if level == "row" else "an aggregate"
            self.fail(f"aggregate function {name!r} is not allowed inside {where}")
            return None
        arg = node.this
        if isinstance(arg, exp.Star):
            return "number" if name == "count" else self.refuse(arg)
        if isinstance(arg, exp.Distinct):
            if name != "count" or len(arg.expressions) != 1 or arg.args.get("on"):
                self.fail(f"`{_sql(node)}`: DISTINCT is allowed only as count(DISTINCT x), "
                          "with one expression")
                return None
            arg = arg.expressions[0]
        if arg is None or not arg.find(exp.Column):
            self.fail(f"`{_sql(node)}` aggregates no column; write e.g. count(*) or "
                      "sum(quantity)")
            return None
        kind = self.visit(arg, "inside")
        if name in ("sum", "avg") and kind not in ("number", None):
            self.fail(f"{name}() needs a number, but `{_sql(arg)}` is a {kind}")
        return "number" if name in ("count", "sum", "avg") else kind


def _parse(key: str, text: str, problems: list[str]) -> exp.Expression | None:
    """Parse one expression, or record why ``text`` is not one."""
    try:
        if len(text) > _MAX_CHARS:
            problems.append(f"{key}: too long ({len(text)} characters; at most {_MAX_CHARS})")
        elif any(t.token_type == TokenType.SEMICOLON for t in sqlglot.tokenize(text, _DIALECT)):
            problems.append(f"{key}: `;` is not allowed: write one expression, not statements")
        else:
            return sqlglot.parse_one(text, read=_DIALECT, into=exp.Condition)
        return None
    except (SqlglotError, RecursionError):
        pass
    try:  # not an expression: say what it is instead
        stmt = sqlglot.parse_one(text, read=_DIALECT)
        what = ("not one expression (aliases and clauses are not allowed)"
                if isinstance(stmt, (exp.Condition, exp.Alias))
                else f"a {stmt.key.upper()} statement, not an expression")
        example = "sum(quantity)" if key == "aggregate" else "event = 'login'"
        problems.append(f"{key}: `{text.strip()}` is {what}; write e.g. {example}")
    except (SqlglotError, RecursionError) as exc:
        err = (getattr(exc, "errors", None) or [{}])[0]
        near = f" near `{err['highlight']}`" if err.get("highlight") else ""
        problems.append(f"{key}: does not parse{near}: {str(exc).splitlines()[0]}")
    return None


def _analyse(custom: CustomMeasure) -> tuple[list[str], Any, Any]:
    """Problems, and the parsed ``aggregate`` and ``where`` trees."""
    problems: list[str] = []
    spec = TABLES.get(custom.table)
    if spec is None:
        problems.append(f"table: unknown table {custom.table!r}; the canonical tables are: "
                        f"{', '.join(TABLES)}")
    numeric = [c.name for c in TABLES["accounts"].columns if _KINDS[c.type] == "number"]
    if custom.per is not None and custom.per not in numeric:
        problems.append(f"per: {custom.per!r} is not a numeric accounts column; allowed: "
                        f"{', '.join(numeric)}")
    if spec is None:
        return problems, None, None
    trees: list[exp.Expression | None] = []
    for key, text in (("aggregate", custom.aggregate), ("where", custom.where)):
        tree = None if text is None else _parse(key, text, problems)
        trees.append(tree)
        if tree is None:
            continue
        checker = _Checker(key, spec, text)
        try:
            kind = checker.visit(tree, "group" if key == "aggregate" else "row")
        except RecursionError:
            kind, checker.problems = None, [f"{key}: too deeply nested"]
        problems += checker.problems
        if key == "where" and kind not in ("boolean", None):
            problems.append(f"where: must be a condition (true or false), but `{_sql(tree)}` "
                            f"is a {kind}")
        elif key == "aggregate" and not tree.find(*_AGGREGATES) and not checker.problems:
            problems.append(f"aggregate: needs an aggregate function ({_AGG_FUNCS}), "
                            "e.g. count(*) or sum(quantity)")
        elif key == "aggregate" and kind not in ("number", "null", None):
            problems.append(f"aggregate: must give a number, but `{_sql(tree)}` is a {kind}")
    return problems, *trees


def check_custom(custom: CustomMeasure) -> list[str]:
    """Problems with a custom measure, found without reading any data.

    Parameters
    ----------
    custom
        The ``custom:`` block of a scorecard measure.

    Returns
    -------
    list of str
        One line per problem, starting with the key it concerns (``table``, ``aggregate``,
        ``where``, ``per``) and saying what is allowed; empty when the measure is valid.

    Examples
    --------
    >>> from healthscore.config.scorecard import CustomMeasure
    >>> check_custom(CustomMeasure(table="usage_events", aggregate="count(DISTINCT user_id)",
    ...                            where="event IN ('report.created')", per="seats"))
    []
    >>> check_custom(CustomMeasure(table="usage_events", aggregate="count(*)", where="evnt = 1"))
    ["where: unknown column 'evnt' in table usage_events; its columns are account_id, user_id, event, timestamp, quantity"]
    """  # noqa: E501
    return _analyse(custom)[0]


_UNARY = {exp.Neg: operator.neg, exp.Not: operator.invert,
          **{t: operator.methodcaller(m) for t, m in {
              exp.Is: "isnull", exp.Abs: "abs", exp.Lower: "lower", exp.Upper: "upper",
              exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max"}.items()}}
_BINARY = {**_ARITH, **_COMPARE, **_LOGIC}


def _align(a: Any, b: Any) -> Any:
    """``b``, cast to ``a``'s type when it is a string compared with a date or time."""
    return b.cast(a.type()) if a.type().is_temporal() and b.type().is_string() else b


def _compile(node: exp.Expression, spec: Table, t: ir.Table) -> Any:
    """The Ibis expression of a checked syntax tree over table ``t``, built node by node."""
    kind = type(node)
    sub = (lambda n: _compile(n, spec, t))  # noqa: E731
    if kind is exp.Paren:
        return sub(node.this)
    if kind is exp.Column:
        return t[_column_name(spec, node)]
    if kind is exp.Literal:
        text = node.this
        return ibis.literal(text if node.is_string else int(text) if text.isdigit()
                            else float(text))
    if kind in (exp.Boolean, exp.Null):
        return ibis.literal(bool(node.this)) if kind is exp.Boolean else ibis.null()
    if kind is exp.Count:
        arg = node.this
        if isinstance(arg, exp.Star):
            return t.count()
        if isinstance(arg, exp.Distinct):
            return sub(arg.expressions[0]).nunique()
        return sub(arg).count()
    if kind in _UNARY:
        return _UNARY[kind](sub(node.this))
    left = sub(node.this)
    if kind in _BINARY:
        right = sub(node.expression)
        return _BINARY[kind](_align(right, left), _align(left, right))
    if kind is exp.Between:
        return left.between(*(_align(left, sub(node.args[k])) for k in ("low", "high")))
    if kind is exp.In:
        return left.isin([_align(left, sub(i)) for i in node.expressions])
    if kind in (exp.Like, exp.ILike):
        pattern = sub(node.expression)
        out = left.like(pattern) if kind is exp.Like else left.ilike(pattern)
        return ~out if node.args.get("negate") else out
    if kind is exp.Coalesce:
        return ibis.coalesce(left, *(sub(n) for n in node.expressions))
    if kind in _MATH:
        return _math(node, left, sub)
    if kind in (exp.Cast, exp.TryCast):
        to = _CASTS[node.args["to"].this.name][1]
        return left.try_cast(to) if kind is exp.TryCast else left.cast(to)
    if kind is exp.DateDiff:  # date_diff(unit, start, end): sqlglot keeps end as `this`
        start = sub(node.expression)
        return _align(start, left).delta(_align(left, start), unit=node.args["unit"].name.lower())
    if kind is exp.TimeToUnix:
        return left.epoch_seconds()
    raise ConfigError(f"cannot compile `{_sql(node)}`")  # unreachable once checked


def _math(node: exp.Expression, left: Any, sub) -> Any:
    kind = type(node)
    if kind is exp.Log:  # log(x) is base 10 in DuckDB; log(b, x), log10(x), log2(x)
        x = node.args.get("expression")
        return left.log10() if x is None else sub(x).log(left)
    if kind is exp.Round:
        digits = node.args.get("decimals")
        return left.round(int(digits.this) if digits is not None else 0)
    if kind in (exp.Greatest, exp.Least):
        pick = ibis.greatest if kind is exp.Greatest else ibis.least
        return pick(left, *(sub(n) for n in node.expressions))
    return {exp.Ln: left.ln, exp.Sqrt: left.sqrt, exp.Floor: left.floor,
            exp.Ceil: left.ceil}[kind]()


def compile_custom(ctx: MeasureContext, custom: CustomMeasure) -> ir.Table:
    """A custom measure as an Ibis table of ``account_id`` and ``value`` (float64).

    Rows of ``custom.table`` as of ``ctx`` are filtered by ``where`` and the window (the last
    ``window_days`` days up to the as-of date, by the table's time column), grouped by account
    and aggregated; ``per`` divides by that column of the active accounts (NULL where it is 0
    or NULL). Accounts without matching rows are absent. Nothing is executed.

    Parameters
    ----------
    ctx
        The point-in-time view of the store.
    custom
        The ``custom:`` block of a scorecard measure.

    Returns
    -------
    ibis.Table
        ``account_id`` and ``value`` (float64), one row per account with matching rows.

    Raises
    ------
    ConfigError
        When :func:`check_custom` finds problems (in ``problems``); the store is not touched.
    """
    problems, agg, where = _analyse(custom)
    if problems:
        raise ConfigError(f"invalid custom measure on table {custom.table!r}", problems=problems,
                          hint="see the custom measure grammar in docs/scorecards.md")
    spec = TABLES[custom.table]
    t = ctx.table(spec.name)
    if where is not None:
        t = t.filter(_compile(where, spec, t))
    if custom.window_days is not None:
        since = ctx.since(custom.window_days)
        is_time = spec.column(spec.time).type == "timestamp"
        t = t.filter(t[spec.time] >= (since if is_time else since.date()))
    out = t.group_by("account_id").aggregate(value=_compile(agg, spec, t).cast("float64"))
    if custom.per is not None:
        j = out.join(ctx.accounts().select("account_id", custom.per), "account_id")
        out = j.select("account_id", value=(j.value / j[custom.per].nullif(0)).cast("float64"))
    return out
