"""ROI measures: business goals the customer has achieved with the product."""

from __future__ import annotations

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure


class Window(Params):
    window_days: int | None = Field(None, gt=0, description="Count only goals achieved in this "
                                    "many days up to the as-of date. Default: since the start.")


@measure("goals_achieved", family="roi", unit="goals", params=Window, tables=("outcomes",),
         absent=0.0)
def goals_achieved(ctx: MeasureContext, p: Window):
    """Number of business goals achieved by the as-of date (or within ``window_days``).

    Unit: goals.
    """
    o = ctx.table("outcomes")
    if p.window_days is not None:
        o = o.filter(o.achieved_at >= ctx.since(p.window_days))
    return o.group_by("account_id").aggregate(value=o.count())
