"""Churn-probability models and their predictions, written through the store in one
transaction: the model's row, then its predictions replacing those of the scorecard's earlier
model for the same target."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pyarrow as pa

from healthscore.store.store import Store


def write_prediction(store: Store, prediction, *, run_id: int, at: datetime) -> int:
    """Store ``prediction`` (a :class:`healthscore.validation.predict.Prediction`): its model
    and its rows; the number of rows written."""
    from healthscore.validation.report import jsonable

    s = prediction.summary
    target = s["target"]["name"]
    rows = prediction.rows
    table = pa.table({
        "model_version": pa.array([prediction.model_version] * len(rows), pa.string()),
        "scorecard": pa.array([prediction.scorecard] * len(rows), pa.string()),
        "target": pa.array([target] * len(rows), pa.string()),
        "as_of": pa.array(rows["as_of"].to_numpy(), pa.date32()) if len(rows) else
        pa.array([], pa.date32()),
        "account_id": pa.array(rows["account_id"].astype(str).to_numpy(), pa.string()),
        "probability": pa.array(rows["probability"].to_numpy(dtype=float)),
        "logit": pa.array(rows["logit"].to_numpy(dtype=float)),
        "in_sample": pa.array(rows["in_sample"].to_numpy(dtype=bool)),
        "contributions": pa.array(list(np.asarray(prediction.contributions, dtype=float)),
                                  pa.list_(pa.float64())),
    })
    with store.transaction() as con:
        con.execute("DELETE FROM models WHERE model_version = ?", [prediction.model_version])
        con.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            prediction.model_version, prediction.scorecard, prediction.version, target,
            s["horizon"], s["train_until"], prediction.measures, s["base"], run_id, at,
            json.dumps(jsonable(s))])
        con.execute("DELETE FROM predictions WHERE scorecard = ? AND target = ?",
                    [prediction.scorecard, target])
        con.register("_new_predictions", table)
        con.execute("INSERT INTO predictions SELECT * FROM _new_predictions")
        con.unregister("_new_predictions")
    return len(rows)
