"""The dashboard's pages: portfolio, accounts, one account (with the pulse form and its open
alerts), scorecards; the alerts inbox is in :mod:`.alerts`.

Who may see them (:class:`PageRoute`): when the workspace sets ``api.read_requires_token``, a
page asked for without a session (:mod:`healthscore.server.sessions`) redirects to the sign-in
form (:mod:`.signin`), which comes back to it. The pulse form needs a session of a ``write``
token whenever the workspace has an active token or reads need one (``Access.guarded``).

Each route parses its query, reads through :mod:`healthscore.read` with the server's cached
reader (the store open for the request only), and renders a template. Every page takes
``?as_of=`` (a scored date; default the latest) and its links keep it. Every failure becomes a
page, never a bare 500: bad query values name the field (400), an unknown account or a date
without a snapshot is a 404 that says what exists, a store held by a running job is a 503 "data
is being updated", a broken workspace file shows its problems.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthscore import clock, read
from healthscore.config.scorecard import LoadedScorecard
from healthscore.errors import (
    ConfigError,
    HealthScoreError,
    InputError,
    NotFound,
    SchemaError,
    StoreBusy,
)
from healthscore.read import Card
from healthscore.server import reading, writing
from healthscore.server.sessions import COOKIE as SESSION_COOKIE
from healthscore.server.sessions import Access, Sessions, resolve
from healthscore.store import manual
from healthscore.web import forms
from healthscore.web.render import COOKIE, ENV, FormGuard, secure_cookies, url_with
from healthscore.workspace import Workspace

log = logging.getLogger("healthscore.web")

#: Query parameters every page's links keep: the scorecard and the date looked at.
KEPT = ("scorecard", "as_of")


class PageError(Exception):
    """A failure shown as a page: HTTP status, headline, optional hint."""

    def __init__(self, status: int, message: str, hint: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


#: Pages open to everyone even when reads need a token.
OPEN_PATHS = frozenset({"/signin", "/signout"})


async def page_access(request: Request) -> Access:
    """Who the request comes from (its session, checked against the active tokens), and the
    alerts needing attention that the header shows them, worked out once per request, off
    the event loop (it may read the store)."""
    found = getattr(request.state, "access", None)
    if found is None:
        sessions: Sessions = request.app.state.sessions
        found, counts = await run_in_threadpool(_who, _workspace(request), sessions,
                                                request.cookies.get(SESSION_COOKIE))
        request.state.access = found
        request.state.alert_counts = counts
    return found


def _who(workspace: Workspace, sessions: Sessions, cookie: str | None
         ) -> tuple[Access, dict | None]:
    from healthscore.web.alerts import header_counts

    access = resolve(workspace, sessions, cookie, now=clock.now())
    return access, header_counts(workspace, access)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path of this server to come back to after signing in, else
    ``/``: never another site (``//evil.example``, ``/\\evil.example``, ``https://…``, which
    browsers would follow off the server), never the sign-in pages themselves.

    >>> safe_next("/accounts?band=red"), safe_next("//evil.example/x"), safe_next("https://e.x")
    ('/accounts?band=red', '/', '/')
    """
    if (not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//")
            or "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in OPEN_PATHS:
        return "/"
    return value


def signin_url(request: Request, path: str | None = None) -> str:
    """The sign-in form, coming back to ``path`` (default: the page asked for)."""
    if path is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?" + urlencode({"next": safe_next(path)})


class PageRoute(APIRoute):
    """Routes whose failures render the error page instead of JSON, and that ask for a
    sign-in when reads need a token."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()
        open_page = self.path in OPEN_PATHS

        async def guarded(request: Request) -> Response:
            try:
                access = await page_access(request)
                if (access.reads_need_token and access.session is None and not open_page
                        and request.method in ("GET", "HEAD")):
                    # other methods go on: the pulse form refuses them itself (403)
                    return RedirectResponse(signin_url(request), status_code=303)
                return await handler(request)
            except StarletteHTTPException:
                raise  # a body over the limit (413): the app's handler renders it
            except PageError as exc:
                return error_page(request, exc.status, exc.message, exc.hint)
            except InputError as exc:
                return error_page(request, 400, exc.message, exc.hint)
            except NotFound as exc:
                return error_page(request, 404, exc.message, exc.hint)
            except StoreBusy:
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
    kept = kept_query(request)
    context.setdefault("sc_query", "?" + kept if kept else "")
    context.setdefault("kept", kept)
    # after a POST, come back to a page (GET), not to the form's action
    context.setdefault("signin_here", signin_url(request) if request.method in ("GET", "HEAD")
                       else "/signin")
    access = getattr(request.state, "access", None)
    html = ENV.get_template(template).render(
        request=request, workspace_name=workspace.config.name if workspace else "",
        access=access, alert_counts=getattr(request.state, "alert_counts", None),
        url=lambda path=None, **kw: url_with(request, path, **kw),
        account_url=lambda account_id, **kw: account_url(
            account_id, **{**kept_params(request), **kw}),
        account_path=lambda account_id: account_url(account_id),
        form_token=lambda purpose: _guard(request).token(cookie, purpose), **context)
    response = HTMLResponse(html, status_code=status, headers=headers)
    if new_cookie:
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", path="/",
                            secure=secure_cookies(request))
    return response


def error_page(request: Request, status: int, message: str, hint: str | None = None,
               headers: dict[str, str] | None = None, problems: list[str] | None = None,
               **context: Any) -> HTMLResponse:
    return render(request, "error.html", status, headers, status_code=status, message=message,
                  hint=hint, problems=problems or [], **context)


def kept_params(request: Request) -> dict[str, str]:
    """The scorecard and date of the current page's query, for its links."""
    return {k: v.strip() for k in KEPT if (v := request.query_params.get(k, ""))
            and v.strip()}


def kept_query(request: Request) -> str:
    """:func:`kept_params` as a query string (no ``?``)."""
    return urlencode(kept_params(request))


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
        raise InputError(name, f"{raw!r} is not a whole number",
                         hint=f"use a number from {low} to {high}") from None
    if not low <= value <= high:
        raise InputError(name, f"{value} is not {low}-{high}")
    return value


def _date(request: Request, name: str = "as_of") -> date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(name, f"{raw!r} is not a date", hint="use YYYY-MM-DD") from None


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


def _base(request: Request, nav: str) -> tuple[Workspace, Card | None, dict]:
    """The workspace, the card asked for, and the context every page has: the scorecards, the
    card, and the date asked for (``as_of``)."""
    workspace = _workspace(request)
    cards, loaded = _scorecard(request, workspace)
    card = Card.of(loaded) if loaded is not None else None
    return workspace, card, {"nav": nav, "cards": cards, "card": card,
                             "asked": _date(request), "dates": []}


# -- pages -------------------------------------------------------------------------------------


def _asked(ctx: dict) -> date | None:
    """The date asked for, unless the scorecard has no scores at all (a scorecard switched to
    keeps the date; with nothing scored the page says so instead of a 404)."""
    return ctx["asked"] if ctx["dates"] else None


@router.get("/", response_class=HTMLResponse)
def portfolio_page(request: Request) -> HTMLResponse:
    workspace, card, ctx = _base(request, "portfolio")
    risk_days = _int(request, "risk_days", 90, 0, 3650)
    if card is None:
        return render(request, "portfolio.html", summary=None, **ctx)
    with reading(workspace) as r:
        ctx["dates"] = read.scored_dates(r, card)
        summary = read.portfolio(r, card, _asked(ctx), at_risk_days=risk_days)
        day = summary["as_of"]
        history = read.band_history(r, card, days=365, end=day) if day else []
        moved = read.movers(r, card, days=30, end=day, limit=8)
    chart = band_chart(history)
    return render(request, "portfolio.html", summary=summary, history=history, chart=chart,
                  movers=moved, risk_days=risk_days, **ctx)


COLUMNS = [  # (sort key, header, css class)
    ("name", "Account", ""), ("score", "Score", "num"), ("band", "Band", ""),
    ("delta_30d", "30 days", "num"), ("arr", "ARR", "num"), ("plan", "Plan", ""),
    ("segment", "Segment", ""), ("csm", "CSM", ""), ("renewal_date", "Renewal", "num"),
]


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request) -> HTMLResponse:
    workspace, card, ctx = _base(request, "accounts")
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
        "per_page": _int(request, "per_page", 50, 1, read.MAX_PER_PAGE),
    }
    if card is None:
        return render(request, "accounts.html", result=None, query=query, options=None,
                      columns=COLUMNS, **ctx)
    with reading(workspace) as r:
        ctx["dates"] = read.scored_dates(r, card)
        result = read.accounts(r, card, as_of=_asked(ctx), **query)
        options = read.filter_options(r, card, result["as_of"])
    filtered = any(query[k] for k in ("band", "segment", "csm", "q")) \
        or query["renewal_within"] is not None
    return render(request, "accounts.html", result=result, query=query, options=options,
                  columns=COLUMNS, filtered=filtered, **ctx)


def _account_context(request: Request, account_id: str) -> dict:
    from healthscore.web.alerts import account_alerts  # it imports this module

    workspace, card, ctx = _base(request, "accounts")
    with reading(workspace) as r:
        detail = history = change = None
        if card is not None:
            try:
                detail = read.account(r, card, account_id, ctx["asked"])
            except NotFound:
                detail = None
            attrs = detail["account"] if detail else None
            ctx["dates"] = read.scored_dates(r, card)
        else:
            attrs = read.attributes(r, account_id)
        if attrs is None:
            raise PageError(404, f"No account {account_id!r} in this workspace.",
                            "Pick one from the accounts list.")
        if card is not None and detail["snapshot"] is not None:
            history = read.trend(r, card, account_id, days=365, end=detail["as_of"])
            try:
                change = read.why(r, card, account_id, end=detail["as_of"], days=30,
                                  window=history["points"])
            except NotFound:
                change = None
        inputs = read.manual_inputs(r, account_id)
        activity = read.activity(r, account_id, limit=5)
        prediction = _prediction(r, card, account_id, detail["as_of"] if detail else None)
        alerts = account_alerts(r, workspace, account_id)
    chart = None
    if card is not None and detail and detail["snapshot"]:
        snap = detail["snapshot"]
        bands = card.bands_of(snap["variant"])
        chart = {"dates": [p["as_of"].isoformat() for p in history["points"]],
                 "scores": [p["score"] for p in history["points"]],
                 "bands": {"red": bands.red, "yellow": bands.yellow}, "name": card.name}
    groups = [{**g, "measures": [m for m in detail["snapshot"]["measures"]
                                 if m["group"] == g["group"]]}
              for g in (detail["snapshot"]["groups"] if detail and detail["snapshot"] else [])]
    return {**ctx, "account": attrs, "detail": detail, "history": history, "change": change,
            "inputs": inputs, "activity": activity, "chart": chart, "groups": groups,
            "labels": card.labels if card else {}, "account_id": account_id,
            "prediction": prediction, "alerts": alerts}


def _prediction(r, card, account_id: str, day) -> dict | None:
    """The churn model's answer for the account on the page's date (else its latest), with
    a sparkline of its history; None before ``healthscore predict``."""
    from healthscore.read.predictions import account_prediction

    if card is None:
        return None
    found = None
    for when in ([day] if day else []) + [None]:
        try:
            found = account_prediction(r, card, account_id, when)
            break
        except NotFound:
            continue
    if found is None:
        return None
    points = found["history"]
    if len(points) > 1:
        top = max(p["probability"] for p in points) or 1.0
        step = 300 / (len(points) - 1)
        found["spark"] = " ".join(f"{i * step:.1f},{40 - 38 * p['probability'] / top:.1f}"
                                  for i, p in enumerate(points))
        found["spark_top"] = top
    return found


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str) -> HTMLResponse:
    ctx = _account_context(request, account_id)
    added = request.query_params.get("added") == "pulse"
    return render(request, "account.html", form={}, form_errors=[], added=added, **ctx)


def _parse_pulse(form: dict[str, str]) -> tuple[dict, list[str]]:
    errors: list[str] = []
    value = None
    try:
        value = manual.pulse_value(form.get("value", ""))
    except SchemaError:
        errors.append("value: choose red, yellow, green or 1-5")
    author = forms.text(form, "author", errors, limit=100,
                        missing="say who gives this pulse")
    comment = forms.text(form, "comment", errors, limit=2000)
    ends = forms.day(form, "expires", errors)
    expires = datetime.combine(ends, time()) if ends is not None else None
    return {"value": value, "author": author, "comment": comment, "expires_at": expires}, errors


@router.post("/accounts/{account_id:path}/pulses", response_class=HTMLResponse)
async def add_pulse(request: Request, account_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    refused = _guard(request).check(request, form.get("token"), f"pulse:{account_id}")
    if refused:
        return error_page(request, 403, "The pulse was not saved: " + refused + ".",
                          "Open the account page again and send the form from there.")
    access = await page_access(request)
    if not access.can_write:
        signed = (f" (signed in as {access.session.name}, whose token can only read)"
                  if access.session else "")
        back = account_url(account_id, **kept_params(request))
        return error_page(request, 403, "The pulse was not saved: sign in with a write token "
                          "to add a pulse" + signed + ".",
                          "Sign in with a token from `healthscore token create --scope write`, "
                          "then send the form again.", signin_here=signin_url(request, back),
                          signin_offer=True)
    token = access.session
    if token is not None:  # the author is who signed in, not what the form says
        form["author"] = token.name
    pulse, errors = _parse_pulse(form)
    if not errors:
        workspace = _workspace(request)

        def save() -> None:
            with writing(workspace, touches=("pulses", "runs")) as store:
                manual.add_pulse(store, account_id=account_id, at=clock.now(), kind="web-pulse",
                                 detail=token.run_detail() if token else None, **pulse)

        try:  # off the event loop: a write (or a store migration) must not stall other pages
            await run_in_threadpool(save)
        except (SchemaError, NotFound) as exc:
            errors.append(exc.message + (f" ({exc.hint})" if exc.hint else ""))
    if errors:
        ctx = await run_in_threadpool(_account_context, request, account_id)
        return render(request, "account.html", status=400, form=form, form_errors=errors,
                      added=False, **ctx)
    target = account_url(account_id, **kept_params(request), added="pulse") + "#pulses"
    return RedirectResponse(target, status_code=303)


@router.get("/scorecards", response_class=HTMLResponse)
def scorecards_page(request: Request) -> HTMLResponse:
    workspace, card, ctx = _base(request, "scorecards")
    with reading(workspace) as r:
        overview = read.scorecards(r, _load_scorecards(workspace))
        versions = read.versions(r)
        proofs: dict[tuple, dict] = {}
        for b in read.backtests(r):  # newest first: the latest per version
            proofs.setdefault((b["scorecard"], b["version"]), b)
    known = {c["name"] for c in overview}
    retired = [v for v in versions if v["scorecard"] not in known]
    return render(request, "scorecards.html", overview=overview, retired=retired,
                  proofs=proofs, **ctx)


def band_chart(history: list[dict]) -> dict:
    """The bands-over-time series for the chart, with a break (None) where dates are missing:
    a gap longer than twice the usual step between scored dates is drawn as a gap, not as a
    straight line across weeks nobody scored."""
    steps = sorted((b["as_of"] - a["as_of"]).days for a, b in zip(history, history[1:], strict=False))
    usual = steps[len(steps) // 2] if steps else 1
    out: dict[str, list] = {"dates": [], "red": [], "yellow": [], "green": []}
    for i, h in enumerate(history):
        if i and (h["as_of"] - history[i - 1]["as_of"]).days > 2 * usual:
            gap = history[i - 1]["as_of"] + (h["as_of"] - history[i - 1]["as_of"]) / 2
            out["dates"].append(gap.isoformat())
            for band in ("red", "yellow", "green"):
                out[band].append(None)
        out["dates"].append(h["as_of"].isoformat())
        for band in ("red", "yellow", "green"):
            out[band].append(h[band])
    return out


@router.get("/backtests", response_class=HTMLResponse)
def backtests_page(request: Request) -> HTMLResponse:
    workspace, card, ctx = _base(request, "backtests")
    with reading(workspace) as r:
        rows = read.backtests(r, request.query_params.get("scorecard") or None)
    return render(request, "backtests.html", rows=rows, **ctx)


@router.get("/backtests/{run_id:int}", response_class=HTMLResponse)
def backtest_page(request: Request, run_id: int) -> HTMLResponse:
    from healthscore.validation.report import words
    from healthscore.web.report import figures

    workspace, card, ctx = _base(request, "backtests")
    with reading(workspace) as r:
        found = read.backtest_run(r, run_id)
    labels = {}
    cards = {c.name: c for c in _load_scorecards(workspace)}
    if found.get("scorecard") in cards:
        labels = Card.of(cards[found["scorecard"]]).labels
    return render(request, "backtest.html", s=found, w=words(found), run_id=run_id,
                  figures=figures(found, labels), labels=labels, **ctx)
