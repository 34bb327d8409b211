"""Alert routes: the inbox as JSON (filtered, paged, with the open counts), one alert with its
deliveries, and acknowledging, snoozing or reopening one (a token with scope ``write``).

Reads call :mod:`healthscore.read.alerts`; a write calls :func:`healthscore.alerting.act_on`
(recorded as a run of kind ``alert-<state>``) and answers the alert as a read of it would. The
acting person defaults to the token's name, as the author of a pulse does. "Today" (when a
snooze ends) is the server's UTC date.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from healthscore import alerting, clock
from healthscore.api.auth import read_access, require_write
from healthscore.api.deps import get_workspace, reading
from healthscore.api.errors import ApiError
from healthscore.errors import InputError, NotFound
from healthscore.read import alerts as inbox
from healthscore.server.access import writing
from healthscore.store.tokens import TokenInfo
from healthscore.workspace import Workspace

router = APIRouter(tags=["alerts"])

State = Literal[inbox.STATES]  # type: ignore[valid-type]
Severity = Literal[inbox.SEVERITIES]  # type: ignore[valid-type]
AlertPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="The alert's id.")]
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/alerts", summary="Alerts, newest first: filter by state, CSM, severity, rule, "
                               "account; page", dependencies=[Depends(read_access)])
def alerts(
    workspace: Workspace = Depends(get_workspace),
    state: Annotated[State, Query(description=(
        "open (needing attention: not acknowledged, not snoozed), acknowledged, snoozed, "
        "closed (the rule no longer holds) or all."))] = "open",
    csm: Annotated[Text, Query(description="Only this CSM's accounts.")] = None,
    severity: Annotated[Severity | None, Query(description="info, warning or critical.")] = None,
    rule: Annotated[Text, Query(description="Only this rule's alerts.")] = None,
    account_id: Annotated[Text, Query(description="Only this account's alerts.")] = None,
    limit: Annotated[int, Query(ge=1, le=inbox.MAX_ALERTS,
                                description="At most this many.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000,
                                 description="Skip this many (paging).")] = 0,
) -> dict[str, Any]:
    """One page of alerts with `total` (matching the filters) and `counts` (alerts needing
    attention per severity and in all, whatever the filters)."""
    try:
        with reading(workspace) as r:
            found = inbox.alerts(r, today=clock.today(), state=state, csm=csm,
                                 severity=severity, rule=rule, account_id=account_id,
                                 limit=limit, offset=offset)
    except duckdb.CatalogException:
        raise _not_upgraded() from None
    return {"ok": True, **found}


@router.get("/alerts/{alert_id}", summary="One alert with its deliveries",
            dependencies=[Depends(read_access)])
def alert(alert_id: AlertPath, workspace: Workspace = Depends(get_workspace)) -> dict[str, Any]:
    try:
        with reading(workspace) as r:
            found = inbox.alert(r, alert_id, today=clock.today())
    except NotFound as exc:
        raise _unknown(exc) from None
    except duckdb.CatalogException:
        raise _not_upgraded() from None
    return {"ok": True, **found}


def _not_upgraded() -> ApiError:
    """503 for a store an earlier release wrote (no alert tables; the server opens it
    read-only, so it is not migrated)."""
    return ApiError(503, "this store was written by an earlier release and has no alerts yet",
                    [{"hint": "any write upgrades it: healthscore run, or healthscore alerts "
                              "check"}])


def _unknown(exc: NotFound) -> ApiError:
    """404 naming the path parameter (the library's hint is the CLI's)."""
    return ApiError(404, exc.message, [{"in": "path", "param": "alert_id",
                                        "hint": "GET /api/v1/alerts lists them"}])


class _Act(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(None, min_length=1, max_length=200,
                           description="Who acts (default: the token's name).")
    comment: str = Field("", max_length=2000, description="Why (kept with the alert).")


class AckIn(_Act):
    """Acknowledge: the alert leaves the open list (its episode may still hold)."""


class ReopenIn(_Act):
    """Reopen: an acknowledged or snoozed alert goes back to the open list."""


class SnoozeIn(_Act):
    """Snooze until a date after today: the alert is back in the open list after it."""

    until: date = Field(description="The last day of the snooze (YYYY-MM-DD, after today).")


async def _act(workspace: Workspace, token: TokenInfo, alert_id: int, state: str,
               body: _Act, until: date | None = None) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with writing(workspace, touches=("alerts", "runs")) as store:
            alerting.act_on(workspace, alert_id, state=state, by=body.by or token.name,
                            comment=body.comment, until=until, store=store,
                            detail=token.run_detail())
        with reading(workspace) as r:
            return inbox.alert(r, alert_id, today=clock.today())

    try:
        found = await run_in_threadpool(work)
    except NotFound as exc:
        raise _unknown(exc) from None
    except InputError as exc:  # a body field, not a query parameter
        item = {"in": "body", "param": exc.field,
                "message": exc.message.removeprefix(f"{exc.field}: ")}
        if until is not None:
            item["value"] = until.isoformat()
        raise ApiError(422, f"invalid parameter(s): {exc.field}", [item]) from None
    return {"ok": True, **found}


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert")
async def ack(alert_id: AlertPath, body: Annotated[AckIn | None, Body()] = None,
              workspace: Workspace = Depends(get_workspace),
              token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
    return await _act(workspace, token, alert_id, "acknowledged", body or AckIn())


@router.post("/alerts/{alert_id}/snooze", summary="Snooze an alert until a date")
async def snooze(alert_id: AlertPath, body: SnoozeIn,
                 workspace: Workspace = Depends(get_workspace),
                 token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
    return await _act(workspace, token, alert_id, "snoozed", body, body.until)


@router.post("/alerts/{alert_id}/reopen",
             summary="Put an acknowledged or snoozed alert back in the open list")
async def reopen(alert_id: AlertPath, body: Annotated[ReopenIn | None, Body()] = None,
                 workspace: Workspace = Depends(get_workspace),
                 token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
    return await _act(workspace, token, alert_id, "open", body or ReopenIn())
