"""Alert rules on a real scored workspace: what each rule holds for (checked against the
stored snapshots by hand), one alert per episode (re-running a day opens nothing; a daily
check over two months equals the replay), the outbox that loses nothing (a crash between
send and record re-sends under the same key), acknowledging and snoozing, and config errors
that name the key."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from healthscore import alerting, clock, pipeline
from healthscore.alerts.episodes import step
from healthscore.cli import app as cli
from healthscore.demo import generate_demo
from healthscore.errors import ConfigError
from healthscore.sources import ingest
from healthscore.workspace import Workspace

NOW = datetime(2026, 6, 1, 6, 0)
FIRST, LAST = date(2026, 4, 20), date(2026, 5, 31)
RULES = """
alerts:
  channels:
    team-file: {kind: file, path: alerts/sent.jsonl}
    csm-file: {kind: file, path: alerts/csm.jsonl}
  route:
    default: [team-file]
    csms:
      CSM_NAME: {channels: [csm-file]}
  rules:
    entered-red:
      when: {band: red}
      severity: critical
    sharp-drop:
      when: {drop: {points: 8, days: 7}}
      message: "{name} lost {change:.1f} points in a week ({score:.0f} now). {reasons}"
    renewal-risk:
      when: {renewal: {within_days: 90}}
    pulse-red:
      when: {pulse: red}
    quiet:
      when: {measure: {measure: days_since_last_activity, above: 10}}
      severity: info
"""


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A 60-account demo company scored with `health` every day from April 20 to May 31."""
    root = tmp_path_factory.mktemp("alerts") / "demo"
    generate_demo(root, accounts=60, seed=5, end=date(2026, 6, 1))
    ws = Workspace.open(root)
    ingest(ws, now=NOW)
    pipeline.backfill(ws, FIRST, LAST, now=NOW, scorecards=["health"])
    return root


@pytest.fixture
def ws(scored, tmp_path):
    """A fresh copy of the scored workspace with the rules (no alert yet)."""
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(scored, root)
    w = Workspace.open(root)
    with w.store(read_only=True) as store:
        csm = store.con.execute("SELECT csm FROM accounts WHERE csm IS NOT NULL GROUP BY csm "
                                "ORDER BY count(*) DESC, csm LIMIT 1").fetchall()[0][0]
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write(RULES.replace("CSM_NAME", json.dumps(csm)))
    return Workspace.open(root)


def _stored(w: Workspace) -> set[tuple]:
    with w.store(read_only=True) as store:
        return set(store.con.execute("SELECT rule, account_id, opened_on, closed_on FROM "
                                     "alerts").fetchall())


def test_each_rule_holds_for_the_accounts_the_snapshots_say(ws):
    """On May 31: `entered-red` holds for exactly the accounts stored red that day;
    `sharp-drop` for those whose score is ≥ 8 points below May 24's (the two scores read from
    the snapshots and subtracted here); `renewal-risk` for those renewing within 90 days that
    are not green."""
    found = alerting.check_alerts(ws, LAST, deliver=False)
    with ws.store(read_only=True) as store:
        q = store.con.execute
        red = {a for (a,) in q("SELECT account_id FROM snapshots WHERE as_of = ? AND band = "
                               "'red'", [LAST]).fetchall()}
        pairs = q("SELECT b.account_id, b.score, a.score FROM snapshots b JOIN snapshots a "
                  "USING (account_id) WHERE b.as_of = ? AND a.as_of = ?",
                  [LAST, LAST - timedelta(days=7)]).fetchall()
        renewing = {a for (a,) in q(
            "SELECT s.account_id FROM snapshots s JOIN accounts c USING (account_id) WHERE "
            "s.as_of = ? AND s.band <> 'green' AND c._valid_to IS NULL AND c.renewal_date "
            "BETWEEN ? AND ?", [LAST, LAST, LAST + timedelta(days=90)]).fetchall()}
        opened = dict(q("SELECT rule, list(account_id) FROM alerts GROUP BY rule").fetchall())
    dropped = {a for a, now, before in pairs if now - before <= -8}
    assert red and set(opened["entered-red"]) == red
    assert dropped and set(opened.get("sharp-drop", [])) == dropped
    assert set(opened.get("renewal-risk", [])) == renewing
    checks = {c.rule: c for c in found.checks}
    assert checks["entered-red"].holding == len(red)


def test_a_red_pulse_opens_one_alert_and_its_message_has_the_reasons(ws):
    """A CSM's red pulse on May 30 makes `pulse-red` hold for that account on May 31: its
    alert's title says so, its text names the account and the reasons from `why`."""
    with ws.store(read_only=True) as store:  # an account scored that day with no red pulse
        account = store.con.execute(
            "SELECT account_id FROM snapshots WHERE as_of = ? AND account_id NOT IN (SELECT "
            "account_id FROM pulses) ORDER BY account_id LIMIT 1", [LAST]).fetchall()[0][0]
    with clock.frozen(datetime(2026, 5, 30, 10, 0)):
        result = CliRunner().invoke(cli, ["pulse", account, "-w", str(ws.root),
                                          "--value", "red", "--comment", "budget cut",
                                          "--author", "dana"])
    assert result.exit_code == 0, result.output
    pipeline.score(ws, LAST, now=NOW, scorecards=["health"])
    alerting.check_alerts(ws, LAST, deliver=False)
    with ws.store(read_only=True) as store:
        rows = store.con.execute("SELECT account_id, title, text, detail FROM alerts WHERE "
                                 "rule = 'pulse-red' AND account_id = ?", [account]).fetchall()
        name = store.con.execute("SELECT name FROM accounts WHERE account_id = ?",
                                 [account]).fetchall()[0][0]
    assert len(rows) == 1 and "CSM pulse red" in rows[0][1]
    reasons = json.loads(rows[0][3])["reasons"]
    assert name in rows[0][2] and all(r in rows[0][2] for r in reasons)


def test_rerunning_a_day_opens_nothing_twice(ws):
    first = alerting.check_alerts(ws, LAST, deliver=False)
    again = alerting.check_alerts(ws, LAST, deliver=False)
    assert first.opened > 0 and again.opened == 0
    assert all(c.skipped and "already checked" in c.skipped for c in again.checks)
    earlier = alerting.check_alerts(ws, LAST - timedelta(days=3), deliver=False)
    assert earlier.opened == 0  # dates go forward only


def test_daily_checks_over_three_weeks_equal_the_replay(ws):
    """Checking every day from May 11 to May 31 in order stores exactly the episodes the
    replay finds over the same days (rule, account, opened, cleared) — and some episode
    cleared and re-armed, so the comparison covers both ends of an episode."""
    start = day = LAST - timedelta(days=20)
    while day <= LAST:
        alerting.check_alerts(ws, day, deliver=False)
        day += timedelta(days=1)
    stored = _stored(ws)
    replayed = alerting.replay_alerts(ws, start, LAST)
    assert {(e.rule, e.account_id, e.opened_on, e.closed_on) for e in replayed.episodes} \
        == stored
    assert any(closed is not None for *_, closed in stored)
    reopened = {}
    for rule, account, _, _ in stored:
        reopened[(rule, account)] = reopened.get((rule, account), 0) + 1
    assert max(reopened.values()) >= 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sets(st.sampled_from("ABCDE")), min_size=1, max_size=30),
       st.integers(1, 5))
def test_one_alert_per_episode(days, clear_after):
    """For any sequence of days (the accounts a rule holds for on each) and any
    ``clear_after``: an alert opens on a day an account holds with no alert open, lasts
    through gaps shorter than ``clear_after`` days, and clears on the day it has not held for
    ``clear_after`` days — computed here by walking each account's days by hand."""
    d0 = date(2026, 1, 1)
    open_: dict[str, date] = {}
    started: dict[str, int] = {}
    episodes = []
    for i, holds in enumerate(days):
        day = d0 + timedelta(days=i)
        begins, ends = step(open_, holds, day, clear_after)
        for a in ends:
            episodes.append((a, started.pop(a), i))
            del open_[a]
        for a in holds:
            open_[a] = day
        for a in begins:
            started[a] = i
    episodes += [(a, start, None) for a, start in started.items()]
    expected = []
    for a in "ABCDE":
        start, last = None, None
        for i, holds in enumerate(days):
            if a in holds:
                if start is None:
                    start = i
                last = i
            elif start is not None and i - last >= clear_after:
                expected.append((a, start, i))
                start = None
        if start is not None:
            expected.append((a, start, None))
    assert sorted(episodes, key=str) == sorted(expected, key=str)


def test_the_outbox_loses_nothing_when_the_process_dies_between_send_and_record(ws):
    """The second delivery is sent, then the process 'dies' before recording it: the next
    pass sends it again under the same key (the receiver sees the key twice and can drop
    one) and every delivery ends sent; nothing is lost."""
    from healthscore.alerts.deliver import send as real_send

    alerting.check_alerts(ws, LAST, deliver=False)
    calls = []

    def dies_after_second(channel, message, **kw):
        real_send(channel, message, **kw)
        calls.append(message.key)
        if len(calls) == 2:
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        alerting.deliver_outbox(ws, send=dies_after_second)
    done = alerting.deliver_outbox(ws)
    lines = [json.loads(x) for x in (ws.root / "alerts/sent.jsonl").read_text().splitlines()]
    lines += [json.loads(x) for x in (ws.root / "alerts/csm.jsonl").read_text().splitlines()]
    keys = [x["key"] for x in lines]
    with ws.store(read_only=True) as store:
        statuses = dict(store.con.execute("SELECT status, count(*) FROM alert_outbox GROUP BY "
                                          "status").fetchall())
        queued = store.con.execute("SELECT \"key\" FROM alert_outbox").fetchall()
    assert statuses == {"sent": len(queued)}
    assert keys.count(calls[1]) == 2 and keys.count(calls[0]) == 1
    assert set(keys) == {k for (k,) in queued} and len(keys) == len(queued) + 1
    assert done.sent == len(queued) - 1
    # the CSM's own channel got their accounts' alerts, each with the same alert as the team's
    csm_lines = [json.loads(x) for x in (ws.root / "alerts/csm.jsonl").read_text().splitlines()]
    assert csm_lines and len({x["csm"] for x in csm_lines}) == 1


def test_ack_snooze_and_reopen_from_the_cli(ws):
    root = str(ws.root)
    alerting.check_alerts(ws, LAST, deliver=False)
    runner = CliRunner()
    listed = runner.invoke(cli, ["alerts", "list", "-w", root, "--rule", "entered-red"])
    assert listed.exit_code == 0, listed.output
    with ws.store(read_only=True) as store:
        alert_id, account = store.con.execute("SELECT alert_id, account_id FROM alerts WHERE "
                                              "rule = 'entered-red' ORDER BY alert_id LIMIT 1"
                                              ).fetchall()[0]
    assert account in listed.output
    ack = runner.invoke(cli, ["alerts", "ack", str(alert_id), "-w", root, "--by", "dana",
                              "--comment", "called them"])
    assert ack.exit_code == 0 and "acknowledged" in ack.output
    open_list = runner.invoke(cli, ["alerts", "list", "-w", root, "--rule", "entered-red",
                                    "--limit", "500"])
    assert f"\n│ {alert_id} " not in open_list.output.replace("┃", "│")
    shown = runner.invoke(cli, ["alerts", "show", str(alert_id), "-w", root])
    assert "acknowledged by dana" in shown.output and "called them" in shown.output
    past = runner.invoke(cli, ["alerts", "snooze", str(alert_id), "-w", root, "--by", "dana",
                               "--until", "2020-01-01"])
    assert past.exit_code == 2 and "a snooze needs a date after today" in past.output
    later = runner.invoke(cli, ["alerts", "snooze", str(alert_id), "-w", root, "--by", "dana",
                                "--until", "2099-01-01"])
    assert later.exit_code == 0 and "until 2099-01-01" in later.output
    back = runner.invoke(cli, ["alerts", "reopen", str(alert_id), "-w", root, "--by", "lee"])
    assert back.exit_code == 0 and "is open" in back.output
    missing = runner.invoke(cli, ["alerts", "ack", "999999", "-w", root, "--by", "x"])
    assert missing.exit_code == 1 and "no alert 999999" in missing.output


def test_a_snoozed_account_gets_no_delivery_for_its_next_episode(ws):
    """Snoozed until far ahead: when the rule clears and holds again for the account, the
    new alert is stored snoozed and nothing is queued for it."""
    from healthscore.store import alerts as saved

    with ws.store() as store:
        saved.record_check(store, rule="entered-red", as_of=LAST - timedelta(days=2),
                           holding=1, opened=[{
                               "scorecard": "health", "account_id": "ACC-000001",
                               "severity": "critical", "csm": None, "title": "t", "text": "x",
                               "detail": {}}], closed=[], run_id=0, at=NOW,
                           targets=lambda a: [("team-file", None)])
        (alert_id,) = store.con.execute("SELECT alert_id FROM alerts").fetchall()[0]
        saved.act(store, alert_id, state="snoozed", by="dana", comment="", at=NOW,
                  until=date(2099, 1, 1))
        store.con.execute("UPDATE alerts SET closed_on = ? WHERE alert_id = ?",
                          [LAST - timedelta(days=1), alert_id])  # the episode cleared
    with ws.store() as store:
        store.con.execute("UPDATE snapshots SET band = 'red' WHERE as_of = ? AND account_id = "
                          "'ACC-000001'", [LAST])
    alerting.check_alerts(ws, LAST, deliver=False)
    with ws.store(read_only=True) as store:
        again = store.con.execute("SELECT alert_id, state, snoozed_until FROM alerts WHERE "
                                  "account_id = 'ACC-000001' AND rule = 'entered-red' AND "
                                  "opened_on = ?", [LAST]).fetchall()
        queued = store.con.execute("SELECT count(*) FROM alert_outbox WHERE alert_id = ?",
                                   [again[0][0]]).fetchall()[0][0]
    assert again[0][1:] == ("snoozed", date(2099, 1, 1)) and queued == 0


@pytest.mark.parametrize("rules, message", [
    ("  rules:\n    x: {when: {band: red}, channels: [nowhere]}\n",
     "no channel named 'nowhere'"),
    ("  rules:\n    x: {when: {band: red}, message: 'hi {nme}'}\n", "unknown field {nme}"),
    ("  rules:\n    x: {when: {}}\n", "give at least one condition"),
    ("  rules:\n    x: {when: {measure: {measure: nope, above: 1}}}\n", "nope"),
    ("  rules:\n    x: {when: {band: red}, scorecard: sales}\n", "no scorecard named 'sales'"),
])
def test_bad_rules_are_refused_with_the_key(scored, tmp_path, rules, message):
    import shutil

    root = tmp_path / "bad"
    shutil.copytree(scored, root)
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("alerts:\n  channels: {f: {kind: file, path: a.jsonl}}\n" + rules)
    result = CliRunner().invoke(cli, ["alerts", "check", "-w", str(root)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    if "nowhere" in message:
        assert "healthscore.yaml:" in result.output  # file and line


def test_run_checks_the_rules_after_scoring(ws):
    """`healthscore run` scores the day, checks the rules and delivers: the file channel
    holds one line per alert; run again the same day, nothing new is sent."""
    root = str(ws.root)
    first = CliRunner().invoke(cli, ["run", "-w", root, "--as-of", "2026-06-01",
                                     "--allow-stale"])
    assert first.exit_code == 0, first.output
    assert "Alerts:" in first.output and "delivered" in first.output
    sent = (ws.root / "alerts/sent.jsonl").read_text().splitlines()
    again = CliRunner().invoke(cli, ["run", "-w", root, "--as-of", "2026-06-01",
                                     "--allow-stale"])
    assert again.exit_code == 0, again.output
    assert "Alerts: 0 opened" in again.output
    assert (ws.root / "alerts/sent.jsonl").read_text().splitlines() == sent
    with ws.store(read_only=True) as store:
        alerts = store.con.execute("SELECT count(*) FROM alerts WHERE rule <> 'x'"
                                   ).fetchall()[0][0]
    assert len(sent) == alerts > 0


def test_config_error_names_file_and_line(scored, tmp_path):
    import shutil

    root = tmp_path / "bad2"
    shutil.copytree(scored, root)
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("alerts:\n  rules:\n    x:\n      when: {band: purple}\n")
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    assert "healthscore.yaml:" in str(caught.value.message) + str(caught.value.problems)


def test_a_channel_error_names_the_key_in_the_file_not_the_kind(tmp_path):
    """pydantic puts a tagged union's tag in the error path (`slack.webhook.url`); the error
    names the key as it is in the file, on its own line."""
    ws = Workspace.init(tmp_path / "w", name="w")
    with open(ws.config_path, "a", encoding="utf-8") as fh:
        fh.write("alerts:\n  channels:\n    slack:\n      kind: webhook\n"
                 "      url: ftp://nope\n")
    line = ws.config_path.read_text().splitlines().index("      url: ftp://nope") + 1
    with pytest.raises(ConfigError) as caught:
        Workspace.open(ws.root)
    assert any(f"healthscore.yaml:{line}: alerts.channels.slack.url: must be an http" in p
               for p in caught.value.problems), caught.value.problems


def test_rules_in_files_under_alerts_are_read_and_a_name_twice_is_refused(scored, tmp_path):
    import shutil

    root = tmp_path / "files"
    shutil.copytree(scored, root)
    (root / "alerts").mkdir()
    (root / "alerts" / "renewals.yaml").write_text(
        "rules:\n  renewal-soon:\n    when: {renewal: {within_days: 30}}\n", encoding="utf-8")
    ws = Workspace.open(root)
    assert list(alerting.rules_of(ws)) == ["renewal-soon"]
    with open(root / "healthscore.yaml", "a", encoding="utf-8") as fh:
        fh.write("alerts:\n  rules:\n    renewal-soon: {when: {band: red}}\n")
    with pytest.raises(ConfigError, match="rule 'renewal-soon' is defined twice"):
        alerting.rules_of(Workspace.open(root))
