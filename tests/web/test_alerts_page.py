"""The alerts inbox and the account page's open alerts in a real browser (a real uvicorn over
the alerts workspace of alert_site), and at the level of FastAPI's client: escaping, the
forms' protection and authorisation, and a store from before alerts.

Expected rows and counts are plain SQL on the store's ``alerts`` (``stored_alerts``).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alert_site import XSS, stored_alerts
from conftest import copy_workspace
from healthscore import clock
from healthscore.cli import app as cli
from healthscore.server import create_app
from healthscore.server.access import exclusive
from healthscore.workspace import Workspace
from web_site import Server, _shot, needs_chromium

FORM_TOKEN = re.compile(r'action="/alerts/(\d+)/ack[^"]*">\s*<input type="hidden" '
                        r'name="token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def alerts_site(alerted_root):
    server = Server(alerted_root)
    yield server
    server.stop()


def _open(root, where: str = "TRUE", params: list | None = None) -> list[dict]:
    return stored_alerts(root, f"state = 'open' AND {where}", params)


def _badge(page) -> int:
    return int(page.locator("#alert-count").inner_text())


def _row_ids(page) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all(
        "#alerts tbody tr", "rows => rows.map(r => r.dataset.alert)")]


@needs_chromium
def test_filter_acknowledge_and_snooze_in_the_inbox(alerts_site, page, shots, alerted_root):
    rows = _open(alerted_root)
    page.goto(alerts_site.url + "/")
    assert _badge(page) == len(rows)  # every page's header counts them
    page.click("#nav-alerts")
    page.wait_for_selector("#alerts")
    assert sorted(_row_ids(page)) == [r["alert_id"] for r in rows]
    assert page.locator("#total").inner_text() == str(len(rows))
    hostile = page.locator("#alerts a.acct", has_text="<script>")
    assert hostile.count() >= 1 and hostile.first.inner_text() == XSS
    assert page.evaluate("document.querySelectorAll('main script').length") == 0
    _shot(page, shots, "alerts")

    page.select_option("select[name=severity]", "critical")
    page.click("#alert-filters button[type=submit]")
    page.wait_for_url(re.compile(r"severity=critical"))
    critical = [r["alert_id"] for r in rows if r["severity"] == "critical"]
    assert len(critical) >= 2 and sorted(_row_ids(page)) == critical
    assert set(page.locator("#alerts tbody .sev").all_inner_texts()) == {"critical"}
    _shot(page, shots, "alerts-critical")

    acked = _row_ids(page)[0]
    form = page.locator(f"#alert-{acked} .ack-form")
    form.locator("input[name=by]").fill("maria.lopez")
    form.locator("input[name=comment]").fill("Called the <b>champion</b>")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"done=acknowledged"))
    assert "severity=critical" in page.url  # the filters are kept
    assert page.locator("#acted").inner_text() == f"Alert {acked} acknowledged."
    assert acked not in _row_ids(page) and len(_row_ids(page)) == len(critical) - 1
    assert _badge(page) == len(rows) - 1
    [row] = stored_alerts(alerted_root, "alert_id = ?", [acked])
    assert (row["state"], row["acted_by"], row["comment"]) == \
        ("acknowledged", "maria.lopez", "Called the <b>champion</b>")

    snoozed = _row_ids(page)[0]
    until = clock.today() + timedelta(days=14)
    form = page.locator(f"#alert-{snoozed} .snooze-form")
    form.locator("input[name=until]").fill(until.isoformat())
    form.locator("input[name=comment]").fill("after the QBR")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"done=snoozed"))
    assert snoozed not in _row_ids(page) and _badge(page) == len(rows) - 2
    [row] = stored_alerts(alerted_root, "alert_id = ?", [snoozed])
    assert (row["state"], row["snoozed_until"], row["comment"]) == \
        ("snoozed", until, "after the QBR")
    _shot(page, shots, "alerts-acted")

    page.select_option("select[name=state]", "snoozed")
    page.click("#alert-filters button[type=submit]")
    page.wait_for_url(re.compile(r"state=snoozed"))
    assert _row_ids(page) == [snoozed]
    assert f"snoozed until {until}" in page.locator(f"#alert-{snoozed} td.state").inner_text()


@needs_chromium
def test_the_account_page_shows_its_open_alerts(alerts_site, page, shots, alerted_root):
    account, n = Counter(r["account_id"] for r in _open(alerted_root)).most_common(1)[0]
    titles = {r["title"] for r in _open(alerted_root, "account_id = ?", [account])}
    page.goto(f"{alerts_site.url}/accounts/{account}")
    panel = page.locator("#alerts")
    assert panel.locator("h2").inner_text().startswith("Open alerts")
    assert set(panel.locator("tbody tr td:nth-child(3)").all_inner_texts()) == titles
    assert len(titles) == n
    _shot(page, shots, "account-alerts")
    page.click("#account-alerts-link")
    page.wait_for_selector("#account-filter")
    assert page.locator("#alerts tbody tr").count() == n
    assert set(page.locator("#alerts tbody td:nth-child(3) .small").all_inner_texts()) == \
        {f"{account} · {r['csm']}" for r in _open(alerted_root, "account_id = ?", [account])}


def test_a_hostile_account_name_is_escaped_on_the_inbox(alerted_root):
    with TestClient(create_app(alerted_root), base_url="http://localhost") as client:
        html = client.get("/alerts").text
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        account = _open(alerted_root, "title LIKE '%<script>%'")[0]["account_id"]
        html = client.get(f"/accounts/{account}").text
        assert 'id="alerts"' in html and XSS not in html


def test_the_forms_are_protected_and_need_a_write_session_once_tokens_exist(alerted_root,
                                                                           tmp_path):
    """A post without the form's token, or from another site, changes nothing (403); once the
    workspace has a token, a visitor without a write session gets no forms and a 403, and the
    acting person of a signed-in post is the token's name whatever the form says."""
    root = tmp_path / "ws"
    copy_workspace(alerted_root, root)  # served by this process: copied elsewhere
    target = _open(root)[0]["alert_id"]
    url = f"/alerts/{target}/ack"
    with TestClient(create_app(root), base_url="http://localhost",
                    follow_redirects=False) as client:
        assert client.post(url, data={"by": "x"}).status_code == 403
        [(alert_id, token)] = [m for m in FORM_TOKEN.findall(client.get("/alerts").text)
                               if int(m[0]) == target]
        r = client.post(url, data={"token": token, "by": "x"},
                        headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "another site" in r.text
        assert client.post(url, data={"token": "0" * 64, "by": "x"}).status_code == 403

        with exclusive(Workspace.open(root)):  # the app holds the file read-only
            made = CliRunner().invoke(cli, ["token", "create", "-w", str(root), "--name",
                                            "csm-maria"])
        assert made.exit_code == 0, made.output
        html = client.get("/alerts").text
        assert "Sign in with a write token to acknowledge" in html and "ack-form" not in html
        r = client.post(url, data={"token": token, "by": "x"})
        assert r.status_code == 403 and "sign in with a write token" in r.text
        assert _open(root, "alert_id = ?", [target])  # still open

        signin = re.search(r'name="token" value="([0-9a-f]+)"', client.get("/signin").text)
        client.post("/signin", data={"token": signin.group(1), "next": "/alerts",
                                     "api_token": made.stdout.strip().splitlines()[0]})
        html = client.get("/alerts?severity=critical").text
        assert 'name="by"' not in html  # the session says who acts
        r = client.post(url + "?severity=critical", data={"token": token, "by": "mallory",
                                                          "comment": "seen"})
        assert r.status_code == 303
        assert r.headers["location"] == \
            f"/alerts?severity=critical&done=acknowledged&alert={target}"
    [row] = stored_alerts(root, "alert_id = ?", [target])
    assert (row["state"], row["acted_by"], row["comment"]) == ("acknowledged", "csm-maria",
                                                               "seen")


def test_a_snooze_that_ends_today_is_refused_on_the_page(alerted_root, tmp_path):
    root = tmp_path / "ws"
    copy_workspace(alerted_root, root)  # served by this process: copied elsewhere
    with TestClient(create_app(root), base_url="http://localhost",
                    follow_redirects=False) as client:
        alert_id, token = FORM_TOKEN.search(client.get("/alerts").text).groups()
        for until, message in [(clock.today().isoformat(), "until: a snooze needs a date "
                                                           "after today"),
                               ("", "until: choose the date the snooze ends"),
                               ("31/12/2026", "until: &#39;31/12/2026&#39; is not a date")]:
            r = client.post(f"/alerts/{alert_id}/snooze", data={"token": token, "by": "ann",
                                                                "until": until})
            assert r.status_code == 400 and message in r.text, r.text
        # a form's token is for its own alert only
        assert client.post("/alerts/999999/ack", data={"token": token}).status_code == 403
    assert _open(root, "alert_id = ?", [int(alert_id)])


def test_a_store_from_before_alerts_still_renders(alerted_root, tmp_path, monkeypatch):
    """A store of the previous schema (no alert tables) that the server may only read, so it
    is not migrated (a store it may write is upgraded when opened): every page renders, the
    header without a count, the inbox says why."""
    import healthscore.store.store as store_module

    root = tmp_path / "ws"
    copy_workspace(alerted_root, root)  # served by this process: copied elsewhere
    with Workspace.open(root).store() as store:
        for table in ("alerts", "alert_outbox", "alert_checks"):
            store.con.execute(f"DROP TABLE {table}")
        store.con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    # root may write any file: the store's "may I write it" check says no, as it would for a
    # file owned by another user
    real = store_module.os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode: False if mode == store_module.os.W_OK else real(p, mode))
    with TestClient(create_app(root), base_url="http://localhost") as client:
        account = stored_alerts(alerted_root)[0]["account_id"]
        for path in ("/", "/accounts", f"/accounts/{account}", "/alerts"):
            r = client.get(path)
            assert r.status_code == 200, (path, r.text)
            assert 'id="nav-alerts"' in r.text and 'id="alert-count"' not in r.text
            assert 'id="alerts"' not in r.text
        assert "earlier release" in client.get("/alerts").text
        api = client.get("/api/v1/alerts")
        assert api.status_code == 503 and api.json()["ok"] is False
        assert "earlier release" in api.json()["error"]


def test_the_header_count_is_for_signed_in_visitors_when_reads_need_a_token(alerted_root,
                                                                           tmp_path):
    root = tmp_path / "ws"
    copy_workspace(alerted_root, root)  # served by this process: copied elsewhere
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("api:\n  read_requires_token: true\n")
    made = CliRunner().invoke(cli, ["token", "create", "-w", str(root), "--name", "viewer",
                                    "--scope", "read"])
    assert made.exit_code == 0, made.output
    with TestClient(create_app(root), base_url="http://localhost",
                    follow_redirects=False) as client:
        assert client.get("/alerts").status_code == 303  # to the sign-in form
        html = client.get("/signin").text
        assert 'id="nav-alerts"' in html and 'id="alert-count"' not in html
        token = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
        client.post("/signin", data={"token": token, "next": "/alerts",
                                     "api_token": made.stdout.strip().splitlines()[0]})
        html = client.get("/alerts").text
        assert re.search(r'id="alert-count"[^>]*>(\d+)<', html).group(1) == \
            str(len(_open(root)))
        assert "Sign in with a write token to acknowledge" in html  # a read token
