"""Pydantic models of the alert channels (``alerts.channels: {name: {kind: …}}``).

A channel is where alerts are delivered: a ``webhook`` (Slack, Teams, any HTTP receiver), an
``email`` server, or a JSON-lines ``file``. Secrets never sit in the YAML: a field ending in
``_env`` names the environment variable that holds the secret, read when a message is sent.
Sending is :mod:`healthscore.alerts.deliver`; the models here only validate.

>>> parse_channel({"kind": "file", "path": "alerts/sent.jsonl"}).path
'alerts/sent.jsonl'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Discriminator, Field, TypeAdapter, field_validator, model_validator

from healthscore.config.base import _Model

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Headers the sender sets itself; a channel may not override them.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "idempotency-key",
                              "transfer-encoding", "connection"})


def check_url(url: str) -> str:
    """``url`` if it is an http(s) address with a host and no credentials, else ValueError.

    >>> check_url("https://hooks.example.com/alerts")
    'https://hooks.example.com/alerts'
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is what validates the port
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// address with a host, not {url!r}")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL would sit in the YAML; send them in a header "
                         "named in `headers_env`, or keep the whole URL in `url_env`")
    return url


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_address(value: str) -> str:
    """``value`` if it is an address (``a@b.com`` or ``Name <a@b.com>``), else ValueError."""
    if "\n" in value or "\r" in value:
        raise ValueError("an address may not contain a line break")
    _, address = parseaddr(value)
    if not _ADDRESS.match(address):
        raise ValueError(f"not an e-mail address: {value!r} (write `alerts@acme.com` or "
                         "`Health alerts <alerts@acme.com>`)")
    return value


class WebhookChannel(_Model):
    """An HTTP endpoint that receives each alert as a JSON POST (docs/alerts.md#webhooks)."""

    kind: Literal["webhook"] = Field(description="`webhook`.")
    url: str | None = Field(
        None, description="The http(s) address the alert is POSTed to. Give this or `url_env`.")
    url_env: str | None = Field(
        None, pattern=_ENV_NAME, description="The environment variable holding the URL, for "
        "receivers whose URL is itself the secret (a Slack incoming webhook). Give this or "
        "`url`.")
    secret_env: str | None = Field(
        None, pattern=_ENV_NAME, description="The environment variable holding the shared key "
        "that signs each request (`X-Healthscore-Signature: sha256=<hex HMAC-SHA256 of "
        "\"<timestamp>.<body>\">`; docs/alerts.md#verifying-a-webhook). Default: unsigned.")
    format: Literal["slack", "json"] = Field(
        "slack", description="`slack`: a Slack-compatible body (`text` and `blocks`) with the "
        "alert's fields under `healthscore`; `json`: the alert's fields only.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (not secret ones: those go "
        "in `headers_env`).")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="Header name → the environment variable holding its "
        "value (`{Authorization: ACME_HOOK_AUTH}` with `ACME_HOOK_AUTH='Bearer …'`).")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Seconds to wait for the receiver "
                             "to connect and answer, per attempt.")
    retries: int = Field(
        3, ge=0, le=10, description="Attempts after the first when the receiver cannot be "
        "reached, times out, or answers 429 or 5xx (3: at most 4 attempts). Other 4xx answers "
        "are not retried.")
    backoff_s: float = Field(1.0, ge=0, le=60, description="The wait before the first retry; "
                             "it doubles before each next one (1, 2, 4 s).")
    max_wait_s: float = Field(
        60.0, ge=0, le=600, description="The longest single wait between attempts, whether "
        "from the doubling or from the receiver's `Retry-After`.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("headers", "headers_env")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-healthscore-"):
                raise ValueError(f"header {name!r} is set by healthscore itself")
            if "\n" in text or "\r" in text:
                raise ValueError(f"header {name!r}: a value may not contain a line break")
        return value

    @field_validator("headers_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, var in value.items():
            if not re.match(_ENV_NAME, var):
                raise ValueError(f"[at {name}] {var!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give `url` (the address) or `url_env` (the environment variable "
                             "holding it), one of them")
        return self


class EmailChannel(_Model):
    """An SMTP server that mails each alert (and the weekly digest) to people."""

    kind: Literal["email"] = Field(description="`email`.")
    host: str = Field(min_length=1, description="The SMTP server (`smtp.acme.com`).")
    port: int = Field(587, ge=1, le=65535, description="Its port: 587 for STARTTLS, 465 for "
                      "implicit TLS, 25 for a local relay.")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="`starttls`: plain connection upgraded to TLS (refused if the "
        "server does not offer it); `tls`: TLS from the start (port 465); `none`: no "
        "encryption, for a relay on this machine.")
    username: str | None = Field(None, description="The login; none: send without logging in.")
    password_env: str | None = Field(
        None, pattern=_ENV_NAME, description="The environment variable holding the password "
        "(needed with `username`).")
    sender: str = Field(description="The From address (`Health alerts <alerts@acme.com>`).")
    to: list[str] = Field(
        default_factory=list, description="Who gets every alert sent through this channel; an "
        "alert routed to a CSM (`route.csms`) goes to their address instead.")
    ca_file: str | None = Field(
        None, description="A PEM file of certificate authorities to trust instead of the "
        "system's, for a server with a private certificate (relative to the workspace folder).")
    timeout_s: float = Field(30.0, gt=0, le=300, description="Seconds to wait for the server "
                             "at each step.")

    _sender = field_validator("sender")(classmethod(lambda cls, v: check_address(v)))

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [check_address(v) for v in value]

    @model_validator(mode="after")
    def _login(self) -> EmailChannel:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give `username` and `password_env` together (or neither, to send "
                             "without logging in)")
        if self.username and self.security == "none" and not is_loopback(self.host):
            raise ValueError("[at security] `none` would send the password unencrypted to "
                             f"{self.host}; use `starttls` (port 587) or `tls` (port 465)")
        return self


class FileChannel(_Model):
    """A JSON-lines file that gets one line per alert (for scripts, audits, tests)."""

    kind: Literal["file"] = Field(description="`file`.")
    path: str = Field(min_length=1, description="The file, relative to the workspace folder; "
                      "created with its folders. Each line: the alert's JSON and "
                      "`delivered_at`.")


#: Any channel, told apart by ``kind``.
Channel = Annotated[
    WebhookChannel | EmailChannel | FileChannel,
    Discriminator("kind"),
]

channel_adapter: TypeAdapter[Channel] = TypeAdapter(Channel)


def parse_channel(data: Mapping[str, Any]) -> WebhookChannel | EmailChannel | FileChannel:
    """Validate one channel's settings (``pydantic.ValidationError`` names the bad key).

    >>> parse_channel({"kind": "webhook", "url": "https://hooks.example.com/x"}).retries
    3
    """
    return channel_adapter.validate_python(dict(data))
