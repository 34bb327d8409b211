"""The portfolio on a date: accounts and ARR per band, ARR at risk, band history, and the
values the accounts filters offer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from healthscore.errors import InputError
from healthscore.read.accounts import BANDS, day_table
from healthscore.read.dates import resolve
from healthscore.read.reader import Reader, query_table
from healthscore.read.scorecards import Card


def portfolio(r: Reader, card: Card, as_of: date | None = None, *,
              at_risk_days: int = 90) -> dict:
    """Accounts and ARR per band on ``as_of`` (default: the latest date), and the ARR at risk.

    ARR at risk is the ARR of red and yellow accounts whose renewal date falls within
    ``at_risk_days`` after ``as_of`` (both ends included). Every band is listed, with zeros
    when it has no accounts; ``as_of`` is None before the first score.
    """
    if at_risk_days < 0:
        raise InputError("at_risk_days", f"{at_risk_days} is negative", hint="use 0 or more")
    day = resolve(r, card, as_of)
    out: dict[str, Any] = {"scorecard": card.name, "version": card.version, "as_of": day,
                           "accounts": 0, "arr": 0.0, "mean_score": None,
                           "bands": [{"band": b, "accounts": 0, "arr": 0.0, "share": 0.0,
                                      "arr_share": 0.0, "mean_score": None} for b in BANDS],
                           "at_risk": {"days": at_risk_days, "accounts": 0, "arr": 0.0,
                                       "red": 0, "yellow": 0}}
    if day is None:
        return out
    rows = query_table(day_table(r, card, day), """
        SELECT band, count(*) AS accounts, coalesce(sum(arr), 0) AS arr,
               avg(score) AS mean_score,
               count(*) FILTER (WHERE renewal_date BETWEEN ? AND ?) AS renewing,
               coalesce(sum(arr) FILTER (WHERE renewal_date BETWEEN ? AND ?), 0) AS renewing_arr
        FROM t GROUP BY band
    """, [day, day + timedelta(days=at_risk_days)] * 2)
    total = sum(row["accounts"] for row in rows)
    arr = sum(float(row["arr"]) for row in rows)
    by_band = {row["band"]: row for row in rows}
    bands = []
    for b in [*BANDS, *sorted(k or "" for k in by_band if k not in BANDS)]:
        row = by_band.get(b or None, {})
        n = row.get("accounts", 0)
        a = float(row.get("arr", 0.0))
        bands.append({"band": b or None, "accounts": n, "arr": a,
                      "share": n / total if total else 0.0,
                      "arr_share": a / arr if arr else 0.0, "mean_score": row.get("mean_score")})
    scored = [row for row in rows if row["mean_score"] is not None]
    n_scored = sum(row["accounts"] for row in scored)
    risk = [by_band[b] for b in ("red", "yellow") if b in by_band]
    out.update(
        accounts=total, arr=arr, bands=bands,
        mean_score=(sum(row["mean_score"] * row["accounts"] for row in scored) / n_scored
                    if n_scored else None),
        at_risk={"days": at_risk_days,
                 "accounts": sum(row["renewing"] for row in risk),
                 "arr": sum(float(row["renewing_arr"]) for row in risk),
                 "red": by_band.get("red", {}).get("renewing", 0),
                 "yellow": by_band.get("yellow", {}).get("renewing", 0)})
    return out


def band_history(r: Reader, card: Card, *, days: int | None = 365,
                 end: date | None = None) -> list[dict]:
    """Accounts per band on every snapshot date of the last ``days`` up to ``end`` (default:
    the latest date), oldest first: ``{"as_of", "red", "yellow", "green", "total"}``."""
    end = resolve(r, card, end, param="end")
    if end is None:
        return []
    start = end - timedelta(days=days) if days is not None else date.min
    rows = r.kept(("band_history", card.name, card.version, start, end), lambda: r.rows("""
        SELECT as_of, count(*) FILTER (WHERE band = 'red') AS red,
               count(*) FILTER (WHERE band = 'yellow') AS yellow,
               count(*) FILTER (WHERE band = 'green') AS green, count(*) AS total
        FROM snapshots WHERE scorecard = ? AND version = ? AND as_of BETWEEN ? AND ?
        GROUP BY as_of ORDER BY as_of
    """, [card.name, card.version, start, end]))
    return [dict(row) for row in rows]


def filter_options(r: Reader, card: Card, as_of: date | None = None) -> dict:
    """The values the accounts filters offer: bands, and the segments and CSMs of the accounts
    scored on ``as_of`` (default: the latest date; empty lists before the first score)."""
    day = resolve(r, card, as_of)
    out = {"bands": list(BANDS), "segments": [], "csms": []}
    if day is None:
        return out
    found = query_table(day_table(r, card, day),
                        "SELECT list_sort(list(DISTINCT segment)) AS segments, "
                        "list_sort(list(DISTINCT csm)) AS csms FROM t")[0]
    out.update(segments=[s for s in found["segments"] or [] if s is not None],
               csms=[c for c in found["csms"] or [] if c is not None])
    return out
