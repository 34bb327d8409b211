"""The REST API's writes over a real uvicorn: JSON and JSON-lines ingest through validation and
quarantine, the body limit, pulses and overrides (server in rest_server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from healthscore.cli import app as cli
from healthscore.workspace import Workspace
from rest_server import API, _auth, _is_error_shape, _query

# -- ingest --------------------------------------------------------------------------------------


def _accounts(ws: Workspace) -> list[str]:
    return [r[0] for r in _query(ws, "SELECT DISTINCT account_id FROM accounts ORDER BY 1")]


def test_ingest_json_lines_keeps_good_rows_and_quarantines_bad_ones(client, workspace,
                                                                    write_token):
    a, b = _accounts(workspace)[:2]
    lines = [
        {"account_id": a, "user_id": "api-u1", "event": "api.test", "timestamp":
            "2026-05-30T10:00:00Z"},
        {"account_id": a, "event": "api.test", "timestamp": "yesterday"},
        {"account_id": "NO-SUCH", "event": "api.test", "timestamp": "2026-05-30T10:00:00Z"},
        {"account_id": b, "event": "api.test", "timestamp": 1780000000, "quantity": 2},
        {"account_id": b, "event": "api.test", "timestamp": "2026-05-30T11:00:00Z",
         "quantity": -1},
    ]
    body = "\n".join(json.dumps(x) for x in lines[:3]) + "\nnot json\n" + "\n".join(
        json.dumps(x) for x in lines[3:]) + "\n"
    headers = {**_auth(write_token), "Content-Type": "application/x-ndjson"}
    r = client.post(f"{API}/events", content=body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True
    # a quantity of -1 is out of range: the event is kept without it (on_error: null)
    assert (out["rows_read"], out["rows_loaded"], out["rows_rejected"]) == (6, 3, 3)
    assert out["inserted"] == 3 and out["values_dropped"] == 1
    assert out["dropped"] == [{"row": 6, "column": "quantity", "value": "-1",
                               "reason": "below the minimum 0"}]
    got = {(e["row"], e["column"]) for e in out["errors"]}
    assert got == {(2, "timestamp"), (3, "account_id"), (4, None)}
    bad_ts = next(e for e in out["errors"] if e["row"] == 2)
    assert bad_ts["value"] == "yesterday" and "not a valid timestamp" in bad_ts["reason"]
    stored = _query(workspace, "SELECT account_id, quantity FROM usage_events "
                               "WHERE event = 'api.test' ORDER BY account_id, quantity")
    assert stored == [(a, None), (b, 2.0), (b, None)]
    quarantined = _query(workspace, "SELECT \"row\", \"column\", reason FROM quarantine "
                                    "WHERE source = 'api' AND file = ? ORDER BY 1",
                         [out["batch"]])
    assert [(r, c) for r, c, _ in quarantined] == [(2, "timestamp"), (3, "account_id"),
                                                   (4, None)]
    # The same batch again: nothing new in the store, the quarantine not repeated.
    again = client.post(f"{API}/events", content=body, headers=headers).json()
    assert (again["inserted"], again["unchanged"], again["rows_rejected"]) == (0, 3, 3)
    assert _query(workspace, "SELECT count(*) FROM usage_events WHERE event = 'api.test'"
                  ) == [(3,)]
    assert _query(workspace, "SELECT count(*) FROM quarantine WHERE file = ?",
                  [out["batch"]]) == [(3,)]
    runs = _query(workspace, "SELECT kind, status, rows_loaded, rows_rejected, detail FROM runs "
                             "WHERE run_id = ?", [out["run_id"]])
    kind, status, loaded, rejected, detail = runs[0]
    assert (kind, status, loaded, rejected) == ("api-ingest", "ok", 3, 3)
    assert json.loads(detail)["token"] == "ingest-bot"


def test_ingest_json_array_of_tickets_and_surveys(client, workspace, write_token):
    a = _accounts(workspace)[0]
    tickets = [
        {"ticket_id": "API-T1", "account_id": a, "opened_at": "2026-05-20T08:00:00Z",
         "priority": "P1"},
        {"ticket_id": "API-T2", "account_id": a, "opened_at": "2026-05-20T08:00:00Z",
         "closed_at": "2026-05-19T08:00:00Z"},
        {"ticket_id": "API-T1", "account_id": a, "opened_at": "2026-05-21T08:00:00Z"},
    ]
    r = client.post(f"{API}/tickets", json=tickets, headers=_auth(write_token))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows_loaded"], out["rows_rejected"]) == (1, 2)
    reasons = {e["row"]: e["reason"] for e in out["errors"]}
    assert "closed before it was opened" in reasons[2]
    assert "duplicate ticket_id" in reasons[3]
    assert _query(workspace, "SELECT priority FROM tickets WHERE ticket_id = 'API-T1'"
                  ) == [("urgent",)]
    # An entity table: a later version of the ticket replaces the stored one.
    closed = [{**tickets[0], "closed_at": "2026-05-22T08:00:00Z"}]
    out = client.post(f"{API}/ingest/tickets", json=closed, headers=_auth(write_token)).json()
    assert (out["inserted"], out["updated"]) == (0, 1)
    surveys = [{"account_id": a, "kind": "nps", "score": 11,
                "responded_at": "2026-05-20T08:00:00Z"},
               {"account_id": a, "kind": "nps", "score": 9,
                "responded_at": "2026-05-20T08:00:00Z", "comment": "api"}]
    out = client.post(f"{API}/surveys", json=surveys, headers=_auth(write_token)).json()
    assert (out["rows_loaded"], out["rows_rejected"]) == (1, 1)
    assert out["errors"][0]["row"] == 1 and "NPS" in out["errors"][0]["reason"]


def test_ingest_refuses_bodies_that_are_not_records(client, write_token):
    h = _auth(write_token)
    for content, ctype, status in [(b"{not json", "application/json", 422),
                                   (b"42", "application/json", 422),
                                   (b"", "application/x-ndjson", 422),
                                   (b"<a/>", "application/xml", 415)]:
        r = client.post(f"{API}/events", content=content, headers={**h, "Content-Type": ctype})
        assert r.status_code == status, r.text
        assert _is_error_shape(r.json())
    r = client.post(f"{API}/events", json=[{"account_id": "NOPE", "event": "x",
                                            "timestamp": "2026-05-01"}], headers=h)
    assert r.status_code == 422 and "all 1 row(s) rejected" in r.json()["error"]
    assert r.json()["errors"][0]["column"] == "account_id"


def test_strict_ingest_writes_nothing_when_a_row_is_bad(client, workspace, write_token):
    a = _accounts(workspace)[0]
    rows = [{"account_id": a, "event": "api.strict", "timestamp": "2026-05-01T00:00:00Z"},
            {"account_id": a, "event": "api.strict", "timestamp": "nope"}]
    r = client.post(f"{API}/events?strict=true", json=rows, headers=_auth(write_token))
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2
    assert _query(workspace, "SELECT count(*) FROM usage_events WHERE event = 'api.strict'"
                  ) == [(0,)]
    assert _query(workspace, "SELECT status FROM runs WHERE kind = 'api-ingest' "
                             "ORDER BY run_id DESC LIMIT 1") == [("failed",)]


def test_curl_style_post_without_content_type_is_read_by_its_first_character(
        client, workspace, write_token):
    a = _accounts(workspace)[0]
    line = json.dumps({"account_id": a, "event": "api.curl", "timestamp": "2026-05-02T00:00:00Z"})
    for body in (line + "\n", f"[{line}]"):
        r = client.post(f"{API}/events", content=body, headers={
            **_auth(write_token), "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200, r.text
    assert _query(workspace, "SELECT count(*) FROM usage_events WHERE event = 'api.curl'"
                  ) == [(1,)]


def test_oversized_body_gets_413(client, workspace, write_token):
    a = _accounts(workspace)[0]
    line = json.dumps({"account_id": a, "event": "api.big", "timestamp": "2026-05-02T00:00:00Z",
                       "user_id": "x" * 100}) + "\n"
    big = line * (1024 * 1024 // len(line) + 10)  # just over the 1 MiB limit
    headers = {**_auth(write_token), "Content-Type": "application/x-ndjson"}
    r = client.post(f"{API}/events", content=big, headers=headers)
    assert r.status_code == 413 and _is_error_shape(r.json())
    assert "max_body_mb" in r.json()["errors"][0]["hint"]

    # Without a Content-Length (chunked), the limit holds while the stream is read.
    def chunks():
        for _ in range(64):
            yield line.encode() * 200

    r = client.post(f"{API}/events", content=chunks(), headers=headers)
    assert r.status_code == 413 and _is_error_shape(r.json())
    assert _query(workspace, "SELECT count(*) FROM usage_events WHERE event = 'api.big'"
                  ) == [(0,)]
    ok = client.post(f"{API}/events", content=line * 100, headers=headers)
    assert ok.status_code == 200 and ok.json()["inserted"] == 1


# -- pulses and overrides ------------------------------------------------------------------------


def test_pulse_and_override_show_in_explain(client, workspace, write_token):
    a = _query(workspace, "SELECT min(account_id) FROM accounts WHERE _valid_to IS NULL AND "
                          "churned_at IS NULL")[0][0]
    h = _auth(write_token)
    r = client.post(f"{API}/accounts/{a}/pulses",
                    json={"value": "yellow", "comment": "exec sponsor quiet",
                          "author": "maria.lopez"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["value"] == 3
    r = client.post(f"{API}/accounts/{a}/overrides",
                    json={"measure": "nps_average", "score": 20, "comment": "angry call",
                          "scorecard": "health"}, headers=h)
    assert r.status_code == 200, r.text
    oid = r.json()["override_id"]
    assert r.json()["author"] == "ingest-bot"
    kinds = [k for (k,) in _query(workspace, "SELECT kind FROM runs ORDER BY run_id DESC LIMIT 2")]
    assert kinds == ["api-override", "api-pulse"]
    today = datetime.now(UTC).date().isoformat()
    runner = CliRunner()
    scored = runner.invoke(cli, ["score", "-w", str(workspace.root), "--as-of", today,
                                 "-s", "health", "--allow-stale"])  # the demo data ended
    assert scored.exit_code == 0, scored.output
    shown = runner.invoke(cli, ["explain", a, "-w", str(workspace.root), "--as-of", today,
                                "-s", "health"])
    assert shown.exit_code == 0, shown.output
    assert f"overridden by ingest-bot (#{oid}" in shown.stdout
    assert "pulse 3/5" in shown.stdout and "maria.lopez" in shown.stdout
    detail = client.get(f"{API}/accounts/{a}").json()
    assert detail["manual"]["overrides"][0]["override_id"] == oid


def test_pulse_and_override_refuse_bad_input(client, write_token):
    h = _auth(write_token)
    r = client.post(f"{API}/accounts/NOPE/pulses", json={"value": 2, "comment": "x"}, headers=h)
    assert r.status_code == 404 and _is_error_shape(r.json())
    r = client.post(f"{API}/accounts/NOPE/pulses", json={"value": 9, "comment": ""}, headers=h)
    assert r.status_code == 422
    assert {e["param"] for e in r.json()["errors"]} == {"value", "comment"}
    r = client.post(f"{API}/accounts/NOPE/overrides",
                    json={"measure": "no_such", "score": 5, "comment": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["param"] == "measure"




def test_a_json_body_over_the_limit_is_refused_while_read(client, write_token):
    """A chunked body (no Content-Length) over api.max_body_mb (1 MiB here) gets 413 while it
    is read, not buffered whole; without a token nothing of it is read at all (401)."""
    def chunks():
        for _ in range(3):
            yield b" " * (1024 * 1024)

    r = client.post(f"{API}/accounts/ACC-000001/pulses", content=chunks(),
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {write_token}"})
    assert r.status_code == 413, r.text
    assert _is_error_shape(r.json()) and "max_body_mb" in r.json()["errors"][0]["hint"]
