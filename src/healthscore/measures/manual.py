"""Manual measures: the CSM's own read of the account (the pulse)."""

from __future__ import annotations

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure


class MaxAge(Params):
    max_age_days: int = Field(90, gt=0, le=730, description="A pulse older than this many days "
                              "at the as-of date no longer counts.")


@measure("csm_pulse", family="manual", unit="1-5", params=MaxAge, tables=("pulses",))
def csm_pulse(ctx: MeasureContext, p: MaxAge):
    """The CSM pulse in force at the as-of date: the latest one not expired and not too old.

    Unit: pulse points, 1 (bad) to 5 (good); red, yellow and green are 1, 3 and 5. A pulse
    counts from its ``at`` until its ``expires_at`` (it no longer counts at the end of the as-of
    date if it expires then or earlier) and for at most ``max_age_days``. Two pulses given at the
    same moment: the lower counts. Missing when no pulse is in force.
    """
    s = ctx.table("pulses")
    s = s.filter((s.expires_at.isnull() | (s.expires_at > ctx.cutoff))
                 & (s.at >= ctx.since(p.max_age_days)))
    last = s.group_by("account_id").aggregate(last_at=s.at.max())
    j = s.join(last, [s.account_id == last.account_id, s.at == last.last_at])
    return j.group_by("account_id").aggregate(value=j.value.min())
