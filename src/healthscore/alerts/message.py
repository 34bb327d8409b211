"""What a channel delivers: one alert, rendered, with the key a receiver de-duplicates by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Message:
    """One alert as a channel sends it.

    ``key`` is the idempotency key: the same for every attempt to deliver this alert to this
    recipient (a re-send after a crash carries the same key), different for any other alert
    or recipient. ``detail`` is JSON-ready (score, band, reasons, …) and goes into the
    webhook's JSON and the file channel's line as it is.
    """

    key: str
    alert_id: int
    rule: str
    severity: Severity
    account_id: str
    account_name: str | None
    csm: str | None
    opened_on: date          #: the date the episode began (the condition became true)
    title: str               #: one line: "ACC-1 Acme entered red (health 38)"
    text: str                #: the rendered message template, reasons included
    url: str | None = None   #: the account page, when the workspace knows its public URL
    detail: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """The JSON body every channel builds on (dates as ISO text)."""
        return {"key": self.key, "alert_id": self.alert_id, "rule": self.rule,
                "severity": self.severity, "account_id": self.account_id,
                "account_name": self.account_name, "csm": self.csm,
                "opened_on": self.opened_on.isoformat(), "title": self.title,
                "text": self.text, "url": self.url, "detail": self.detail}
