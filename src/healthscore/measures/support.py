"""Support measures: open and urgent tickets, how fast they are solved, how satisfied people are.

A ticket closed after the as-of date is open as of it, and its CSAT is not known yet: the
point-in-time view of ``tickets`` hides both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure
from healthscore.schemas import PRIORITIES

Priority = Literal[PRIORITIES]  # type: ignore[valid-type]


class Window(Params):
    window_days: int = Field(30, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date.")


class HighPriority(Window):
    priorities: list[Priority] = Field(
        ["urgent", "high"], min_length=1, description="Priorities that count as high.")


@measure("open_tickets", family="support", unit="tickets", tables=("tickets",), absent=0.0)
def open_tickets(ctx: MeasureContext, p):
    """Number of tickets open at the end of the as-of date (opened by then, not closed by then).

    Unit: tickets. A ticket closed after the as-of date counts as open.
    """
    t = ctx.table("tickets")
    t = t.filter(t.closed_at.isnull())
    return t.group_by("account_id").aggregate(value=t.count())


@measure("high_priority_tickets", family="support", unit="tickets", params=HighPriority,
         tables=("tickets",), absent=0.0)
def high_priority_tickets(ctx: MeasureContext, p: HighPriority):
    """Number of tickets of a high priority opened in the window, open or closed.

    Unit: tickets. Which priorities count is set by ``priorities`` (default urgent and high).
    """
    t = ctx.table("tickets")
    t = t.filter((t.opened_at >= ctx.since(p.window_days)) & t.priority.isin(p.priorities))
    return t.group_by("account_id").aggregate(value=t.count())


@measure("ticket_resolution_hours", family="support", unit="hours", params=Window,
         tables=("tickets",))
def ticket_resolution_hours(ctx: MeasureContext, p: Window):
    """Median time to resolution of the tickets closed in the window, opened to closed.

    Unit: hours (the median; with an even number of tickets, the mean of the middle two).
    Missing for an account that closed no ticket in the window.
    """
    t = ctx.table("tickets")
    t = t.filter(t.closed_at >= ctx.since(p.window_days))
    hours = (t.closed_at.epoch_seconds() - t.opened_at.epoch_seconds()) / 3600
    return t.group_by("account_id").aggregate(value=hours.median())


@measure("ticket_csat", family="support", unit="1-5", params=Window, tables=("tickets",))
def ticket_csat(ctx: MeasureContext, p: Window):
    """Mean satisfaction rating of the tickets closed in the window.

    Unit: CSAT points, 1 (bad) to 5 (good). Tickets without a rating are left out; missing
    when no ticket closed in the window was rated.
    """
    t = ctx.table("tickets")
    t = t.filter((t.closed_at >= ctx.since(p.window_days)) & t.csat.notnull())
    return t.group_by("account_id").aggregate(value=t.csat.mean())
