"""The demo ``health`` scorecard in plain pandas: what a team would write by hand.

The tables are read whole from the store into DataFrames (DuckDB only reads them: every filter,
the point-in-time rules, the measures, the scoring and the weights are pandas). Strings of the
usage events become categoricals, as anyone would do with 100M rows; object strings would not fit
in memory at size M.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)

#: (group, measure, group weight, measure weight, fixed score when missing) of the base scorecard.
BASE_WEIGHTS = [
    ("usage", "active_user_ratio", 35, 3, np.nan),
    ("usage", "active_days_per_user", 35, 2, np.nan),
    ("usage", "usage_trend", 35, 2, np.nan),
    ("usage", "days_since_last_activity", 35, 1, np.nan),
    ("usage", "feature_breadth", 35, 1, np.nan),
    ("support", "high_priority_tickets", 15, 2, np.nan),
    ("support", "open_tickets", 15, 1, np.nan),
    ("support", "ticket_csat", 15, 1, np.nan),
    ("sentiment", "nps_average", 15, 2, np.nan),
    ("sentiment", "csm_pulse", 15, 1, np.nan),
    ("engagement", "days_since_last_touchpoint", 10, 1, np.nan),
    ("engagement", "qbr_held", 10, 1, np.nan),
    ("relationship", "champion_present", 10, 2, np.nan),
    ("relationship", "engaged_contacts", 10, 1, np.nan),
    ("financial", "days_past_due", 10, 1, 100.0),
    ("enablement", "training_completion", 5, 1, np.nan),
    ("enablement", "goals_achieved", 5, 1, np.nan),
]
#: Variant overrides: (variant, "group" | "measure", name) → weight.
OVERRIDES = {
    ("onboarding", "measure", "usage_trend"): 0,
    ("onboarding", "group", "enablement"): 15,
    ("enterprise", "group", "relationship"): 20,
    ("enterprise", "group", "engagement"): 15,
    ("enterprise", "measure", "qbr_held"): 2,
}
MEASURES = [m for _, m, _, _, _ in BASE_WEIGHTS]


class Store:
    """Reads whole tables (only the columns needed) from the store into DataFrames."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path), read_only=True)
        self.rows: dict[str, int] = {}

    def read(self, table: str, columns: str, categorical: bool = False) -> pd.DataFrame:
        rel = self.con.sql(f"SELECT {columns} FROM {table}")
        if categorical:
            arrow = rel.to_arrow_table()
            df = arrow.to_pandas(strings_to_categorical=True, self_destruct=True,
                                 split_blocks=True)
            del arrow
        else:
            df = rel.df()
        self.rows[table] = len(df)
        return df


def _valid(df: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The version of each state-table row valid at ``cutoff``."""
    ok = ((df._valid_from.isna() | (df._valid_from < cutoff))
          & (df._valid_to.isna() | (df._valid_to >= cutoff)))
    return df[ok]


def _hide_later(s: pd.Series, cutoff: pd.Timestamp) -> pd.Series:
    return s.where(~(s >= cutoff))


def measures(store: Store, as_of: date) -> pd.DataFrame:
    """One row per active account: variant, segment and the 17 raw measure values."""
    day = pd.Timestamp(as_of)
    cutoff = day + DAY
    since = {d: cutoff - pd.Timedelta(days=d) for d in (30, 60, 90, 120, 180)}

    # ------------------------------------------------------------------ active accounts
    acc = _valid(store.read("accounts", "account_id, segment, lifecycle_stage, seats, "
                            "contract_start, churned_at, _valid_from, _valid_to"), cutoff)
    ren = store.read("renewals", "account_id, renewal_date, outcome")
    churned = set(ren.account_id[(ren.outcome == "churned") & (ren.renewal_date <= day)])
    acc = acc[(acc.contract_start.isna() | (acc.contract_start <= day))
              & (acc.churned_at.isna() | (acc.churned_at > day))
              & ~acc.account_id.isin(churned)]
    variant = np.where(acc.lifecycle_stage == "onboarding", "onboarding",
                       np.where(acc.segment == "enterprise", "enterprise", "base"))
    out = pd.DataFrame({"account_id": acc.account_id.to_numpy(), "variant": variant,
                        "segment": acc.segment.to_numpy(),
                        "seats": pd.to_numeric(acc.seats).to_numpy(dtype=float)})
    out = out.set_index("account_id")

    def put(name: str, values: pd.Series, absent: float | None = None,
            has_data: bool = True) -> None:
        v = values.astype(float).reindex(out.index)
        if absent is not None:
            v = v.fillna(absent)  # no row for the account: the count is 0
        out[name] = v if has_data else np.nan

    # ------------------------------------------------------------------ usage
    ev = store.read("usage_events", "account_id, user_id, event, timestamp, quantity",
                    categorical=True)
    ev = ev[ev.timestamp < cutoff]
    has_usage = len(ev) > 0
    last = ev.groupby("account_id", observed=True).timestamp.max()
    put("days_since_last_activity", (cutoff - last).dt.total_seconds() / 86400,
        has_data=has_usage)
    w60 = ev[ev.timestamp >= since[60]]
    del ev
    q = w60.quantity.fillna(1)
    recent = w60.timestamp >= since[30]
    now = q[recent].groupby(w60.account_id[recent], observed=True).sum()
    before = q[~recent].groupby(w60.account_id[~recent], observed=True).sum()
    before = before[before > 0]
    trend = (now.reindex(before.index).fillna(0) - before) / before
    put("usage_trend", trend, has_data=has_usage)
    w30 = w60[recent]
    del w60
    put("feature_breadth", w30.groupby("account_id", observed=True).event.nunique(), 0,
        has_usage)
    ud = w30.loc[w30.user_id.notna(), ["account_id", "user_id"]].assign(
        day=w30.timestamp.dt.floor("D")).drop_duplicates()
    users = ud.groupby("account_id", observed=True).user_id.nunique()
    days = ud.groupby("account_id", observed=True).size()
    put("active_days_per_user", days / users, 0, has_usage)
    ratio = users.reindex(out.index).fillna(0) / out.seats.where(out.seats > 0)
    put("active_user_ratio", ratio, has_data=has_usage)
    del w30, ud

    # ------------------------------------------------------------------ support
    t = store.read("tickets", "account_id, opened_at, closed_at, priority, csat")
    t = t[t.opened_at < cutoff].copy()
    closed_later = t.closed_at >= cutoff
    t["csat"] = t.csat.where(t.closed_at.notna() & ~closed_later)
    t["closed_at"] = t.closed_at.where(~closed_later)
    has_t = len(t) > 0
    put("open_tickets", t[t.closed_at.isna()].groupby("account_id").size(), 0, has_t)
    high = t[(t.opened_at >= since[60]) & t.priority.isin(["urgent", "high"])]
    put("high_priority_tickets", high.groupby("account_id").size(), 0, has_t)
    rated = t[(t.closed_at >= since[90]) & t.csat.notna()]
    put("ticket_csat", rated.groupby("account_id").csat.mean(), has_data=has_t)

    # ------------------------------------------------------------------ sentiment
    s = store.read("surveys", "account_id, kind, score, responded_at")
    s = s[s.responded_at < cutoff]
    nps = s[(s.kind == "nps") & (s.responded_at >= since[180])]
    put("nps_average", nps.groupby("account_id").score.mean(), has_data=len(s) > 0)
    p = store.read("pulses", "account_id, value, \"at\", expires_at")
    p = p[p["at"] < cutoff]
    has_p = len(p) > 0
    p = p[(p.expires_at.isna() | (p.expires_at > cutoff)) & (p["at"] >= since[90])]
    latest = p["at"] == p.groupby("account_id")["at"].transform("max")
    put("csm_pulse", p[latest].groupby("account_id").value.min(), has_data=has_p)

    # ------------------------------------------------------------------ engagement
    tp = store.read("touchpoints", "account_id, kind, occurred_at")
    tp = tp[tp.occurred_at < cutoff]
    has_tp = len(tp) > 0
    last_tp = tp.groupby("account_id").occurred_at.max()
    put("days_since_last_touchpoint", (cutoff - last_tp).dt.total_seconds() / 86400,
        has_data=has_tp)
    qbr = tp[(tp.kind == "qbr") & (tp.occurred_at >= since[120])].account_id.unique()
    put("qbr_held", pd.Series(1.0, index=qbr), 0, has_tp)

    # ------------------------------------------------------------------ relationship
    c = _valid(store.read("contacts", "account_id, contact_id, role, active_from, active_to, "
                          "_valid_from, _valid_to"), cutoff)
    has_c = len(c) > 0
    c = c[(c.active_from.isna() | (c.active_from <= day))
          & (c.active_to.isna() | (c.active_to >= day))]
    put("engaged_contacts", c.groupby("account_id").contact_id.nunique(), 0, has_c)
    champ = c[c.role.str.lower() == "champion"].account_id.unique()
    put("champion_present", pd.Series(1.0, index=champ), 0, has_c)

    # ------------------------------------------------------------------ financial
    inv = store.read("invoices", "account_id, issued_at, due_at, paid_at")
    inv = inv[inv.issued_at <= day]
    unpaid = inv.paid_at.isna() | (inv.paid_at > day)
    late = inv[unpaid & (inv.due_at < day)]
    put("days_past_due", (day - late.due_at).dt.days.groupby(late.account_id).max(), 0,
        len(inv) > 0)

    # ------------------------------------------------------------------ enablement, ROI
    u = _valid(store.read("users", "user_id, account_id, created_at, deactivated_at, "
                          "_valid_from, _valid_to"), cutoff)
    u = u[u.created_at.isna() | (u.created_at < cutoff)]
    has_u = len(u) > 0
    u = u[u.deactivated_at.isna() | (u.deactivated_at >= cutoff)]
    tr = store.read("trainings", "user_id, completed_at")
    tr = tr[tr.completed_at < cutoff]
    trained = u.user_id.isin(set(tr.user_id.dropna()))
    share = trained.groupby(u.account_id).sum() / u.groupby("account_id").size()
    put("training_completion", share, has_data=has_u and len(tr) > 0)
    o = store.read("outcomes", "account_id, achieved_at")
    o = o[o.achieved_at < cutoff]
    put("goals_achieved", o.groupby("account_id").size(), 0, len(o) > 0)
    return out.drop(columns="seats").reset_index()


# ---------------------------------------------------------------------------- scoring
def linear(v: pd.Series, lo: float, hi: float) -> pd.Series:
    return ((v - lo) / (hi - lo) * 100.0).clip(0.0, 100.0)


def tiers(v: pd.Series, bounds: list[tuple[float, float]], rest: float) -> pd.Series:
    conditions = [v <= at_most for at_most, _ in bounds]
    scores = np.select(conditions, [s for _, s in bounds], rest)
    return pd.Series(np.where(v.isna(), np.nan, scores), index=v.index)


def percentile_within(v: pd.Series, segment: pd.Series) -> pd.Series:
    """100 × (strictly lower + ½ × other equal) / (n − 1) within the segment; 50 when n = 1."""
    groups = segment.fillna("\0none")
    rank = v.groupby(groups).rank(method="average")
    n = v.notna().groupby(groups).transform("sum")
    pct = 100.0 * (rank - 1) / (n - 1)
    return pct.where(n != 1, 50.0).where(v.notna())


def score_measures(raw: pd.DataFrame) -> pd.DataFrame:
    onboarding = raw.variant == "onboarding"
    enterprise = raw.variant == "enterprise"
    s = pd.DataFrame(index=raw.index)
    s["active_user_ratio"] = linear(raw.active_user_ratio, 0.05, 0.5).where(
        ~onboarding, linear(raw.active_user_ratio, 0.02, 0.35))
    s["active_days_per_user"] = linear(raw.active_days_per_user, 1, 10)
    s["usage_trend"] = linear(raw.usage_trend, -0.5, 0.1)
    s["days_since_last_activity"] = tiers(raw.days_since_last_activity,
                                          [(2, 100), (7, 70), (21, 30)], 0)
    s["feature_breadth"] = percentile_within(raw.feature_breadth, raw.segment)
    s["high_priority_tickets"] = tiers(raw.high_priority_tickets,
                                       [(0, 100), (1, 70), (3, 40)], 10)
    s["open_tickets"] = linear(raw.open_tickets, 6, 0)
    s["ticket_csat"] = linear(raw.ticket_csat, 2, 4.8)
    s["nps_average"] = linear(raw.nps_average, 3, 9.5)
    s["csm_pulse"] = raw.csm_pulse.map({1: 0.0, 2: 25.0, 3: 50.0, 4: 75.0, 5: 100.0})
    s["days_since_last_touchpoint"] = linear(raw.days_since_last_touchpoint, 60, 7)
    qbr_false = np.where(enterprise, 0.0, 30.0)
    s["qbr_held"] = np.where(raw.qbr_held.isna(), np.nan,
                             np.where(raw.qbr_held != 0, 100.0, qbr_false))
    s["champion_present"] = np.where(raw.champion_present.isna(), np.nan,
                                     np.where(raw.champion_present != 0, 100.0, 0.0))
    s["engaged_contacts"] = linear(raw.engaged_contacts, 0, 4)
    s["days_past_due"] = tiers(raw.days_past_due, [(0, 100), (15, 70), (45, 30)], 0)
    s["training_completion"] = linear(raw.training_completion, 0, 0.5)
    s["goals_achieved"] = linear(raw.goals_achieved, 0, 2)
    return s


def weights() -> pd.DataFrame:
    """Group and measure weights of every variant, with each measure's nominal weight."""
    rows = []
    for variant in ("base", "onboarding", "enterprise"):
        for order, (grp, measure, gw, mw, fixed) in enumerate(BASE_WEIGHTS):
            rows.append({"variant": variant, "group": grp, "measure": measure, "ord": order,
                         "gw": float(OVERRIDES.get((variant, "group", grp), gw)),
                         "mw": float(OVERRIDES.get((variant, "measure", measure), mw)),
                         "fixed": fixed})
    w = pd.DataFrame(rows)
    group_mw = w.groupby(["variant", "group"]).mw.transform("sum")
    on = (w.gw > 0) & (group_mw > 0)
    groups = w[on].drop_duplicates(["variant", "group"])
    total = w.variant.map(groups.groupby("variant").gw.sum())
    w["nominal"] = np.where(on & (w.mw > 0), w.gw / total * w.mw / group_mw, 0.0)
    return w


def combine(raw: pd.DataFrame, scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Renormalise weights over the measures with data; points, score, coverage, band, grade."""
    ids = raw[["account_id", "variant"]]
    long = ids.join(scores[MEASURES]).melt(["account_id", "variant"], var_name="measure",
                                 value_name="score")
    long["raw_value"] = raw[MEASURES].to_numpy().ravel(order="F")
    m = long.merge(weights(), on=["variant", "measure"])
    m["missing"] = m.score.isna()
    m["value"] = m.score.fillna(m.fixed)
    m["used"] = m.value.notna() & (m.mw > 0) & (m.gw > 0)
    m["used_w"] = m.mw.where(m.used, 0.0)
    group_used = m.groupby(["account_id", "group"]).used_w.transform("sum")
    group_gw = m.gw.where(group_used > 0, 0.0)
    # Each group's weight counts once per account: divide by its measure rows.
    rows_in_group = m.groupby(["account_id", "group"]).measure.transform("size")
    row_total = (group_gw / rows_in_group).groupby(m.account_id).transform("sum")
    m["weight"] = np.where(m.used, m.mw * (m.gw / row_total) / group_used, 0.0)
    m["points"] = np.where(m.used, m.weight * m.value, 0.0)
    m["score"] = m.score.fillna(m.fixed)
    m["covered"] = m.nominal.where(~m.missing, 0.0)
    per = m.groupby("account_id").agg(
        variant=("variant", "first"), total_weight=("weight", "sum"),
        points=("points", "sum"), coverage=("covered", "sum"))
    scored = per.total_weight > 0
    coverage = per.coverage.clip(0.0, 1.0).where(scored, 0.0)
    score = per.points.clip(0.0, 100.0).where(scored & (coverage > 0))
    band = np.select([score < 50, score < 65, score >= 65], ["red", "yellow", "green"], None)
    grade = np.select([score >= 85, score >= 70, score >= 55, score >= 40, score >= 0],
                      ["A", "B", "C", "D", "F"], None)
    accounts = pd.DataFrame({"account_id": per.index, "variant": per.variant.to_numpy(),
                             "score": score.to_numpy(), "band": band, "grade": grade,
                             "coverage": coverage.to_numpy()})
    measures_out = m.sort_values(["account_id", "ord"])[
        ["account_id", "group", "measure", "raw_value", "score", "weight", "points", "missing"]]
    return accounts, measures_out


def run(store_path: Path, as_of: date, out: Path) -> dict:
    """Compute the health scores of ``as_of``; write accounts.parquet and measures.parquet."""
    out.mkdir(parents=True, exist_ok=True)
    store = Store(store_path)
    raw = measures(store, as_of)
    store.con.close()
    accounts, measures_out = combine(raw, score_measures(raw))
    accounts.to_parquet(out / "accounts.parquet", index=False)
    measures_out.to_parquet(out / "measures.parquet", index=False)
    return {"accounts": len(accounts), "rows_read": store.rows}

