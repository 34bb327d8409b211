"""Enablement measures: whether the customer's people have been trained."""

from __future__ import annotations

from healthscore.measures.base import MeasureContext, measure


@measure("training_completion", family="enablement", unit="ratio", tables=("users", "trainings"))
def training_completion(ctx: MeasureContext, p):
    """Share of the account's users who completed at least one training by the as-of date.

    Unit: ratio 0-1. The users are those existing at the end of the as-of date (created by
    then, not deactivated by then); trainings of users who have left do not count. Missing for
    an account without users.
    """
    u = ctx.table("users")
    # The time view keeps state rows by their version, so created_at is checked here.
    u = u.filter((u.created_at.isnull() | (u.created_at < ctx.cutoff))
                 & u.deactivated_at.isnull())
    t = ctx.table("trainings")
    trained = t.filter(t.user_id.notnull()).select(trained="user_id").distinct()
    j = u.left_join(trained, u.user_id == trained.trained)
    agg = j.group_by("account_id").aggregate(users=j.count(),
                                             done=j.count(where=j.trained.notnull()))
    return agg.select("account_id", value=agg.done / agg.users)
