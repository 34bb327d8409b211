"""Usage measures: frequency, breadth, depth and trend of product use.

Windows end at the as-of date: ``window_days: 30`` covers the 30 days up to and including it;
``window_days: all`` every event up to it. ``events:`` limits a measure to some events (names or
glob patterns: ``active days on the core features``). Events count by ``quantity`` (1 when
empty), so pre-aggregated exports weigh what they stand for.

The set-based form (``rollup.py``, over the store's daily roll-ups) serves the plain measures;
a measure limited to some events, over all history, or of the events' value is computed per
date from the raw events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import Field, field_validator

from healthscore.measures.base import MeasureContext, Params, measure
from healthscore.measures.rollup import BatchMeasure, Need


class Events(Params):
    events: list[str] | None = Field(
        None, min_length=1, description="Only these events count: names or glob patterns "
        "(`report.*`, `*export*`). Default: every event.")


class Window(Events):
    window_days: int | Literal["all"] = Field(
        30, description="Length of the window, in days (1-730), ending at the as-of date; or "
        "`all`: every event up to it.")

    @field_validator("window_days")
    @classmethod
    def _days(cls, v: int | str) -> int | str:
        if v != "all" and not 0 < v <= 730:
            raise ValueError("window_days is 1-730 days, or `all`")
        return v


class Trend(Events):
    window_days: int = Field(30, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date (compared with the one before it).")
    of: Literal["quantity", "value"] = Field(
        "quantity", description="What is compared: `quantity` (events, by their quantity) or "
        "`value` (the sum of the events' value: spend against the window before).")


class Breadth(Window):
    features: list[str] | None = Field(
        None, min_length=1, description="Events that count as the product's key features. "
        "Given: the value is the share of them used (0-1). Default: count every distinct event.")


def _glob(pattern: str) -> str:
    """A glob (``*`` any text, ``?`` one character) as an anchored regular expression."""
    return "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"


def _events(ctx: MeasureContext, p: Events):
    """The usage events known at the cutoff, only those ``p.events`` names when given."""
    e = ctx.table("usage_events")
    if not p.events:
        return e
    names = [x for x in p.events if "*" not in x and "?" not in x]
    globs = [x for x in p.events if x not in names]
    keep = e.event.isin(names) if names else None
    for g in globs:
        match = e.event.re_search(_glob(g))
        keep = match if keep is None else keep | match
    return e.filter(keep)


def _window(ctx: MeasureContext, p: Events, days: int | str | None = None):
    """The events of the window (``days``, default ``p.window_days``; ``all``: no start)."""
    e = _events(ctx, p)
    days = p.window_days if days is None else days
    return e if days == "all" else e.filter(e.timestamp >= ctx.since(days))


def _batched(make: Callable[[Events], BatchMeasure]) -> Callable[[Events], BatchMeasure | None]:
    """The set-based form for the plain measure; None (per date) with an events filter, over
    all history, or of the events' value."""
    return lambda p: None if (p.events or getattr(p, "window_days", None) == "all"
                              or getattr(p, "of", "quantity") != "quantity") else make(p)


def _quantity(e):
    return e.quantity.fill_null(1)


@measure("active_user_ratio", family="usage", unit="ratio", params=Window,
         tables=("usage_events",),
         batch=_batched(lambda p: BatchMeasure(
             (Need("users", p.window_days),),
             "CASE WHEN a.seats > 0 THEN CAST(coalesce({0}, 0) AS DOUBLE) / a.seats END")))
def active_user_ratio(ctx: MeasureContext, p: Window):
    """Share of licensed seats used: distinct active users in the window ÷ seats.

    Unit: ratio (0.62 = 62 % of seats active; above 1 when more people use it than are
    licensed). 0 for an account with seats and no usage in the window; missing for accounts
    without a seat count.
    """
    e = _window(ctx, p)
    e = e.filter(e.user_id.notnull())
    users = e.group_by("account_id").aggregate(users=e.user_id.nunique())
    a = ctx.accounts()
    a = a.filter(a.seats > 0)
    j = a.left_join(users, "account_id")
    return j.select(a.account_id, value=j.users.fill_null(0) / a.seats)


@measure("days_since_last_activity", family="usage", unit="days", params=Events,
         tables=("usage_events",),
         batch=_batched(lambda p: BatchMeasure(
             (Need("last_ts"),),
             "(epoch(getvariable('hs_cutoff')::TIMESTAMP) - epoch({0})) / 86400")))
def days_since_last_activity(ctx: MeasureContext, p: Events):
    """Days from the last usage event to the end of the as-of date.

    Unit: days (0.25 = six hours before the cutoff). Missing for accounts that never used the
    product.
    """
    e = _events(ctx, p)
    last = e.group_by("account_id").aggregate(last=e.timestamp.max())
    return last.select("account_id", value=ctx.days_before_cutoff(last["last"]))


@measure("active_users", family="usage", unit="users", params=Window,
         tables=("usage_events",), absent=0.0,
         batch=_batched(lambda p: BatchMeasure((Need("users", p.window_days),),
                                               "coalesce({0}, 0)")))
def active_users(ctx: MeasureContext, p: Window):
    """Number of distinct users with at least one usage event in the window.

    Unit: users. Events without a ``user_id`` do not count. 0 when nobody used the product.
    """
    e = _window(ctx, p)
    e = e.filter(e.user_id.notnull())
    return e.group_by("account_id").aggregate(value=e.user_id.nunique())


@measure("active_days_per_user", family="usage", unit="days per user", params=Window,
         tables=("usage_events",), absent=0.0,
         batch=_batched(lambda p: BatchMeasure(
             (Need("userdays", p.window_days), Need("users", p.window_days)),
             "CASE WHEN {1} > 0 THEN CAST({0} AS DOUBLE) / {1} ELSE 0 END")))
def active_days_per_user(ctx: MeasureContext, p: Window):
    """How often people come back: mean number of distinct active days per active user.

    Unit: days per user, between 1 and ``window_days`` (a day is a UTC calendar day). Only
    users active in the window are averaged; 0 when nobody used the product in the window.
    """
    e = _window(ctx, p)
    e = e.filter(e.user_id.notnull())
    # Active days of each user, then their mean per account (one (account, user) aggregate
    # instead of a distinct over (account, user, day)).
    per_user = e.group_by(["account_id", "user_id"]).aggregate(days=e.timestamp.date().nunique())
    return per_user.group_by("account_id").aggregate(value=per_user.days.mean())


@measure("usage_trend", family="usage", unit="relative change", params=Trend,
         tables=("usage_events",),
         batch=_batched(lambda p: BatchMeasure(
             (Need("qty", p.window_days), Need("qty_before", p.window_days)),
             "CASE WHEN {1} > 0 THEN (coalesce({0}, 0) - {1}) / {1} END")))
def usage_trend(ctx: MeasureContext, p: Trend):
    """Change in usage volume: events in the window vs the window of equal length before it.

    Unit: relative change (0.25 = +25 %, -0.5 = halved, -1 = stopped). Events are summed by
    ``quantity`` (1 when empty), or with ``of: value`` their ``value`` (spend against the
    window before). Missing when the prior window has none, since growth from nothing has no
    size.
    """
    w = p.window_days
    e = _window(ctx, p, 2 * w)
    recent = e.timestamp >= ctx.since(w)
    q = e.value.fill_null(0) if p.of == "value" else _quantity(e)
    agg = e.group_by("account_id").aggregate(now=q.sum(where=recent), before=q.sum(where=~recent))
    agg = agg.filter(agg.before > 0)
    return agg.select("account_id", value=(agg.now.fill_null(0) - agg.before) / agg.before)


@measure("feature_breadth", family="usage", unit="features, or share 0-1",
         params=Breadth, tables=("usage_events",), absent=0.0,
         batch=_batched(lambda p: BatchMeasure(
             (Need("features", p.window_days,
                   None if p.features is None else tuple(sorted(set(p.features)))),),
             "coalesce({0}, 0)" if p.features is None
             else f"CAST(coalesce({{0}}, 0) AS DOUBLE) / {len(set(p.features))}")))
def feature_breadth(ctx: MeasureContext, p: Breadth):
    """How much of the product is used: distinct events (features) used in the window.

    Unit: features (a count); with ``features`` given, the share of those features used at
    least once in the window (0-1). 0 when nothing was used.
    """
    e = _window(ctx, p)
    if p.features is None:
        return e.group_by("account_id").aggregate(value=e.event.nunique())
    wanted = sorted(set(p.features))
    e = e.filter(e.event.isin(wanted))
    return e.group_by("account_id").aggregate(value=e.event.nunique() / len(wanted))


@measure("events_per_active_user", family="usage", unit="events per user", params=Window,
         tables=("usage_events",), absent=0.0,
         batch=_batched(lambda p: BatchMeasure(
             (Need("qty_ident", p.window_days), Need("users", p.window_days)),
             "CASE WHEN {1} > 0 THEN {0} / {1} ELSE 0 END")))
def events_per_active_user(ctx: MeasureContext, p: Window):
    """Depth of use: events by identified users in the window ÷ those active users.

    Unit: events per user (summed by ``quantity``, 1 when empty). Events without a ``user_id``
    are left out of both sides. 0 when nobody used the product in the window.
    """
    e = _window(ctx, p)
    e = e.filter(e.user_id.notnull())
    return e.group_by("account_id").aggregate(
        value=_quantity(e).sum() / e.user_id.nunique())


@measure("usage_value", family="usage", unit="the events' value (e.g. currency)",
         params=Window, tables=("usage_events",), absent=0.0)
def usage_value(ctx: MeasureContext, p: Window):
    """Spend, revenue or credits: the sum of the events' ``value`` in the window.

    Unit: whatever the mapped ``value`` holds (an order's amount, credits used). Events
    without a value add nothing; 0 for an account with none in the window. Map the amount
    column of a purchase log or billing-events export onto ``usage_events.value``.
    """
    e = _window(ctx, p)
    e = e.filter(e.value.notnull())
    return e.group_by("account_id").aggregate(value=e.value.sum())
