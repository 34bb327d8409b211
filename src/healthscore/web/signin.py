"""Signing in to the dashboard with an API token, and out.

``GET /signin?next=PATH`` shows the form; ``POST /signin`` checks the pasted token
(:func:`~healthscore.store.tokens.verify_token`: unknown or revoked → the form again, 401) and
sets the session cookie (:mod:`healthscore.server.sessions`): HttpOnly, SameSite=Strict, Path=/,
Secure when the request came over HTTPS, for :data:`~healthscore.server.sessions.LIFETIME`;
then goes back to ``next`` when it is a path of this server (:func:`~.pages.safe_next`).
``POST /signout`` clears it. Both forms carry the form token of :class:`~.render.FormGuard`,
like the pulse form, so another site's page cannot sign a visitor in or out.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from healthscore import clock
from healthscore.server import writing
from healthscore.server.sessions import COOKIE, LIFETIME, Sessions
from healthscore.store.tokens import TokenInfo, verify_token
from healthscore.web.pages import (
    PageRoute,
    _guard,
    _workspace,
    error_page,
    page_access,
    render,
    safe_next,
)
from healthscore.web.render import secure_cookies
from healthscore.workspace import Workspace

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_HOURS = int(LIFETIME.total_seconds() // 3600)


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _page(request: Request, status: int = 200, message: str | None = None,
          next_path: str = "/") -> HTMLResponse:
    return render(request, "signin.html", status, nav="signin", message=message,
                  next=next_path, hours=_HOURS)


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> HTMLResponse:
    await page_access(request)  # the header and the page say who is signed in
    return _page(request, next_path=safe_next(request.query_params.get("next")))


def _verify(workspace: Workspace, token: str) -> TokenInfo | None:
    # writable, like an API write: the sign-in is recorded as the token's last use
    with writing(workspace) as store:
        return verify_token(store, token, now=clock.now(), touch=True)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    form = await _form(request)
    next_path = safe_next(form.get("next"))
    await page_access(request)
    refused = _guard(request).check(request, form.get("token"), "signin")
    if refused:
        return error_page(request, 403, "You were not signed in: " + refused + ".",
                          "Open the sign-in page again and send the form from there.")
    pasted = form.get("api_token", "").strip()
    info = await run_in_threadpool(_verify, _workspace(request), pasted) if pasted else None
    if info is None:
        message = ("That token is unknown or revoked: paste a current token "
                   "(`healthscore token list` shows which exist)." if pasted else
                   "Paste a token from `healthscore token create` to sign in.")
        return _page(request, 401, message, next_path)
    sessions: Sessions = request.app.state.sessions
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE, sessions.issue(info, now=clock.now()),
                        max_age=int(LIFETIME.total_seconds()), httponly=True,
                        samesite="strict", path="/", secure=secure_cookies(request))
    return response


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request) -> Response:
    form = await _form(request)
    access = await page_access(request)
    refused = _guard(request).check(request, form.get("token"), "signout")
    if refused:
        return error_page(request, 403, "You were not signed out: " + refused + ".",
                          "Open a page again and sign out from there.")
    response = RedirectResponse("/signin" if access.reads_need_token else "/",
                                status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure_cookies(request))
    return response
