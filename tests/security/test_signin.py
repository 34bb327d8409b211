"""Signing in to the pages with an API token, the pulse form's write session, and `serve
--host` on an address other machines reach.

The workspace is the REST tests' scored demo (tests/rest_server.py) served in-process by
FastAPI's client at http://localhost (a served host name); one app with `api.read_requires_token:
true` (the pages ask for a sign-in) and one with reads open, over the same store and tokens.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from healthscore import clock
from healthscore.cli import app as cli
from healthscore.errors import InputError
from healthscore.server import create_app
from healthscore.server.exposure import check_bind, is_loopback
from healthscore.server.sessions import COOKIE, Sessions, key_path
from healthscore.web.pages import safe_next
from healthscore.workspace import Workspace
from rest_server import _query, _token

ACCOUNT = "ACC-000001"
FORM_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def apps(workspace):
    """(reads open, reads need a token): two apps over the one demo store."""
    open_app = create_app(workspace.root)
    with open(workspace.root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("  read_requires_token: true\n")  # under the `api:` the fixture wrote
    guarded_app = create_app(workspace.root)
    assert guarded_app.state.workspace.config.api.read_requires_token
    return open_app, guarded_app


@pytest.fixture
def guarded(apps):
    with TestClient(apps[1], base_url="http://localhost", follow_redirects=False) as c:
        yield c


@pytest.fixture
def open_site(apps):
    with TestClient(apps[0], base_url="http://localhost", follow_redirects=False) as c:
        yield c


def _form_token(client: TestClient, path: str = "/signin") -> str:
    return FORM_TOKEN.search(client.get(path).text).group(1)


def sign_in(client: TestClient, token: str, next_path: str = "/"):
    return client.post("/signin", data={"token": _form_token(client), "next": next_path,
                                        "api_token": token})


def _set_cookie(response) -> str:
    return next(v for k, v in response.headers.multi_items()
                if k == "set-cookie" and v.startswith(COOKIE + "="))


def _account_name(workspace: Workspace) -> str:
    return _query(workspace, "SELECT name FROM accounts WHERE account_id = ?", [ACCOUNT])[0][0]


def test_pages_redirect_to_the_signin_form_and_show_no_data(guarded, workspace):
    """Every page asks for a sign-in (303 to /signin?next=<the page>) and its answer holds no
    account; the form, the static files and the API's own 401 stay as they are."""
    name = _account_name(workspace)
    for path in ("/", "/accounts?band=red", f"/accounts/{ACCOUNT}", "/scorecards", "/backtests"):
        r = guarded.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"] == "/signin?next=" + quote(path, safe=""), path
        assert name not in r.text and ACCOUNT not in r.text
    form = guarded.get("/signin?next=/accounts")
    assert form.status_code == 200 and 'id="signin-form"' in form.text
    assert name not in form.text and ACCOUNT not in form.text
    assert guarded.get("/static/app.css").status_code == 200
    assert guarded.get("/api/v1/accounts").status_code == 401  # the API takes only tokens


def test_a_wrong_token_gets_the_form_again_with_401(guarded):
    r = sign_in(guarded, "hs_0badc0de_" + "x" * 43)
    assert r.status_code == 401
    assert "That token is unknown or revoked" in r.text and 'id="signin-form"' in r.text
    assert not any(k == "set-cookie" and v.startswith(COOKIE)
                   for k, v in r.headers.multi_items())
    assert sign_in(guarded, "").status_code == 401
    assert guarded.get("/").status_code == 303


def test_a_read_token_signs_in_with_an_httponly_strict_cookie(guarded, workspace, read_token):
    """The cookie names the token's id and an expiry, signed; never the token's secret."""
    r = sign_in(guarded, read_token, "/accounts?band=red")
    assert r.status_code == 303 and r.headers["location"] == "/accounts?band=red"
    cookie = _set_cookie(r)
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert {"httponly", "samesite=strict", "path=/", "max-age=43200"} <= set(attributes)
    assert "secure" not in attributes  # plain http here: see the https case below
    value = cookie.split(";")[0].split("=", 1)[1]
    # the secret is all after the id: it may hold "_" itself (URL-safe base64)
    assert read_token.split("_", 2)[2] not in value and value.startswith(read_token.split("_")[1])
    page = guarded.get("/accounts?band=red")
    assert page.status_code == 200
    assert re.search(r'Signed in as <strong id="signed-in">dashboards</strong>', page.text)
    assert guarded.get(f"/accounts/{ACCOUNT}").status_code == 200
    used = _query(workspace, "SELECT last_used_at FROM api_tokens WHERE name = 'dashboards'")
    assert used[0][0] is not None  # the sign-in counts as a use


def test_over_https_the_cookie_is_secure(apps, read_token):
    with TestClient(apps[1], base_url="https://localhost", follow_redirects=False) as c:
        attributes = [a.strip().lower() for a in _set_cookie(sign_in(c, read_token)).split(";")]
    assert "secure" in attributes


def test_behind_a_tls_proxy_serve_https_marks_the_cookies_secure(apps):
    """The proxy talks plain HTTP to the server; `serve: {https: true}` says the pages are
    reached over HTTPS, so the cookies are Secure all the same (a browser then never sends
    them over plain HTTP — nor does the test client, so the form's own cookie is checked)."""
    ws = apps[1].state.workspace
    saved = ws.config
    ws.config = saved.model_copy(update={"serve": saved.serve.model_copy(update={"https": True})})
    try:
        with TestClient(apps[1], base_url="http://localhost", follow_redirects=False) as c:
            page = c.get("/signin")
    finally:
        ws.config = saved
    cookies = [v.lower() for k, v in page.headers.multi_items() if k == "set-cookie"]
    assert cookies and all("secure" in [a.strip() for a in v.split(";")] for v in cookies)


def test_a_revoked_token_ends_its_sessions(guarded, workspace):
    token = _token(workspace, "--name", "short-lived", "--scope", "read")
    assert sign_in(guarded, token).status_code == 303
    assert guarded.get("/").status_code == 200
    revoked = CliRunner().invoke(cli, ["token", "revoke", token.split("_")[1], "-w",
                                       str(workspace.root)])
    assert revoked.exit_code == 0, revoked.output
    r = guarded.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert sign_in(guarded, token).status_code == 401


def test_an_expired_or_forged_cookie_is_no_session(guarded, read_token):
    sign_in(guarded, read_token)
    value = guarded.cookies[COOKIE]
    with clock.frozen(clock.now() + timedelta(hours=12, minutes=1)):
        assert guarded.get("/").status_code == 303
    token_id, expires, mac = value.split(".")
    for forged in (f"{token_id}.{int(expires) + 86400}.{mac}", f"0badc0de.{expires}.{mac}",
                   token_id, f"{value}.x", read_token):
        guarded.cookies.set(COOKIE, forged)
        assert guarded.get("/").status_code == 303, forged
    guarded.cookies.set(COOKIE, value)
    assert guarded.get("/").status_code == 200


def test_sign_out_clears_the_session(guarded, read_token):
    sign_in(guarded, read_token)
    page = guarded.get("/scorecards").text
    assert 'action="/signout"' in page
    signout_token = FORM_TOKEN.search(page.split('action="/signout"', 1)[1]).group(1)
    refused = guarded.post("/signout", data={"token": "0" * 64})
    assert refused.status_code == 403  # the form token: no other page can sign you out
    r = guarded.post("/signout", data={"token": signout_token})
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    cleared = _set_cookie(r).lower()
    assert 'hs_session="";' in cleared or "hs_session=;" in cleared
    assert "max-age=0" in cleared
    assert guarded.get("/").status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/x",
                                    "/\\evil.example", "/\t/evil.example",
                                    "javascript:alert(1)", "evil.example", "/signin?next=/x"])
def test_next_never_leads_off_the_server(guarded, read_token, target):
    r = sign_in(guarded, read_token, target)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert safe_next(target) == "/"
    form = guarded.get("/signin?next=" + quote(target, safe=""))
    assert "evil.example" not in form.text


def test_the_pulse_form_needs_a_write_session(guarded, workspace, read_token):
    """Signed in with a read token: the account page offers a sign-in instead of the form,
    and a post (with a genuine form token) is refused 403; nothing is written."""
    before = _query(workspace, "SELECT count(*) FROM pulses")[0][0]
    runs = _query(workspace, "SELECT count(*) FROM runs")[0][0]
    sign_in(guarded, read_token)
    page = guarded.get(f"/accounts/{ACCOUNT}").text
    assert 'id="pulse-form"' not in page
    assert "Sign in with a write token to add a pulse" in page
    form_token = guarded.app.state.form_guard.token(guarded.cookies["hs_form"],
                                                    f"pulse:{ACCOUNT}")
    body = {"token": form_token, "value": "red", "author": "x", "comment": "y"}
    r = guarded.post(f"/accounts/{ACCOUNT}/pulses", data=body)
    assert r.status_code == 403
    assert "sign in with a write token to add a pulse" in r.text
    guarded.cookies.delete(COOKIE)
    assert guarded.post(f"/accounts/{ACCOUNT}/pulses", data=body).status_code == 403
    assert _query(workspace, "SELECT count(*) FROM pulses")[0][0] == before
    assert _query(workspace, "SELECT count(*) FROM runs")[0][0] == runs


def test_a_write_session_adds_a_pulse_as_its_token(guarded, workspace, write_token):
    """The author is the token's name whatever the form says, and the run names the token,
    as the API's pulse runs do."""
    sign_in(guarded, write_token)
    page = guarded.get(f"/accounts/{ACCOUNT}").text
    assert re.search(r'<input name="author" value="ingest-bot" readonly', page)
    body = {"token": FORM_TOKEN.search(page.split('id="pulse-form"', 1)[1]).group(1),
            "value": "yellow", "author": "someone-else", "comment": "signed-in pulse"}
    r = guarded.post(f"/accounts/{ACCOUNT}/pulses", data=body)
    assert r.status_code == 303, r.text
    assert _query(workspace, "SELECT value, author FROM pulses WHERE comment = "
                             "'signed-in pulse'") == [(3, "ingest-bot")]
    kind, detail = _query(workspace, "SELECT kind, detail FROM runs ORDER BY run_id DESC "
                                     "LIMIT 1")[0]
    token_id = write_token.split("_")[1]
    assert kind == "web-pulse"
    assert json.loads(detail) == {"token_id": token_id, "token": "ingest-bot",
                                  "account_id": ACCOUNT, "value": 3, "author": "ingest-bot"}


def test_with_reads_open_pages_need_no_signin_but_the_form_does(open_site, write_token):
    """Tokens exist, so the pulse form wants a write session; the pages stay open and offer
    the sign-in in their header."""
    page = open_site.get(f"/accounts/{ACCOUNT}")
    assert page.status_code == 200
    assert 'id="sign-in"' in page.text and 'id="pulse-form"' not in page.text
    sign_in(open_site, write_token, f"/accounts/{ACCOUNT}")
    page = open_site.get(f"/accounts/{ACCOUNT}").text
    assert 'id="pulse-form"' in page and 'id="signed-in">ingest-bot<' in page
    r = open_site.post("/signout", data={"token": FORM_TOKEN.search(page).group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_the_session_key_is_private_and_survives_a_restart(apps, workspace, read_token):
    path = key_path(workspace)
    assert path.stat().st_mode & 0o777 == 0o600
    with TestClient(apps[1], base_url="http://localhost", follow_redirects=False) as c:
        sign_in(c, read_token)
        value = c.cookies[COOKIE]
    restarted = Sessions.for_workspace(workspace)
    assert restarted.token_id(value, now=clock.now()) == read_token.split("_")[1]


# -- serve --host ------------------------------------------------------------------------------


def test_loopback_addresses():
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.168.1.20", "health.acme.com")))


def test_a_public_address_needs_token_reads_or_public():
    hosts = ["localhost", "health.acme.com"]
    kw = {"port": 8000, "allowed_hosts": hosts}
    for reads, tokens in ((False, 0), (False, 3), (True, 0)):
        with pytest.raises(InputError) as caught:
            check_bind("0.0.0.0", read_requires_token=reads, active_tokens=tokens,
                       public=False, **kw)
        assert "0.0.0.0" in caught.value.message and "--public" in caught.value.message
        assert "read_requires_token: true" in caught.value.message
    [note] = check_bind("0.0.0.0", read_requires_token=True, active_tokens=1, public=False, **kw)
    assert "serve.allowed_hosts" in note and "localhost, health.acme.com" in note
    [warning] = check_bind("10.0.0.5", read_requires_token=False, active_tokens=0, public=True,
                           **kw)
    assert warning.startswith("--public: everyone who reaches 10.0.0.5:8000 can read every "
                              "account") and "serve.allowed_hosts" in warning
    assert check_bind("127.0.0.1", read_requires_token=False, active_tokens=0, public=False,
                      **kw) == []


def test_serve_refuses_a_public_host_without_tokens(tmp_path, monkeypatch):
    """Exit 2 with one line naming the address and both fixes; with --public it goes on to
    serve (the server itself replaced: it would bind 0.0.0.0) after a warning."""
    import healthscore.server

    root = tmp_path / "acme"
    Workspace.init(root, name="acme")
    result = CliRunner().invoke(cli, ["serve", "-w", str(root), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "error: --host: 0.0.0.0 answers other machines" in line
    assert "read_requires_token: true" in line and "healthscore token create" in line
    assert "--public" in line
    served = []
    monkeypatch.setattr(healthscore.server, "serve", lambda *a, **kw: served.append(kw))
    result = CliRunner().invoke(cli, ["serve", "-w", str(root), "--host", "0.0.0.0",
                                      "--public", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "can read every account" in " ".join(result.output.split())
    assert served == [{"host": "0.0.0.0", "port": 8123}]
