"""The backtests recorded in the store (``runs`` of kind ``backtest``): a list per scorecard
and version, and one with all its metrics."""

from __future__ import annotations

import json

from healthscore.errors import NotFound
from healthscore.read.reader import Reader

_HEAD = ("scorecard", "version", "horizon", "dates", "labelled", "churners", "censored", "auc",
         "auc_interval", "gini", "top_lift", "risk_rises", "warnings")


def backtests(r: Reader, scorecard: str | None = None) -> list[dict]:
    """Every finished backtest, newest first (optionally of one scorecard): its run id, when
    it ran, and its headline metrics."""
    out = []
    for row in r.rows("SELECT run_id, started_at, detail FROM runs WHERE kind = 'backtest' "
                      "AND status = 'ok' ORDER BY run_id DESC"):
        detail = json.loads(row["detail"] or "{}")
        if scorecard is not None and detail.get("scorecard") != scorecard:
            continue
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
    return {"id": run_id, "ran_at": found[0]["started_at"], **json.loads(found[0]["detail"])}
