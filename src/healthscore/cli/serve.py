"""``serve``: the web dashboard and the REST API over one workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore.cli.common import WorkspaceOption, console, err_console, esc
from healthscore.workspace import Workspace


def serve(
    workspace: Path = WorkspaceOption,
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind. The default answers this machine only; "
                                  "another address (0.0.0.0: the network) needs "
                                  "api.read_requires_token and a token, or --public."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    public: bool = typer.Option(False, "--public",
                                help="Serve a non-loopback --host although reads are open: "
                                     "everyone who reaches it reads every account."),
) -> None:
    """Serve the dashboard (pages at /) and the REST API (/api/v1) until Ctrl-C."""
    from healthscore.server import serve as run_server
    from healthscore.server.exposure import check_bind, count_active_tokens, is_loopback

    ws = Workspace.open(workspace)  # fail early, with the CLI's error, on a bad workspace
    warnings = check_bind(host, port=port, public=public,
                          read_requires_token=ws.config.api.read_requires_token,
                          active_tokens=0 if is_loopback(host) else count_active_tokens(ws),
                          allowed_hosts=ws.config.serve.allowed_hosts)
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {esc(warning)}")
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    console.print(f"Serving {esc(ws.config.name)} ({esc(ws.root)}) on http://{shown}:{port}/ "
                  f"— API at /api/v1, Ctrl-C to stop")
    run_server(ws.root, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
