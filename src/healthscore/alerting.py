"""The alert verbs' orchestration: each opens the workspace's store, calls :mod:`healthscore.
alerts` and records what it wrote as a run — checking the rules on a date and delivering the
outbox (both part of ``healthscore run``), replaying them over history, acting on an alert,
sending a test message and the weekly digest.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from healthscore import clock
from healthscore.config.alerts import Rule, RuleFile
from healthscore.config.yamlfile import load_model
from healthscore.errors import ConfigError
from healthscore.workspace import Workspace


def rules_of(workspace: Workspace) -> dict[str, Rule]:
    """The workspace's rules: ``alerts.rules`` of healthscore.yaml, then those of each file
    ``alerts.files`` matches (a name given twice is refused, naming both places)."""
    config = workspace.config.alerts
    rules = dict(config.rules)
    where = {name: f"{workspace.config_path}: alerts.rules" for name in rules}
    for pattern in config.files:
        full = Path(pattern) if Path(pattern).is_absolute() else workspace.root / pattern
        for path in sorted(Path(p) for p in glob.glob(str(full))):
            _, found = load_model(path, RuleFile, "alert rule file", "rules: {name: {when: …}}")
            for name, rule in found.rules.items():
                if name in rules:
                    raise ConfigError(f"{path}: rule {name!r} is defined twice (also in "
                                      f"{where[name]})", hint="rename one of them")
                rules[name], where[name] = rule, str(path)
    return rules


def _cards(workspace: Workspace, rules: dict[str, Rule]) -> dict:
    from healthscore.alerts.rules import check_rules
    from healthscore.read.scorecards import Card

    loaded = {sc.name: sc for sc in workspace.scorecards()}
    check_rules(rules, list(loaded))
    return {name: Card.of(loaded[name]) for name in {r.scorecard for r in rules.values()}}


@dataclass
class AlertRun:
    """What checking the rules on a date and delivering the outbox did."""

    as_of: date
    checks: list = field(default_factory=list)      #: RuleCheck per rule
    delivery: Delivered | None = None
    run_id: int | None = None
    digests: dict | None = None                     #: CSM → what the digest did (its day)

    @property
    def opened(self) -> int:
        return sum(len(c.opened) for c in self.checks)

    @property
    def closed(self) -> int:
        return sum(len(c.closed) for c in self.checks)


@dataclass
class Delivered:
    """One pass over the outbox: sent, failed (to be retried, or for good) and their errors."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def check_alerts(workspace: Workspace, as_of: date, *, now: datetime | None = None,
                 deliver: bool = True, send=None) -> AlertRun:
    """Check every rule on ``as_of`` (recorded as a run of kind ``alerts``), then deliver
    what is queued (``deliver``). ``send`` replaces the channels' sender (a seam for tests)."""
    from healthscore.alerts.episodes import check

    rules = rules_of(workspace)
    out = AlertRun(as_of)
    if rules:
        cards = _cards(workspace, rules)
        with workspace.store() as store, store.recorded("alerts", now) as run:
            out.checks = check(store, workspace.config.alerts, rules, cards, as_of,
                               run_id=run.run_id, now=run.started_at)
            run.rows_loaded = out.opened
            run.detail = {"as_of": str(as_of), "opened": out.opened, "closed": out.closed,
                          "skipped": {c.rule: c.skipped for c in out.checks if c.skipped}}
            out.run_id = run.run_id
    if deliver:
        digest = workspace.config.alerts.digest
        if digest is not None and clock.now(now).strftime("%A").lower() == digest.weekday:
            try:  # once per ISO week: a second run that day queues nothing again
                out.digests = queue_digests(workspace, now=now)
            except ConfigError as exc:
                out.digests = {"(digest)": exc.message}
        out.delivery = deliver_outbox(workspace, now=now, send=send)
    return out


def message_of(row: dict, workspace: Workspace):
    """The :class:`~healthscore.alerts.message.Message` of one outbox row."""
    import json

    from healthscore.alerts.message import Message

    detail = row["detail"]
    detail = json.loads(detail) if isinstance(detail, str) else (detail or {})
    base = workspace.config.serve.public_url
    from urllib.parse import quote

    url = f"{base.rstrip('/')}/accounts/{quote(row['account_id'], safe='')}" if base else None
    return Message(key=row["key"], alert_id=int(row["alert_id"]), rule=row["rule"],
                   severity=row["severity"], account_id=row["account_id"],
                   account_name=detail.get("name"), csm=row["csm"], opened_on=row["opened_on"],
                   title=row["title"], text=row["text"], url=url, detail=detail)


def deliver_outbox(workspace: Workspace, *, now: datetime | None = None, send=None
                   ) -> Delivered:
    """Send every pending delivery, oldest first, each recorded as sent once its channel
    accepted it; a failure is recorded and retried by the next call (for good only when
    the channel refused it: a bad address, a 4xx)."""
    from healthscore.alerts.deliver import DeliveryError
    from healthscore.alerts.deliver import send as real_send
    from healthscore.store import alerts as saved

    send = send or real_send
    channels = workspace.config.alerts.channels
    out = Delivered()
    # one connection for the pass; each outcome is its own transaction, written as soon as
    # the channel answered, so a crash re-sends at most the one message in flight
    with workspace.store() as store:
        for row in saved.pending(store):
            channel = channels.get(row["channel"])
            at = clock.now(now)
            error, final = None, False
            if channel is None:
                error, final = f"channel {row['channel']!r} is no longer in alerts.channels", True
            else:
                try:
                    if row["kind"] == "alert":
                        send(channel, message_of(row, workspace), root=workspace.root,
                             name=row["channel"], recipient=row["recipient"])
                    else:
                        _send_digest(workspace, channel, row)
                except DeliveryError as exc:
                    error, final = str(exc), not exc.retryable
            if error is None:
                saved.mark_sent(store, row["key"], clock.now(now))
                out.sent += 1
                continue
            saved.mark_failed(store, row["key"], at, error, final=final)
            out.errors.append(error)
            if final:
                out.failed += 1
            else:
                out.retrying += 1
    return out


def _send_digest(workspace: Workspace, channel, row: dict) -> None:
    import json

    from healthscore.alerts.deliver import send_mail

    payload = row["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    send_mail(channel, row["recipient"], payload["subject"], payload["text"], payload["html"],
              key=row["key"], root=workspace.root, name=row["channel"])


def send_test(workspace: Workspace, channels: list[str] | None = None, *, send=None
              ) -> dict[str, str | None]:
    """Send a sample alert to each channel (or those named) now, storing nothing: channel →
    None when it was accepted, else the error in words."""
    from healthscore.alerts.deliver import DeliveryError
    from healthscore.alerts.deliver import send as real_send
    from healthscore.alerts.message import Message

    send = send or real_send
    known = workspace.config.alerts.channels
    names = channels or list(known)
    if not names:
        raise ConfigError("the workspace has no alert channels",
                          hint="add `alerts: {channels: …}` to healthscore.yaml "
                               "(docs/alerts.md)")
    out: dict[str, str | None] = {}
    at = clock.now()
    for name in names:
        if name not in known:
            raise ConfigError(f"no channel named {name!r}",
                              hint="the channels are: " + ", ".join(known))
        sample = Message(
            key=f"hs-test-{name}-{at:%Y%m%dT%H%M%S}", alert_id=0, rule="test",
            severity="info", account_id="TEST-0001", account_name="Example account",
            csm=None, opened_on=at.date(), title="TEST-0001 Example account: a test alert",
            text=f"A test from healthscore (workspace {workspace.config.name}) to channel "
                 f"{name!r}: if you read this, alerts reach you here.",
            detail={"test": True})
        try:
            send(known[name], sample, root=workspace.root, name=name)
            out[name] = None
        except DeliveryError as exc:
            out[name] = str(exc)
    return out


def send_digests(workspace: Workspace, *, csms: list[str] | None = None, force: bool = False,
                 now: datetime | None = None, send=None) -> dict[str, str]:
    """:func:`queue_digests`, then deliver the outbox; CSM → what happened, in words (and
    ``(delivery)``: the errors, if any)."""
    out = queue_digests(workspace, csms=csms, force=force, now=now)
    delivered = deliver_outbox(workspace, now=now, send=send)
    if delivered.errors:
        out["(delivery)"] = "; ".join(delivered.errors[:3])
    return out


def queue_digests(workspace: Workspace, *, csms: list[str] | None = None,
                  force: bool = False, now: datetime | None = None) -> dict[str, str]:
    """Queue for each CSM with an address (``route.csms``) the digest of their alerts: those
    opened in the last ``digest.days`` days (7 by default) and those still needing attention.
    Once per CSM and ISO week unless ``force``. CSM → what was queued, in words."""
    import hashlib

    from healthscore.alerts.digest import render_digest
    from healthscore.read.alerts import alerts as listed
    from healthscore.read.reader import StoreReader
    from healthscore.store import alerts as saved

    config = workspace.config.alerts
    at = clock.now(now)
    days = config.digest.days if config.digest else 7
    start, end = at.date() - timedelta(days=days - 1), at.date()
    week = f"{end.isocalendar().year}-W{end.isocalendar().week:02d}"
    who = {k: v for k, v in config.route.csms.items() if v.email and (not csms or k in csms)}
    if not who:
        raise ConfigError("no CSM has an e-mail address for the digest",
                          hint="add `alerts.route.csms: {NAME: {email: …}}` and "
                               "`route.email_channel`")
    out: dict[str, str] = {}
    with workspace.store() as store:
        r = StoreReader(store)
        instance = saved.instance_id(store)
        for csm, route in who.items():
            rows = listed(r, today=end, state="all", csm=csm, limit=500)["alerts"]
            mine = [a for a in rows if a["opened_on"] >= start or a["state"] == "open"]
            if not mine:
                out[csm] = "no alerts: nothing sent"
                continue
            messages = [message_of({**a, "key": ""}, workspace) for a in mine]
            subject, text, html = render_digest(csm, messages, start=start, end=end,
                                                workspace_name=workspace.config.name)
            tag = hashlib.sha256(csm.encode()).hexdigest()[:10]
            key = f"hs-{instance}-digest-{tag}-{week}" + (f"-{at:%H%M%S}" if force else "")
            queued = saved.queue(store, kind="digest", key=key,
                                 channel=config.route.email_channel, recipient=route.email,
                                 payload={"subject": subject, "text": text, "html": html},
                                 at=at)
            out[csm] = (f"{len(messages)} alerts to {route.email}" if queued
                        else f"already sent this week ({week}); --force sends it again")
    return out


@dataclass
class Replay:
    """What the rules would have opened over a range of dates, and how long before each
    churn in it."""

    start: date
    end: date
    dates: int
    episodes: list = field(default_factory=list)       #: Episode
    by_rule: dict = field(default_factory=dict)        #: rule → counts and lead times


def replay_alerts(workspace: Workspace, start: date, end: date | None = None, *,
                  rules: list[str] | None = None, progress=None) -> Replay:
    """Replay the rules over the stored scores from ``start`` to ``end`` (default: the
    latest scored date), writing nothing: the episodes they would have opened, and for each
    rule how many churned accounts it warned, and how many days before their churn."""

    from healthscore.alerts.episodes import replay
    from healthscore.read.outcomes import first_events
    from healthscore.read.reader import StoreReader

    chosen = rules_of(workspace)
    if rules:
        unknown = [r for r in rules if r not in chosen]
        if unknown:
            raise ConfigError(f"no rule named {unknown[0]!r}",
                              hint="the rules are: " + (", ".join(chosen) or "none"))
        chosen = {k: v for k, v in chosen.items() if k in rules}
    if not chosen:
        raise ConfigError("the workspace has no alert rules",
                          hint="add `alerts: {rules: …}` to healthscore.yaml (docs/alerts.md)")
    cards = _cards(workspace, chosen)
    with workspace.store(read_only=True) as store:
        r = StoreReader(store)
        scored = sorted({row["as_of"] for row in r.rows(
            "SELECT DISTINCT as_of FROM snapshots WHERE as_of >= ? AND as_of <= coalesce(?, "
            "as_of)", [start, end])})
        last = end or (scored[-1] if scored else start)
        days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
        episodes = replay(r, store.con, chosen, cards, days, progress=progress)
        churns = first_events(r, start - timedelta(days=1), last)  # churns from `start`
    out = Replay(start, last, len(days), episodes)
    for name in chosen:
        mine = [e for e in episodes if e.rule == name]
        by_account: dict[str, list] = {}
        for e in mine:
            by_account.setdefault(e.account_id, []).append(e)
        warned, leads = 0, []
        for account, day in churns.items():
            before = [e.opened_on for e in by_account.get(account, ()) if e.opened_on <= day
                      and (e.closed_on is None or e.closed_on > day - timedelta(days=90))]
            if before:
                warned += 1
                leads.append((day - min(before)).days)
        leads.sort()
        out.by_rule[name] = {
            "alerts": len(mine), "accounts": len({e.account_id for e in mine}),
            "churned": len(churns), "churned_warned": warned,
            "lead_days_median": leads[len(leads) // 2] if leads else None,
            "lead_days": leads}
    return out


def act_on(workspace: Workspace, alert_id: int, *, state: str, by: str, comment: str = "",
           until: date | None = None, now: datetime | None = None, store=None,
           detail: dict | None = None) -> dict:
    """Acknowledge (``state='acknowledged'``), snooze until ``until`` or reopen an alert,
    recorded as a run of kind ``alert-<state>`` (with ``detail``: who asked, e.g. the API
    token); the alert after. ``store``: a store the caller holds writable (the server's),
    else the workspace's is opened. An unknown id raises :class:`NotFound` and records
    nothing."""
    from healthscore.errors import InputError, NotFound
    from healthscore.store import alerts as saved

    if state == "snoozed" and (until is None or until <= clock.now(now).date()):
        raise InputError("until", "a snooze needs a date after today",
                         hint="choose a later date")
    if store is None:
        with workspace.store() as opened:
            return act_on(workspace, alert_id, state=state, by=by, comment=comment,
                          until=until, now=now, store=opened, detail=detail)
    if not store.con.execute("SELECT 1 FROM alerts WHERE alert_id = ?", [alert_id]).fetchall():
        raise NotFound(f"no alert {alert_id}", hint="healthscore alerts list shows them")
    with store.recorded(f"alert-{state}", now) as run:
        row = saved.act(store, alert_id, state=state, by=by, comment=comment,
                        at=run.started_at, until=until)
        run.detail = {**(detail or {}), "alert_id": alert_id, "by": by}
    return row
