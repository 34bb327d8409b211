"""The measure reference (docs/measures.md), rendered from the registry.

``python -m healthscore.measures.reference > docs/measures.md`` rewrites it; a test fails when
the page is stale or a measure lacks a unit, a docstring or a described parameter.
"""

from __future__ import annotations

import inspect
import json
import types
import typing

from pydantic import BaseModel

from healthscore.measures import REGISTRY
from healthscore.measures.base import FAMILIES, MeasureSpec

_INTRO = """\
# Measure reference

A measure turns the canonical tables (see [data.md](data.md)) into one raw number per active
account, as of a date: only data that existed at the end of that day counts, and the account
attributes are the ones the CRM gave then. A scorecard picks measures by name and sets their
`params` (see [scorecards.md](scorecards.md)); its `scoring` turns the raw value into 0-100.

**Active accounts.** Only accounts whose contract has started and that have not churned by the
as-of date are scored.

**Windows.** `window_days: 30` covers the 30 days up to and including the as-of date.

**Missing data.** When a table a measure reads holds no data at all as of the date, the measure
is missing for every account (the scorecard's missing-data policy applies). When the table has
data but an account has none, the *no rows* value applies: 0 for counts, *missing* where a
value without data would be a guess (an average of nothing).

This page is generated from the measures' own code and docstrings
(`python -m healthscore.measures.reference > docs/measures.md`); a test fails when the two
disagree.
"""

_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean",
            type(None): "null"}


def type_name(annotation: typing.Any) -> str:
    """A parameter type in words: ``list[Literal['a', 'b']] | None`` → list of `a`, `b` or null."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is list:
        inner = type_name(args[0]) if args else "any"
        return "list of " + inner.removeprefix("one of ")
    return getattr(annotation, "__name__", str(annotation))


def _params_table(model: type[BaseModel]) -> list[str]:
    if not model.model_fields:
        return ["No parameters."]
    out = ["| param | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            default = "" if value is None else f"`{json.dumps(value)}`"
        out.append(f"| `{name}` | {type_name(field.annotation)} | {default} | "
                   f"{field.description or ''} |")
    return out


def _measure_section(spec: MeasureSpec) -> list[str]:
    doc = inspect.cleandoc(spec.doc)
    body = doc.split("\n", 1)[1].strip() if "\n" in doc else ""
    tables = ", ".join(f"`{t}`" for t in spec.tables) or "`accounts` only"
    absent = "missing" if spec.absent is None else f"{spec.absent:g}"
    out = [f"### `{spec.name}`", "", spec.summary, "",
           f"- **Unit:** {spec.unit}",
           f"- **Reads:** {tables}",
           f"- **No rows:** {absent}", ""]
    if body:
        out += [body, ""]
    out += _params_table(spec.params)
    out.append("")
    return out


def render_markdown() -> str:
    """The measure reference page as Markdown: per family, each measure and its params."""
    by_family: dict[str, list[MeasureSpec]] = {f: [] for f in FAMILIES}
    for spec in REGISTRY.values():
        by_family[spec.family].append(spec)
    out = [_INTRO, "| measure | family | unit | summary |", "|---|---|---|---|"]
    for family, specs in by_family.items():
        for spec in sorted(specs, key=lambda s: s.name):
            out.append(f"| [`{spec.name}`](#{spec.name}) | {family} | {spec.unit} | "
                       f"{spec.summary} |")
    out.append("")
    for family, specs in by_family.items():
        if not specs:
            continue
        out += [f"## {family}", ""]
        module = inspect.getmodule(specs[0].fn)
        if module is not None and module.__doc__:
            out += [inspect.cleandoc(module.__doc__), ""]
        for spec in sorted(specs, key=lambda s: s.name):
            out += _measure_section(spec)
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover - documented generator
    print(render_markdown(), end="")
