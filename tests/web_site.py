"""The browser tests' set-up, shared by tests/web (a pytest plugin, see conftest.py): a real
uvicorn serving a small scored demo workspace (and an empty one), Debian's Chromium driven
by Playwright, page screenshots and a few helpers.

Screenshots of every page go to ``$HS_SCREENSHOTS`` (default ``test-artifacts/screenshots`` in
the repository); the run's summary prints the folder.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pytest
import uvicorn

from conftest import screenshot_folder
from healthscore import pipeline, read
from healthscore.demo import generate_demo
from healthscore.server import create_app
from healthscore.sources import ingest
from healthscore.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2026, 6, 1, 6, 0)
XSS = "<script>alert(1)</script>"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing (make test installs it with apt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real uvicorn serving ``create_app(root)`` on a free port, in a background thread."""

    def __init__(self, root: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(root), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """A 50-account demo company scored with `health` every other day over April-May 2026
    (31 dates), with one account renamed to a script tag."""
    root = tmp_path_factory.mktemp("web") / "demo"
    generate_demo(root, accounts=50, seed=3, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    with ws.store() as store:  # a hostile name, as a CRM export could carry it
        store.con.execute("UPDATE accounts SET name = ? WHERE account_id = 'ACC-000002'", [XSS])
    pipeline.backfill(ws, date(2026, 4, 1), date(2026, 5, 31), step=2, now=NOW,
                     scorecards=["health"])
    return root


@pytest.fixture(scope="module")
def site(demo_root):
    server = Server(demo_root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def empty_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("web") / "empty"
    Workspace.init(root, name="acme")
    return root


@pytest.fixture(scope="module")
def empty_site(empty_root):
    server = Server(empty_root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")  # also named in the run's summary (conftest.py)
    return folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.failed = []
    page.on("requestfailed", lambda r: page.failed.append(r.url))
    yield page
    assert page.dialogs == [], "a script ran a dialog"
    assert page.errors == [], "JavaScript errors on the page"
    assert page.failed == [], "requests failed (nothing may come from outside this server)"
    context.close()


def _shot(page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _oracle(root: Path, **kw) -> dict:
    ws = Workspace.open(root)
    with read.open_reader(ws) as r:
        return read.accounts(r, read.card(ws, "health"), **kw)


def _plot_traces(page, selector: str) -> int:
    page.wait_for_selector(f"{selector}.js-plotly-plot .main-svg", timeout=15000)
    return page.evaluate(f"document.querySelector('{selector}').data.length")


def _column(page, index: int) -> list[str]:
    return page.locator(f"#accounts tbody tr td:nth-child({index})").all_inner_texts()


