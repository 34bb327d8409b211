"""Sentiment measures: what customers answer in NPS and CSAT surveys.

Every answer in the window counts once, whoever gave it; an account with no answer in the
window is missing, not neutral.
"""

from __future__ import annotations

from pydantic import Field

from healthscore.measures.base import MeasureContext, Params, measure


class Window(Params):
    window_days: int = Field(180, gt=0, le=730, description="Length of the window, in days, "
                             "ending at the as-of date (surveys are rare: the default is long).")


def _answers(ctx: MeasureContext, kind: str, days: int):
    s = ctx.table("surveys")
    return s.filter((s.kind == kind) & (s.responded_at >= ctx.since(days)))


@measure("nps", family="sentiment", unit="NPS points (-100..100)", params=Window,
         tables=("surveys",))
def nps(ctx: MeasureContext, p: Window):
    """Net Promoter Score of the NPS answers in the window: % promoters − % detractors.

    Unit: NPS points from -100 (all detractors) to 100 (all promoters). Promoters answer 9 or
    10, detractors 0 to 6. Missing without an NPS answer in the window.
    """
    s = _answers(ctx, "nps", p.window_days)
    agg = s.group_by("account_id").aggregate(
        n=s.count(), promoters=s.count(where=s.score >= 9), detractors=s.count(where=s.score <= 6))
    return agg.select("account_id", value=(agg.promoters - agg.detractors) * 100.0 / agg.n)


@measure("nps_average", family="sentiment", unit="0-10", params=Window, tables=("surveys",))
def nps_average(ctx: MeasureContext, p: Window):
    """Mean answer to the NPS question in the window.

    Unit: points 0-10. Smoother than ``nps`` for accounts with few answers. Missing without an
    NPS answer in the window.
    """
    s = _answers(ctx, "nps", p.window_days)
    return s.group_by("account_id").aggregate(value=s.score.mean())


@measure("survey_csat", family="sentiment", unit="1-5", params=Window, tables=("surveys",))
def survey_csat(ctx: MeasureContext, p: Window):
    """Mean answer to CSAT surveys in the window.

    Unit: CSAT points, 1 (bad) to 5 (good). Ticket ratings are the separate ``ticket_csat``.
    Missing without a CSAT answer in the window.
    """
    s = _answers(ctx, "csat", p.window_days)
    return s.group_by("account_id").aggregate(value=s.score.mean())
