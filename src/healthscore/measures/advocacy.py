"""Advocacy measures: customers speaking up for the product (reviews, referrals, case studies)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure
from healthscore.schemas import TABLES

Kind = Literal[TABLES["advocacy"].column("kind").allowed]  # type: ignore[valid-type]


class Window(Params):
    window_days: int = Field(365, gt=0, le=1095, description="Length of the window, in days, "
                             "ending at the as-of date.")
    kinds: list[Kind] | None = Field(
        None, min_length=1, description="Only these kinds of advocacy count. Default: all.")


@measure("advocacy_events", family="advocacy", unit="events", params=Window,
         tables=("advocacy",), absent=0.0)
def advocacy_events(ctx: MeasureContext, p: Window):
    """Number of advocacy events (of the given ``kinds``) in the window.

    Unit: events (a review, a referral, a case study, … each count one).
    """
    a = ctx.table("advocacy")
    a = a.filter(a.occurred_at >= ctx.since(p.window_days))
    if p.kinds is not None:
        a = a.filter(a.kind.isin(p.kinds))
    return a.group_by("account_id").aggregate(value=a.count())
