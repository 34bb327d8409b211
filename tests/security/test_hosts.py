"""Hosts and origins, against a real uvicorn: a page that rebinds its own domain to this
machine gets nothing (DNS rebinding), and a browser write from another site is refused."""

from __future__ import annotations

import httpx

from rest_server import API


def test_only_the_configured_host_names_are_served(server):
    """`curl -H "Host: attacker.example:PORT" http://127.0.0.1:PORT/api/v1/accounts` was a
    200 with every account; now 400 naming the host and the setting. The default names —
    localhost, 127.0.0.1, [::1] — are served, pages and API alike."""
    port = server.port
    bad = httpx.get(f"{server.url}{API}/accounts", headers={"Host": f"attacker.example:{port}"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0] == {
        "reason": "host 'attacker.example' is not served here",
        "hint": "add it to serve.allowed_hosts in healthscore.yaml if this server should "
                "answer to that name"}
    page = httpx.get(f"{server.url}/accounts", headers={"Host": "attacker.example"})
    assert page.status_code == 400 and "not served here" in page.text
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{server.url}{API}/health", headers={"Host": host}).status_code == 200


def test_a_write_from_another_sites_page_is_refused(server):
    """A browser on evil.example posting a pulse sends `Origin: https://evil.example`: 403
    before anything is read or written. The server's own origin, or no Origin at all (an
    API client, which needs its token anyway), goes on to the route."""
    body = {"value": "red", "comment": "x", "author": "y"}
    url = f"{server.url}{API}/accounts/ACC-000001/pulses"
    refused = httpx.post(url, json=body, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "a write from another site (https://evil.example) is refused" in refused.json()[
        "errors"][0]["reason"]
    own = httpx.post(url, json=body, headers={"Origin": server.url})
    assert own.status_code == 401  # on to the route: it needs a token
    assert httpx.post(url, json=body).status_code == 401


def test_answers_carry_nosniff_and_a_declared_oversize_body_gets_413_before_the_token(server):
    """Every answer says `X-Content-Type-Options: nosniff`; a body declared over
    api.max_body_mb (1 MiB here) gets 413 before the route asks for a token (docs/api.md), not
    401."""
    assert httpx.get(f"{server.url}{API}/health").headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{server.url}/").headers["x-content-type-options"] == "nosniff"
    big = httpx.post(f"{server.url}{API}/events", content=b"x" * (1024 * 1024 + 1),
                     headers={"Content-Type": "application/x-ndjson"})
    assert big.status_code == 413
    assert "max_body_mb" in big.json()["errors"][0]["hint"]
    assert big.headers["x-content-type-options"] == "nosniff"


def test_a_new_store_is_readable_by_its_owner_only(tmp_path):
    from healthscore.workspace import Workspace

    ws = Workspace.init(tmp_path / "acme", name="acme")
    assert ws.store_path.stat().st_mode & 0o777 == 0o600


def test_a_deeply_nested_json_body_is_a_400_not_a_500(server, write_token):
    """`[[[[…]]]]` 100,000 deep with a valid token: to the ingest route (whose records
    healthscore parses itself) a 400 naming the cause (was a 500 with a RecursionError
    traceback), to the pulse route FastAPI's 400; the server keeps answering."""
    deep = b"[" * 100_000 + b"]" * 100_000
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {write_token}"}
    r = httpx.post(f"{server.url}{API}/events", content=deep, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["reason"] == "JSON nested deeper than Python's parser allows"
    r = httpx.post(f"{server.url}{API}/accounts/ACC-000001/pulses", content=deep,
                   headers=headers)
    assert r.status_code == 400 and r.json()["ok"] is False
    assert httpx.get(f"{server.url}{API}/health").status_code == 200


def test_the_token_is_checked_before_any_body_is_read(server, write_token):
    """A pulse without a token whose body is not even JSON, or JSON nested past the parser,
    is a 401: the server never parses a body for a client it does not know. With the token
    the same body is parsed and refused for what it is (422 / 400). A body declared over the
    limit is a 413 before any of it (docs/api.md: 413 before 401)."""
    url = f"{server.url}{API}/accounts/ACC-000001/pulses"
    json_type = {"content-type": "application/json"}
    for body in ("{not json", "[" * 100_000 + "]" * 100_000):
        anonymous = httpx.post(url, content=body, headers=json_type)
        assert anonymous.status_code == 401
        assert anonymous.json()["errors"][0]["reason"] == "no Authorization header"
        assert anonymous.headers["www-authenticate"] == "Bearer"
    known = {**json_type, "Authorization": f"Bearer {write_token}"}
    assert httpx.post(url, content="{not json", headers=known).status_code == 422
    assert httpx.post(url, content="[" * 100_000 + "]" * 100_000,
                      headers=known).status_code == 400
    big = httpx.post(url, content=b"x" * (2 * 2**20), headers=json_type)
    assert big.status_code == 413
