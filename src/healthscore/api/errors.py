"""One error shape for every API response that is not a success.

``{"ok": false, "error": "<headline>", "errors": [...]}`` — for our own errors, FastAPI's
request validation (422, one item per bad parameter naming it), HTTP errors (401, 403, 404, 405,
413) and anything unexpected (500, without internals). Handlers answer in this shape for paths
under ``/api/``; other paths (the dashboard's pages) get FastAPI's default handling, so the pages
may install their own handlers and delegate API paths to :func:`api_error_handler`.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthscore.errors import (
    ConfigError,
    HealthScoreError,
    InputError,
    NotFound,
    SchemaError,
    StoreBusy,
    WorkspaceError,
)

log = logging.getLogger("healthscore.api")

PREFIX = "/api/"

HEADLINES = {
    400: "bad request",
    401: "authentication required",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported media type",
    422: "invalid request",
    500: "internal error",
    503: "service unavailable",
}


class ApiError(Exception):
    """An API failure with its HTTP status, headline and items for ``errors``."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors or [])
        self.headers = headers


class Busy(ApiError):
    """The store is locked by another process (an ingest or the daily job is writing)."""

    def __init__(self, detail: str = ""):
        super().__init__(503, "data is being updated, retry",
                         [{"reason": "the workspace store is locked by another healthscore "
                                     "process (an ingest, score or backfill)",
                           "hint": "retry in a few seconds"}] if not detail else
                         [{"reason": detail, "hint": "retry in a few seconds"}],
                         headers={"Retry-After": "5"})


BODY_HINT = "post the records in smaller batches, or raise api.max_body_mb in healthscore.yaml"


class BodyTooLarge(StarletteHTTPException):
    """A request body over ``api.max_body_mb``, raised while the body is read (by
    :class:`healthscore.server.BodyLimit`), whoever reads it: a route, FastAPI or a form."""

    def __init__(self, limit: int):
        super().__init__(413, f"the body is over the limit of {limit:,} bytes")


class ApiJSONResponse(JSONResponse):
    """JSON with NaN and infinities written as null (JSON has no such numbers)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error_body(message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    return {"ok": False, "error": message, "errors": list(errors or [])}


def error_response(status: int, message: str, errors: list[Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return ApiJSONResponse(error_body(message, errors), status_code=status, headers=headers)


def is_api(request: Request) -> bool:
    return request.url.path.startswith(PREFIX)


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "request"
        # A query list's item index ("band.0") is not a parameter name.
        name = (loc[1] if where in ("query", "path", "header") and len(loc) > 1
                else ".".join(loc[1:])) or where
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        item = {"in": where, "param": name, "message": message}
        if "input" in err and where in ("query", "path", "header") and \
                isinstance(err["input"], str | int | float | bool):
            item["value"] = err["input"]
        items.append(item)
    return items


async def _validation_handler(request: Request, exc: RequestValidationError):
    if not is_api(request):
        return await request_validation_exception_handler(request, exc)
    items = _validation_items(exc)
    names = ", ".join(dict.fromkeys(i["param"] for i in items))
    return error_response(422, f"invalid parameter(s): {names}" if names else "invalid request",
                          items)


async def _http_handler(request: Request, exc: StarletteHTTPException):
    if not is_api(request):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headline = HEADLINES.get(exc.status_code, detail or "error")
    errors = [] if detail is None or detail.lower() == headline else [{"reason": detail}]
    if isinstance(exc, BodyTooLarge):
        errors = [{"reason": exc.detail, "hint": BODY_HINT}]
    if exc.status_code == 404 and not errors:
        errors = [{"reason": f"no API route {request.method} {request.url.path}",
                   "hint": "see /api/v1/openapi.json"}]
    return error_response(exc.status_code, headline, errors, getattr(exc, "headers", None))


async def api_error_handler(request: Request, exc: ApiError):
    return error_response(exc.status, exc.message, exc.errors, exc.headers)


async def _healthscore_handler(request: Request, exc: HealthScoreError):
    if isinstance(exc, InputError):
        item = {"in": "query", "param": exc.field, "message": exc.message}
        if exc.hint:
            item["hint"] = exc.hint
        return error_response(422, f"invalid parameter(s): {exc.field}", [item])
    if isinstance(exc, StoreBusy):
        busy = Busy()
        return error_response(busy.status, busy.message, busy.errors, busy.headers)
    if isinstance(exc, NotFound):
        item = {"in": "query", "param": exc.param} if exc.param else {}
        if exc.hint:
            item["hint"] = exc.hint
        return error_response(404, exc.message, [item] if item else [])
    if isinstance(exc, SchemaError):
        status = 422
    elif isinstance(exc, ConfigError | WorkspaceError):
        status = 500
    else:
        status = 400
    errors = [{"reason": p} for p in getattr(exc, "problems", [])]
    if exc.hint:
        errors.append({"hint": exc.hint})
    return error_response(status, exc.message, errors)


async def _too_deep_handler(request: Request, exc: RecursionError):
    """A body nested deeper than the parser can go (``[[[[…]]]]``) is the sender's error:
    400 in the API's error shape, without a traceback in the log."""
    return error_response(400, "the body is nested too deeply", [
        {"reason": "JSON nested deeper than Python's parser allows",
         "hint": "send flat records: one JSON object per record"}])


async def _unexpected_handler(request: Request, exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error",
                          [{"reason": type(exc).__name__, "hint": "see the server log"}])


def install(app: FastAPI) -> None:
    """Install the handlers on ``app`` (API paths only; others keep FastAPI's defaults)."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(HealthScoreError, _healthscore_handler)
    app.add_exception_handler(RecursionError, _too_deep_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
