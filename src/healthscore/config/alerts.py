"""Pydantic models of the ``alerts:`` section of ``healthscore.yaml`` (and of rule files in
``alerts/``): rules, where their alerts go, the weekly digest.

A rule names the conditions an account must meet on a scored date (all of them: ``when`` is
an AND), which accounts it watches (``only``), how loud it is and what it says. An alert opens
when the conditions start to hold for an account, stays open while they hold and re-arms when
they clear (docs/alerts.md). These models are the one source of truth: they validate the
YAML and produce the reference in docs/workspace.md.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from healthscore.config.base import _Model
from healthscore.config.channels import Channel

Band = Literal["red", "yellow", "green"]
Severity = Literal["info", "warning", "critical"]

#: The fields a message template may use, and what each holds.
MESSAGE_FIELDS = {
    "account_id": "the account's id",
    "name": "the account's name (its id when it has none)",
    "csm": "the account's CSM",
    "rule": "the rule's name",
    "scorecard": "the scorecard the rule reads",
    "score": "the score on the date (a number: `{score:.0f}`)",
    "band": "the band on the date",
    "change": "the score's change over the rule's `drop.days` (or 30 days)",
    "renewal_date": "the account's renewal date",
    "days_to_renewal": "days from the date to the renewal",
    "arr": "the account's ARR",
    "probability": "the churn probability on the date (0-1; `{probability:.0%}`)",
    "value": "the value the `measure` condition read",
    "reasons": "the top reasons for the score's change (from `healthscore why`), in words",
    "date": "the scored date the alert opened on",
}


class Drop(_Model):
    """The score fell by at least ``points`` over ``days``."""

    points: float = Field(gt=0, le=100, description="Points lost, at least (e.g. 15).")
    days: int = Field(30, gt=0, le=365, description="Over how many days (the score this many "
                      "days before the date is compared; no alert when there is none).")


class Renewal(_Model):
    """The renewal falls within ``within_days`` of the date, in one of ``bands``."""

    within_days: int = Field(gt=0, le=730, description="Days to the renewal date, at most.")
    bands: list[Band] = Field(default_factory=lambda: ["red", "yellow"], min_length=1,
                              description="The bands that count (default: not green).")


class Probability(_Model):
    """The stored churn (or expansion) probability is at least ``at_least``."""

    at_least: float = Field(gt=0, lt=1, description="The probability (0-1), at least.")
    target: Literal["churn", "expansion"] = Field(
        "churn", description="Which model's probability (`healthscore predict --target`).")


class MeasureCondition(_Model):
    """A library measure (docs/measures.md), computed point in time on the date as scoring
    computes it, compared with a bound: ``below``, ``above``, ``at_most`` or ``at_least``."""

    measure: str = Field(description="The measure's name in the library "
                         "(`days_since_last_activity`, `open_tickets`, …).")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="The measure's parameters (its defaults else).")
    below: float | None = Field(None, description="Holds when the value is < this.")
    above: float | None = Field(None, description="Holds when the value is > this.")
    at_most: float | None = Field(None, description="Holds when the value is ≤ this.")
    at_least: float | None = Field(None, description="Holds when the value is ≥ this.")

    @model_validator(mode="after")
    def _one_bound(self) -> MeasureCondition:
        bounds = [k for k in ("below", "above", "at_most", "at_least")
                  if getattr(self, k) is not None]
        if len(bounds) != 1:
            raise ValueError("give exactly one of `below`, `above`, `at_most`, `at_least`")
        return self

    @property
    def bound(self) -> tuple[str, float]:
        """The comparison (``<``, ``>``, ``<=``, ``>=``) and its value."""
        for key, op in (("below", "<"), ("above", ">"), ("at_most", "<="), ("at_least", ">=")):
            value = getattr(self, key)
            if value is not None:
                return op, float(value)
        raise AssertionError("validated: one bound")


class When(_Model):
    """The conditions of a rule; every one given must hold (AND). At least one."""

    band: Band | None = Field(None, description="The account is in this band (the alert "
                              "opens when it enters it).")
    drop: Drop | None = Field(None, description="The score dropped ≥ `points` in `days`.")
    renewal: Renewal | None = Field(None, description="Renewal within `within_days` while "
                                    "in one of `bands` (default red or yellow).")
    champion_left: int | None = Field(
        None, gt=0, le=730, description="A champion contact left within this many days and "
        "none is in place (measure `champion_left`).")
    invoice_overdue: int | None = Field(
        None, ge=0, le=3650, description="An unpaid invoice is more than this many days past "
        "due (measure `days_past_due`).")
    pulse: Band | None = Field(
        None, description="The CSM pulse in force is at or below this (red = 1, yellow = 3; "
        "measure `csm_pulse`).")
    probability: Probability | None = Field(
        None, description="The churn probability stored by `healthscore predict` is at least "
        "`at_least` (the rule holds for nobody before a model exists).")
    measure: MeasureCondition | None = Field(
        None, description="Any library measure against a bound.")

    @model_validator(mode="after")
    def _something(self) -> When:
        if not any(getattr(self, k) is not None for k in type(self).model_fields):
            raise ValueError("give at least one condition: " + ", ".join(type(self).model_fields))
        return self


class Only(_Model):
    """Which accounts a rule watches (all when empty); lists match any of their values."""

    segment: list[str] | None = Field(None, description="Account segments.")
    plan: list[str] | None = Field(None, description="Account plans.")
    lifecycle_stage: list[str] | None = Field(None, description="Lifecycle stages.")
    csm: list[str] | None = Field(None, description="CSMs (as written in accounts.csm).")
    arr_at_least: float | None = Field(None, ge=0, description="ARR at least this.")


class Rule(_Model):
    """One alert rule."""

    when: When = Field(description="The conditions (all must hold).")
    scorecard: str = Field("health", description="The scorecard whose scores it reads.")
    severity: Severity = Field("warning", description="info, warning or critical.")
    only: Only = Field(default_factory=Only, description="Which accounts it watches.")
    message: str | None = Field(
        None, max_length=2000, description="The alert's text, with `{field}`s: "
        + ", ".join(f"`{k}`" for k in MESSAGE_FIELDS) + ". Default: a sentence per condition "
        "and the reasons.")
    channels: list[str] | None = Field(
        None, description="Channels its alerts go to (names under `alerts.channels`); "
        "default: `route.default`. The account's CSM is reached as well (`route.csms`).")
    clear_after_days: int = Field(
        7, ge=1, le=365, description="An alert clears, and the rule re-arms for the account, "
        "once the rule has not held for this many days in a row; a shorter gap continues the "
        "same episode (a score hovering at a band's edge raises one alert, not one a week). "
        "1: clear on the first day it does not hold.")
    enabled: bool = Field(True, description="`false` keeps the rule and its alerts but "
                          "evaluates it no more.")

    @field_validator("message")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(f"the template cannot be read: {exc} (write a literal brace "
                             "as `{{` or `}}`)") from None
        unknown = [n for n in names if re.split(r"[.\[]", n)[0] not in MESSAGE_FIELDS]
        if unknown:
            raise ValueError(f"unknown field {{{unknown[0]}}} in the template; the fields are: "
                             + ", ".join(MESSAGE_FIELDS))
        return value


class CsmRoute(_Model):
    """Where one CSM's alerts go."""

    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$",
                              description="Their address (sent through `route.email_channel`).")
    channels: list[str] = Field(default_factory=list,
                                description="Channels of their own (a personal webhook).")


class Route(_Model):
    """Where alerts go: every alert to ``default`` (or its rule's ``channels``), and to the
    account's CSM when ``csms`` names them."""

    default: list[str] = Field(default_factory=list, description="Channels every alert goes "
                               "to unless its rule names its own.")
    email_channel: str | None = Field(None, description="The e-mail channel that reaches a "
                                      "CSM at their `email` (and sends the digest).")
    csms: dict[str, CsmRoute] = Field(default_factory=dict, description="CSM name (as in "
                                      "accounts.csm) → where their accounts' alerts go.")


class Digest(_Model):
    """A weekly e-mail per CSM with their open alerts (through ``route.email_channel``)."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday"] = Field("monday", description="The day `healthscore run` "
                                       "sends it (once per week; `alerts digest` any day).")
    days: int = Field(7, gt=0, le=92, description="The alerts opened in the last this many "
                      "days, and every one still open.")


class AlertsConfig(_Model):
    """``alerts:``: rules, channels, routing and the digest (docs/alerts.md)."""

    rules: dict[str, Rule] = Field(default_factory=dict, description="Named rules.")
    files: list[str] = Field(
        default_factory=lambda: ["alerts/*.yaml"], description="More rule files or globs, "
        "relative to the workspace folder; each holds `rules:` like this section (a rule "
        "named twice is refused).")
    channels: dict[str, Channel] = Field(default_factory=dict, description="Named channels: "
                                         "`kind: webhook | email | file` (docs/alerts.md).")
    route: Route = Field(default_factory=Route, description="Where alerts go.")
    digest: Digest | None = Field(None, description="The weekly digest per CSM (off unless "
                                  "given).")

    @field_validator("rules")
    @classmethod
    def _rule_names(cls, value: dict[str, Rule]) -> dict[str, Rule]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
                raise ValueError(f"rule name {name!r}: letters, digits, `-`, `_`, `.`; at "
                                 "most 64 characters")
        return value

    @model_validator(mode="after")
    def _channels_exist(self) -> AlertsConfig:
        known = set(self.channels)
        named = [("route.default", c) for c in self.route.default]
        named += [(f"rules.{r}.channels", c) for r, rule in self.rules.items()
                  for c in rule.channels or []]
        named += [(f"route.csms.{who}.channels", c) for who, route in self.route.csms.items()
                  for c in route.channels]
        if self.route.email_channel:
            named.append(("route.email_channel", self.route.email_channel))
        for where, name in named:
            if name not in known:
                raise ValueError(f"[at {where}] no channel named {name!r}; the channels are: "
                                 + (", ".join(sorted(known)) or "none (add `alerts.channels`)"))
        email = self.route.email_channel
        if email and getattr(self.channels[email], "kind", None) != "email":
            raise ValueError(f"[at route.email_channel] {email!r} is not an e-mail channel")
        if (any(r.email for r in self.route.csms.values()) or self.digest) and not email:
            raise ValueError("[at route.email_channel] CSM addresses and the digest need an "
                             "e-mail channel: name it in `route.email_channel`")
        return self


class RuleFile(_Model):
    """A rule file in ``alerts/``: ``rules:`` as in ``healthscore.yaml``."""

    rules: dict[str, Rule] = Field(default_factory=dict, description="Named rules.")
