"""Bearer tokens on API requests: 401 without a valid token, 403 when it lacks the scope.

Writes always need a token with scope ``write``. Reads are open unless the workspace sets
``api: {read_requires_token: true}``; a token presented on an open read is still checked, so a
revoked token never silently works.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from healthscore import clock
from healthscore.api.deps import get_workspace, reading, writing
from healthscore.api.errors import PREFIX, ApiError
from healthscore.store.tokens import TokenInfo, verify_token
from healthscore.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="`healthscore token create` prints one.")

_HINT = "send `Authorization: Bearer <token>`; `healthscore token create -w DIR --name NAME`"


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, "authentication required", [{"reason": reason, "hint": _HINT}],
                    headers={"WWW-Authenticate": "Bearer"})


def check_token(workspace: Workspace, request: Request, scope: str) -> TokenInfo:
    """The token of ``request`` if it is valid and allows ``scope``; else 401 or 403."""
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header is not `Bearer <token>`")
    now = clock.now()
    # Writes hold the store exclusively anyway and note when the token was last used;
    # reads check it read-only, next to other readers.
    if scope == "write":
        with writing(workspace) as store:
            info = verify_token(store, token.strip(), now=now, touch=True)
    else:
        with reading(workspace) as r:
            info = verify_token(r.open(), token.strip(), now=now, touch=False)
    if info is None:
        raise _unauthorized("unknown or revoked token")
    if not info.allows(scope):
        raise ApiError(403, "forbidden", [{
            "reason": f"token {info.token_id} ({info.name}) has scope(s) "
                      f"{', '.join(info.scopes)}; this needs {scope!r}",
            "hint": f"create a token with --scope {scope}"}])
    return info


class TokenFirst:
    """Check the token of every API write before anything reads its body: FastAPI parses a
    JSON body before a route's dependencies run, so without this a client without a token
    could still make the server parse (and answer about) any body up to the size limit. The
    verified token is left in the request's state for :func:`require_write`."""

    WRITES = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, app: ASGIApp, workspace: Workspace, router: Router):
        self.app = app
        self.workspace = workspace
        self.router = router  # the app's: routes added after this middleware count too

    def _is_write_route(self, scope: Scope) -> bool:
        """An API write that a route answers (an unknown path or method goes on to its
        404 / 405)."""
        if not (scope["method"] in self.WRITES and scope["path"].startswith(PREFIX)):
            return False
        return any(route.matches(scope)[0] == Match.FULL for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_write_route(scope):
            from healthscore.api.errors import Busy, error_response
            from healthscore.errors import StoreBusy

            try:
                info = await run_in_threadpool(check_token, self.workspace, Request(scope),
                                               "write")
            except StoreBusy as exc:
                failed = Busy(exc.message)
            except ApiError as exc:
                failed = exc
            else:
                scope.setdefault("state", {})["write_token"] = info
                await self.app(scope, receive, send)
                return
            await error_response(failed.status, failed.message, failed.errors,
                                 failed.headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def require_write(
    request: Request, workspace: Workspace = Depends(get_workspace),
    _credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> TokenInfo:
    """Dependency of every write route: the token :class:`TokenFirst` verified before the
    body was read (checked here when the app runs without it)."""
    checked = getattr(request.state, "write_token", None)
    if checked is not None:
        return checked
    return await run_in_threadpool(check_token, workspace, request, "write")


async def read_access(
    request: Request, workspace: Workspace = Depends(get_workspace),
    _credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> TokenInfo | None:
    """Dependency of every read route: a token only when configured, or when one is sent."""
    if workspace.config.api.read_requires_token or request.headers.get("authorization"):
        return await run_in_threadpool(check_token, workspace, request, "read")
    return None
