"""An account's history and the portfolio's changes: trend, why, movers.

- :func:`trend`: an account's daily scores over a window, its band changes and its 7/30/90-day
  changes;
- :func:`why`: the change of an account's score between two snapshots, split exactly by measure
  (:func:`healthscore.scoring.change.explain_change`);
- :func:`movers`: the largest drops and rises of the portfolio, each with its top reason.
"""

from __future__ import annotations

from datetime import date, timedelta

from healthscore.errors import InputError, NotFound
from healthscore.read.dates import ACCOUNTS_AS_OF, account_cutoff, resolve
from healthscore.read.measures import measure_table, over_measures
from healthscore.read.reader import Reader, query_tables
from healthscore.read.scorecards import Card
from healthscore.read.status import churned_on, last_scored, not_scored, series_table
from healthscore.scoring.change import explain_change, with_reasons

_POINT = "as_of, score, band, grade, coverage, variant"
_KEY = "scorecard = ? AND version = ? AND account_id = ?"


def _positive(field: str, days: int) -> None:
    if days < 1:
        raise InputError(field, f"{days} is not a positive number of days")


def points(r: Reader, card: Card, account_id: str, start: date, end: date) -> list[dict]:
    """An account's snapshots from ``start`` to ``end`` (both included), oldest first (from
    the account-ordered series: a year is a few row groups, not a scan of every date)."""
    return r.rows(f"SELECT {_POINT} FROM {series_table(r)} WHERE {_KEY} "
                  "AND as_of BETWEEN ? AND ? ORDER BY as_of",
                  [card.name, card.version, account_id, start, end])


def at_dates(r: Reader, card: Card, account_id: str, dates: list[date]) -> dict[date, dict]:
    """An account's snapshots on the given dates (date → point; absent: not scored then), read
    from the account-ordered series (a few row groups, however long the history)."""
    if not dates:
        return {}
    marks = ", ".join("?" for _ in dates)
    return {p["as_of"]: p for p in r.rows(
        f"SELECT {_POINT} FROM {series_table(r)} WHERE {_KEY} AND as_of IN ({marks})",
        [card.name, card.version, account_id, *dates])}


def point(r: Reader, card: Card, account_id: str, day: date) -> dict | None:
    """An account's snapshot on ``day`` (None: not scored that day)."""
    return at_dates(r, card, account_id, [day]).get(day)


def last_on_or_before(r: Reader, card: Card, account_id: str, day: date | None
                      ) -> date | None:
    """The account's latest snapshot date on or before ``day`` (default: the version's latest
    date)."""
    day = day or resolve(r, card, None)
    return None if day is None else last_scored(r, card, account_id, day)


def deltas(r: Reader, card: Card, account_id: str, day: date) -> dict:
    """The account's score change over 7, 30 and 90 days up to ``day`` (None where it had no
    score then): four lookups of one date each."""
    back = {"7d": 7, "30d": 30, "90d": 90}
    dates = [day] + [day - timedelta(days=n) for n in back.values()]
    found = {d: p["score"] for d, p in at_dates(r, card, account_id, dates).items()}
    now = found.get(day)
    return {k: (now - found[d] if now is not None and found.get(d) is not None else None)
            for k, d in zip(back, dates[1:], strict=True)}


def band_changes(pts: list[dict]) -> list[dict]:
    """Where consecutive points change band: ``{"as_of", "from", "to"}``."""
    return [{"as_of": b["as_of"], "from": a["band"], "to": b["band"]}
            for a, b in zip(pts, pts[1:], strict=False) if a["band"] != b["band"]]


def trend(r: Reader, card: Card, account_id: str, *, days: int = 90,
          end: date | None = None) -> dict:
    """An account's daily scores over ``days`` up to ``end`` (default: the version's latest
    date), its band changes and its 7/30/90-day changes on ``end``.

    Returns ``{"points", "band_changes", "deltas", "end", "last_scored", "churned_on"}``: the
    deltas are those of the account's last snapshot in the window (``last_scored``, before
    ``end`` when it churned: ``churned_on`` says when). Raises :class:`NotFound` when the
    account has no snapshot in the window (saying when it churned and was last scored).
    """
    _positive("days", days)
    end = resolve(r, card, end, param="end")
    if end is None:
        raise NotFound(f"no {card.name} snapshots yet",
                       hint="score or backfill some dates first (healthscore backfill)")
    pts = points(r, card, account_id, end - timedelta(days=days), end)
    if not pts:
        raise not_scored(r, card, account_id, end, f"in the {days} days to {end}")
    last = pts[-1]["as_of"]  # before `end` when the account churned (or was not scored then)
    out = {"points": pts, "band_changes": band_changes(pts),
           "deltas": (_deltas_of(pts, last) if days >= 90 and last == end
                      else deltas(r, card, account_id, last)),
           "end": end, "last_scored": last, "churned_on": None}
    if last < end:
        churned = churned_on(r, account_id)
        out["churned_on"] = churned if churned is not None and churned <= end else None
    return out


def _deltas_of(pts: list[dict], day: date) -> dict:
    """:func:`deltas` from points that cover the 90 days before ``day``."""
    score = {p["as_of"]: p["score"] for p in pts}
    now = score.get(day)
    out = {}
    for key, n in (("7d", 7), ("30d", 30), ("90d", 90)):
        then = score.get(day - timedelta(days=n))
        out[key] = now - then if now is not None and then is not None else None
    return out


#: A measure's columns before (``a``) and after (``b``), side by side (also used by
#: :func:`healthscore.read.revisions.revision_change`).
PAIR = """coalesce(b."group", a."group") AS "group", coalesce(b.measure, a.measure) AS measure,
    a.raw_value AS raw_before, b.raw_value AS raw_after,
    a.score AS score_before, b.score AS score_after,
    coalesce(a.weight, 0) AS weight_before, coalesce(b.weight, 0) AS weight_after,
    coalesce(a.points, 0) AS points_before, coalesce(b.points, 0) AS points_after,
    coalesce(a.missing, true) AS missing_before, coalesce(b.missing, true) AS missing_after,
    a.override_id AS override_before, b.override_id AS override_after"""


def measure_pairs(r: Reader, card: Card, account_id: str, start: date, end: date
                  ) -> list[dict]:
    """Each measure of an account at two dates side by side (a full outer join)."""
    return over_measures(r, card.name, card.version, [start, end], f"""
        WITH a AS (SELECT * FROM snapshot_measures WHERE as_of = ?),
             b AS (SELECT * FROM snapshot_measures WHERE as_of = ?)
        SELECT {PAIR}
        FROM a FULL OUTER JOIN b USING (measure)
    """, [start, end], [account_id])


def why(r: Reader, card: Card, account_id: str, *, start: date | None = None,
        end: date | None = None, days: int = 30, window: list[dict] | None = None) -> dict:
    """Why the account's score changed, split exactly by measure: between the snapshots of
    ``start`` and ``end``, or, without ``start``, over the last ``days`` up to ``end``
    (default: the account's latest snapshot), from its first snapshot in that window.

    ``window`` may pass the account's points already read (oldest first, up to ``end``), so
    the window's start needs no query. Returns the explanation (``summary``, ``delta``,
    ``contributions`` …) with ``start`` and ``end``. Raises :class:`NotFound` when a snapshot
    is missing, naming the date and what exists.
    """
    _positive("days", days)
    if start is not None and end is not None and start >= end:
        raise InputError("start", f"start {start} must be before end {end}")
    if start is None:
        last = (end if window and end is not None and window[-1]["as_of"] == end
                else last_on_or_before(r, card, account_id, end))
        if last is None:
            raise not_scored(r, card, account_id, end, "")
        first = _window_start(r, card, account_id, last, days, window)
        if first is None:
            raise NotFound(f"no {card.name} change to explain for {account_id!r} over "
                           f"{days} days to {last}",
                           hint="the account needs two snapshots in the window "
                                "(healthscore backfill)")
        start, end = first, last
    elif end is None:
        raise InputError("end", "give both start and end, or neither (then `days` counts back "
                                "from the latest snapshot)")
    heads = at_dates(r, card, account_id, [start, end])
    for day in (start, end):
        if day not in heads:
            raise not_scored(r, card, account_id, day, f"on {day}")
    change = {"before": heads[start], "after": heads[end],
              "measures": measure_pairs(r, card, account_id, start, end)}
    out = explain_change(change, card.labels)
    out.update(start=start, end=end, revised=revised(r, card, account_id, [start, end]))
    return out


def revised(r: Reader, card: Card, account_id: str, dates: list[date]) -> list[dict]:
    """Which of the account's snapshots on ``dates`` were revised after late data, with the
    latest revision's words (:mod:`healthscore.read.revisions`): a change between them may
    come from the revision rather than from time passing."""
    marks = ", ".join("?" for _ in dates)
    found = r.rows(f"SELECT DISTINCT as_of FROM snapshot_revisions WHERE {_KEY} "
                   f"AND as_of IN ({marks}) ORDER BY 1",
                   [card.name, card.version, account_id, *dates])
    if not found:
        return []
    from healthscore.read.revisions import revisions  # it builds on this module

    out = []
    for x in found:
        latest = revisions(r, card, account_id, x["as_of"])[-1]
        out.append({"as_of": x["as_of"], "revised_at": latest["computed_at"],
                    "words": f"{x['as_of']} {latest['words']}"})
    return out


def why_many(r: Reader, card: Card, accounts: list[str], end: date, days: int = 30
             ) -> dict[str, dict]:
    """:func:`why` for many accounts scored on ``end`` at once (a few queries, whatever their
    number): account → the explanation of its change from its first snapshot in
    [end - days, end) to ``end``; accounts without one are left out. Same results as
    ``why(r, card, account, end=end, days=days)`` for each."""
    if not accounts:
        return {}
    lo = end - timedelta(days=days)
    key = [card.name, card.version]
    # daily history: most accounts were scored exactly `days` before (one date to read)
    starts = {x["account_id"]: lo for x in r.rows(
        "SELECT account_id FROM snapshots WHERE scorecard = ? AND version = ? AND as_of = ? "
        "AND list_contains(?, account_id)", [*key, lo, accounts])}
    rest = [a for a in accounts if a not in starts]
    if rest:
        starts.update({x["account_id"]: x["start"] for x in r.rows(
            "SELECT account_id, min(as_of) AS start FROM snapshots WHERE scorecard = ? AND "
            "version = ? AND as_of > ? AND as_of < ? AND list_contains(?, account_id) "
            "GROUP BY account_id", [*key, lo, end, rest])})
    if not starts:
        return {}
    names = list(starts)
    window = "SELECT unnest(?::VARCHAR[]) AS account_id, unnest(?::DATE[]) AS start"
    wparams = [names, [starts[a] for a in names]]
    dates = sorted(set(starts.values())) + [end]
    marks = ", ".join("?" for _ in dates)
    heads: dict[str, dict] = {}
    for p in r.rows(f"""
            WITH w AS ({window})
            SELECT s.account_id, s.as_of = w.start AS is_start, {', '.join(
                's.' + c.strip() for c in _POINT.split(','))}
            FROM snapshots s JOIN w USING (account_id)
            WHERE s.scorecard = ? AND s.version = ? AND s.as_of IN ({marks})
              AND (s.as_of = w.start OR s.as_of = ?)
            """, [*wparams, *key, *dates, end]):
        heads.setdefault(p.pop("account_id"), {})["before" if p.pop("is_start") else "after"] = p
    pairs: dict[str, list[dict]] = {}
    for m in over_measures(r, card.name, card.version, dates, f"""
            WITH w AS ({window}),
                 a AS (SELECT m.* FROM snapshot_measures m JOIN w ON m.account_id = w.account_id
                       AND m.as_of = w.start),
                 b AS (SELECT * FROM snapshot_measures WHERE as_of = ?)
            SELECT coalesce(b.account_id, a.account_id) AS account_id, {PAIR}
            FROM a FULL OUTER JOIN b USING (account_id, measure)
            """, [*wparams, end], names):
        pairs.setdefault(m.pop("account_id"), []).append(m)
    out = {}
    for account, head in heads.items():
        if "before" in head and "after" in head:
            found = explain_change({**head, "measures": pairs.get(account, [])}, card.labels)
            found.update(start=head["before"]["as_of"], end=end)
            out[account] = found
    return out


def _window_start(r: Reader, card: Card, account_id: str, last: date, days: int,
                  window: list[dict] | None) -> date | None:
    """The account's first snapshot in [last - days, last)."""
    lo = last - timedelta(days=days)
    if window is not None:
        return next((p["as_of"] for p in window if lo <= p["as_of"] < last), None)
    if point(r, card, account_id, lo) is not None:  # daily history: one lookup
        return lo
    return r.rows(f"SELECT min(as_of) AS d FROM {series_table(r)} WHERE {_KEY} "
                  "AND as_of >= ? AND as_of < ?",
                  [card.name, card.version, account_id, lo, last])[0]["d"]


#: Each account scored on both dates, its change, name and attributes (from the store).
_PAIRS_SQL = f"""
    SELECT b.account_id, a.score AS score_before, b.score AS score_after,
           b.score - a.score AS delta, a.band AS band_before, b.band AS band_after,
           n.name, n.csm, n.segment, n.arr
    FROM snapshots b JOIN snapshots a USING (scorecard, version, account_id)
    LEFT JOIN ({ACCOUNTS_AS_OF}) n USING (account_id)
    WHERE b.scorecard = ? AND b.version = ? AND b.as_of = ? AND a.as_of = ?
      AND a.score IS NOT NULL AND b.score IS NOT NULL
"""

#: The largest moves one way, each with the measure that moved it most that way (over the
#: pairs and the two dates' measure rows).
_MOVERS_SQL = """
    WITH moved AS (
        SELECT coalesce(mb.account_id, ma.account_id) AS account_id,
               coalesce(mb.measure, ma.measure) AS measure,
               coalesce(mb.points, 0) - coalesce(ma.points, 0) AS contribution,
               ma.raw_value AS raw_before, mb.raw_value AS raw_after
        FROM (SELECT * FROM snapshot_measures WHERE as_of = ?) mb
        FULL OUTER JOIN (SELECT * FROM snapshot_measures WHERE as_of = ?) ma
          USING (account_id, measure)
    ), top AS (
        -- arg_min/arg_max skip NULL arguments; a ranked row keeps a missing raw value
        SELECT * FROM moved
        QUALIFY row_number() OVER (PARTITION BY account_id
                                   ORDER BY contribution {order}, measure) = 1
    )
    SELECT p.account_id, p.score_before, p.score_after, p.delta, p.band_before,
           p.band_after, p.name, p.csm, p.segment, p.arr, t.measure AS top_measure,
           t.contribution AS top_contribution, t.raw_before AS top_raw_before,
           t.raw_after AS top_raw_after
    FROM p JOIN top t USING (account_id)
    WHERE p.delta {cmp} 0
    ORDER BY p.delta {order}, p.account_id
    LIMIT ?
"""


def movers(r: Reader, card: Card, *, days: int = 30, end: date | None = None,
           limit: int = 10) -> dict:
    """The largest drops and rises between ``end - days`` and ``end`` (default: the latest
    date), each with the measure that moved it most that way and that reason in words.

    Returns ``{"end", "start", "drops", "rises"}`` (empty lists when ``end - days`` has no
    snapshot to compare with)."""
    _positive("days", days)
    if not 1 <= limit <= 1000:
        raise InputError("limit", f"{limit} is not 1-1000")
    end = resolve(r, card, end, param="end")
    if end is None:
        return {"end": None, "start": None, "drops": [], "rises": []}
    start = end - timedelta(days=days)
    key = ("movers", card.name, card.version, start, end, limit)
    found = r.kept(key, lambda: _movers(r, card, start, end, limit))
    return {"end": end, "start": start,
            **with_reasons({"drops": [dict(x) for x in found["drops"]],
                            "rises": [dict(x) for x in found["rises"]]}, card.labels)}


def _movers(r: Reader, card: Card, start: date, end: date, limit: int) -> dict:
    d = [card.name, card.version]
    if not r.rows("SELECT 1 AS x FROM snapshots WHERE scorecard = ? AND version = ? "
                  "AND as_of = ? LIMIT 1", d + [start]):
        # nothing to compare with: skip the measure join (a second at 100,000 accounts)
        return {"drops": [], "rises": []}
    pairs = r.arrow(_PAIRS_SQL, account_cutoff(end) + d + [end, start])
    measures = measure_table(r, card.name, card.version, [start, end])
    tables = {"p": pairs, "snapshot_measures": measures}
    return {"drops": query_tables(tables, _MOVERS_SQL.format(cmp="<", order="ASC"),
                                  [end, start, limit]),
            "rises": query_tables(tables, _MOVERS_SQL.format(cmp=">", order="DESC"),
                                  [end, start, limit])}
