"""A backtest's summary as JSON: dates as ISO text, NaN as null, numpy scalars as numbers
(what ``--json``, the stored run and the API hand out)."""

from __future__ import annotations

import math


def jsonable(value):
    """``value`` (the summary's dicts, lists, floats, dates, numpy scalars) as plain JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def words(summary: dict) -> dict:
    """The words a report uses for a backtest's target (churn, expansion), from its summary:
    what the event is called, which band flags it, what a Kaplan–Meier curve shows."""
    target = summary.get("target") or {"name": "churn"}
    name = target["name"]
    churn = name == "churn"
    flag = target.get("flag", "red")
    return {"name": name, "Name": name.capitalize(),
            "event": "churned" if churn else "expanded",
            "events": "churners" if churn else "expanded accounts",
            "flag": flag, "Flag": flag.capitalize(), "wide": f"{flag} or yellow",
            "order": "green to red" if churn else "red to green",
            "rank": "riskiest" if churn else "highest-scored",
            "move": "drop" if churn else "rise",
            "without": "Still customers" if churn else "Not yet expanded"}
