"""``serve``: the web dashboard and the REST API over one workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore.cli.common import WorkspaceOption, console, esc
from healthscore.workspace import Workspace


def serve(
    workspace: Path = WorkspaceOption,
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind. The default answers this machine only; "
                                  "0.0.0.0 answers the network (put a proxy with TLS and "
                                  "authentication in front)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the dashboard (pages at /) and the REST API (/api/v1) until Ctrl-C."""
    from healthscore.server import serve as run_server

    ws = Workspace.open(workspace)  # fail early, with the CLI's error, on a bad workspace
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    console.print(f"Serving {esc(ws.config.name)} ({esc(ws.root)}) on http://{shown}:{port}/ "
                  f"— API at /api/v1, Ctrl-C to stop")
    run_server(ws.root, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
