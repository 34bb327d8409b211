"""The scorecards section's preview page: what a changed scorecard would do, before it ships.

``GET /scorecards/preview`` shows a form: which scorecard the change would replace, and the
changed file — one of the YAML files in the workspace's scorecards folder, or YAML pasted in.
``POST /scorecards/preview`` evaluates it against the current scorecard on the same data
(:func:`healthscore.pipeline.preview`, read-only: nothing is written) and shows the band
transitions with ARR, the accounts that move and why, and on request the backtest of both on
the stored history. A posted file that is not a valid scorecard shows its errors (file:line).
The form carries the form token (another site's page cannot post it); when reads need a token
the post needs a session, like the pages.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from healthscore import pipeline
from healthscore.config.yamlfile import MAX_BYTES
from healthscore.errors import ConfigError, HealthScoreError
from healthscore.server import reading
from healthscore.web.pages import (
    PageRoute,
    _base,
    _guard,
    _load_scorecards,
    _workspace,
    error_page,
    page_access,
    render,
)
from healthscore.workspace import Workspace

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def candidates(workspace: Workspace) -> list[str]:
    """The YAML files in the folders of the workspace's scorecards and in their ``drafts/``
    subfolders (a draft there is not read as a scorecard, so it may keep the name it would
    replace), relative to the workspace: the files the form offers; nothing else can be
    picked."""
    folders = {f.parent for f in workspace.scorecard_files()} or {workspace.root / "scorecards"}
    folders |= {d / "drafts" for d in folders}
    found = sorted({p for d in folders if d.is_dir() for p in (*d.glob("*.yaml"),
                                                                  *d.glob("*.yml"))})
    return [str(p.relative_to(workspace.root)) if p.is_relative_to(workspace.root) else str(p)
            for p in found]


def _form_page(request: Request, status: int = 200, **context) -> HTMLResponse:
    workspace, _, ctx = _base(request, "scorecards")
    names = [sc.name for sc in _load_scorecards(workspace)]
    for key, default in (("form", {}), ("errors", []), ("hint", None), ("result", None),
                         ("source", None)):
        context.setdefault(key, default)
    return render(request, "preview.html", status, files=candidates(workspace), names=names,
                  **{**ctx, **context})


@router.get("/scorecards/preview", response_class=HTMLResponse)
async def preview_form(request: Request) -> HTMLResponse:
    await page_access(request)
    return _form_page(request)


def _run(workspace: Workspace, name: str, path: Path, history: bool):
    with reading(workspace) as r:
        return pipeline.preview(workspace, name, path, history=history, reader=r)


@router.post("/scorecards/preview", response_class=HTMLResponse)
async def preview_result(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    refused = _guard(request).check(request, form.get("token"), "preview")
    if refused:
        return error_page(request, 403, "The preview was not run: " + refused + ".",
                          "Open the preview page again and send the form from there.")
    access = await page_access(request)
    if access.reads_need_token and access.session is None:
        return error_page(request, 403, "Sign in to preview a scorecard.",
                          "Open /signin and paste a token.")
    workspace = _workspace(request)
    name, picked, pasted = form.get("scorecard", ""), form.get("file", ""), form.get("yaml", "")
    history = form.get("history") == "on"
    errors: list[str] = []
    if pasted.strip() and len(pasted.encode()) > MAX_BYTES:
        errors.append(f"the pasted YAML is over {MAX_BYTES:,} bytes")
    elif not pasted.strip() and picked not in candidates(workspace):
        errors.append("choose a file from the list, or paste a scorecard")
    if errors:
        return _form_page(request, 422, errors=errors, form=form)
    with tempfile.TemporaryDirectory() as folder:
        if pasted.strip():
            path = Path(folder) / "pasted.yaml"
            path.write_text(pasted, encoding="utf-8")
        else:
            path = workspace.root / picked
        try:
            found = await run_in_threadpool(_run, workspace, name, path, history)
        except ConfigError as exc:
            problems = [p.replace(folder + "/", "") for p in exc.problems]
            return _form_page(request, 422, form=form,
                              errors=[exc.message.replace(folder + "/", "")] + problems)
        except HealthScoreError as exc:
            return _form_page(request, 422, form=form, errors=[exc.message], hint=exc.hint)
    return _form_page(request, form=form, result=found.summary,
                      source="the pasted YAML" if pasted.strip() else picked)
