"""A real uvicorn on 127.0.0.1 serving a scored demo workspace, for the REST API tests.

The workspace is a 40-account demo company (``generate_demo``), ingested and scored on three
dates, with a 1 MiB body limit; each test module gets its own copy and server (fixtures with
module scope, registered in conftest.py).
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from healthscore.cli import app as cli
from healthscore.demo import generate_demo
from healthscore.pipeline import score
from healthscore.sources import ingest
from healthscore.workspace import Workspace

NOW = datetime(2026, 6, 1, 6, 0)
DATES = (date(2026, 5, 1), date(2026, 5, 25), date(2026, 6, 1))
API = "/api/v1"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    """A scored 40-account demo workspace with a 1 MiB body limit (to test 413 cheaply)."""
    root = tmp_path_factory.mktemp("rest") / "demo"
    generate_demo(root, accounts=40, seed=3, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    for day in DATES:
        score(ws, day, now=NOW)
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("api:\n  max_body_mb: 1\n")
    return Workspace.open(root)


class Server:
    """uvicorn serving ``create_app(root)`` in a thread, on a free port of 127.0.0.1."""

    def __init__(self, root: Path):
        from healthscore.server import create_app

        self.app = create_app(root)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(workspace):
    with Server(workspace.root) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _token(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(cli, ["token", "create", "-w", str(ws.root), *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


@pytest.fixture(scope="module")
def write_token(workspace) -> str:
    return _token(workspace, "--name", "ingest-bot")


@pytest.fixture(scope="module")
def read_token(workspace) -> str:
    return _token(workspace, "--name", "dashboards", "--scope", "read")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _query(ws: Workspace, sql: str, params=None) -> list[tuple]:
    with ws.store(read_only=True) as store:
        return store.con.execute(sql, params or []).fetchall()


def _is_error_shape(body: dict) -> bool:
    return (body.get("ok") is False and isinstance(body.get("error"), str) and body["error"]
            and isinstance(body.get("errors"), list))
