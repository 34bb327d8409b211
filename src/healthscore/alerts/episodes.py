"""One alert per episode: a rule's alert opens on the first date it holds for an account,
lasts while it holds (gaps shorter than the rule's ``clear_after_days`` included), clears on
the date the rule has not held for that many days, and the rule re-arms then.

:func:`step` is the whole rule, pure: given the accounts with an open alert (and the last
date each held) and the accounts the rule holds for on a date, which open and which clear. :func:`check` applies it to
the store for one date (each rule at most once per date, dates in order, so re-running a day
opens nothing twice) and :func:`replay` to a range of stored dates without writing, for
"what would have fired, and how long before each churn".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from healthscore.alerts.rules import LibraryMeasures, holding, scored_on
from healthscore.config.alerts import AlertsConfig, Rule
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card


def step(open_: Mapping[str, date], holds: Iterable[str], day: date, clear_after: int = 1
         ) -> tuple[list[str], list[str]]:
    """(accounts whose episode begins on ``day``, accounts whose episode clears on it), each
    sorted. ``open_``: the accounts with an open alert and the last date the rule held for
    each; an episode clears once the rule has not held for ``clear_after`` days.

    >>> d = date(2026, 5, 2)
    >>> step({"A": date(2026, 5, 1), "B": date(2026, 5, 1)}, ["B", "C"], d)
    (['C'], ['A'])
    >>> step({"A": date(2026, 5, 1)}, [], d, clear_after=7)   # a gap of a day: it lasts
    ([], [])
    """
    now = set(holds)
    begins = sorted(now - set(open_))
    ends = sorted(a for a, last in open_.items()
                  if a not in now and (day - last).days >= clear_after)
    return begins, ends


def targets(config: AlertsConfig, rule: Rule, csm: str | None) -> list[tuple[str, str | None]]:
    """Where an alert of ``rule`` on an account of ``csm`` goes: (channel, recipient) pairs,
    each once — the rule's channels (else ``route.default``; recipient None: the channel's
    own), then the CSM's channels and address."""
    out = [(c, None) for c in (rule.channels if rule.channels is not None
                               else config.route.default)]
    who = config.route.csms.get(csm or "")
    if who is not None:
        out += [(c, None) for c in who.channels]
        if who.email:
            out.append((config.route.email_channel, who.email))
    seen: set = set()
    return [t for t in out if not (t in seen or seen.add(t))]


@dataclass
class RuleCheck:
    """One rule on one date: how many it held for, the alerts opened and closed, or why it
    was not checked (``skipped``)."""

    rule: str
    as_of: date
    holding: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    skipped: str | None = None


def reasons_of(r: Reader, card: Card, accounts: list[str], as_of: date, top: int = 3
               ) -> dict[str, list[str]]:
    """Each account's top reasons for its score change over the 30 days to ``as_of``, in
    words (as ``healthscore why`` gives them; none without an earlier snapshot then)."""
    from healthscore.formatting import delta as fmt_points
    from healthscore.read.history import why_many

    return {account: [f"{c.reason} ({fmt_points(c.points)})"
                      for c in found["contributions"] if abs(c.points) >= 0.05][:top]
            for account, found in why_many(r, card, accounts, as_of, 30).items()}


def check(store, config: AlertsConfig, rules: dict[str, Rule], cards: dict[str, Card],
          as_of: date, *, run_id: int, now: datetime) -> list[RuleCheck]:
    """Check every enabled rule on ``as_of`` against the store and record what opens and
    closes (one transaction per rule). A rule already checked on ``as_of`` or later, or
    whose scorecard's current version has no snapshot on ``as_of``, is skipped and says
    why."""

    from healthscore.alerts.render import render
    from healthscore.read.reader import StoreReader
    from healthscore.store import alerts as saved

    r = StoreReader(store)
    library = LibraryMeasures(store.con)
    out = []
    for name, rule in rules.items():
        if not rule.enabled:
            continue
        done = saved.last_check(store, name)
        card = cards[rule.scorecard]
        if done is not None and done >= as_of:
            out.append(RuleCheck(name, as_of, skipped=f"already checked up to {done}"))
            continue
        if not scored_on(r, card, as_of):
            out.append(RuleCheck(name, as_of, skipped=f"{card.name} has no scores on {as_of}"))
            continue
        facts = holding(r, library, card, rule, as_of)
        open_ = saved.open_alerts(store, name)
        begins, ends = step({a: last for a, (_, last) in open_.items()}, facts["account_id"],
                            as_of, rule.clear_after_days)
        quiet = saved.snoozed(store, name, as_of)
        rows = facts.set_index("account_id", drop=False)
        opened = []
        reasons = reasons_of(r, card, begins, as_of)
        for account in begins:
            row = rows.loc[account].to_dict()
            title, text, detail = render(name, rule, row, reasons.get(account, []), as_of)
            alert = {"scorecard": card.name, "account_id": account, "severity": rule.severity,
                     "csm": row.get("csm"), "title": title, "text": text, "detail": detail}
            if account in quiet:
                alert.update(state="snoozed", snoozed_until=quiet[account])
            opened.append(alert)
        closed = [open_[a][0] for a in ends]
        ids = saved.record_check(
            store, rule=name, as_of=as_of, holding=len(facts), opened=opened, closed=closed,
            run_id=run_id, at=now, targets=lambda a, rule=rule: targets(config, rule, a["csm"]),
            held=[open_[a][0] for a in facts["account_id"] if a in open_])
        out.append(RuleCheck(name, as_of, len(facts), ids, closed))
    return out


@dataclass
class Episode:
    """An episode found by :func:`replay`."""

    rule: str
    account_id: str
    opened_on: date
    last_held_on: date
    closed_on: date | None = None


def replay(r: Reader, con, rules: dict[str, Rule], cards: dict[str, Card],
           dates: list[date], progress=None) -> list[Episode]:
    """The episodes the rules would have opened over ``dates`` (oldest first), starting with
    no alert open; nothing is written. A daily run over the same dates opens the same ones."""
    episodes: list[Episode] = []
    library = LibraryMeasures(con)
    for name, rule in rules.items():
        if not rule.enabled:
            continue
        card = cards[rule.scorecard]
        current: dict[str, Episode] = {}
        for i, day in enumerate(dates):
            if progress is not None:
                progress(i, len(dates), name)
            if not scored_on(r, card, day):
                continue
            facts = holding(r, library, card, rule, day)
            begins, ends = step({a: e.last_held_on for a, e in current.items()},
                                facts["account_id"], day, rule.clear_after_days)
            for account in ends:
                current.pop(account).closed_on = day
            for account in facts["account_id"]:
                if account in current:
                    current[account].last_held_on = day
            for account in begins:
                current[account] = Episode(name, account, day, day)
                episodes.append(current[account])
    return episodes
