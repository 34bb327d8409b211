"""The words of the alert mails: one alert's mail, and a CSM's weekly digest.

Each renders to ``(subject, plain text, HTML)``; :func:`healthscore.alerts.deliver.send_mail`
sends them (the one SMTP path). The HTML comes from Jinja2 templates in ``templates/`` with
autoescape on, so an account name or an alert's text is always text, never markup; a link is
written only when it is an http(s) URL. Nothing here touches the network, the clock or a file
beyond the templates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

import jinja2

from healthscore.alerts.message import Message, Severity

#: Most urgent first: the order of the digest's sections.
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")
_COLOURS = {"critical": "#c62828", "warning": "#ef8f00", "info": "#1565c0"}


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("healthscore.alerts", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["colours"] = _COLOURS
    return env


def one_line(text: str) -> str:
    """``text`` with line breaks and runs of spaces collapsed (mail headers are one line)."""
    return " ".join(text.split())


def _link(message: Message) -> str | None:
    # A workspace URL is configuration, but a link in a mail should never be javascript: or
    # data: whatever ends up there.
    url = message.url
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _plain(message: Message) -> tuple[str, str, list[str]]:
    """Title, the line saying who and when, and the text's lines plus the link."""
    who = (f"{message.account_name} ({message.account_id})" if message.account_name
           else message.account_id)
    about = (f"{who} · {message.severity} · opened "
             f"{message.opened_on.isoformat()} · rule {message.rule}"
             + (f" · CSM {message.csm}" if message.csm else ""))
    body = message.text.splitlines()
    if _link(message):
        body.append(_link(message) or "")
    return message.title, about, body


def render_alert_mail(message: Message) -> tuple[str, str, str]:
    """The mail of one alert: subject (``[severity] title``), plain text and HTML.

    Examples
    --------
    >>> m = Message(key="k1", alert_id=7, rule="red", severity="critical", account_id="A1",
    ...             account_name="Acme", csm="Dana", opened_on=date(2026, 6, 3),
    ...             title="A1 Acme entered red (health 38)", text="Logins fell by half.")
    >>> render_alert_mail(m)[0]
    '[critical] A1 Acme entered red (health 38)'
    """
    subject = one_line(f"[{message.severity}] {message.title}")
    title, about, body = _plain(message)
    text = "\n".join([title, about, "", *body, "", f"Sent by healthscore (key {message.key})."])
    html = _templates().get_template("alert.html").render(
        m=message, link=_link(message), subject=subject)
    return subject, text + "\n", html


def _grouped(messages: Iterable[Message]) -> list[tuple[Severity, list[Message]]]:
    # Newest first within a severity: last week's new trouble before the long-running one.
    ordered = sorted(messages, key=lambda m: (m.account_name or m.account_id, m.alert_id))
    ordered.sort(key=lambda m: m.opened_on, reverse=True)
    groups = [(s, [m for m in ordered if m.severity == s]) for s in SEVERITIES]
    return [(s, items) for s, items in groups if items]


def _summary(groups: list[tuple[Severity, list[Message]]]) -> str:
    total = sum(len(items) for _, items in groups)
    if not total:
        return "no alerts"
    counts = ", ".join(f"{len(items)} {s}" for s, items in groups)
    return f"{total} alert{'s' if total != 1 else ''} ({counts})"


def render_digest(csm: str, messages: list[Message], *, start: date, end: date,
                  workspace_name: str) -> tuple[str, str, str]:
    """A CSM's digest of alerts: subject, plain text and HTML, grouped by severity.

    Parameters
    ----------
    csm
        Who it is for, as named in ``accounts.csm``.
    messages
        The alerts to list (which ones is the caller's choice: those opened from ``start`` to
        ``end`` and those still open, for the weekly digest). Each shows its title, account,
        opened date, text and link; sections go critical, warning, info, newest first.
    start, end
        The period the digest covers, shown in the subject and the heading.
    workspace_name
        The workspace's ``name``, so a CSM of two workspaces can tell the mails apart.

    Examples
    --------
    >>> m = Message(key="k1", alert_id=7, rule="red", severity="critical", account_id="A1",
    ...             account_name="Acme", csm="Dana", opened_on=date(2026, 6, 3),
    ...             title="A1 Acme entered red (health 38)", text="Logins fell by half.")
    >>> subject, text, html = render_digest("Dana", [m], start=date(2026, 6, 1),
    ...                                     end=date(2026, 6, 7), workspace_name="Acme CS")
    >>> subject
    'Acme CS: 1 alert (1 critical) for Dana, 2026-06-01 to 2026-06-07'
    >>> print(text.splitlines()[3])
    CRITICAL (1)
    """
    groups = _grouped(messages)
    summary = _summary(groups)
    period = f"{start.isoformat()} to {end.isoformat()}"
    subject = one_line(f"{workspace_name}: {summary} for {csm}, {period}")
    lines = [f"Alerts for {csm}, {period} ({workspace_name})", summary[:1].upper() + summary[1:]
             + ".", ""]
    for severity, items in groups:
        lines.append(f"{severity.upper()} ({len(items)})")
        for m in items:
            title, about, body = _plain(m)
            lines += [f"- {title}", f"  {about}", *(f"  {x}" if x else "" for x in body), ""]
    if not groups:
        lines += ["No alerts for this period.", ""]
    lines.append(f"Sent by healthscore for {workspace_name}.")
    html = _templates().get_template("digest.html").render(
        csm=csm, workspace_name=workspace_name, start=start, end=end, summary=summary,
        subject=subject, groups=[(s, [(m, _link(m)) for m in items]) for s, items in groups])
    return subject, "\n".join(lines) + "\n", html
