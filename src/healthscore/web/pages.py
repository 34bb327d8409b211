"""The dashboard's pages: portfolio, accounts, one account (with the pulse form), scorecards.

Each route parses its query, reads through :mod:`healthscore.portfolio` with the store open for
the request only, and renders a template. Every failure becomes a page, never a bare 500: bad
query values name the field (400), an unknown account is a 404, a store held by a running job is
a 503 "data is being updated", a broken workspace file shows its problems.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthscore import portfolio as pf
from healthscore import scorecard_view as sv
from healthscore.config.scorecard import LoadedScorecard
from healthscore.errors import ConfigError, HealthScoreError, SchemaError
from healthscore.pipeline import utcnow
from healthscore.store import manual
from healthscore.web.render import COOKIE, ENV, FormGuard, url_with
from healthscore.workspace import Workspace

log = logging.getLogger("healthscore.web")

PULSE_VALUES = {"green": 5, "yellow": 3, "amber": 3, "red": 1}


class PageError(Exception):
    """A failure shown as a page: HTTP status, headline, optional hint."""

    def __init__(self, status: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


class PageRoute(APIRoute):
    """Routes whose failures render the error page instead of JSON."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except StarletteHTTPException:
                raise  # a body over the limit (413): the app's handler renders it
            except PageError as exc:
                return error_page(request, exc.status, exc.message, exc.hint)
            except pf.InputError as exc:
                return error_page(request, 400, exc.message, exc.hint)
            except pf.StoreBusy:
                return error_page(request, 503, "The data is being updated.",
                                  "A healthscore job (ingest, score or backfill) is writing to "
                                  "the store. Retry in a moment.", {"Retry-After": "5"})
            except ConfigError as exc:
                return error_page(request, 500, "The workspace configuration has a problem: "
                                  + exc.message, exc.hint, problems=exc.problems)
            except HealthScoreError as exc:
                return error_page(request, 500, exc.message, exc.hint)
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return error_page(request, 500, "Something went wrong on the server.",
                                  "The server log has the details.")

        return guarded


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# -- rendering ---------------------------------------------------------------------------------


def _workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def _guard(request: Request) -> FormGuard:
    return request.app.state.form_guard


def render(request: Request, template: str, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    cookie, new_cookie = _guard(request).cookie_of(request)
    workspace = getattr(request.app.state, "workspace", None)
    context.setdefault("cards", [])
    context.setdefault("card", None)
    context.setdefault("nav", "")
    chosen = request.query_params.get("scorecard", "").strip()
    context.setdefault("sc_query", "?scorecard=" + quote(chosen, safe="") if chosen else "")
    html = ENV.get_template(template).render(
        request=request, workspace_name=workspace.config.name if workspace else "",
        url=lambda path=None, **kw: url_with(request, path, **kw),
        account_url=account_url,
        form_token=lambda purpose: _guard(request).token(cookie, purpose), **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    if new_cookie:
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", path="/")
    return response


def error_page(request: Request, status: int, message: str, hint: str | None = None,
               headers: dict[str, str] | None = None, problems: list[str] | None = None
               ) -> HTMLResponse:
    return render(request, "error.html", status, headers, status_code=status, message=message,
                  hint=hint, problems=problems or [])


def account_url(account_id: str, **query: str) -> str:
    path = "/accounts/" + quote(account_id, safe="")
    extra = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items() if v)
    return path + ("?" + extra if extra else "")


# -- query parsing -----------------------------------------------------------------------------


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise pf.InputError(name, f"{raw!r} is not a whole number",
                            hint=f"use a number from {low} to {high}") from None
    if not low <= value <= high:
        raise pf.InputError(name, f"{value} is not {low}-{high}")
    return value


_CARDS: dict[Path, tuple[tuple, list[LoadedScorecard]]] = {}
_CARDS_LOCK = threading.Lock()


def _load_scorecards(workspace: Workspace) -> list[LoadedScorecard]:
    """The workspace's scorecards, parsed again only when a file changes (~40 ms saved per
    page); an edited scorecard shows on the next request."""
    files = workspace.scorecard_files()
    signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _CARDS_LOCK:
        cached = _CARDS.get(workspace.root)
    if cached and cached[0] == signature:
        return cached[1]
    cards = workspace.scorecards()
    with _CARDS_LOCK:
        _CARDS[workspace.root] = (signature, cards)
    return cards


def _scorecard(request: Request, workspace: Workspace
               ) -> tuple[list[LoadedScorecard], LoadedScorecard | None]:
    """The workspace's scorecards and the one asked for (``?scorecard=``; default health)."""
    cards = _load_scorecards(workspace)
    wanted = request.query_params.get("scorecard", "").strip()
    if wanted:
        found = [c for c in cards if c.name == wanted]
        if not found:
            raise PageError(400, f"scorecard: no scorecard named {wanted!r}",
                            "the workspace has: " + (", ".join(c.name for c in cards) or "none"))
        return cards, found[0]
    default = next((c for c in cards if c.name == "health"), cards[0] if cards else None)
    return cards, default


def _base(request: Request, nav: str) -> tuple[Workspace, list[LoadedScorecard],
                                               LoadedScorecard | None, dict]:
    workspace = _workspace(request)
    cards, card = _scorecard(request, workspace)
    return workspace, cards, card, {"nav": nav, "cards": cards, "card": card}


def _group_labels(card: LoadedScorecard) -> dict[str, str]:
    sc = card.scorecard
    labels: dict[str, str] = {}
    for name in sc.variant_names():
        for gid, group in sc.resolve(name).groups.items():
            labels.setdefault(gid, group.label or gid)
    return labels


# -- pages -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def portfolio_page(request: Request) -> HTMLResponse:
    workspace, cards, card, ctx = _base(request, "portfolio")
    risk_days = _int(request, "risk_days", 90, 0, 3650)
    if card is None:
        return render(request, "portfolio.html", summary=None, **ctx)
    version = card.scorecard.version
    labels = sv.measure_labels(card.scorecard)
    with pf.open_store(workspace, lazy=True) as store:
        summary = pf.portfolio_summary(store, card.name, version, at_risk_days=risk_days)
        history = pf.band_history(store, card.name, version, days=365)
        moved = pf.movers(store, card.name, version, days=30, limit=8, labels=labels)
    chart = {"dates": [h["as_of"].isoformat() for h in history],
             "red": [h["red"] for h in history], "yellow": [h["yellow"] for h in history],
             "green": [h["green"] for h in history]}
    return render(request, "portfolio.html", summary=summary, history=history, chart=chart,
                  movers=moved, risk_days=risk_days, **ctx)


COLUMNS = [  # (sort key, header, css class)
    ("name", "Account", ""), ("score", "Score", "num"), ("band", "Band", ""),
    ("delta_30d", "30 days", "num"), ("arr", "ARR", "num"), ("plan", "Plan", ""),
    ("segment", "Segment", ""), ("csm", "CSM", ""), ("renewal_date", "Renewal", "num"),
]


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request) -> HTMLResponse:
    workspace, cards, card, ctx = _base(request, "accounts")
    params = request.query_params
    query = {
        "band": [b for b in params.getlist("band") if b],
        "segment": params.get("segment", "").strip() or None,
        "csm": params.get("csm", "").strip() or None,
        "renewal_within": _int(request, "renewal_within", None, 0, 3650),
        "q": params.get("q", "").strip()[:200] or None,
        "sort": params.get("sort", "score").strip() or "score",
        "desc": params.get("desc", "") in ("1", "true", "yes"),
        "page": _int(request, "page", 1, 1, 10_000_000),
        "per_page": _int(request, "per_page", 50, 1, pf.MAX_PER_PAGE),
    }
    if card is None:
        return render(request, "accounts.html", result=None, query=query, options=None,
                      columns=COLUMNS, **ctx)
    version = card.scorecard.version
    with pf.open_store(workspace, lazy=True) as store:
        result = pf.list_accounts(store, card.name, version, **query)
        options = pf.filter_options(store, card.name, version, result["as_of"])
    filtered = any(query[k] for k in ("band", "segment", "csm", "q")) \
        or query["renewal_within"] is not None
    return render(request, "accounts.html", result=result, query=query, options=options,
                  columns=COLUMNS, filtered=filtered, **ctx)


def _account_context(request: Request, account_id: str) -> dict:
    workspace, cards, card, ctx = _base(request, "accounts")
    with pf.open_store(workspace) as store:
        attrs = pf.account(store, account_id)
        if attrs is None:
            raise PageError(404, f"No account {account_id!r} in this workspace.",
                            "Pick one from the accounts list.")
        detail = history = change = None
        if card is not None:
            version = card.scorecard.version
            detail = pf.account_detail(store, card.name, version, account_id)
            if detail["snapshot"] is not None:
                history = pf.score_history(store, card.name, version, account_id, days=365,
                                           end=detail["as_of"])
                change = pf.change_explanation(store, card.name, version, account_id, days=30,
                                               labels=sv.measure_labels(card.scorecard))
        inputs = manual.manual_inputs(store, account_id)
        activity = pf.recent_activity(store, account_id, limit=5)
    chart = None
    labels: dict[str, str] = {}
    groups: list[dict] = []
    if card is not None:
        labels = sv.measure_labels(card.scorecard)
        if detail and detail["snapshot"]:
            snap = detail["snapshot"]
            bands = card.scorecard.resolve(snap["variant"]).bands \
                if snap["variant"] in card.scorecard.variant_names() else card.scorecard.bands
            chart = {"dates": [p["as_of"].isoformat() for p in history["points"]],
                     "scores": [p["score"] for p in history["points"]],
                     "bands": {"red": bands.red, "yellow": bands.yellow},
                     "name": card.name}
            glabels = _group_labels(card)
            for g in snap["groups"]:
                groups.append({**g, "label": glabels.get(g["group"], g["group"]),
                               "measures": [{**m, "label": labels.get(m["measure"],
                                                                      m["measure"])}
                                            for m in snap["measures"]
                                            if m["group"] == g["group"]]})
    return {**ctx, "account": attrs, "detail": detail, "history": history, "change": change,
            "inputs": inputs, "activity": activity, "chart": chart, "groups": groups,
            "labels": labels, "account_id": account_id}


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str) -> HTMLResponse:
    ctx = _account_context(request, account_id)
    added = request.query_params.get("added") == "pulse"
    return render(request, "account.html", form={}, form_errors=[], added=added, **ctx)


def _parse_pulse(form: dict[str, str]) -> tuple[dict, list[str]]:
    errors: list[str] = []
    raw = form.get("value", "").strip().lower()
    value = PULSE_VALUES.get(raw)
    if value is None:
        if raw.isdigit() and 1 <= int(raw) <= 5:
            value = int(raw)
        else:
            errors.append("value: choose red, yellow, green or 1-5")
    author = form.get("author", "").strip()
    if not author:
        errors.append("author: say who gives this pulse")
    elif len(author) > 100:
        errors.append("author: at most 100 characters")
    comment = form.get("comment", "").strip()
    if len(comment) > 2000:
        errors.append("comment: at most 2,000 characters")
    expires = None
    raw_expiry = form.get("expires", "").strip()
    if raw_expiry:
        try:
            expires = datetime.combine(datetime.strptime(raw_expiry, "%Y-%m-%d").date(), time())
        except ValueError:
            errors.append(f"expires: {raw_expiry!r} is not a date (YYYY-MM-DD)")
    return {"value": value, "author": author, "comment": comment, "expires_at": expires}, errors


@router.post("/accounts/{account_id:path}/pulses", response_class=HTMLResponse)
async def add_pulse(request: Request, account_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    refused = _guard(request).check(request, form.get("token"), f"pulse:{account_id}")
    if refused:
        return error_page(request, 403, "The pulse was not saved: " + refused + ".",
                          "Open the account page again and send the form from there.")
    pulse, errors = _parse_pulse(form)
    if not errors:
        workspace = _workspace(request)
        try:
            with pf.open_store(workspace, write=True, touches=("pulses",)) as store:
                manual.add_pulse(store, account_id=account_id, at=utcnow(None), **pulse)
        except SchemaError as exc:
            errors.append(exc.message + (f" ({exc.hint})" if exc.hint else ""))
    if errors:
        ctx = _account_context(request, account_id)
        return render(request, "account.html", status=400, form=form, form_errors=errors,
                      added=False, **ctx)
    scorecard = request.query_params.get("scorecard")
    target = account_url(account_id, scorecard=scorecard or "", added="pulse") + "#pulses"
    return RedirectResponse(target, status_code=303)


@router.get("/scorecards", response_class=HTMLResponse)
def scorecards_page(request: Request) -> HTMLResponse:
    workspace, cards, card, ctx = _base(request, "scorecards")
    with pf.open_store(workspace) as store:
        overview = sv.scorecard_overview(workspace, store)
        versions = sv.scorecard_history(store)
    known = {c["name"] for c in overview}
    retired = [v for v in versions if v["scorecard"] not in known]
    return render(request, "scorecards.html", overview=overview, retired=retired, **ctx)
