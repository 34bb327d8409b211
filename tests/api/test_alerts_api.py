"""The alerts API over a real uvicorn (rest_server.Server) and a real store with alerts
(alert_site): the list and its filters, one alert with its deliveries, acknowledging,
snoozing and reopening with a token, and the errors.

Expected lists and counts are plain SQL on the store's ``alerts`` rows (``stored_alerts``),
filtered and counted in Python here, not by the read layer's query.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from datetime import date, timedelta

import pytest

from alert_site import CHECKED, stored_alerts
from healthscore import clock
from healthscore.workspace import Workspace
from rest_server import API, _auth, _is_error_shape, _query


@pytest.fixture(scope="module")
def workspace(alerted_root) -> Workspace:
    """The alerts workspace instead of rest_server's: its `server`, `client` and tokens
    serve this one."""
    return Workspace.open(alerted_root)


def _open_ids(root) -> list[int]:
    """Open alerts needing attention (none is snoozed at the start), newest first."""
    rows = stored_alerts(root, "state = 'open'")
    return [r["alert_id"] for r in sorted(rows, key=lambda r: (r["opened_on"], r["alert_id"]),
                                          reverse=True)]


def test_the_list_its_filters_and_counts(client, workspace):
    rows = stored_alerts(workspace.root)
    assert len(rows) >= 8 and {r["state"] for r in rows} == {"open"}
    body = client.get(f"{API}/alerts").json()
    assert body["ok"] is True and body["state"] == "open"
    assert [a["alert_id"] for a in body["alerts"]] == _open_ids(workspace.root)
    assert body["total"] == len(rows)
    by_severity = Counter(r["severity"] for r in rows)
    assert body["counts"] == {"info": by_severity["info"], "warning": by_severity["warning"],
                              "critical": by_severity["critical"], "total": len(rows)}
    first = body["alerts"][0]  # JSON-ready: ISO dates, the detail as an object
    assert first["opened_on"] == CHECKED.isoformat() and first["closed_on"] is None
    assert isinstance(first["detail"], dict) and first["holding"] is True
    assert (first["delivered"], first["undelivered"]) == (1, 0)  # the file channel took it

    for key in ("severity", "rule", "csm", "account_id"):
        value = Counter(r[key] for r in rows).most_common(1)[0][0]
        found = client.get(f"{API}/alerts", params={key: value}).json()
        expected = {r["alert_id"] for r in rows if r[key] == value}
        assert {a["alert_id"] for a in found["alerts"]} == expected, key
        assert found["total"] == len(expected) and found["counts"] == body["counts"]

    page = client.get(f"{API}/alerts", params={"limit": 3, "offset": 2}).json()
    assert [a["alert_id"] for a in page["alerts"]] == _open_ids(workspace.root)[2:5]
    assert page["total"] == len(rows)


def test_one_alert_with_its_deliveries(client, workspace):
    row = stored_alerts(workspace.root)[0]
    body = client.get(f"{API}/alerts/{row['alert_id']}").json()
    assert body["ok"] is True
    assert {k: body[k] for k in ("alert_id", "rule", "account_id", "title", "text")} == \
        {k: row[k] for k in ("alert_id", "rule", "account_id", "title", "text")}
    assert body["detail"] == json.loads(row["detail"])
    [delivery] = body["deliveries"]
    assert delivery["channel"] == "team-file" and delivery["status"] == "sent"
    sent = (workspace.root / "alerts" / "sent.jsonl").read_text(encoding="utf-8")
    assert delivery["key"] in sent


def test_unknown_ids_and_bad_parameters(client, write_token):
    for method, path in [("GET", "/alerts/999999"), ("POST", "/alerts/999999/ack")]:
        r = client.request(method, API + path, headers=_auth(write_token))
        assert r.status_code == 404, r.text
        body = r.json()
        assert _is_error_shape(body) and body["error"] == "no alert 999999"
        assert body["errors"][0]["param"] == "alert_id"
    for path, param in [("/alerts?state=gone", "state"), ("/alerts?severity=loud", "severity"),
                        ("/alerts?limit=0", "limit"), ("/alerts?offset=-1", "offset"),
                        ("/alerts/0", "alert_id"), ("/alerts/abc", "alert_id")]:
        r = client.get(API + path)
        assert r.status_code == 422, (path, r.text)
        assert _is_error_shape(r.json()) and param in r.json()["error"]


def test_acting_needs_a_write_token_checked_before_the_body(client, server, workspace,
                                                            write_token, read_token):
    alert_id = _open_ids(workspace.root)[0]
    url = f"{API}/alerts/{alert_id}/ack"
    json_type = {"content-type": "application/json"}
    for body in ("{not json", json.dumps({"comment": "x"})):
        r = client.post(url, content=body, headers=json_type)
        assert r.status_code == 401 and _is_error_shape(r.json())
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.post(url, content="{not json", headers={**json_type, **_auth(write_token)})
    assert r.status_code == 422  # parsed only once the token is known
    r = client.post(url, json={}, headers=_auth(read_token))
    assert r.status_code == 403 and "write" in r.json()["errors"][0]["reason"]
    # Headers that announce a body, and none of it sent: the 401 comes without waiting.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     "application/json\r\nContent-Length: 100000\r\n\r\n{".encode())
        assert sock.recv(200).startswith(b"HTTP/1.1 401")
    # A bad token on a read is refused like on the other reads.
    r = client.get(f"{API}/alerts", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert client.get(f"{API}/alerts", headers=_auth(read_token)).status_code == 200
    assert stored_alerts(workspace.root, "alert_id = ?", [alert_id])[0]["state"] == "open"


def test_ack_takes_the_alert_out_of_the_open_list(client, workspace, write_token):
    before = client.get(f"{API}/alerts").json()
    alert_id = before["alerts"][0]["alert_id"]
    r = client.post(f"{API}/alerts/{alert_id}/ack", json={"comment": "called them"},
                    headers=_auth(write_token))
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["ok"] is True and acked["state"] == "acknowledged"
    assert (acked["acted_by"], acked["comment"]) == ("ingest-bot", "called them")  # the token
    assert acked["deliveries"] and acked["holding"] is True

    after = client.get(f"{API}/alerts").json()
    assert alert_id not in {a["alert_id"] for a in after["alerts"]}
    assert after["total"] == before["total"] - 1
    assert after["counts"]["total"] == before["counts"]["total"] - 1
    listed = client.get(f"{API}/alerts", params={"state": "acknowledged"}).json()["alerts"]
    assert [a["alert_id"] for a in listed] == [alert_id]
    runs = _query(workspace, "SELECT status, detail FROM runs WHERE kind = "
                             "'alert-acknowledged'")  # the 404 above recorded nothing
    assert [(st, json.loads(d)) for st, d in runs] == [
        ("ok", {"alert_id": alert_id, "by": "ingest-bot", "token": "ingest-bot",
                "token_id": json.loads(runs[0][1])["token_id"]})]

    # `by` names someone else; reopening puts it back.
    r = client.post(f"{API}/alerts/{alert_id}/reopen", json={"by": "maria"},
                    headers=_auth(write_token))
    assert r.status_code == 200 and r.json()["state"] == "open"
    assert r.json()["acted_by"] == "maria"
    assert client.get(f"{API}/alerts").json()["total"] == before["total"]


def test_snooze_until_a_later_date_and_not_into_the_past(client, workspace, write_token):
    alert_id = _open_ids(workspace.root)[-1]
    for until in ("2026-05-01", clock.today().isoformat()):
        r = client.post(f"{API}/alerts/{alert_id}/snooze", json={"until": until},
                        headers=_auth(write_token))
        assert r.status_code == 422, r.text
        body = r.json()
        assert _is_error_shape(body) and body["error"] == "invalid parameter(s): until"
        assert body["errors"] == [{"in": "body", "param": "until", "value": until,
                                   "message": "a snooze needs a date after today"}]
    r = client.post(f"{API}/alerts/{alert_id}/snooze", json={"comment": "x"},
                    headers=_auth(write_token))
    assert r.status_code == 422 and r.json()["errors"][0]["param"] == "until"

    later = clock.today() + timedelta(days=14)
    r = client.post(f"{API}/alerts/{alert_id}/snooze",
                    json={"until": later.isoformat(), "comment": "after the QBR"},
                    headers=_auth(write_token))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["snoozed_until"]) == ("snoozed", later.isoformat())
    assert alert_id not in {a["alert_id"] for a in client.get(f"{API}/alerts").json()["alerts"]}
    snoozed = client.get(f"{API}/alerts", params={"state": "snoozed"}).json()["alerts"]
    assert [a["alert_id"] for a in snoozed] == [alert_id]
    row = stored_alerts(workspace.root, "alert_id = ?", [alert_id])[0]
    assert (row["state"], row["snoozed_until"], row["comment"]) == \
        ("snoozed", later, "after the QBR")
    assert isinstance(row["snoozed_until"], date)


def test_acknowledged_closed_and_all_lists(client, workspace, write_token):
    rows = stored_alerts(workspace.root)
    alert_id = _open_ids(workspace.root)[1]
    r = client.post(f"{API}/alerts/{alert_id}/ack", headers=_auth(write_token))
    assert r.status_code == 200, r.text
    acked = {x["alert_id"] for x in stored_alerts(workspace.root, "state = 'acknowledged'")}
    for state, expected in [("acknowledged", acked), ("all", {x["alert_id"] for x in rows}),
                            ("closed", set())]:
        r = client.get(f"{API}/alerts", params={"state": state, "limit": 500})
        assert r.status_code == 200, (state, r.text)
        assert {a["alert_id"] for a in r.json()["alerts"]} == expected, state


def test_the_schema_lists_the_alert_routes(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/alerts/{alert_id}/ack",
            "/api/v1/alerts/{alert_id}/snooze", "/api/v1/alerts/{alert_id}/reopen"} <= set(paths)
    assert "HTTPBearer" in json.dumps(paths["/api/v1/alerts/{alert_id}/ack"])

