"""Enablement measures: whether the customer's people have been trained."""

from __future__ import annotations

from healthscore.measures.base import MeasureContext, measure
from healthscore.measures.rollup import BatchMeasure, Span

# The users counted at a date, as days: a version of the user row counts from the day it took
# effect and the user was created (`_valid_from`, `created_at` before the cutoff), until the day
# it was replaced or the user deactivated (`_valid_to`, `deactivated_at` at or after the cutoff
# keep it). DuckDB's greatest/least skip NULLs (no bound).
_USERS = """SELECT account_id, user_id,
        CAST(greatest(_valid_from, created_at) AS DATE) AS lo,
        CAST(least(_valid_to, deactivated_at) AS DATE) AS hi FROM users"""
# ... and of those, the trained ones: from the day of their first completed training on.
_TRAINED = f"""SELECT u.account_id, greatest(u.lo, CAST(t.first AS DATE)) AS lo, u.hi
    FROM ({_USERS}) u JOIN (SELECT user_id, min(completed_at) AS first FROM trainings
                            WHERE user_id IS NOT NULL AND completed_at IS NOT NULL
                            GROUP BY user_id) t ON t.user_id = u.user_id"""


@measure("training_completion", family="enablement", unit="ratio", tables=("users", "trainings"),
         batch=lambda p: BatchMeasure(
             (Span(_USERS), Span(_TRAINED)),
             "CASE WHEN {0} > 0 THEN CAST({1} AS DOUBLE) / {0} END"))
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
