"""The read model of the dashboard and the REST API: portfolio, accounts, one account.

Plain functions over a :class:`~healthscore.store.Store` that return dicts and lists, like
:mod:`healthscore.store.reads` (which they reuse): SQL with ``?`` parameters only; a sort
column or a filter value from a request never becomes SQL text (sort keys are looked up in a
whitelist). Bad input raises :class:`InputError`, which names the field and what to do.

Dates: every list reads one snapshot date, ``as_of`` (default: the latest date the scorecard
version has). Renewal windows count from that date, and account attributes (name, ARR, CSM,
renewal date) are the versions that held on it, as the scores saw them.

Store access and the read cache live in :mod:`healthscore.serving`; the scorecards as people
read them in :mod:`healthscore.scorecard_view`.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import duckdb

from healthscore.errors import HealthScoreError
from healthscore.scoring.change import explain_change, with_reasons
from healthscore.serving import (  # noqa: F401  (re-exported: the pages and the API use them)
    _CACHE,
    ReadStore,
    StoreBusy,
    _cached,
    _memory_query,
    open_store,
)
from healthscore.store import reads
from healthscore.store.store import Store, dict_rows
from healthscore.workspace import Workspace

BANDS = ("red", "yellow", "green")

#: Sort keys of :func:`list_accounts` → SQL expression (over the columns of one row of the
#: accounts list). Nothing else reaches ORDER BY.
SORTS: dict[str, str] = {
    "score": "score",
    "band": "CASE band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 END",
    "name": "lower(name)",
    "account_id": "account_id",
    "delta_30d": "delta_30d",
    "delta_7d": "delta_7d",
    "arr": "arr",
    "plan": "lower(plan)",
    "segment": "lower(segment)",
    "csm": "lower(csm)",
    "renewal_date": "renewal_date",
    "coverage": "coverage",
}

MAX_PER_PAGE = 500

#: A 30-day change smaller than this (points) shows as flat.
FLAT = 1.0


class InputError(HealthScoreError, ValueError):
    """A request parameter is invalid; ``field`` names it."""

    exit_code = 2

    def __init__(self, field: str, message: str, *, hint: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}", hint=hint)


# -- scorecards and dates ----------------------------------------------------------------------


def current_versions(workspace: Workspace) -> dict[str, str]:
    """Scorecard name → version of the workspace's current scorecard files (file order)."""
    return {sc.name: sc.scorecard.version for sc in workspace.scorecards()}


def latest_as_of(store: Store, scorecard: str, version: str) -> date | None:
    """The latest snapshot date of a scorecard version, or None before the first score."""
    return _cached(store, ("latest_date", scorecard, version),
                   lambda con: reads.latest_date(_Con(con), scorecard, version))


class _Con:
    """A connection where :mod:`healthscore.store.reads` expects a store."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con


def _as_of(store: Store, scorecard: str, version: str, as_of: date | None) -> date | None:
    return as_of or latest_as_of(store, scorecard, version)


def trend_of(delta: float | None) -> str | None:
    """``up``, ``down`` or ``flat`` for a 30-day change (None when there is no earlier score)."""
    if delta is None:
        return None
    return "up" if delta >= FLAT else "down" if delta <= -FLAT else "flat"


# -- portfolio ---------------------------------------------------------------------------------


def portfolio_summary(store: Store, scorecard: str, version: str, as_of: date | None = None,
                      *, at_risk_days: int = 90) -> dict:
    """Accounts and ARR per band on ``as_of``, and the ARR at risk.

    ARR at risk is the ARR of red and yellow accounts whose renewal date falls within
    ``at_risk_days`` after ``as_of`` (both ends included). Every band is listed, with zeros
    when it has no accounts; ``as_of`` is None before the first score.
    """
    if at_risk_days < 0:
        raise InputError("at_risk_days", f"{at_risk_days} is negative", hint="use 0 or more")
    day = _as_of(store, scorecard, version, as_of)
    out: dict[str, Any] = {"scorecard": scorecard, "version": version, "as_of": day,
                           "accounts": 0, "arr": 0.0, "mean_score": None,
                           "bands": [{"band": b, "accounts": 0, "arr": 0.0, "share": 0.0,
                                      "arr_share": 0.0, "mean_score": None} for b in BANDS],
                           "at_risk": {"days": at_risk_days, "accounts": 0, "arr": 0.0,
                                       "red": 0, "yellow": 0}}
    if day is None:
        return out
    sql = """
        SELECT band, count(*) AS accounts, coalesce(sum(arr), 0) AS arr,
               avg(score) AS mean_score,
               count(*) FILTER (WHERE renewal_date BETWEEN ? AND ?) AS renewing,
               coalesce(sum(arr) FILTER (WHERE renewal_date BETWEEN ? AND ?), 0) AS renewing_arr
        FROM {src} GROUP BY band
    """
    window = [day, day + timedelta(days=at_risk_days)] * 2
    if isinstance(store, ReadStore):
        table = _latest(store, scorecard, version, day)[0]
        rows = _memory_query(table, sql.replace("{src}", "t"), window)
    else:
        rows = dict_rows(store.con.execute(sql.replace("{src}", f"""(
            SELECT s.band, s.score, a.arr, a.renewal_date
            FROM snapshots s LEFT JOIN ({reads.ACCOUNTS_AS_OF}) a USING (account_id)
            WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ?)"""),
            window + reads.account_cutoff(day) + [scorecard, version, day]))
    total = sum(r["accounts"] for r in rows)
    arr = sum(float(r["arr"]) for r in rows)
    by_band = {r["band"]: r for r in rows}
    bands = []
    for b in [*BANDS, *sorted(k or "" for k in by_band if k not in BANDS)]:
        r = by_band.get(b or None, {})
        n = r.get("accounts", 0)
        a = float(r.get("arr", 0.0))
        bands.append({"band": b or None, "accounts": n, "arr": a,
                      "share": n / total if total else 0.0,
                      "arr_share": a / arr if arr else 0.0, "mean_score": r.get("mean_score")})
    scored = [r for r in rows if r["mean_score"] is not None]
    n_scored = sum(r["accounts"] for r in scored)
    risk = [by_band[b] for b in ("red", "yellow") if b in by_band]
    out.update(
        accounts=total, arr=arr, bands=bands,
        mean_score=(sum(r["mean_score"] * r["accounts"] for r in scored) / n_scored
                    if n_scored else None),
        at_risk={"days": at_risk_days,
                 "accounts": sum(r["renewing"] for r in risk),
                 "arr": sum(float(r["renewing_arr"]) for r in risk),
                 "red": by_band.get("red", {}).get("renewing", 0),
                 "yellow": by_band.get("yellow", {}).get("renewing", 0)})
    return out


def band_history(store: Store, scorecard: str, version: str, *, days: int | None = 365,
                 end: date | None = None) -> list[dict]:
    """Accounts per band on every snapshot date of the last ``days`` up to ``end`` (default:
    the latest date), oldest first: ``{"as_of", "red", "yellow", "green", "total"}``."""
    end = _as_of(store, scorecard, version, end)
    if end is None:
        return []
    start = end - timedelta(days=days) if days is not None else date.min
    return copy.deepcopy(_cached(store, ("band_history", scorecard, version, start, end),
                                 lambda con: _band_history(con, scorecard, version, start, end)))


def _band_history(con, scorecard: str, version: str, start: date, end: date) -> list[dict]:
    rows = con.execute("""
        SELECT as_of, count(*) FILTER (WHERE band = 'red'),
               count(*) FILTER (WHERE band = 'yellow'),
               count(*) FILTER (WHERE band = 'green'), count(*)
        FROM snapshots WHERE scorecard = ? AND version = ? AND as_of BETWEEN ? AND ?
        GROUP BY as_of ORDER BY as_of
    """, [scorecard, version, start, end]).fetchall()
    return [{"as_of": d, "red": r, "yellow": y, "green": g, "total": t}
            for d, r, y, g, t in rows]


def movers(store: Store, scorecard: str, version: str, *, days: int = 30,
           end: date | None = None, limit: int = 10,
           labels: dict[str, str] | None = None) -> dict:
    """The largest drops and rises over ``days`` up to ``end`` (default: latest date), each
    with its top reason in words (:func:`healthscore.store.reads.movers`)."""
    if days < 1:
        raise InputError("days", f"{days} is not a positive number of days")
    end = _as_of(store, scorecard, version, end)
    key = ("movers", scorecard, version, days, end, limit, tuple(sorted((labels or {}).items())))
    return copy.deepcopy(_cached(store, key, lambda con: _movers(
        _Con(con), scorecard, version, days=days, end=end, limit=limit, labels=labels)))


def _movers(store, scorecard: str, version: str, *, days: int, end: date | None, limit: int,
            labels: dict[str, str] | None) -> dict:
    start = end - timedelta(days=days) if end else None
    if end is None or not store.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM snapshots WHERE scorecard = ? AND version = ? "
            "AND as_of = ? LIMIT 1)", [scorecard, version, start]).fetchall()[0][0]:
        # Nothing to compare with: skip the measure join (a second at 100,000 accounts).
        return {"end": end, "start": start if end else None, "drops": [], "rises": []}
    return with_reasons(reads.movers(store, scorecard, version, days=days, end=end,
                                     limit=limit), labels or {})


# -- accounts ----------------------------------------------------------------------------------


def _one_of(field: str, value: str | list[str] | None, allowed: tuple[str, ...] | None = None
            ) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    values = [value] if isinstance(value, str) else list(value)
    values = [v for v in values if v != ""]
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            raise InputError(field, f"{bad[0]!r} is not one of {', '.join(allowed)}")
    return values or None


def list_accounts(store: Store, scorecard: str, version: str, *,
                  band: str | list[str] | None = None, segment: str | list[str] | None = None,
                  csm: str | list[str] | None = None, renewal_within: int | None = None,
                  q: str | None = None, sort: str = "score", desc: bool = False,
                  page: int = 1, per_page: int = 50, as_of: date | None = None) -> dict:
    """One page of the accounts scored on ``as_of`` (default: the latest date), filtered and
    sorted, in one query.

    Filters combine with AND: ``band``, ``segment`` and ``csm`` take a value or a list of
    values; ``renewal_within`` keeps accounts renewing 0 to N days after ``as_of``; ``q``
    matches a part of the name or account id, ignoring case. ``sort`` is a key of
    :data:`SORTS`; empty values sort last either way; ties go by account id.

    Returns ``{"as_of", "total", "page", "per_page", "pages", "sort", "desc", "rows"}``; each
    row has the score, band, grade, coverage, variant, 7- and 30-day deltas, the band 30 days
    earlier, a ``trend`` (up / down / flat), and the account's name, ARR, plan, segment, CSM,
    renewal date and days to renewal.
    """
    if sort not in SORTS:
        raise InputError("sort", f"{sort!r} is not a sort key",
                         hint="use one of " + ", ".join(SORTS))
    if page < 1:
        raise InputError("page", f"{page} is not a page number", hint="pages start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InputError("per_page", f"{per_page} is not 1-{MAX_PER_PAGE}")
    if renewal_within is not None and renewal_within < 0:
        raise InputError("renewal_within", f"{renewal_within} is negative",
                         hint="give a number of days, 0 or more")
    bands = _one_of("band", band, BANDS)
    segments = _one_of("segment", segment)
    csms = _one_of("csm", csm)
    out: dict[str, Any] = {"as_of": None, "total": 0, "page": page, "per_page": per_page,
                           "pages": 0, "sort": sort, "desc": desc, "rows": []}
    day = _as_of(store, scorecard, version, as_of)
    if day is None:
        return out
    where, params = [], []
    if bands:
        where.append("list_contains(?, band)")
        params.append(bands)
    if segments:
        where.append("list_contains(?, segment)")
        params.append(segments)
    if csms:
        where.append("list_contains(?, csm)")
        params.append(csms)
    if renewal_within is not None:
        where.append("renewal_date BETWEEN ? AND ?")
        params += [day, day + timedelta(days=renewal_within)]
    if q and q.strip():
        where.append("(contains(lower(name), ?) OR contains(lower(account_id), ?))")
        params += [q.strip().lower()] * 2
    cond = "WHERE " + " AND ".join(where) if where else ""
    order = f"{SORTS[sort]} {'DESC' if desc else 'ASC'} NULLS LAST, account_id"
    page_sql = (f"SELECT {_LIST_COLUMNS}, count(*) OVER () AS _total FROM {{src}} {cond} "
                f"ORDER BY {order} LIMIT ? OFFSET ?")
    count_sql = f"SELECT count(*) AS n FROM {{src}} {cond}"
    if isinstance(store, ReadStore):
        table = _latest(store, scorecard, version, day)[0]

        def run(sql: str, args: list) -> list[dict]:
            return _memory_query(table, _lowered(sql.replace("{src}", "t")), args)
    else:
        def run(sql: str, args: list) -> list[dict]:
            return dict_rows(store.con.execute(f"WITH base AS ({_LATEST_SQL}) "
                                           + sql.replace("{src}", "base"),
                                           _latest_params(scorecard, version, day) + args))
    rows = run(page_sql, params + [per_page, (page - 1) * per_page])
    if rows:
        total = rows[0]["_total"]
    elif page > 1:  # past the last page: count without it
        total = run(count_sql, params)[0]["n"]
    else:
        total = 0
    for r in rows:
        del r["_total"]
        r["trend"] = trend_of(r["delta_30d"])
    out.update(as_of=day, total=total, pages=-(-total // per_page), rows=rows)
    return out


#: One row of the accounts list: the snapshot of one date with the account's attributes on
#: that date, its 7/30/90-day changes and days to renewal (``delta_90d`` is not listed).
_LATEST_SQL = f"""
    WITH s AS (SELECT * FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ?),
         p7 AS (SELECT account_id, score FROM snapshots
                WHERE scorecard = ? AND version = ? AND as_of = ?),
         p30 AS (SELECT account_id, score, band FROM snapshots
                 WHERE scorecard = ? AND version = ? AND as_of = ?),
         p90 AS (SELECT account_id, score FROM snapshots
                 WHERE scorecard = ? AND version = ? AND as_of = ?)
    SELECT s.account_id, a.name, s.score, s.band, s.grade, s.coverage, s.variant,
           s.score - p7.score AS delta_7d, s.score - p30.score AS delta_30d,
           p30.band AS band_30d_ago, a.arr, a.plan, a.segment, a.csm, a.renewal_date,
           date_diff('day', ?::DATE, a.renewal_date) AS days_to_renewal,
           s.score - p90.score AS delta_90d
    FROM s LEFT JOIN p7 USING (account_id) LEFT JOIN p30 USING (account_id)
    LEFT JOIN p90 USING (account_id)
    LEFT JOIN ({reads.ACCOUNTS_AS_OF}) a USING (account_id)
"""

_LIST_COLUMNS = ("account_id, name, score, band, grade, coverage, variant, delta_7d, delta_30d, "
                 "band_30d_ago, arr, plan, segment, csm, renewal_date, days_to_renewal")


def _latest_params(scorecard: str, version: str, day: date) -> list:
    return [scorecard, version, day, scorecard, version, day - timedelta(days=7),
            scorecard, version, day - timedelta(days=30),
            scorecard, version, day - timedelta(days=90), day] + reads.account_cutoff(day)


def _indexed(table) -> tuple[Any, dict[str, int]]:
    ids = table.column("account_id").to_pylist()
    return table, {a: i for i, a in enumerate(ids)}


def _latest(store: ReadStore, scorecard: str, version: str, day: date) -> tuple[Any, dict]:
    """The accounts list of one date as an Arrow table and account_id → row (read cache)."""
    lowered = ", ".join(f"lower({c}) AS _lc_{c}" for c in _LOWERED)
    return _cached(store, ("accounts_list", scorecard, version, day), lambda con: _indexed(
        con.sql(f"SELECT *, {lowered} FROM ({_LATEST_SQL})",
                params=_latest_params(scorecard, version, day)).to_arrow_table()))


#: Text columns the accounts list sorts or searches in lower case; the cached table has them
#: lowered once (``_lc_name`` …) and its queries read those instead of ``lower(name)``.
_LOWERED = ("name", "plan", "segment", "csm", "account_id")


def _lowered(sql: str) -> str:
    for c in _LOWERED:
        sql = sql.replace(f"lower({c})", f"_lc_{c}")
    return sql


def filter_options(store: Store, scorecard: str, version: str,
                   as_of: date | None = None) -> dict:
    """The values the accounts filters offer: bands, and the segments and CSMs of the current
    accounts (empty lists before the first score)."""
    day = _as_of(store, scorecard, version, as_of)
    out = {"bands": list(BANDS), "segments": [], "csms": []}
    if day is None:
        return out
    segments, csms = _cached(store, ("filter_options",), lambda con: con.execute(
        "SELECT list_sort(list(DISTINCT segment)), list_sort(list(DISTINCT csm)) "
        "FROM accounts WHERE _valid_to IS NULL").fetchall()[0])
    out.update(segments=[s for s in segments or [] if s is not None],
               csms=[c for c in csms or [] if c is not None])
    return out


# -- one account -------------------------------------------------------------------------------


def account(store: Store, account_id: str) -> dict | None:
    """The current version of an account's attributes, or None for an unknown account."""
    if isinstance(store, ReadStore):
        table, index = _cached(store, ("current_accounts",), lambda con: _indexed(con.sql(
            f"SELECT {_ATTRS} FROM accounts QUALIFY row_number() OVER ("
            "PARTITION BY account_id ORDER BY _valid_to DESC NULLS FIRST) = 1"
        ).to_arrow_table()))
        i = index.get(account_id)
        return None if i is None else table.slice(i, 1).to_pylist()[0]
    rows = dict_rows(store.con.execute(
        f"SELECT {_ATTRS} FROM accounts "
        "WHERE account_id = ? ORDER BY _valid_to DESC NULLS FIRST LIMIT 1", [account_id]))
    return rows[0] if rows else None


_ATTRS = ("account_id, name, plan, segment, lifecycle_stage, arr, seats, csm, renewal_date, "
          "contract_start, industry, churned_at")


def _last_day(store: Store, scorecard: str, version: str, account_id: str,
              as_of: date | None) -> date | None:
    """The account's latest snapshot date on or before ``as_of``. Through the read cache an
    account scored on the version's latest date needs no scan of the snapshots' history."""
    if isinstance(store, ReadStore):
        latest = latest_as_of(store, scorecard, version)
        if latest is not None and (as_of is None or as_of >= latest) \
                and account_id in _latest(store, scorecard, version, latest)[1]:
            return latest
    return store.con.execute(
        "SELECT max(as_of) FROM snapshots WHERE scorecard = ? AND version = ? AND "
        "account_id = ? AND (?::DATE IS NULL OR as_of <= ?)",
        [scorecard, version, account_id, as_of, as_of]).fetchall()[0][0]


def _cached_deltas(store: Store, scorecard: str, version: str, account_id: str,
                   day: date) -> dict | None:
    """7/30/90-day changes of the account on ``day`` from the read cache (None: not there)."""
    if isinstance(store, ReadStore) and day == latest_as_of(store, scorecard, version):
        table, index = _latest(store, scorecard, version, day)
        if account_id in index:
            row = table.slice(index[account_id], 1).to_pylist()[0]
            return {"7d": row["delta_7d"], "30d": row["delta_30d"], "90d": row["delta_90d"]}
    return None


def account_detail(store: Store, scorecard: str, version: str, account_id: str, *,
                   as_of: date | None = None) -> dict | None:
    """An account and its latest snapshot on or before ``as_of``: score, band, grade,
    coverage, variant, groups and measures (raw value, score, weight, points), deltas.

    None for an unknown account; ``snapshot`` is None when the account has no score yet.
    """
    attrs = account(store, account_id)
    if attrs is None:
        return None
    day = _last_day(store, scorecard, version, account_id, as_of)
    out = {"account_id": account_id, "account": attrs, "scorecard": scorecard,
           "version": version, "as_of": day, "snapshot": None, "deltas": {}}
    if day is None:
        return out
    out["snapshot"] = reads.explain(store, scorecard, version, day, account_id)
    cached = _cached_deltas(store, scorecard, version, account_id, day)
    if cached is not None:
        out["deltas"] = cached
        return out
    deltas = dict_rows(store.con.execute("""
        SELECT delta_7d AS "7d", delta_30d AS "30d", delta_90d AS "90d" FROM snapshot_trends
        WHERE scorecard = ? AND version = ? AND account_id = ? AND as_of = ?
    """, [scorecard, version, account_id, day]))
    out["deltas"] = deltas[0] if deltas else {}
    return out


def score_history(store: Store, scorecard: str, version: str, account_id: str, *,
                  days: int = 365, end: date | None = None) -> dict:
    """An account's daily scores over ``days`` up to ``end`` (default: the version's latest
    date), its band changes and deltas (:func:`healthscore.store.reads.account_history`)."""
    if days < 1:
        raise InputError("days", f"{days} is not a positive number of days")
    end = end or latest_as_of(store, scorecard, version)
    cached = _cached_deltas(store, scorecard, version, account_id, end) if end else None
    if cached is None:
        return reads.account_history(store, scorecard, version, account_id, days=days, end=end)
    # reads.account_history, with the deltas from the read cache instead of the trends view
    points = dict_rows(store.con.execute(
        "SELECT as_of, score, band, grade, coverage, variant FROM snapshots WHERE scorecard = ? "
        "AND version = ? AND account_id = ? AND as_of BETWEEN ? AND ? ORDER BY as_of",
        [scorecard, version, account_id, end - timedelta(days=days), end]))
    changes = [{"as_of": b["as_of"], "from": a["band"], "to": b["band"]}
               for a, b in zip(points, points[1:], strict=False) if a["band"] != b["band"]]
    return {"points": points, "band_changes": changes, "deltas": cached, "end": end}


def change_explanation(store: Store, scorecard: str, version: str, account_id: str, *,
                       days: int = 30, end: date | None = None,
                       labels: dict[str, str] | None = None) -> dict | None:
    """Why the account's score changed over the last ``days`` up to ``end`` (default: its
    latest snapshot), split exactly by measure (:func:`healthscore.scoring.change.explain_change`).

    The start is the account's first snapshot on or after ``end - days``; None when the
    account has fewer than two snapshots in that window.
    """
    if days < 1:
        raise InputError("days", f"{days} is not a positive number of days")
    last = _last_day(store, scorecard, version, account_id, end)
    if last is None:
        return None
    first = store.con.execute(
        "SELECT min(as_of) FROM snapshots WHERE scorecard = ? AND version = ? AND "
        "account_id = ? AND as_of >= ? AND as_of < ?",
        [scorecard, version, account_id, last - timedelta(days=days), last]).fetchall()[0][0]
    if first is None:
        return None
    change = reads.score_change(store, scorecard, version, account_id, first, last)
    if change is None:
        return None
    out = explain_change(change, labels)
    out.update(start=first, end=last)
    return out


_ACTIVITY = {
    "tickets": ("SELECT ticket_id, opened_at, closed_at, priority, csat FROM tickets "
                "WHERE account_id = ? ORDER BY opened_at DESC, ticket_id LIMIT ?"),
    "surveys": ("SELECT kind, score, responded_at, comment, user_id FROM surveys "
                "WHERE account_id = ? ORDER BY responded_at DESC LIMIT ?"),
    "touchpoints": ("SELECT kind, occurred_at, author FROM touchpoints "
                    "WHERE account_id = ? ORDER BY occurred_at DESC LIMIT ?"),
    "invoices": ("SELECT invoice_id, amount, currency, issued_at, due_at, paid_at FROM invoices "
                 "WHERE account_id = ? ORDER BY issued_at DESC, invoice_id LIMIT ?"),
}


def recent_activity(store: Store, account_id: str, *, limit: int = 5) -> dict[str, list[dict]]:
    """The ``limit`` most recent tickets, survey answers (NPS, CSAT), touchpoints and invoices
    of an account, newest first."""
    if not 1 <= limit <= 100:
        raise InputError("limit", f"{limit} is not 1-100")
    return {kind: dict_rows(store.con.execute(sql, [account_id, limit]))
            for kind, sql in _ACTIVITY.items()}
