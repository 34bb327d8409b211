"""Engagement measures: how recently and how often the CS team and the customer meet."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure
from healthscore.schemas import TABLES

Kind = Literal[TABLES["touchpoints"].column("kind").allowed]  # type: ignore[valid-type]


class Kinds(Params):
    kinds: list[Kind] | None = Field(
        None, min_length=1, description="Only touchpoints of these kinds count. Default: all.")


class Window(Kinds):
    window_days: int = Field(90, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date.")


class QbrWindow(Params):
    window_days: int = Field(120, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date (a quarter plus a month's slack).")


def _touchpoints(ctx: MeasureContext, kinds: list[str] | None):
    t = ctx.table("touchpoints")
    return t if kinds is None else t.filter(t.kind.isin(kinds))


@measure("days_since_last_touchpoint", family="engagement", unit="days", params=Kinds,
         tables=("touchpoints",))
def days_since_last_touchpoint(ctx: MeasureContext, p: Kinds):
    """Days from the last touchpoint (of the given ``kinds``) to the end of the as-of date.

    Unit: days (fractional: 2.5 = noon two days before the as-of date). Missing for an
    account that never had such a touchpoint.
    """
    t = _touchpoints(ctx, p.kinds)
    last = t.group_by("account_id").aggregate(last=t.occurred_at.max())
    return last.select("account_id", value=ctx.days_before_cutoff(last["last"]))


@measure("qbr_held", family="engagement", unit="yes/no (1/0)", params=QbrWindow,
         tables=("touchpoints",), absent=0.0)
def qbr_held(ctx: MeasureContext, p: QbrWindow):
    """Whether a quarterly business review (a ``qbr`` touchpoint) took place in the window.

    Unit: yes/no, 1 or 0.
    """
    t = ctx.table("touchpoints")
    t = t.filter((t.kind == "qbr") & (t.occurred_at >= ctx.since(p.window_days)))
    return t.select("account_id").distinct().mutate(value=1.0)


@measure("touchpoints", family="engagement", unit="touchpoints", params=Window,
         tables=("touchpoints",), absent=0.0)
def touchpoints(ctx: MeasureContext, p: Window):
    """Number of touchpoints (of the given ``kinds``) in the window.

    Unit: touchpoints.
    """
    t = _touchpoints(ctx, p.kinds)
    t = t.filter(t.occurred_at >= ctx.since(p.window_days))
    return t.group_by("account_id").aggregate(value=t.count())
