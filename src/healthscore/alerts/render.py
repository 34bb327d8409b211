"""An alert's words: its one-line title, its text (the rule's template, or a sentence per
condition), and its JSON detail — rendered once, when the alert opens."""

from __future__ import annotations

import math
from datetime import date

from healthscore.config.alerts import Rule
from healthscore.formatting import delta as fmt_points
from healthscore.formatting import raw_value as fmt_value
from healthscore.formatting import score as fmt_score


class _Blank(dict):
    """Template fields that have no value on this account read as ``–``."""

    def __missing__(self, key: str) -> str:
        return "–"


class _Value:
    """A field value that formats like a number when it is one, and as ``–`` when missing,
    whatever the format spec (``{score:.0f}`` of a missing score does not fail)."""

    def __init__(self, value):
        self.value = value

    def __format__(self, spec: str) -> str:
        v = self.value
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        try:
            return format(v, spec)
        except (TypeError, ValueError):
            return str(v)

    def __str__(self) -> str:
        return format(self, "")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def conditions_in_words(rule: Rule, row: dict) -> list[str]:
    """One short phrase per condition of ``rule`` as it held for ``row``."""
    w, out = rule.when, []
    score = _num(row.get("score"))
    if w.band is not None:
        out.append(f"entered {w.band} ({rule.scorecard} {fmt_score(score)})"
                   if score is not None else f"entered {w.band}")
    if w.drop is not None and _num(row.get("change")) is not None:
        out.append(f"dropped {fmt_points(row['change'])} points in {w.drop.days} days")
    if w.renewal is not None:
        out.append(f"renews in {int(row['days_to_renewal'])} days ({row['renewal_date']}) "
                   f"while {row['band']}")
    if w.champion_left is not None:
        out.append(f"champion left in the last {w.champion_left} days")
    if w.invoice_overdue is not None:
        out.append(f"an invoice is {_num(row.get('value')) or 0:.0f} days past due")
    if w.pulse is not None:
        out.append(f"CSM pulse {w.pulse}")
    if w.probability is not None and _num(row.get("probability")) is not None:
        out.append(f"{w.probability.target} probability {row['probability']:.0%}")
    if w.measure is not None:
        op, bound = w.measure.bound
        out.append(f"{w.measure.measure.replace('_', ' ')} {fmt_value(_num(row.get('value')))} "
                   f"({op} {bound:g})")
    return out


def render(name: str, rule: Rule, row: dict, reasons: list[str], as_of: date
           ) -> tuple[str, str, dict]:
    """(title, text, detail) of the alert ``rule`` (named ``name``) opens for ``row`` (its
    facts, :data:`healthscore.alerts.rules.FACTS`) on ``as_of``; ``reasons``: the score's
    top reasons for its change, in words."""
    who = row.get("name") or row["account_id"]
    phrases = conditions_in_words(rule, row)
    title = f"{row['account_id']} {who}: " + "; ".join(phrases) if who != row["account_id"] \
        else f"{row['account_id']}: " + "; ".join(phrases)
    fields = {k: _Value(v) for k, v in row.items()}
    fields.update(rule=_Value(name), scorecard=_Value(rule.scorecard), date=_Value(as_of),
                  name=_Value(who), reasons=_Value("; ".join(reasons) or "no measure moved"))
    if rule.message is not None:
        text = rule.message.format_map(_Blank(fields))
    else:
        text = (f"{who} ({row['account_id']}) on {as_of}: {'; '.join(phrases)}."
                + (f" Why: {'; '.join(reasons)}." if reasons else ""))
    detail = {k: (None if isinstance(v, float) and math.isnan(v) else
                  v.isoformat() if isinstance(v, date) else v)
              for k, v in row.items()}
    detail["reasons"] = reasons
    return title[:300], text, detail
