"""The API's routes: thin — parse the request, call one library function, shape the answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from healthscore.api import alerts, read, write
from healthscore.api.deps import get_workspace, reading
from healthscore.api.errors import ApiJSONResponse
from healthscore.errors import ConfigError
from healthscore.store.schema import SCHEMA_VERSION
from healthscore.workspace import Workspace

router = APIRouter(default_response_class=ApiJSONResponse)

API_VERSION = "1"


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema of the API's routes only (not the dashboard's pages)."""
    app = request.app
    schema = getattr(app.state, "api_openapi", None)
    if schema is None:
        from healthscore import __version__
        schema = get_openapi(
            title="healthscore REST API", version=__version__,
            description="Read scores, history, explanations and alerts; ingest events, "
                        "tickets, surveys and pulses; add pulses and overrides; acknowledge "
                        "and snooze alerts. See docs/api.md.",
            routes=app.routes)
        schema["paths"] = {p: v for p, v in schema.get("paths", {}).items()
                           if p.startswith("/api/v1/")}
        app.state.api_openapi = schema
    return JSONResponse(schema)


@router.get("/health", summary="Server and store status", tags=["meta"],
            responses={503: {"description": "Degraded: a scorecard cannot be loaded, so "
                                            "reads of scores fail; the body says why"}})
def health(workspace: Workspace = Depends(get_workspace)) -> Any:
    """Whether the store opens, its schema version against this release's, and whether every
    scorecard loads: a broken scorecard file answers 503 ``"status": "degraded"`` naming it."""
    with reading(workspace) as r:
        store = r.open()
        version = store.schema_version()
        runs = store.runs(1)
    body = {"ok": True, "status": "ok", "workspace": workspace.config.name,
            # the file name only: reads are open by default, the server's paths are not theirs
            "store": {"file": workspace.store_path.name, "schema_version": version,
                      "expected_schema_version": SCHEMA_VERSION,
                      "current": version == SCHEMA_VERSION},
            "last_run": runs[0] if runs else None}
    try:
        body["scorecards"] = [sc.name for sc in workspace.scorecards()]
    except ConfigError as exc:
        local = str(workspace.root).rstrip("/") + "/"  # paths inside the workspace, not the server's
        body.update(ok=False, status="degraded", error="a scorecard cannot be loaded",
                    errors=[{"reason": exc.message.replace(local, ""),
                             "problems": [p.replace(local, "") for p in exc.problems],
                             "hint": exc.hint or "fix the file, then reload the page"}])
        return ApiJSONResponse(jsonable_encoder(body), status_code=503)
    return body


router.include_router(read.router)
router.include_router(write.router)
router.include_router(alerts.router)
