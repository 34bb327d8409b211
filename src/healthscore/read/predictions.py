"""The churn model's answers, as the CLI, the API and the account page read them: the
latest model of a scorecard, and one account's probability with its reasons and history."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

from healthscore.errors import NotFound
from healthscore.formatting import raw_value
from healthscore.read.measures import over_measures
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card

#: How many reasons an explanation lists (the largest contributions either way).
TOP = 5


def latest_model(r: Reader, card: Card, target: str = "churn") -> dict | None:
    """The scorecard's model for ``target`` whose predictions are stored (its row of
    ``models``, ``detail`` parsed), or None before ``healthscore predict``."""
    rows = r.rows("""
        SELECT * FROM models WHERE scorecard = ? AND target = ? AND model_version IN (
            SELECT DISTINCT model_version FROM predictions WHERE scorecard = ? AND target = ?)
        ORDER BY trained_at DESC LIMIT 1""", [card.name, target, card.name, target])
    if not rows:
        return None
    model = rows[0]
    model["detail"] = json.loads(model["detail"]) if model.get("detail") else {}
    return model


def _need_model(r: Reader, card: Card, target: str) -> dict:
    model = latest_model(r, card, target)
    if model is None:
        raise NotFound(f"no {target} model for {card.name} yet",
                       hint=f"fit one: healthscore predict -s {card.name}")
    return model


def _words(label: str, value, change_90, contribution: float, target: str) -> str:
    odds = math.exp(contribution)
    moved = "" if change_90 is None or change_90 == 0 else \
        f", {'up' if change_90 > 0 else 'down'} {raw_value(abs(change_90))} in 90 days"
    shown = "no data" if value is None else raw_value(value)
    if abs(contribution) < 0.005:  # ×1.00 either way: say so, not "lowers"
        return f"{label}: {shown}{moved} — about an average account's {target} odds"
    direction = "raises" if contribution > 0 else "lowers"
    return (f"{label}: {shown}{moved} — {direction} the {target} odds "
            f"×{odds if odds >= 1 else 1 / odds:.2f}")


def account_prediction(r: Reader, card: Card, account_id: str, as_of: date | None = None,
                       target: str = "churn", top: int = TOP) -> dict:
    """One account's probability on ``as_of`` (default: its latest prediction) from the
    latest model, with its reasons (each measure's contribution in log-odds, largest first,
    in words) and its probability history. The contributions add up exactly to the log-odds
    less the model's base."""
    model = _need_model(r, card, target)
    where = "AND as_of = ?" if as_of is not None else ""
    params = [model["model_version"], account_id] + ([as_of] if as_of is not None else [])
    rows = r.rows(f"SELECT * FROM predictions WHERE model_version = ? AND account_id = ? "
                  f"{where} ORDER BY as_of DESC LIMIT 1", params)
    if not rows:
        raise NotFound(f"no {target} prediction for account {account_id!r}"
                       + (f" on {as_of}" if as_of else ""),
                       hint="check the account id; predictions exist for scored dates "
                            "(healthscore predict scores them all)", param="as_of")
    row = rows[0]
    day = row["as_of"]
    values = {f"{v['group']}.{v['measure']}": v for v in over_measures(
        r, card.name, model["version"], [day, day - timedelta(days=90)], """
        SELECT s."group", s.measure, s.raw_value AS value,
               s.raw_value - p.raw_value AS change_90d
        FROM snapshot_measures s LEFT JOIN snapshot_measures p
          ON p.account_id = s.account_id AND p."group" = s."group"
         AND p.measure = s.measure AND p.as_of = s.as_of - 90
        WHERE s.as_of = ?""", [day], [account_id])}
    reasons = []
    for mid, c in zip(model["measures"], row["contributions"], strict=True):
        v = values.get(mid, {})
        label = card.labels.get(mid.split(".", 1)[1], mid)
        reasons.append({"measure": mid, "label": label, "value": v.get("value"),
                        "change_90d": v.get("change_90d"), "contribution": c,
                        "odds_factor": math.exp(c),
                        "words": _words(label, v.get("value"), v.get("change_90d"), c,
                                        target)})
    reasons.sort(key=lambda x: -abs(x["contribution"]))
    history = r.rows("SELECT as_of, probability, in_sample FROM predictions WHERE "
                     "model_version = ? AND account_id = ? ORDER BY as_of",
                     [model["model_version"], account_id])
    check = model["detail"].get("check", {})
    return {"account_id": account_id, "as_of": day, "target": target,
            "probability": row["probability"], "logit": row["logit"],
            "in_sample": row["in_sample"], "base": model["base"],
            "base_probability": 1 / (1 + math.exp(-model["base"])),
            "model": {"model_version": model["model_version"],
                      "trained_at": model["trained_at"], "train_until": model["train_until"],
                      "horizon": model["horizon"],
                      "check_auc": check.get("model", {}).get("auc"),
                      "score_auc": check.get("score", {}).get("auc")},
            "reasons": reasons[:top], "contributions": reasons, "history": history}


def predictions_on(r: Reader, card: Card, dates: list[date], target: str = "churn") -> dict:
    """The latest model's log-odds for every account on ``dates`` (out of its training period
    only) — for the backtest to set the model beside the score: ``{"model": row or None,
    "rows": [{account_id, as_of, logit}]}``. Only a model of the card's version counts."""
    model = latest_model(r, card, target)
    if model is None or model["version"] != card.version:
        return {"model": model, "rows": []}
    rows = r.rows("SELECT account_id, as_of, logit FROM predictions WHERE model_version = ? "
                  "AND NOT in_sample AND list_contains(?, as_of)",
                  [model["model_version"], dates])
    return {"model": model, "rows": rows}
