"""Write routes (token with scope ``write``): ingest records, add a pulse, add an override.

Records go through the same parsing, validation and quarantine as file ingest
(``healthscore.sources.records``). A body is read as a stream and refused with 413 as soon as it
passes the workspace's ``api.max_body_mb``. Every write is recorded as a run in ``runs``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from healthscore import clock
from healthscore.api.auth import require_write
from healthscore.api.deps import get_workspace, open_store
from healthscore.api.errors import BODY_HINT, ApiError
from healthscore.errors import QuarantineError, SchemaError
from healthscore.schemas import TABLES
from healthscore.sources.records import (
    RecordsReport,
    ingest_records,
    parse_json_array,
    split_json_lines,
)
from healthscore.store import manual
from healthscore.store.tokens import TokenInfo
from healthscore.workspace import Workspace

router = APIRouter(tags=["write"])

TableName = Literal[tuple(TABLES)]  # type: ignore[valid-type]
JSON_TYPES = ("application/json",)
LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines",
               "application/jsonlines", "application/x-jsonlines")
# What curl --data-binary and friends send when nobody says: read by the first character.
SNIFFED_TYPES = ("", "application/x-www-form-urlencoded", "text/plain",
                 "application/octet-stream")

_RECORDS_BODY = {
    "required": True,
    "description": "Records named by canonical column (docs/data.md): a JSON array of objects, "
                   "or JSON lines (one object per line).",
    "content": {
        "application/json": {"schema": {"type": "array",
                                        "items": {"type": "object",
                                                  "additionalProperties": True}}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}

ROW_ERRORS_DOC = "Per-row problems: row (1-based record or line number), column, value, reason."


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    too_big = ApiError(413, "request body too large", [{
        "reason": f"the body is over the limit of {limit:,} bytes", "hint": BODY_HINT}])
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def split_records(body: bytes, content_type: str) -> list[str]:
    """One JSON text per record, by the Content-Type (or the body's first character)."""
    media = content_type.split(";")[0].strip().lower()
    if media in JSON_TYPES or media.endswith("+json"):
        return parse_json_array(body)
    if media in LINES_TYPES:
        return split_json_lines(body)
    if media in SNIFFED_TYPES:
        if body.lstrip()[:1] == b"[":
            return parse_json_array(body)
        return split_json_lines(body)
    raise ApiError(415, "unsupported media type", [{
        "reason": f"Content-Type {media!r} is not JSON",
        "hint": "send application/json (an array of objects) or application/x-ndjson "
                "(JSON lines)"}])


def _ingest_answer(report: RecordsReport) -> dict[str, Any]:
    return {"ok": True, **report.as_dict(), "errors": report.problems,
            "errors_total": report.problem_count}


async def _ingest(request: Request, workspace: Workspace, token: TokenInfo, table: str,
                  strict: bool) -> dict[str, Any]:
    limit = int(workspace.config.api.max_body_mb * 1024 * 1024)
    body = await read_body(request, limit)
    texts = split_records(body, request.headers.get("content-type", ""))
    if not any(t.strip() for t in texts):
        raise ApiError(422, "no records", [{"reason": "the body holds no records",
                                            "hint": "send at least one JSON object"}])

    def work() -> RecordsReport:
        with open_store(workspace) as store:
            return ingest_records(store, table, texts, now=clock.now(),
                                  timezone=workspace.config.timezone, strict=strict,
                                  detail=token.run_detail())

    try:
        report = await run_in_threadpool(work)
    except QuarantineError as exc:
        rep: RecordsReport = exc.report
        raise ApiError(422, exc.message, rep.problems) from None
    if report.rows_read and report.rows_loaded == 0:
        raise ApiError(422, f"all {report.rows_read} row(s) rejected; nothing was loaded",
                       report.problems)
    return _ingest_answer(report)


StrictQuery = Annotated[bool, Query(description="Write nothing if any row is rejected.")]


@router.post("/ingest/{table}", openapi_extra={"requestBody": _RECORDS_BODY},
             summary="Ingest records into any canonical table", description=ROW_ERRORS_DOC)
async def ingest_table(
    request: Request,
    table: Annotated[TableName, Path(description="A canonical table (docs/data.md).")],
    strict: StrictQuery = False,
    workspace: Workspace = Depends(get_workspace),
    token: TokenInfo = Depends(require_write),
) -> dict[str, Any]:
    return await _ingest(request, workspace, token, table, strict)


def _alias(path: str, table: str, what: str) -> None:
    async def route(request: Request, strict: StrictQuery = False,
                    workspace: Workspace = Depends(get_workspace),
                    token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
        return await _ingest(request, workspace, token, table, strict)

    route.__name__ = f"ingest_{table}"
    router.post(path, openapi_extra={"requestBody": _RECORDS_BODY},
                summary=f"Ingest {what} ({table})", description=ROW_ERRORS_DOC)(route)


_alias("/events", "usage_events", "usage events")
_alias("/tickets", "tickets", "support tickets")
_alias("/surveys", "surveys", "NPS and CSAT answers")
_alias("/pulses", "pulses", "CSM pulses in bulk")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PulseIn(_Body):
    """A CSM pulse for one account."""

    value: int | str = Field(description="1 (bad) to 5 (good), or red / yellow / green.")
    comment: str = Field(min_length=1, max_length=2000, description="Why.")
    author: str | None = Field(None, max_length=200,
                               description="Who says so (default: the token's name).")
    expires_at: datetime | None = Field(None, description="When the pulse stops counting.")


    @field_validator("value", mode="before")
    @classmethod
    def _one_to_five(cls, v: Any) -> int:
        try:
            return manual.pulse_value(v)
        except SchemaError:
            raise ValueError("use 1 (bad) to 5 (good), or red / yellow / green") from None


class OverrideIn(_Body):
    """A replacement of one measure's score for one account, until it expires."""

    measure: str = Field(min_length=1, max_length=200, description="Measure id.")
    score: float = Field(ge=0, le=100, description="The measure score to use (0-100).")
    comment: str = Field(min_length=1, max_length=2000, description="Why.")
    author: str | None = Field(None, max_length=200,
                               description="Who says so (default: the token's name).")
    expires_at: datetime | None = Field(None, description="When it ends.")
    scorecard: str | None = Field(None, max_length=200,
                                  description="Only in this scorecard (default: every one "
                                              "with that measure).")


AccountPath = Annotated[str, Path(min_length=1, max_length=200, description="Account id.")]


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else clock.utc(value)


@router.post("/accounts/{account_id:path}/pulses", summary="Add a CSM pulse to an account")
def add_pulse(account_id: AccountPath, pulse: PulseIn,
              workspace: Workspace = Depends(get_workspace),
              token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
    value = int(pulse.value)
    author = pulse.author or token.name
    expires = _naive_utc(pulse.expires_at)

    now = clock.now()
    with open_store(workspace) as store:
        run_id = manual.add_pulse(store, account_id=account_id, value=value, author=author,
                                  comment=pulse.comment, at=now, expires_at=expires,
                                  kind="api-pulse", detail=token.run_detail())
    return {"ok": True, "run_id": run_id, "account_id": account_id, "value": value,
            "author": author, "comment": pulse.comment, "at": now, "expires_at": expires}


def _measure_ids(workspace: Workspace, scorecard: str | None) -> set[str]:
    return {mid for sc in workspace.scorecards([scorecard] if scorecard else None)
            for name in sc.scorecard.variant_names()
            for _, mid, _ in sc.scorecard.resolve(name).measures()}


@router.post("/accounts/{account_id:path}/overrides",
             summary="Override one measure's score for an account")
def add_override(account_id: AccountPath, override: OverrideIn,
                 workspace: Workspace = Depends(get_workspace),
                 token: TokenInfo = Depends(require_write)) -> dict[str, Any]:
    if override.scorecard and override.scorecard not in {
            sc.name for sc in workspace.scorecards()}:
        raise ApiError(422, f"no scorecard named {override.scorecard!r}",
                       [{"param": "scorecard", "in": "body", "value": override.scorecard}])
    ids = _measure_ids(workspace, override.scorecard)
    if override.measure not in ids:
        raise ApiError(422, f"no measure {override.measure!r} in the scorecards", [{
            "param": "measure", "in": "body", "value": override.measure,
            "hint": "measures: " + ", ".join(sorted(ids))}])
    author = override.author or token.name
    expires = _naive_utc(override.expires_at)

    now = clock.now()
    with open_store(workspace) as store:
        oid, run_id = manual.add_override(
            store, account_id=account_id, measure=override.measure, score=override.score,
            author=author, comment=override.comment, created_at=now, expires_at=expires,
            scorecard=override.scorecard, kind="api-override", detail=token.run_detail())
    return {"ok": True, "run_id": run_id, "override_id": oid, "account_id": account_id,
            "measure": override.measure, "score": override.score, "author": author,
            "comment": override.comment, "created_at": now, "expires_at": expires,
            "scorecard": override.scorecard}
