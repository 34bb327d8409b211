"""Read routes: scorecards, portfolio, accounts (filtered), one account, history, why, movers.

Each parses its query, calls one function of the read model (:mod:`healthscore.portfolio`) or of
:mod:`healthscore.history`, and answers ``{"ok": true, ...}``. Bad parameters are refused with
422 naming the parameter; an unknown account or a missing score with 404.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from healthscore import history, portfolio, scorecard_view
from healthscore.api.auth import read_access
from healthscore.api.deps import get_workspace, open_store, reading
from healthscore.api.errors import ApiError
from healthscore.errors import ConfigError, HealthScoreError
from healthscore.store import manual
from healthscore.workspace import Workspace

router = APIRouter(tags=["read"], dependencies=[Depends(read_access)])

Band = Literal[portfolio.BANDS]  # type: ignore[valid-type]
SortKey = Literal[tuple(portfolio.SORTS)]  # type: ignore[valid-type]

ScorecardQuery = Annotated[str | None, Query(
    max_length=200, description="Scorecard name (default: `health`, else the first).")]
AsOfQuery = Annotated[date | None, Query(
    description="Snapshot date (default: the latest scored date).")]
AccountPath = Annotated[str, Path(min_length=1, max_length=200, description="Account id.")]
DaysQuery = Annotated[int, Query(ge=1, le=3660, description="Days back from the end date.")]


def _scorecard(workspace: Workspace, name: str | None) -> tuple[str, str, dict[str, str]]:
    """(name, current version, measure labels) of a scorecard; 422 naming ``scorecard``."""
    loaded = workspace.scorecards()
    by_name = {sc.name: sc for sc in loaded}
    if name is None:
        if not loaded:
            raise ApiError(404, "no scorecards in the workspace", [{
                "hint": "add a scorecard file under scorecards/ (docs/scorecards.md)"}])
        name = "health" if "health" in by_name else loaded[0].name
    if name not in by_name:
        raise ApiError(422, "invalid parameter(s): scorecard", [{
            "in": "query", "param": "scorecard", "value": name,
            "message": f"no scorecard named {name!r}; the workspace has: "
                       + ", ".join(by_name)}])
    sc = by_name[name].scorecard
    return name, sc.version, scorecard_view.measure_labels(sc)


def _plain(value: Any) -> Any:
    """Dataclasses (change contributions) as dicts, recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _not_found(what: str, hint: str) -> ApiError:
    return ApiError(404, what, [{"hint": hint}])


def _scored(store, name: str, version: str, day: date | None, param: str) -> None:
    """404 when a date the client gave (``param``) has no snapshot: a future date or a day
    that was not scored would otherwise answer an empty portfolio or list as if it were true."""
    if day is None or portfolio.band_history(store, name, version, days=0, end=day):
        return
    latest = portfolio.latest_as_of(store, name, version)
    raise ApiError(404, f"no {name} snapshot on {day}", [{
        "in": "query", "param": param, "value": str(day),
        "hint": f"the latest scored date is {latest}; omit {param} for it" if latest
        else "score some dates first (healthscore backfill)"}])


@router.get("/scorecards", summary="The workspace's scorecards and their stored versions")
def scorecards(workspace: Workspace = Depends(get_workspace)):
    with open_store(workspace, read_only=True) as store:
        found = scorecard_view.scorecard_overview(workspace, store)
    return {"ok": True, "scorecards": found}


@router.get("/portfolio", summary="Accounts and ARR per band, ARR at risk, band history")
def portfolio_summary(
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: AsOfQuery = None,
    at_risk_days: Annotated[int, Query(ge=0, le=3660, description=(
        "ARR at risk: red and yellow accounts renewing within this many days."))] = 90,
    history_days: Annotated[int, Query(ge=0, le=3660, description=(
        "Days of band history (accounts per band per date); 0 for none."))] = 0,
):
    name, version, _ = _scorecard(workspace, scorecard)
    with open_store(workspace, read_only=True) as store:
        _scored(store, name, version, as_of, "as_of")
        summary = portfolio.portfolio_summary(store, name, version, as_of,
                                              at_risk_days=at_risk_days)
        bands = (portfolio.band_history(store, name, version, days=history_days, end=as_of)
                 if history_days else [])
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
    per_page: Annotated[int, Query(ge=1, le=portfolio.MAX_PER_PAGE,
                                   description="Rows per page.")] = 50,
):
    name, version, _ = _scorecard(workspace, scorecard)
    with open_store(workspace, read_only=True) as store:
        _scored(store, name, version, as_of, "as_of")
        found = portfolio.list_accounts(
            store, name, version, band=band, segment=segment, csm=csm,
            renewal_within=renewal_within, q=q, sort=sort, desc=desc, page=page,
            per_page=per_page, as_of=as_of)
    return {"ok": True, "scorecard": name, "version": version, **found}


def account(
    account_id: AccountPath,
    workspace: Workspace = Depends(get_workspace),
    scorecard: ScorecardQuery = None,
    as_of: Annotated[date | None, Query(
        description="Latest snapshot on or before this date (default: the latest).")] = None,
):
    name, version, labels = _scorecard(workspace, scorecard)
    with open_store(workspace, read_only=True) as store:
        found = portfolio.account_detail(store, name, version, account_id, as_of=as_of)
        inputs = manual.manual_inputs(store, account_id) if found else None
    if found is None:
        raise _not_found(f"no account {account_id!r}",
                         "use an account_id from GET /api/v1/accounts")
    snapshot = found.get("snapshot")
    if snapshot:
        for m in snapshot.get("measures", []) if isinstance(snapshot, dict) else []:
            m.setdefault("label", labels.get(m.get("measure"), m.get("measure")))
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
    name, _, _ = _scorecard(workspace, scorecard)
    try:
        with reading(workspace):
            found = history.trend(workspace, account_id, scorecard=name, days=days, end=end)
    except ConfigError:
        raise
    except HealthScoreError as exc:
        raise _not_found(exc.message, exc.hint or "") from None
    return {"ok": True, "account_id": account_id, "scorecard": name, "days": days, **found}


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
    name, version, labels = _scorecard(workspace, scorecard)
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
    if start is None:
        with open_store(workspace, read_only=True) as store:
            found = portfolio.change_explanation(store, name, version, account_id, days=days,
                                                 labels=labels)
        if found is None:
            raise _not_found(f"no {name} change to explain for {account_id!r} over {days} days",
                             "the account needs two snapshots in the window (healthscore "
                             "backfill)")
    else:
        try:
            with reading(workspace):
                found = history.why(workspace, account_id, start, end, scorecard=name)
        except ConfigError:
            raise
        except HealthScoreError as exc:
            raise _not_found(exc.message, exc.hint or "") from None
        found = {**found, "start": start, "end": end}
    return {"ok": True, "account_id": account_id, "scorecard": name, **_plain(found)}


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
    name, version, labels = _scorecard(workspace, scorecard)
    with open_store(workspace, read_only=True) as store:
        _scored(store, name, version, end, "end")
        found = portfolio.movers(store, name, version, days=days, end=end, limit=limit,
                                 labels=labels)
    return {"ok": True, "scorecard": name, "version": version, "days": days, **found}
