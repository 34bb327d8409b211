"""The web dashboard: server-rendered pages over :mod:`healthscore.read`.

:func:`install` adds the pages, the sign-in form (:mod:`.signin`), our own CSS and JavaScript
under ``/static``, plotly's JavaScript from the installed ``plotly`` package (nothing is fetched
from the internet), the security headers, and HTML pages for errors outside ``/api/``. See
docs/dashboard.md.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthscore.errors import HealthScoreError
from healthscore.server.sessions import Sessions
from healthscore.web.alerts import router as alerts_router
from healthscore.web.pages import error_page, page_access, router
from healthscore.web.preview import router as preview_router
from healthscore.web.render import FormGuard
from healthscore.web.signin import router as signin_router

#: What pages may load: only this server's files (plotly sets inline styles on its charts).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'; object-src 'none'")


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()


def install(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (whose ``app.state.workspace`` is set)."""
    app.state.form_guard = FormGuard()
    app.state.sessions = Sessions.for_workspace(app.state.workspace)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(_plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(signin_router)
    app.include_router(preview_router)
    app.include_router(alerts_router)
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("healthscore.web", "static")]), name="static")

    api_http_handler = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") and api_http_handler is not None:
            return await api_http_handler(request, exc)
        # the header says who is signed in on error pages too; a busy or broken store
        # leaves it out rather than failing the error page
        with suppress(HealthScoreError):
            await page_access(request)
        if exc.status_code == 404:
            return error_page(request, 404, "No such page.", "Start from the portfolio.")
        if exc.status_code == 405:
            return error_page(request, 405, f"{request.method} is not allowed here.")
        return error_page(request, exc.status_code, str(exc.detail))

    app.add_exception_handler(StarletteHTTPException, http_error)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        if not request.url.path.startswith("/api/"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response


__all__ = ["install", "router"]
