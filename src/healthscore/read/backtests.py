"""The backtests recorded in the store (``runs`` of kind ``backtest``): a list per scorecard
and version, and one with all its metrics."""

from __future__ import annotations

import json

from healthscore.errors import NotFound
from healthscore.read.reader import Reader

_HEAD = ("scorecard", "version", "target", "horizon", "dates", "labelled", "events", "censored",
         "auc", "auc_interval", "gini", "top_lift", "bands_ordered", "warnings")


def backtests(r: Reader, scorecard: str | None = None) -> list[dict]:
    """Every finished backtest, newest first (optionally of one scorecard): its run id, when
    it ran, and its headline metrics."""
    out = []
    for row in r.rows("SELECT run_id, started_at, detail FROM runs WHERE kind = 'backtest' "
                      "AND status = 'ok' ORDER BY run_id DESC"):
        detail = json.loads(row["detail"] or "{}")
        if scorecard is not None and detail.get("scorecard") != scorecard:
            continue
        if "target" not in detail:  # recorded before expansion backtests: churn only
            detail |= {"target": {"name": "churn"}, "events": detail.get("churners")}
        out.append({"id": row["run_id"], "ran_at": row["started_at"],
                    **{k: detail.get(k) for k in _HEAD}})
    return out


def backtest_run(r: Reader, run_id: int) -> dict:
    """One recorded backtest with every metric; :class:`NotFound` for another id."""
    found = r.rows("SELECT run_id, started_at, detail FROM runs WHERE kind = 'backtest' "
                   "AND status = 'ok' AND run_id = ?", [run_id])
    if not found:
        raise NotFound(f"no backtest {run_id}",
                       hint="list them with GET /api/v1/backtests, or run healthscore backtest")
    detail = json.loads(found[0]["detail"])
    if "target" not in detail:
        raise NotFound(f"backtest {run_id} was recorded by an earlier healthscore, in a format "
                       "this one does not show",
                       hint=f"run it again: healthscore backtest -s {detail.get('scorecard')}")
    return {"id": run_id, "ran_at": found[0]["started_at"], **detail}
