"""Lifecycle measures: how long the account has been a customer, how close its renewal is, and
whether it is growing.

Account attributes are read as the CRM export said at the as-of date (an earlier renewal date
for a date before the CRM moved it).
"""

from __future__ import annotations

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure


class Window(Params):
    window_days: int = Field(90, gt=0, le=730, description="Compare with this many days "
                             "before the as-of date.")


@measure("tenure_days", family="lifecycle", unit="days")
def tenure_days(ctx: MeasureContext, p):
    """How long the account has been a customer: days from ``contract_start`` to the as-of date.

    Unit: whole days (0 on the first day). Missing without a contract start.
    """
    a = ctx.accounts()
    a = a.filter(a.contract_start.notnull())
    return a.select("account_id", value=ctx.as_of_date.delta(a.contract_start, unit="day"))


@measure("days_to_renewal", family="lifecycle", unit="days")
def days_to_renewal(ctx: MeasureContext, p):
    """Days from the as-of date to the account's ``renewal_date``.

    Unit: whole days; negative when the renewal date has passed and the CRM has not moved it.
    Missing without a renewal date.
    """
    a = ctx.accounts()
    a = a.filter(a.renewal_date.notnull())
    return a.select("account_id", value=a.renewal_date.delta(ctx.as_of_date, unit="day"))


@measure("user_growth", family="lifecycle", unit="relative change", params=Window,
         tables=("users",))
def user_growth(ctx: MeasureContext, p: Window):
    """Growth of the user base: users existing now vs ``window_days`` earlier.

    Unit: relative change (0.25 = +25 %). A user exists at a moment when created before it (or
    with no creation time) and not deactivated by then. Missing when there were no users
    ``window_days`` earlier.
    """
    u = ctx.table("users")
    then = ctx.since(p.window_days)
    # deactivated_at after the cutoff is hidden (NULL): that user still exists now.
    now_ = ((u.created_at.isnull() | (u.created_at < ctx.cutoff)) & u.deactivated_at.isnull())
    then_ = ((u.created_at.isnull() | (u.created_at < then))
             & (u.deactivated_at.isnull() | (u.deactivated_at >= then)))
    agg = u.group_by("account_id").aggregate(n_now=u.count(where=now_),
                                             n_then=u.count(where=then_))
    agg = agg.filter(agg.n_then > 0)
    return agg.select("account_id", value=(agg.n_now - agg.n_then) / agg.n_then)
