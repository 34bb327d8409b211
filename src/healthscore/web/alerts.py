"""The alerts inbox (``/alerts``), its acknowledge / snooze / reopen forms, the account page's
open alerts and the count in every page's header.

``GET /alerts`` lists alerts newest first (:func:`healthscore.read.alerts.alerts`), filtered by
state (default ``open``: needing attention), CSM, severity, rule and account. Each row has an
acknowledge form and a snooze form (an acknowledged or snoozed one a reopen form), each with a
comment; they post to ``/alerts/{id}/ack|snooze|reopen`` with the list's filters in the query,
and a saved action redirects (303) back to the list with them. The forms are protected and
authorised like the pulse form (:mod:`.pages`): the form token against cross-site posts, a
session of a ``write`` token once the workspace has tokens, and the acting person is the
token's name (without tokens, the single-user form asks who acts). A change is written by
:func:`healthscore.alerting.act_on`, recorded as a run of kind ``alert-<state>``.

A store from before alerts (an older release's, opened read-only, so not migrated) has no
alerts: the header shows no count and the inbox says how to start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import duckdb
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from healthscore import alerting, clock
from healthscore.errors import ConfigError, HealthScoreError, InputError
from healthscore.read import alerts as inbox
from healthscore.read.reader import Reader
from healthscore.server import reading
from healthscore.server.access import writing
from healthscore.server.sessions import Access
from healthscore.web import forms
from healthscore.web.pages import (
    PageRoute,
    _guard,
    _int,
    _workspace,
    error_page,
    page_access,
    render,
    signin_url,
)
from healthscore.workspace import Workspace

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PER_PAGE = 100
#: The inbox's query parameters: its filters and page (the forms come back to them).
FILTERS = ("state", "csm", "severity", "rule", "account_id", "page")
#: Form action → the state it sets, and the words of the notice after it.
ACTIONS = {"ack": ("acknowledged", "acknowledged"), "snooze": ("snoozed", "snoozed"),
           "reopen": ("open", "reopened")}
NO_NOTICE = {"alert": None, "words": None}


# -- what other pages show ---------------------------------------------------------------------


def header_counts(workspace: Workspace, access: Access) -> dict | None:
    """Alerts needing attention per severity and in all, for the header of every page; kept
    by the read cache until the store changes. None when the visitor may not read (reads need
    a token and there is no session) or the store cannot say (busy, or from before alerts):
    the header then shows the link without a count, and the page itself still renders."""
    if access.reads_need_token and access.session is None:
        return None
    today = clock.today()
    try:
        with reading(workspace) as r:
            return r.kept(("alerts", "open_counts", today),
                          lambda: inbox.open_counts(r, today=today))
    except (HealthScoreError, duckdb.CatalogException):
        return None


def account_alerts(r: Reader, workspace: Workspace, account_id: str) -> dict | None:
    """The account's alerts needing attention (the latest 20) and how many, for the account
    page's panel, shown when it has some or the workspace has alert rules; None for a store
    from before alerts."""
    try:
        found = inbox.alerts(r, today=clock.today(), state="open", account_id=account_id,
                             limit=20)
    except duckdb.CatalogException:
        return None
    rules = workspace.config.alerts
    return {"rows": found["alerts"], "open": found["total"],
            "show": bool(found["total"] or rules.rules or rules.files)}


# -- the inbox ---------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    text = {k: params.get(k, "").strip()[:200] or None
            for k in ("csm", "severity", "rule", "account_id")}
    return {"state": params.get("state", "").strip() or "open", **text,
            "page": _int(request, "page", 1, 1, 10_000_000)}


def _back_query(request: Request) -> str:
    """The inbox's filters of the current request as a query string (no ``?``)."""
    params = request.query_params
    return urlencode([(k, params[k]) for k in FILTERS if params.get(k, "").strip()])


def _rules(workspace: Workspace, chosen: str | None) -> list[str]:
    """The rule filter's choices: the workspace's rules (and the one asked for)."""
    try:
        names = set(alerting.rules_of(workspace))
    except ConfigError:  # the inbox still lists what is stored
        names = set()
    return sorted(names | ({chosen} if chosen else set()))


def _inbox(request: Request) -> dict[str, Any]:
    workspace = _workspace(request)
    query = _filters(request)
    filters = {k: v for k, v in query.items() if k != "page"}
    with reading(workspace) as r:
        try:
            result = inbox.alerts(r, today=clock.today(), limit=PER_PAGE,
                                  offset=(query["page"] - 1) * PER_PAGE, **filters)
            csms = inbox.csms_with_alerts(r)
        except duckdb.CatalogException:  # a store from before alerts, not migrated
            result, csms = None, []
    if result is not None:
        result["pages"] = max(1, -(-result["total"] // PER_PAGE))
    back = _back_query(request)
    return {"nav": "alerts", "result": result, "query": query,
            "options": {"states": inbox.STATES, "severities": inbox.SEVERITIES, "csms": csms,
                        "rules": _rules(workspace, query["rule"])},
            "filtered": any(query[k] for k in ("csm", "severity", "rule", "account_id")),
            "back": "?" + back if back else "", "tomorrow": clock.today() + timedelta(days=1)}


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request) -> HTMLResponse:
    params = request.query_params
    done = params.get("done", "")
    acted = {"alert": _int(request, "alert", None, 1, 2**63 - 1),
             "words": next((w for s, w in ACTIONS.values() if s == done), None)}
    return render(request, "alerts.html", acted=acted, form={}, form_errors=[], failed=None,
                  **_inbox(request))


def _parse(form: dict[str, str], state: str, signed_in: bool) -> tuple[dict, list[str]]:
    errors: list[str] = []
    by = forms.text(form, "by", errors, limit=100,
                    missing=None if signed_in else "say who acts")
    comment = forms.text(form, "comment", errors, limit=2000)
    until = (forms.day(form, "until", errors, missing="choose the date the snooze ends")
             if state == "snoozed" else None)
    return {"by": by, "comment": comment, "until": until}, errors


@router.post("/alerts/{alert_id:int}/{action}", response_class=HTMLResponse)
async def act(request: Request, alert_id: int, action: str) -> Response:
    if action not in ACTIONS or not 1 <= alert_id < 2**63:
        return error_page(request, 404, "No such page.", "Start from the alerts.")
    state, words = ACTIONS[action]
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    refused = _guard(request).check(request, form.get("token"), f"alert:{alert_id}")
    if refused:
        return error_page(request, 403, f"Alert {alert_id} was not changed: {refused}.",
                          "Open the alerts page again and send the form from there.")
    access = await page_access(request)
    back = _back_query(request)
    if not access.can_write:
        signed = (f" (signed in as {access.session.name}, whose token can only read)"
                  if access.session else "")
        return error_page(request, 403, f"Alert {alert_id} was not changed: sign in with a "
                          "write token to act on alerts" + signed + ".",
                          "Sign in with a token from `healthscore token create --scope write`, "
                          "then send the form again.",
                          signin_here=signin_url(request, "/alerts" + ("?" + back if back
                                                                       else "")),
                          signin_offer=True)
    token = access.session
    change, errors = _parse(form, state, signed_in=token is not None)
    if not errors:
        workspace = _workspace(request)
        by = token.name if token is not None else change["by"]  # who signed in, not the form

        def save() -> None:
            with writing(workspace, touches=("alerts", "runs")) as store:
                alerting.act_on(workspace, alert_id, state=state, by=by,
                                comment=change["comment"], until=change["until"], store=store,
                                detail=token.run_detail() if token else None)

        try:  # off the event loop, like the pulse form's write
            await run_in_threadpool(save)
        except InputError as exc:  # a snooze that ends today or earlier
            errors.append(exc.message)
    if errors:
        ctx = await run_in_threadpool(_inbox, request)
        return render(request, "alerts.html", status=400, acted=NO_NOTICE, form=form,
                      form_errors=errors, failed=alert_id, **ctx)
    done = urlencode({"done": state, "alert": alert_id})
    return RedirectResponse(f"/alerts?{back + '&' if back else ''}{done}", status_code=303)
