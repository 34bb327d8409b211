"""Relationship measures: how "high and wide" the account is covered by people who back us.

A contact is *active* at the as-of date when ``active_from`` is empty or on or before it and
``active_to`` (the last day in the role) is empty or on or after it. Contacts come as the CRM
export knew them at the as-of date; roles compare without regard to case.
"""

from __future__ import annotations

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure


class Roles(Params):
    roles: list[str] | None = Field(
        None, min_length=1, description="Only contacts with one of these roles count (e.g. "
        "champion, exec_sponsor, decision_maker). Default: every role.")


class Window(Params):
    window_days: int = Field(90, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date.")


def _contacts(ctx: MeasureContext):
    c = ctx.table("contacts")
    return c.mutate(role=c.role.lower())


def _active(ctx: MeasureContext, c):
    day = ctx.as_of_date
    return c.filter((c.active_from.isnull() | (c.active_from <= day))
                    & (c.active_to.isnull() | (c.active_to >= day)))


@measure("engaged_contacts", family="relationship", unit="contacts", params=Roles,
         tables=("contacts",), absent=0.0)
def engaged_contacts(ctx: MeasureContext, p: Roles):
    """Number of contacts active at the as-of date (of the given ``roles``).

    Unit: contacts. A contact who starts after the as-of date or left before it does not count.
    """
    c = _active(ctx, _contacts(ctx))
    if p.roles is not None:
        c = c.filter(c.role.isin([r.lower() for r in p.roles]))
    return c.group_by("account_id").aggregate(value=c.contact_id.nunique())


@measure("champion_present", family="relationship", unit="yes/no (1/0)",
         tables=("contacts",), absent=0.0)
def champion_present(ctx: MeasureContext, p):
    """Whether the account has an active contact with the role ``champion``.

    Unit: yes/no, 1 or 0. A champion whose last day is after the as-of date still counts.
    """
    c = _contacts(ctx)
    c = _active(ctx, c.filter(c.role == "champion"))
    return c.select("account_id").distinct().mutate(value=1.0)


@measure("champion_left", family="relationship", unit="yes/no (1/0)", params=Window,
         tables=("contacts",), absent=0.0)
def champion_left(ctx: MeasureContext, p: Window):
    """Whether a champion left in the window and no champion is active now.

    Unit: yes/no, 1 or 0. "Left in the window": the champion's last day (``active_to``) is one
    of the ``window_days`` days before the as-of date. A new champion in place clears it.
    """
    c = _contacts(ctx)
    champions = c.filter(c.role == "champion")
    first = ctx.since_date(p.window_days + 1)  # as_of - window_days
    left = champions.filter((champions.active_to >= first)
                            & (champions.active_to < ctx.as_of_date))
    present = _active(ctx, champions).select("account_id")
    return (left.select("account_id").distinct()
            .anti_join(present, "account_id").mutate(value=1.0))
