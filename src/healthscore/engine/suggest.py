"""A first scorecard from what a workspace has loaded (``healthscore scorecard suggest``).

Only measures whose tables hold rows are proposed, and only those whose columns the exports
filled (a ticket priority, a CSAT, a seat count, an event value); the features are the most
used event names in the data. Every measure is scored by percentile among the active
accounts (no bounds to guess before the values are known); the file's comments say how to
move to fixed bounds once ``healthscore check`` has shown the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

#: The order, label and default weight of the groups a suggestion may hold.
GROUPS = {"usage": ("Product usage", 40), "support": ("Support", 20),
          "sentiment": ("Sentiment", 15), "engagement": ("CSM engagement", 10),
          "relationship": ("Relationship", 5), "financial": ("Financial", 5),
          "enablement": ("Enablement", 5), "advocacy": ("Advocacy", 5), "roi": ("Value", 5),
          "manual": ("CSM judgement", 10)}


@dataclass
class Pick:
    """One proposed measure."""

    group: str
    measure: str
    higher_is_better: bool
    why: str
    params: dict = field(default_factory=dict)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0] or 0


def picks(con: duckdb.DuckDBPyConnection, features: int = 5) -> list[Pick]:
    """The measures the store's data supports, each with the reason it was chosen."""
    rows = {t: _count(con, f'SELECT count(*) FROM "{t}"') for t in (
        "usage_events", "tickets", "surveys", "touchpoints", "contacts", "invoices",
        "trainings", "users", "advocacy", "outcomes", "pulses")}
    out: list[Pick] = []
    if rows["usage_events"]:
        n = rows["usage_events"]
        users = _count(con, "SELECT count(*) FROM usage_events WHERE user_id IS NOT NULL")
        seats = _count(con, "SELECT count(*) FROM accounts WHERE _valid_to IS NULL AND seats > 0")
        if users and seats:
            out.append(Pick("usage", "active_user_ratio", True, f"{users:,} of {n:,} events "
                            f"name a user; {seats:,} accounts have a seat count",
                            {"window_days": 30}))
        elif users:
            out.append(Pick("usage", "active_users", True,
                            f"{users:,} of {n:,} events name a user (no seat counts: users, "
                            "not a share of seats)", {"window_days": 30}))
        if users:
            out.append(Pick("usage", "active_days_per_user", True, "how often people come "
                            "back", {"window_days": 30}))
        out.append(Pick("usage", "days_since_last_activity", False, f"{n:,} usage events"))
        out.append(Pick("usage", "usage_trend", True, "volume against the month before",
                        {"window_days": 30}))
        top = con.execute(f"SELECT event, count(*) AS n FROM usage_events GROUP BY 1 "
                          f"ORDER BY n DESC, event LIMIT {features}").fetchall()
        if len(top) > 1:
            out.append(Pick("usage", "feature_breadth", True, "the most used events: " + ", ".join(
                f"{e} ({k:,})" for e, k in top), {"window_days": 30,
                                                  "features": [e for e, _ in top]}))
        valued = _count(con, "SELECT count(*) FROM usage_events WHERE value IS NOT NULL")
        if valued:
            out.append(Pick("usage", "usage_value", True, f"{valued:,} events carry a value",
                            {"window_days": 90}))
    if rows["tickets"]:
        out.append(Pick("support", "open_tickets", False, f"{rows['tickets']:,} tickets"))
        if _count(con, "SELECT count(*) FROM tickets WHERE priority IN ('urgent', 'high')"):
            out.append(Pick("support", "high_priority_tickets", False, "urgent and high "
                            "tickets on record", {"window_days": 60}))
        if _count(con, "SELECT count(*) FROM tickets WHERE csat IS NOT NULL"):
            out.append(Pick("support", "ticket_csat", True, "tickets carry a CSAT",
                            {"window_days": 90}))
    if rows["surveys"]:
        kinds = dict(con.execute("SELECT kind, count(*) FROM surveys GROUP BY 1").fetchall())
        if kinds.get("nps"):
            out.append(Pick("sentiment", "nps_average", True, f"{kinds['nps']:,} NPS answers",
                            {"window_days": 180}))
        if kinds.get("csat"):
            out.append(Pick("sentiment", "survey_csat", True, f"{kinds['csat']:,} CSAT answers",
                            {"window_days": 90}))
    if rows["touchpoints"]:
        out.append(Pick("engagement", "days_since_last_touchpoint", False,
                        f"{rows['touchpoints']:,} CSM touchpoints"))
        if _count(con, "SELECT count(*) FROM touchpoints WHERE kind = 'qbr'"):
            out.append(Pick("engagement", "qbr_held", True, "QBRs on record",
                            {"window_days": 120}))
    if rows["contacts"]:
        out.append(Pick("relationship", "engaged_contacts", True,
                        f"{rows['contacts']:,} contacts"))
        if _count(con, "SELECT count(*) FROM contacts WHERE role = 'champion'"):
            out.append(Pick("relationship", "champion_present", True, "champions on record"))
    if rows["invoices"]:
        out.append(Pick("financial", "days_past_due", False, f"{rows['invoices']:,} invoices"))
    if rows["trainings"] and rows["users"]:
        out.append(Pick("enablement", "training_completion", True,
                        f"{rows['trainings']:,} trainings completed"))
    if rows["advocacy"]:
        out.append(Pick("advocacy", "advocacy_events", True,
                        f"{rows['advocacy']:,} reviews, referrals or case studies",
                        {"window_days": 365}))
    if rows["outcomes"]:
        out.append(Pick("roi", "goals_achieved", True, f"{rows['outcomes']:,} goals achieved",
                        {"window_days": 365}))
    if rows["pulses"]:
        out.append(Pick("manual", "csm_pulse", True, f"{rows['pulses']:,} CSM pulses"))
    return out


def _flow(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def scorecard_yaml(chosen: list[Pick], name: str = "health") -> str:
    """The scorecard file of ``chosen``: YAML with comments saying why each measure is in."""
    lines = [
        f"# A first {name} scorecard, suggested from the data this workspace has loaded",
        "# (healthscore scorecard suggest). Each measure is here because its data is; the",
        "# comment says what was found. Every measure is scored by percentile among the",
        "# active accounts: an account is scored against the others, so 50 is the middle of",
        "# the portfolio, not \"healthy\". Once `healthscore check` has shown the values, move",
        "# the measures that matter to fixed bounds (linear or log: docs/scorecards.md) and set",
        "# the weights; `healthscore backtest` tells whether it predicts churn.",
        f"name: {name}",
        "description: Churn risk — suggested from the loaded data; review the weights",
        "bands: {red: 40, yellow: 65}",
        "groups:",
    ]
    for group, (label, weight) in GROUPS.items():
        mine = [p for p in chosen if p.group == group]
        if not mine:
            continue
        lines += [f"  {group}:", f"    label: {label}", f"    weight: {weight}",
                  "    measures:"]
        for p in mine:
            why = " ".join(p.why.split())
            lines.append(f"      {p.measure}:  # {why}")
            if p.params:
                lines.append("        params: {" + ", ".join(
                    f"{k}: {_flow(v)}" for k, v in p.params.items()) + "}")
            better = "true" if p.higher_is_better else "false"
            lines.append(f"        scoring: {{percentile: {{higher_is_better: {better}}}}}")
    return "\n".join(lines) + "\n"
