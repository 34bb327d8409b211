"""Signing in through the form in a real browser, adding a pulse as the signed-in token, and
signing out, on a workspace whose reads need a token (docs/api.md#authentication)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from typer.testing import CliRunner

from healthscore.cli import app as cli
from healthscore.demo import generate_demo
from healthscore.pipeline import score
from healthscore.sources import ingest
from healthscore.workspace import Workspace
from web_site import NOW, Server, _shot, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A 20-account demo scored on one date, `api.read_requires_token: true`, a write token
    named csm-maria; (server, token, root)."""
    root = tmp_path_factory.mktemp("signin") / "demo"
    generate_demo(root, accounts=20, seed=5, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    score(ws, date(2026, 5, 31), now=NOW)
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("api:\n  read_requires_token: true\n")
    made = CliRunner().invoke(cli, ["token", "create", "-w", str(root), "--name", "csm-maria"])
    assert made.exit_code == 0, made.output
    server = Server(root)
    yield server, made.stdout.strip().splitlines()[0], root
    server.stop()


def test_sign_in_add_a_pulse_and_sign_out(guarded, page, shots):
    server, token, root = guarded
    page.goto(server.url + "/accounts/ACC-000003")
    page.wait_for_url(re.compile(r"/signin\?next=%2Faccounts%2FACC-000003$"))
    assert page.locator("#signin-form").is_visible()
    assert page.locator("#accounts, #score").count() == 0  # nothing of the data
    page.fill("#api-token", "hs_0badc0de_" + "x" * 43)
    page.click("#signin-form button[type=submit]")
    assert "unknown or revoked" in page.locator("#signin-error").inner_text()
    _shot(page, shots, "signin-refused")

    page.fill("#api-token", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(server.url + "/accounts/ACC-000003")
    assert page.locator("#signed-in").inner_text() == "csm-maria"
    author = page.locator("#pulse-form input[name=author]")
    assert author.input_value() == "csm-maria" and author.get_attribute("readonly") is not None
    page.select_option("#pulse-form select[name=value]", "red")
    page.fill("#pulse-form textarea[name=comment]", "renewal at risk: budget cut")
    page.click("#pulse-form button[type=submit]")
    page.wait_for_url(re.compile(r"added=pulse"))
    first = page.locator("#pulses tbody tr").first.inner_text()
    assert "renewal at risk: budget cut" in first and "csm-maria" in first
    _shot(page, shots, "signin-pulse")

    page.click("#sign-out")
    page.wait_for_url(server.url + "/signin")
    page.goto(server.url + "/")
    page.wait_for_url(re.compile(r"/signin\?next=%2F$"))
    with Workspace.open(root).store(read_only=True) as store:
        detail = store.con.execute("SELECT detail FROM runs WHERE kind = 'web-pulse'").fetchall()
    assert [json.loads(d)["token"] for (d,) in detail] == ["csm-maria"]
