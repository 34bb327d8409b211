"""Read routes: scorecards, portfolio, accounts (filtered), one account, history, why, movers.

Each parses its query, calls one function of :mod:`healthscore.read` with the server's cached
reader, and answers ``{"ok": true, ...}``. Bad parameters are refused with 422 naming the
parameter; an unknown account, a date without a snapshot or a missing score with 404 (the
error handlers in :mod:`healthscore.api.errors` map the library's errors).
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from healthscore import read
from healthscore.api.auth import read_access
from healthscore.api.deps import get_workspace, reading
from healthscore.api.errors import ApiError
from healthscore.errors import NotFound
from healthscore.read.revisions import revision_change, revisions
from healthscore.workspace import Workspace

router = APIRouter(tags=["read"], dependencies=[Depends(read_access)])

Band = Literal[read.BANDS]  # type: ignore[valid-type]
SortKey = Literal[tuple(read.SORTS)]  # type: ignore[valid-type]

ScorecardQuery = Annotated[str | None, Query(
    max_length=200, description="Scorecard name (default: `health`, else the first).")]
AsOfQuery = Annotated[date | None, Query(
    description="Snapshot date (default: the latest scored date).")]
AccountPath = Annotated[str, Path(min_length=1, max_length=200, description="Account id.")]
DaysQuery = Annotated[int, Query(ge=1, le=3660, description="Days back from the end date.")]


def _plain(value: Any) -> Any:
    """Dataclasses (change contributions) as dicts, recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@router.get("/scorecards", summary="The workspace's scorecards and their stored versions")
def scorecards(workspace: Workspace = Depends(get_workspace)):
    with reading(workspace) as r:
        found = read.scorecards(r, workspace.scorecards())
    return {"ok": True, "scorecards": found}


@router.get("/portfolio", summary="Accounts and ARR per band, ARR at risk, band history")
def portfolio(
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: AsOfQuery = None,
    at_risk_days: Annotated[int, Query(ge=0, le=3660, description=(
        "ARR at risk: red and yellow accounts renewing within this many days."))] = 90,
    history_days: Annotated[int, Query(ge=0, le=3660, description=(
        "Days of band history (accounts per band per date); 0 for none."))] = 0,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        summary = read.portfolio(r, card, as_of, at_risk_days=at_risk_days)
        bands = (read.band_history(r, card, days=history_days, end=summary["as_of"])
                 if history_days and summary["as_of"] else [])
    return {"ok": True, **summary, "band_history": bands}


@router.get("/accounts", summary="Scored accounts: filter, search, sort, page")
def accounts(
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: AsOfQuery = None,
    band: Annotated[list[Band] | None, Query(description="red, yellow or green; repeat for "
                                                         "several.")] = None,
    segment: Annotated[list[Annotated[str, Query(max_length=200)]] | None,
                       Query(description="Segment; repeat for several.")] = None,
    csm: Annotated[list[Annotated[str, Query(max_length=200)]] | None,
                   Query(description="CSM; repeat for several.")] = None,
    renewal_within: Annotated[int | None, Query(
        ge=0, le=3660, description="Renewing 0 to N days after the snapshot date.")] = None,
    q: Annotated[str | None, Query(max_length=200,
                                   description="Part of the name or account id.")] = None,
    sort: Annotated[SortKey, Query(description="Sort key.")] = "score",
    desc: Annotated[bool, Query(description="Sort descending.")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=read.MAX_PER_PAGE,
                                   description="Rows per page.")] = 50,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = read.accounts(r, card, as_of=as_of, band=band, segment=segment, csm=csm,
                              renewal_within=renewal_within, q=q, sort=sort, desc=desc,
                              page=page, per_page=per_page)
    return {"ok": True, "scorecard": card.name, "version": card.version, **found}


def account(
    account_id: AccountPath,
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: Annotated[date | None, Query(
        description="Latest snapshot on or before this date (default: the latest).")] = None,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = read.account(r, card, account_id, as_of)
        inputs = read.manual_inputs(r, account_id)
    return {"ok": True, **found, "manual": inputs}


@router.get("/accounts/{account_id:path}/history",
            summary="An account's daily scores, band changes and 7/30/90-day deltas")
def account_history(
    account_id: AccountPath,
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    days: DaysQuery = 90,
    end: Annotated[date | None, Query(description="Last date (default: the latest).")] = None,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = read.trend(r, card, account_id, days=days, end=end)
    return {"ok": True, "account_id": account_id, "scorecard": card.name, "days": days,
            **found}


@router.get("/accounts/{account_id:path}/why",
            summary="Why an account's score changed between two dates, by measure")
def account_why(
    account_id: AccountPath,
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    start: Annotated[date | None, Query(description="From this snapshot date.")] = None,
    end: Annotated[date | None, Query(description="To this snapshot date.")] = None,
    days: Annotated[int, Query(ge=1, le=3660, description=(
        "Without start and end: over the last N days up to the latest snapshot."))] = 30,
):
    card = read.card(workspace, scorecard)
    if (start is None) != (end is None):
        missing = "start" if start is None else "end"
        raise ApiError(422, f"invalid parameter(s): {missing}", [{
            "in": "query", "param": missing,
            "message": "give both start and end, or neither (then `days` counts back from "
                       "the latest snapshot)"}])
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "invalid parameter(s): start", [{
            "in": "query", "param": "start", "value": str(start),
            "message": f"start must be before end ({end})"}])
    with reading(workspace) as r:
        found = read.why(r, card, account_id, start=start, end=end, days=days)
    return {"ok": True, "account_id": account_id, "scorecard": card.name, **_plain(found)}


@router.get("/accounts/{account_id:path}/revisions",
            summary="An account's revisions of one scored date, and why the latest changed it")
def account_revisions(
    account_id: AccountPath,
    as_of: Annotated[date, Query(description="The scored date.")],
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = revisions(r, card, account_id, as_of)
        if not found:
            raise NotFound(f"no {card.name} snapshot of {account_id!r} on {as_of}",
                           hint="list the account's scored dates with "
                                "/accounts/{id}/history", param="as_of")
        change = revision_change(r, card, account_id, as_of) if len(found) > 1 else None
    return {"ok": True, "account_id": account_id, "scorecard": card.name, "as_of": as_of,
            "revisions": found, "change": _plain(change) if change else None}


@router.get("/accounts/{account_id:path}/prediction",
            summary="An account's churn probability from the latest model, with its reasons")
def account_prediction(
    account_id: AccountPath,
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: Annotated[date | None, Query(description="The date (default: the latest "
                                                    "predicted).")] = None,
    target: Annotated[Literal["churn", "expansion"], Query(
        description="Which model: churn (default) or expansion.")] = "churn",
):
    """The probability `healthscore predict` stored for the account on a date, the model's
    base (an average account), every measure's contribution in log-odds (they add up to the
    log-odds less the base exactly), the top reasons in words, and the probability history."""
    from healthscore.read.predictions import account_prediction as found_for

    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = found_for(r, card, account_id, as_of, target=target)
    return {"ok": True, "scorecard": card.name, **found}


# Account ids may hold "/" (sent as %2F, which the server decodes), hence ``:path``; the plain
# route goes after /history and /why, which it would otherwise swallow.
router.get("/accounts/{account_id:path}",
           summary="One account: attributes, latest score with its groups and measures")(account)


@router.get("/movers", summary="The largest score drops and rises over a number of days")
def movers(
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    days: Annotated[int, Query(ge=1, le=3660, description="Over this many days.")] = 30,
    end: Annotated[date | None, Query(description="Up to this date (default: latest).")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Accounts each way.")] = 10,
):
    card = read.card(workspace, scorecard)
    with reading(workspace) as r:
        found = read.movers(r, card, days=days, end=end, limit=limit)
    return {"ok": True, "scorecard": card.name, "version": card.version, "days": days, **found}


@router.get("/backtests", summary="The recorded backtests, newest first, with their headline "
                                  "metrics")
def backtests(workspace: Workspace = Depends(get_workspace), scorecard: Annotated[
        str | None, Query(max_length=200, description="Only this scorecard's.")] = None):
    with reading(workspace) as r:
        found = read.backtests(r, scorecard)
    return {"ok": True, "backtests": found}


@router.get("/backtests/{backtest_id}", summary="One recorded backtest with every metric")
def backtest(backtest_id: Annotated[int, Path(ge=1, description="The backtest's run id.")],
             workspace: Workspace = Depends(get_workspace)):
    with reading(workspace) as r:
        found = read.backtest_run(r, backtest_id)
    return {"ok": True, **found}
