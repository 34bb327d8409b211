"""Financial measures: invoices left unpaid past their due date.

An invoice is unpaid at the as-of date when it has no ``paid_at`` on or before it (a payment
after the as-of date is not known yet), and overdue when its ``due_at`` is before the as-of date.
An invoice without a due date is never overdue.
"""

from __future__ import annotations

from healthscore.measures.base import MeasureContext, measure


def _overdue(ctx: MeasureContext):
    i = ctx.table("invoices")
    return i.filter(i.paid_at.isnull() & (i.due_at < ctx.as_of_date))


@measure("overdue_invoices", family="financial", unit="invoices", tables=("invoices",),
         absent=0.0)
def overdue_invoices(ctx: MeasureContext, p):
    """Number of invoices unpaid and past their due date at the as-of date.

    Unit: invoices.
    """
    i = _overdue(ctx)
    return i.group_by("account_id").aggregate(value=i.count())


@measure("days_past_due", family="financial", unit="days", tables=("invoices",), absent=0.0)
def days_past_due(ctx: MeasureContext, p):
    """How late the oldest overdue invoice is: the most days past due of the unpaid invoices.

    Unit: whole days from the due date to the as-of date; 0 when nothing is overdue.
    """
    i = _overdue(ctx)
    late = ctx.as_of_date.delta(i.due_at, unit="day")
    return i.group_by("account_id").aggregate(value=late.max())
