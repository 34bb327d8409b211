"""The whole way of an alert on a Monday run, against real receivers on 127.0.0.1: the team's
webhook (signed; it fails twice first, and the next run delivers what waited), the CSM's
mail and their weekly digest through a real SMTP server, and `alerts test` to each channel."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from receivers import Answer, Hook, MailServer
from typer.testing import CliRunner

from healthscore import alerting
from healthscore.alerts.deliver import verify_signature
from healthscore.cli import app as cli
from healthscore.demo import generate_demo
from healthscore.pipeline import score
from healthscore.sources import ingest
from healthscore.workspace import Workspace

MONDAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 6, 0)
SECRET = "hook-secret-for-tests"


@pytest.fixture
def receivers():
    hook = Hook(then=Answer(status=503))  # down until a test says otherwise
    mail = MailServer()
    yield hook, mail
    hook.close()
    mail.close()


@pytest.fixture
def ws(tmp_path, receivers, monkeypatch):
    hook, mail = receivers
    root = tmp_path / "demo"
    generate_demo(root, accounts=30, seed=3, end=MONDAY)
    w = Workspace.open(root)
    ingest(w, now=NOW)
    for day in (date(2026, 5, 25), MONDAY):
        score(w, day, now=NOW, scorecards=["health"])
    with w.store(read_only=True) as store:
        csm = store.con.execute(
            "SELECT a.csm FROM snapshots s JOIN accounts a USING (account_id) WHERE s.as_of = ? "
            "AND s.band = 'red' AND a.csm IS NOT NULL AND a._valid_to IS NULL "
            "ORDER BY a.account_id LIMIT 1", [MONDAY]).fetchall()[0][0]
    monkeypatch.setenv("HS_TEST_HOOK_SECRET", SECRET)
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write(f"""
alerts:
  channels:
    team-hook: {{kind: webhook, url: "{hook.url}", secret_env: HS_TEST_HOOK_SECRET,
                retries: 1, backoff_s: 0}}
    mail: {{kind: email, host: 127.0.0.1, port: {mail.port}, security: none,
           sender: alerts@acme.test, to: [cs-team@acme.test]}}
  route:
    default: [team-hook]
    email_channel: mail
    csms:
      {json.dumps(csm)}: {{email: csm@acme.test}}
  digest: {{weekday: monday}}
  rules:
    entered-red:
      when: {{band: red}}
      severity: critical
""")
    return Workspace.open(root), csm


def test_a_monday_run_reaches_the_team_the_csm_and_their_digest(ws, receivers):
    w, csm = ws
    hook, mail = receivers
    first = alerting.check_alerts(w, MONDAY, now=NOW)
    with w.store(read_only=True) as store:
        q = store.con.execute
        alerts = q("SELECT alert_id, account_id, csm FROM alerts ORDER BY alert_id").fetchall()
        waiting = q("SELECT count(*) FROM alert_outbox WHERE channel = 'team-hook' AND status "
                    "= 'pending' AND attempts = 1 AND last_error LIKE '%HTTP 503%'"
                    ).fetchall()[0][0]
    mine = [a for a in alerts if a[2] == csm]
    assert alerts and mine
    # the webhook answered 503 to each try: every hook delivery waits, with its reason
    assert first.delivery.retrying == len(alerts) == waiting
    # the CSM got one mail per alert of theirs, and the digest listing them
    to_csm = [m for _, rcpt, m in mail.mails if rcpt == ["csm@acme.test"]]
    digest = [m for m in to_csm if m["X-Healthscore-Key"] and "digest" in m["X-Healthscore-Key"]]
    assert len(digest) == 1 and len(to_csm) == len(mine) + 1
    html = digest[0].get_body(("html",)).get_content()
    assert all(account in html for _, account, _ in mine)
    assert f"for {csm}" in digest[0]["Subject"]
    # the next run: the hook is back; what waited is delivered, signed, once per alert
    tried = len(hook.requests)
    assert tried == 2 * len(alerts)  # each alert: the first try and one retry
    hook.then = Answer()
    second = alerting.check_alerts(w, MONDAY, now=NOW)
    assert second.opened == 0 and second.delivery.sent == len(alerts)
    delivered = hook.requests[tried:]
    assert len(delivered) == len(alerts)
    for req in delivered:
        assert verify_signature(SECRET.encode(), req.headers["x-healthscore-timestamp"],
                                req.body, req.headers["x-healthscore-signature"])
    keys = {r.headers["idempotency-key"] for r in hook.requests}
    assert len(keys) == len(alerts)  # every retry carried its alert's one key
    assert {json.loads(r.body)["healthscore"]["alert_id"] for r in delivered} == \
        {a[0] for a in alerts}
    # the digest is weekly: the second Monday run sent no second one
    assert second.digests[csm].startswith("already sent this week")
    assert len([m for _, rcpt, m in mail.mails if rcpt == ["csm@acme.test"]]) == len(to_csm)


def test_alerts_test_reaches_every_channel(ws, receivers):
    w, _ = ws
    hook, mail = receivers
    hook.then = Answer()  # up
    result = CliRunner().invoke(cli, ["alerts", "test", "-w", str(w.root)])
    assert result.exit_code == 0, result.output
    assert "team-hook: sent" in result.output and "mail: sent" in result.output
    assert json.loads(hook.requests[-1].body)["healthscore"]["rule"] == "test"
    assert mail.mails[-1][1] == ["cs-team@acme.test"]
    with w.store(read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM alert_outbox").fetchall() == [(0,)]
