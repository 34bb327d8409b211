"""Sending one alert through one channel: a webhook, an e-mail server or a JSON-lines file.

:func:`send` returns a :class:`Delivery` or raises :class:`~healthscore.errors.DeliveryError`,
whose ``retryable`` says whether the same send may work later. Nothing here reads or writes the
store: the outbox calls :func:`send`, records the result and tries retryable failures again.
Every attempt for one alert and recipient carries the same ``Message.key``, so a receiver can
drop a repeat (a re-send after a crash, a retry whose first answer was lost).

Webhooks
    ``POST`` of JSON (``format: slack``: ``text`` and ``blocks`` for Slack, the alert's fields
    under ``healthscore``; ``format: json``: the fields alone), with the headers::

        Content-Type: application/json
        Idempotency-Key: <message.key>            the same on every attempt
        X-Healthscore-Alert: <message.alert_id>
        X-Healthscore-Timestamp: <Unix seconds of this attempt>
        X-Healthscore-Signature: sha256=<hex>     only with `secret_env`

    where ``<hex>`` is HMAC-SHA256, keyed with the secret's UTF-8 bytes, of the timestamp's
    digits, a ``.`` and the raw body bytes. A receiver recomputes it over the body as received
    (before parsing it), compares in constant time and refuses a timestamp more than five
    minutes off: :func:`verify_signature` does all three. In a shell:
    ``printf '%s.%s' "$timestamp" "$body" | openssl dgst -sha256 -hmac "$secret"``.

    Connection failures, timeouts, 429 and 5xx answers are retried (``retries``) after
    ``backoff_s``, doubling, or the answer's ``Retry-After``, each wait at most
    ``max_wait_s``; any other answer but 2xx is final.
E-mail
    ``smtplib`` with STARTTLS (never falling back to plain text), implicit TLS or none; a login
    when ``username`` is set. The ``Message-ID`` is derived from the key, so a re-sent mail is
    recognisably the same one; ``X-Healthscore-Key`` carries the key itself.
File
    One JSON line per alert (its fields and ``delivered_at``), written by a single ``write``
    call and fsynced, so a line is whole or absent.
"""

from __future__ import annotations

import calendar
import errno
import hashlib
import hmac
import json
import math
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from healthscore import clock
from healthscore.alerts.digest import one_line, render_alert_mail
from healthscore.alerts.message import Message
from healthscore.config.channels import (
    Channel,
    EmailChannel,
    FileChannel,
    WebhookChannel,
    check_address,
    check_url,
)
from healthscore.errors import DeliveryError

KEY_HEADER = "Idempotency-Key"
ALERT_HEADER = "X-Healthscore-Alert"
TIMESTAMP_HEADER = "X-Healthscore-Timestamp"
SIGNATURE_HEADER = "X-Healthscore-Signature"
MAIL_KEY_HEADER = "X-Healthscore-Key"
_MARKS = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
          "info": ":large_blue_circle:"}
#: errno values a later try will not cure: the path itself is wrong.
_PERMANENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR}


@dataclass(frozen=True)
class Delivery:
    """A send that succeeded.

    ``status`` is the receiver's word (``HTTP 200``, the SMTP server's reply such as
    ``250 2.0.0 Ok: queued as 4F3A1``, ``appended to alerts/sent.jsonl``); ``code`` the HTTP
    status or SMTP reply code (None for a file); ``at`` the moment, naive UTC.
    """

    channel: str
    attempts: int
    status: str
    code: int | None
    at: datetime


def _label(channel: Channel, name: str | None) -> str:
    return f"{channel.kind} {name!r}" if name else channel.kind


def _unix_now() -> int:
    return calendar.timegm(clock.now().utctimetuple())


def _env_value(env: Mapping[str, str], var: str, label: str, key: str) -> str:
    value = env.get(var)
    if not value:
        raise DeliveryError(f"{label}: the environment variable {var} (named by `{key}`) is "
                            "not set", retryable=False, channel=label,
                            hint=f"set {var} where healthscore runs, or remove `{key}`")
    return value


def send(channel: Channel, message: Message, *, root: Path, name: str | None = None,
         recipient: str | None = None, env: Mapping[str, str] = os.environ,
         sleep: Callable[[float], None] = time.sleep,
         transport: httpx.BaseTransport | None = None) -> Delivery:
    """Deliver ``message`` through ``channel``.

    Parameters
    ----------
    channel
        A validated channel (:func:`healthscore.config.channels.parse_channel`).
    message
        The alert, rendered.
    root
        The workspace folder: a file channel's ``path`` and an e-mail ``ca_file`` are
        relative to it.
    name
        The channel's name under ``alerts.channels``, for error messages.
    recipient
        E-mail only: the address to send to instead of the channel's ``to`` (a CSM's).
        Webhooks and files ignore it (the message's key already tells recipients apart).
    env
        Where ``*_env`` settings are looked up.
    sleep, transport
        Seams for tests: the wait between webhook attempts, and an httpx transport.

    Returns
    -------
    Delivery
        What the receiver answered, after how many attempts.

    Raises
    ------
    DeliveryError
        With ``retryable`` True when the same send may work later, False when the channel's
        settings or the environment must change first.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import date
    >>> from healthscore.config.channels import parse_channel
    >>> m = Message(key="alert:7", alert_id=7, rule="red", severity="critical",
    ...             account_id="A1", account_name="Acme", csm="Dana",
    ...             opened_on=date(2026, 6, 3), title="A1 Acme entered red", text="…")
    >>> audit = parse_channel({"kind": "file", "path": "alerts/sent.jsonl"})
    >>> with tempfile.TemporaryDirectory() as root:
    ...     send(audit, m, root=Path(root), name="audit").status
    'appended to alerts/sent.jsonl'
    """
    label = _label(channel, name)
    if isinstance(channel, WebhookChannel):
        return _post(channel, message, label=label, env=env, sleep=sleep, transport=transport)
    if isinstance(channel, EmailChannel):
        subject, text, html = render_alert_mail(message)
        return send_mail(channel, recipient or channel.to, subject, text, html,
                         key=message.key, root=root, name=name, env=env,
                         headers={ALERT_HEADER: str(message.alert_id)})
    if isinstance(channel, FileChannel):
        return _append(channel, message, root=root, label=label)
    raise TypeError(f"not a channel: {channel!r}")


# -- webhooks ----------------------------------------------------------------------------------


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Healthscore-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of
    ``<timestamp>.<body>`` under ``secret``.

    >>> signature(b"s3cret", "1782907200", b'{"key": "k1"}')[:15]
    'sha256=a1555c11'
    """
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, header: str, *,
                     now: float | None = None, tolerance_s: float = 300) -> bool:
    """Whether a webhook request is ours and recent: for receivers (and our tests).

    Parameters
    ----------
    secret
        The shared key, the bytes of the value of the channel's ``secret_env``.
    timestamp, body, header
        The ``X-Healthscore-Timestamp`` header, the raw request body (before any JSON
        parsing) and the ``X-Healthscore-Signature`` header, as received.
    now
        The receiver's time in Unix seconds (default: the clock's).
    tolerance_s
        How far the timestamp may be from ``now``; a replayed request older than this fails
        even with a valid signature (de-duplicate by ``Idempotency-Key`` within it).

    Examples
    --------
    >>> body = b'{"key": "k1"}'
    >>> header = signature(b"s3cret", "1782907200", body)
    >>> verify_signature(b"s3cret", "1782907200", body, header, now=1782907260)
    True
    >>> verify_signature(b"s3cret", "1782907200", body + b" ", header, now=1782907260)
    False
    >>> verify_signature(b"s3cret", "1782907200", body, header, now=1782917200)
    False
    """
    if not re.fullmatch(r"\d{1,12}", timestamp or ""):
        return False
    current = _unix_now() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), (header or "").strip())


def _slack_text(text: str) -> str:
    # Slack reads <…> as links and mentions: alert text must show as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def webhook_body(message: Message, style: str) -> dict[str, Any]:
    """The JSON a webhook receives: the alert's fields (``json``), or a Slack message with
    them under ``healthscore`` (``slack``; within Slack's block limits)."""
    fields = message.as_json()
    if style == "json":
        return fields
    who = (f"{message.account_name} ({message.account_id})" if message.account_name
           else message.account_id)
    about = [f"*{message.severity}*", _slack_text(who),
             f"opened {message.opened_on.isoformat()}", f"rule `{_slack_text(message.rule)}`"]
    if message.csm:
        about.append(f"CSM {_slack_text(message.csm)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            _slack_text(message.text or message.title), 3000)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(about)}]},
    ]
    if message.url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the account"},
            "url": message.url}]})
    return {"text": f"{_MARKS.get(message.severity, '')} {_slack_text(message.title)}".strip(),
            "blocks": blocks, "healthscore": fields}


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        moment = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (moment - clock.now().replace(tzinfo=UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _webhook_url(channel: WebhookChannel, env: Mapping[str, str], label: str) -> tuple[str, str]:
    """The URL to POST to and how errors show it (a URL from the environment is a secret)."""
    if channel.url is not None:
        return channel.url, channel.url
    url = _env_value(env, channel.url_env or "", label, "url_env")
    try:
        check_url(url)
    except ValueError:
        # Not the reason's text: it quotes the URL, which is the secret here.
        raise DeliveryError(f"{label}: ${channel.url_env} is not an http(s) URL with a host "
                            "and no credentials", retryable=False, channel=label,
                            hint=f"set {channel.url_env} to the receiver's https:// address"
                            ) from None
    return url, f"${channel.url_env}"


def _final_answer(response: httpx.Response, label: str, shown: str, attempt: int) -> DeliveryError:
    code = response.status_code
    said = one_line(response.text)[:200]
    if 300 <= code < 400:
        hint = (f"the receiver redirects to {response.headers.get('location', '?')}; put the "
                "final address in the channel's URL")
    elif code in (401, 403):
        hint = "the receiver refused us: check `secret_env` and `headers_env` against its keys"
    elif code in (404, 410):
        hint = "the receiver has no such address (a removed Slack webhook answers 404): check it"
    else:
        hint = "the receiver refused the request; check `format` (slack or json) and its docs"
    return DeliveryError(f"{label}: HTTP {code} on attempt {attempt} ({shown})"
                         + (f": {said}" if said else ""), retryable=False, channel=label,
                         attempts=attempt, code=code, hint=hint)


def _post(channel: WebhookChannel, message: Message, *, label: str, env: Mapping[str, str],
          sleep: Callable[[float], None], transport: httpx.BaseTransport | None) -> Delivery:
    url, shown = _webhook_url(channel, env, label)
    secret = (_env_value(env, channel.secret_env, label, "secret_env").encode()
              if channel.secret_env else None)
    headers = dict(channel.headers)
    headers.update({h: _env_value(env, var, label, f"headers_env.{h}")
                    for h, var in channel.headers_env.items()})
    headers.update({"Content-Type": "application/json", "User-Agent": "healthscore-alerts",
                    KEY_HEADER: message.key, ALERT_HEADER: str(message.alert_id)})
    body = json.dumps(webhook_body(message, channel.format), ensure_ascii=False,
                      default=str).encode("utf-8")
    attempts = channel.retries + 1
    failure, code = "", None
    with httpx.Client(transport=transport, timeout=channel.timeout_s,
                      follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            # A fresh timestamp per attempt: a retry after long waits stays within the
            # receiver's replay window.
            stamp = str(_unix_now())
            headers[TIMESTAMP_HEADER] = stamp
            if secret is not None:
                headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
            wait = None
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TimeoutException:
                failure, code = f"timed out after {channel.timeout_s:g} s", None
            except httpx.TransportError as exc:
                failure, code = f"cannot connect ({one_line(str(exc)) or type(exc).__name__})", None
            else:
                code = response.status_code
                if 200 <= code < 300:
                    return Delivery(label, attempt, f"HTTP {code}", code, clock.now())
                if code != 429 and code < 500:
                    raise _final_answer(response, label, shown, attempt)
                failure, wait = f"HTTP {code}", _retry_after(response.headers.get("retry-after"))
            if attempt < attempts:
                backoff = channel.backoff_s * 2 ** (attempt - 1)
                sleep(min(backoff if wait is None else wait, channel.max_wait_s))
    raise DeliveryError(
        f"{label}: {failure} after {attempts} attempt{'s' if attempts > 1 else ''} ({shown})",
        retryable=True, channel=label, attempts=attempts, code=code,
        hint="the receiver is down or overloaded; the outbox tries again on the next run")


# -- e-mail ------------------------------------------------------------------------------------


class _KeepsReply:
    """Keeps the server's answer to DATA (its queue id), which ``send_message`` drops."""

    data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)  # type: ignore[misc]
        return self.data_reply


class _SMTP(_KeepsReply, smtplib.SMTP):
    pass


class _SMTPS(_KeepsReply, smtplib.SMTP_SSL):
    pass


def message_id(key: str, sender: str) -> str:
    """The ``Message-ID`` of the mail with idempotency key ``key``: the same on a re-send.

    >>> message_id("alert:7:dana", "Alerts <alerts@acme.com>")
    '<hs.1426daa9d56e6b49ffbac68bb5c6e8f4@acme.com>'
    """
    domain = parseaddr(sender)[1].rpartition("@")[2] or "healthscore.invalid"
    return f"<hs.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def _smtp_error(exc: Exception, label: str, where: str, channel: EmailChannel) -> DeliveryError:
    def fail(what: str, retryable: bool, hint: str, code: int | None = None) -> DeliveryError:
        return DeliveryError(f"{label}: {what} ({where})", retryable=retryable, channel=label,
                             code=code, hint=hint)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        refused = "; ".join(f"{a}: {c} {r.decode(errors='replace')}"
                            for a, (c, r) in exc.recipients.items())
        return fail(f"every recipient refused ({refused})", all(400 <= c < 500 for c in codes),
                    "check the addresses in `to` or the CSM's `email`", min(codes, default=None))
    if isinstance(exc, smtplib.SMTPResponseException):
        code, said = exc.smtp_code, one_line(exc.smtp_error.decode(errors="replace"))
        hints = {smtplib.SMTPAuthenticationError: "check `username` and the password in "
                 f"${channel.password_env}",
                 smtplib.SMTPSenderRefused: f"the server will not send as {channel.sender!r}: "
                 "use an address it accepts as `sender`"}
        hint = hints.get(type(exc), "see the server's answer")
        return fail(f"the server answered {code} {said}", 400 <= code < 500, hint, code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return fail(one_line(str(exc)), False, "the server does not offer it: change "
                    "`security` or `username`")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return fail(f"its certificate is not trusted ({exc.verify_message})", False,
                    "give the CA that signed it in `ca_file` (a PEM file)")
    if isinstance(exc, ssl.SSLError):
        return fail(f"TLS failed ({exc.reason or exc})", False, "port 465 speaks TLS from the "
                    "start (`security: tls`), 587 and 25 upgrade (`security: starttls`)")
    if isinstance(exc, TimeoutError):
        return fail(f"timed out after {channel.timeout_s:g} s", True, "the server is slow or "
                    "unreachable; the outbox tries again on the next run")
    return fail(f"cannot connect ({one_line(str(exc)) or type(exc).__name__})", True,
                "check `host` and `port`; the outbox tries again on the next run")


def _tls_context(channel: EmailChannel, root: Path, label: str) -> ssl.SSLContext:
    cafile = root / channel.ca_file if channel.ca_file else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"{label}: cannot read `ca_file` {cafile}: {exc}", retryable=False,
                            channel=label, hint="give a PEM file of CA certificates") from exc


def send_mail(channel: EmailChannel, to: str | list[str], subject: str, text: str, html: str,
              *, key: str, root: Path, name: str | None = None,
              env: Mapping[str, str] = os.environ,
              headers: Mapping[str, str] | None = None) -> Delivery:
    """Mail ``text`` with an ``html`` alternative: the one SMTP path (alerts and digests).

    ``key`` becomes the ``X-Healthscore-Key`` header and, through :func:`message_id`, the
    ``Message-ID``. A digest is sent as ``send_mail(channel, address, *render_digest(...),
    key=f"digest:{csm}:{end}", root=root)``. Raises :class:`DeliveryError` as :func:`send`.
    """
    label = _label(channel, name)
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise DeliveryError(f"{label}: no recipient", retryable=False, channel=label,
                            hint="list addresses in the channel's `to`, or route the alert to "
                            "a CSM with an `email`")
    for address in recipients:
        try:
            check_address(address)
        except ValueError as exc:
            raise DeliveryError(f"{label}: recipient {address!r}: {exc}", retryable=False,
                                channel=label, hint="fix the address where it is configured"
                                ) from None
    password = (_env_value(env, channel.password_env or "", label, "password_env")
                if channel.username else None)
    context = _tls_context(channel, root, label) if channel.security != "none" else None
    mail = EmailMessage()
    mail["Subject"] = one_line(subject)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(clock.now().replace(tzinfo=UTC), usegmt=True)
    mail["Message-ID"] = message_id(key, channel.sender)
    mail[MAIL_KEY_HEADER] = one_line(key)
    for header, value in (headers or {}).items():
        mail[header] = one_line(value)
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")

    where = f"{channel.host}:{channel.port}"
    try:
        smtp: _SMTP | _SMTPS
        if channel.security == "tls":
            smtp = _SMTPS(channel.host, channel.port, timeout=channel.timeout_s, context=context)
        else:
            smtp = _SMTP(channel.host, channel.port, timeout=channel.timeout_s)
        with smtp:
            if channel.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{label}: the server does not offer STARTTLS ({where})",
                        retryable=False, channel=label, hint="use `security: tls` if it speaks "
                        "TLS from the start (port 465); `none` only for a relay on this machine")
                smtp.starttls(context=context)
                smtp.ehlo()
            if channel.username:
                smtp.login(channel.username, password or "")
            refused = smtp.send_message(mail, to_addrs=recipients)
            code, said = smtp.data_reply
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc, label, where, channel) from exc
    status = f"{code} {one_line(said.decode(errors='replace'))}".strip()
    if refused:
        status += "; refused: " + ", ".join(f"{a} ({c})" for a, (c, _) in refused.items())
    return Delivery(label, 1, status, code, clock.now())


# -- files -------------------------------------------------------------------------------------


def _append(channel: FileChannel, message: Message, *, root: Path, label: str) -> Delivery:
    path = root / channel.path
    at = clock.now()
    line = {**message.as_json(), "delivered_at": at.isoformat(timespec="seconds") + "Z"}
    data = (json.dumps(line, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # The last line was cut short (a crash, a full disk): start ours on a new
                # line so it stays readable, in the same single write.
                data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                os.ftruncate(fd, size)
                raise OSError(errno.ENOSPC, "the line could not be written whole")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DeliveryError(f"{label}: cannot append to {path}: {exc.strerror or exc}",
                            retryable=exc.errno not in _PERMANENT, channel=label,
                            hint="check that the folder is writable and the disk has room"
                            ) from exc
    return Delivery(label, 1, f"appended to {channel.path}", None, at)
