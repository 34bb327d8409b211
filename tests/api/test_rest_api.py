"""The REST API over a real uvicorn on 127.0.0.1, a real DuckDB store and httpx as the client:
tokens and auth, the read endpoints, errors, and a schema-driven check (server in rest_server.py).

Oracle values for the read endpoints are computed in the tests from the store's rows with plain
Python (not the read model's SQL).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date, datetime, timedelta

import httpx
import pytest
from typer.testing import CliRunner

from conftest import copy_workspace
from healthscore.cli import app as cli
from healthscore.server import CACHE
from healthscore.workspace import Workspace
from rest_server import API, DATES, Server, _auth, _is_error_shape, _query, _token

# -- auth and tokens ---------------------------------------------------------------------------


def test_health_reports_the_store(client):
    r = client.get(f"{API}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["workspace"] == "demo"
    assert body["store"]["schema_version"] == body["store"]["expected_schema_version"]
    # open to anyone by default: the server's file system paths stay out of it
    assert body["store"]["file"] == "healthscore.duckdb" and "/" not in json.dumps(body["store"])


def test_writes_need_a_valid_token_with_write_scope(client, workspace, write_token, read_token):
    events = [{"account_id": "x", "event": "e", "timestamp": "2026-05-01T00:00:00Z"}]
    for headers, status in [({}, 401), ({"Authorization": "Bearer nope"}, 401),
                            ({"Authorization": f"Basic {write_token}"}, 401),
                            (_auth(write_token[:-2] + "xx"), 401),
                            (_auth(read_token), 403)]:
        r = client.post(f"{API}/events", json=events, headers=headers)
        assert r.status_code == status, (headers, r.text)
        assert _is_error_shape(r.json())
    r = client.post(f"{API}/events", json=events)
    assert r.headers["www-authenticate"] == "Bearer"
    assert "token create" in r.json()["errors"][0]["hint"]
    # Nothing was written by the refused requests.
    assert _query(workspace, "SELECT count(*) FROM usage_events WHERE _source = 'api'") == [(0,)]


def test_token_is_shown_once_and_stored_hashed(workspace):
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "-w", str(workspace.root), "--name", "once"])
    token = made.stdout.strip()
    token_id = token.split("_")[1]
    rows = _query(workspace, "SELECT * FROM api_tokens")
    dump = json.dumps([list(map(str, r)) for r in rows])
    assert token not in dump and token.split("_", 2)[2] not in dump
    assert _query(workspace, "SELECT sha256 FROM api_tokens WHERE token_id = ?", [token_id]) == [
        (hashlib.sha256(token.encode()).hexdigest(),)]
    listed = runner.invoke(cli, ["token", "list", "-w", str(workspace.root)])
    assert token_id in listed.stdout and token not in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout


def test_a_revoked_token_gets_401(client, workspace):
    token = _token(workspace, "--name", "short-lived")
    pulse = {"value": 3, "comment": "fine"}
    account = _query(workspace, "SELECT min(account_id) FROM accounts")[0][0]
    assert client.post(f"{API}/accounts/{account}/pulses", json=pulse,
                       headers=_auth(token)).status_code == 200
    revoked = CliRunner().invoke(cli, ["token", "revoke", token.split("_")[1], "-w",
                                       str(workspace.root)])
    assert revoked.exit_code == 0, revoked.output
    r = client.post(f"{API}/accounts/{account}/pulses", json=pulse, headers=_auth(token))
    assert r.status_code == 401 and _is_error_shape(r.json())


def test_reads_are_open_but_a_bad_token_is_refused(client, read_token):
    assert client.get(f"{API}/accounts").status_code == 200
    assert client.get(f"{API}/accounts", headers=_auth(read_token)).status_code == 200
    assert client.get(f"{API}/accounts", headers=_auth("hs_00000000_" + "a" * 43)
                      ).status_code == 401


def test_reads_can_require_a_token(workspace, read_token, tmp_path):
    root = copy_workspace(workspace.root, tmp_path / "locked")  # served: copied elsewhere
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("  read_requires_token: true\n")
    with Server(root) as srv, httpx.Client(base_url=srv.url) as c:
        r = c.get(f"{API}/portfolio")
        assert r.status_code == 401 and _is_error_shape(r.json())
        assert c.get(f"{API}/portfolio", headers=_auth(read_token)).status_code == 200


# -- reads ------------------------------------------------------------------------------------------


def _latest(ws: Workspace) -> tuple[date, str]:
    """The latest health snapshot date and version (oracle side)."""
    (loaded,) = ws.scorecards(["health"])
    version = loaded.scorecard.version
    day = _query(ws, "SELECT max(as_of) FROM snapshots WHERE scorecard = 'health' AND "
                     "version = ?", [version])[0][0]
    return day, version


def _oracle_rows(ws: Workspace) -> list[dict]:
    """Every health account of the latest date joined in Python with the account version that
    held then."""
    day, version = _latest(ws)
    snaps = _query(ws, "SELECT account_id, score, band FROM snapshots WHERE scorecard = "
                       "'health' AND version = ? AND as_of = ?", [version, day])
    versions = _query(ws, "SELECT account_id, name, segment, csm, renewal_date, _valid_from, "
                          "_valid_to FROM accounts")
    cut = datetime.combine(day + timedelta(days=1), datetime.min.time())
    attrs = {}
    for acc, name, segment, csm, renewal, vf, vt in versions:
        if (vf is None or vf < cut) and (vt is None or vt >= cut):
            attrs[acc] = {"name": name, "segment": segment, "csm": csm, "renewal": renewal}
    return [{"account_id": acc, "score": s, "band": b, "day": day, **attrs[acc]}
            for acc, s, b in snaps]


def test_accounts_filters_match_an_oracle(client, workspace):
    rows = _oracle_rows(workspace)
    day = rows[0]["day"]
    assert len(rows) > 10

    def ids(params) -> list[str]:
        r = client.get(f"{API}/accounts", params={**params, "per_page": 500})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and body["total"] == len(body["rows"])
        return [x["account_id"] for x in body["rows"]]

    expect = [r for r in rows if r["band"] == "red" and r["renewal"] is not None
              and day <= r["renewal"] <= day + timedelta(days=90)]
    assert sorted(ids({"band": "red", "renewal_within": 90})) == sorted(
        r["account_id"] for r in expect)
    segment = sorted({r["segment"] for r in rows if r["segment"]})[0]
    assert sorted(ids({"segment": segment, "band": ["yellow", "green"]})) == sorted(
        r["account_id"] for r in rows if r["segment"] == segment and r["band"] != "red")
    csm = sorted({r["csm"] for r in rows if r["csm"]})[0]
    assert sorted(ids({"csm": csm})) == sorted(r["account_id"] for r in rows if r["csm"] == csm)
    part = rows[0]["name"][:4].lower()
    assert sorted(ids({"q": part.upper()})) == sorted(
        r["account_id"] for r in rows if part in r["name"].lower()
        or part in r["account_id"].lower())
    by_score = [r["account_id"] for r in sorted(rows, key=lambda r: (-r["score"],
                                                                      r["account_id"]))]
    assert ids({"sort": "score", "desc": "true"}) == by_score
    page2 = client.get(f"{API}/accounts", params={"sort": "score", "desc": "true",
                                                  "per_page": 5, "page": 2}).json()
    assert [x["account_id"] for x in page2["rows"]] == by_score[5:10]
    assert page2["pages"] == -(-len(rows) // 5)


def test_portfolio_matches_an_oracle(client, workspace):
    rows = _oracle_rows(workspace)
    body = client.get(f"{API}/portfolio", params={"history_days": 40}).json()
    assert body["ok"] is True and body["accounts"] == len(rows)
    counts = {b["band"]: b["accounts"] for b in body["bands"]}
    for band in ("red", "yellow", "green"):
        assert counts[band] == sum(r["band"] == band for r in rows)
    assert [h["as_of"] for h in body["band_history"]][-1] == rows[0]["day"].isoformat()


def test_account_history_and_why(client, workspace):
    day, version = _latest(workspace)
    acc = _query(workspace, "SELECT account_id FROM snapshots WHERE scorecard = 'health' AND "
                            "version = ? AND as_of = ? ORDER BY account_id LIMIT 1",
                 [version, DATES[0]])[0][0]
    scores = dict(_query(workspace, "SELECT as_of, score FROM snapshots WHERE scorecard = "
                                    "'health' AND version = ? AND account_id = ?",
                         [version, acc]))
    detail = client.get(f"{API}/accounts/{acc}").json()
    assert detail["snapshot"]["score"] == pytest.approx(scores[day])
    assert sum(m["points"] for m in detail["snapshot"]["measures"]) == pytest.approx(
        scores[day], abs=1e-6)
    hist = client.get(f"{API}/accounts/{acc}/history", params={"days": 400}).json()
    assert {p["as_of"]: p["score"] for p in hist["points"]} == pytest.approx(
        {d.isoformat(): s for d, s in scores.items()})
    why = client.get(f"{API}/accounts/{acc}/why", params={
        "start": DATES[0].isoformat(), "end": DATES[2].isoformat()}).json()
    assert why["ok"] is True
    assert why["delta"] == pytest.approx(scores[DATES[2]] - scores[DATES[0]])
    assert sum(c["points"] for c in why["contributions"]) == pytest.approx(why["delta"])


def test_errors_have_one_shape(client):
    for path, status, param in [
        ("/accounts?band=purple", 422, "band"),
        ("/accounts?renewal_within=-1", 422, "renewal_within"),
        ("/accounts?page=0", 422, "page"),
        ("/accounts?sort=nope", 422, "sort"),
        ("/accounts?scorecard=nope", 422, "scorecard"),
        ("/accounts/NOPE/why?start=2026-05-01", 422, "end"),
        ("/accounts/NOPE/history?days=abc", 422, "days"),
        ("/accounts/NOPE", 404, None),
        ("/accounts/NOPE/history", 404, None),
        ("/no/such/route", 404, None),
    ]:
        r = client.get(API + path)
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert _is_error_shape(body), (path, body)
        if param:
            assert param in body["error"]
            assert any(e.get("param") == param for e in body["errors"]), body
    r = client.delete(f"{API}/accounts")
    assert r.status_code == 405 and _is_error_shape(r.json())


def test_a_store_held_by_another_process_gets_503(client, workspace):
    holder = subprocess.Popen(  # a job: it waits for the file as every command does
        [sys.executable, "-c",
         "import sys; from healthscore.store import Store; s = Store(sys.argv[1], wait=30); "
         "print('held', flush=True); sys.stdin.read()", str(workspace.store_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        CACHE.clear()  # what the read cache holds is still answered while a job writes
        r = client.get(f"{API}/accounts")
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "data is being updated, retry"
        assert r.headers["retry-after"]
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert client.get(f"{API}/accounts").status_code == 200


def test_openapi_lists_the_api(client):
    schema = client.get(f"{API}/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/v1/accounts", "/api/v1/events", "/api/v1/accounts/{account_id}/why",
            "/api/v1/portfolio"} <= set(paths)
    assert all(p.startswith("/api/v1/") for p in paths)
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


# -- property-based: no request the schema allows makes the server fail -------------------------


def test_no_generated_request_makes_a_server_error(server, write_token):
    """Schemathesis-generated requests for every operation of /api/v1/openapi.json (with a write
    token, so writes get past auth) never get a 5xx, and every answer that is not a success has
    the error shape. Bounded: a few examples per operation, derandomized."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{server.url}{API}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: dict[str, set[int]] = {}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(base_url=server.url, headers=_auth(write_token), timeout=30)
            case.validate_response(response, checks=[not_a_server_error])
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            if response.status_code >= 400:
                assert _is_error_shape(response.json()), response.text

        check()
    assert set(seen) == {op.label for op in operations}


# -- review fixes: account ids in URLs, body limit before auth, dates without a snapshot --------


def test_account_ids_with_slashes_spaces_and_unicode_work_in_urls(client, workspace,
                                                                 write_token):
    """An account id holding "/" is sent as %2F, which the server decodes: every per-account
    route must still reach the account (not "no API route")."""
    from urllib.parse import quote

    weird = "acme/eu 1é"
    r = client.post(f"{API}/ingest/accounts", headers=_auth(write_token),
                    json=[{"account_id": weird, "name": "Acme EU", "arr": 10}])
    assert r.status_code == 200, r.text
    path = f"{API}/accounts/{quote(weird, safe='')}"
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.json()["account"]["name"] == "Acme EU"
    for sub in ("/history", "/why"):  # not scored: 404 about the account, not the route
        r = client.get(path + sub)
        assert r.status_code == 404 and _is_error_shape(r.json()), r.text
        assert "no API route" not in r.text
    r = client.post(path + "/pulses", headers=_auth(write_token),
                    json={"value": "green", "comment": "slash ok"})
    assert r.status_code == 200, r.text
    assert _query(workspace, "SELECT value FROM pulses WHERE account_id = ?", [weird]) == [(5,)]


def test_a_date_without_a_snapshot_is_404_not_an_empty_answer(client):
    latest = client.get(f"{API}/accounts").json()["as_of"]  # earlier tests may score today
    future = (date.fromisoformat(latest) + timedelta(days=30)).isoformat()
    for path, param in [(f"/accounts?as_of={future}", "as_of"),
                        (f"/portfolio?as_of={future}", "as_of"),
                        (f"/movers?end={future}", "end"),
                        ("/accounts?as_of=2026-05-02", "as_of")]:  # a day never scored
        r = client.get(API + path)
        assert r.status_code == 404, (path, r.text)
        body = r.json()
        assert _is_error_shape(body) and body["errors"][0]["param"] == param
        assert latest in body["errors"][0]["hint"]
    r = client.get(f"{API}/accounts?as_of={DATES[-1].isoformat()}")
    assert r.status_code == 200 and r.json()["total"] > 0
