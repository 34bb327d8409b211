"""Churn-probability models and their predictions, written through the store inside the
caller's transaction: the model's row (dropping the predictions of the scorecard's earlier
model for the same target), then its predictions, a chunk of dates at a time."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pyarrow as pa

from healthscore.store.store import Store


def write_model(store: Store, prediction, *, run_id: int, at: datetime) -> None:
    """Store the model of ``prediction`` (a
    :class:`healthscore.validation.predict.Prediction`) and drop the predictions of the
    scorecard's earlier model for the same target; inside the caller's transaction."""
    from healthscore.validation.report import jsonable

    s = prediction.summary
    target = s["target"]["name"]
    con = store.con
    con.execute("DELETE FROM models WHERE model_version = ?", [prediction.model_version])
    con.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        prediction.model_version, prediction.scorecard, prediction.version, target,
        s["horizon"], s["train_until"], prediction.measures, s["base"], run_id, at,
        json.dumps(jsonable(s))])
    con.execute("DELETE FROM predictions WHERE scorecard = ? AND target = ?",
                [prediction.scorecard, target])


def append_predictions(store: Store, prediction, rows, contributions) -> int:
    """Add the model's probabilities of ``rows`` (account_id, as_of, probability, logit,
    in_sample) with their ``contributions``; the number written."""
    target = prediction.summary["target"]["name"]
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
        "contributions": pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(contributions, dtype=float).ravel()),
            max(1, len(prediction.measures))).cast(pa.list_(pa.float64()))
        if len(rows) else pa.array([], pa.list_(pa.float64())),
    })
    con = store.con
    con.register("_new_predictions", table)
    con.execute("INSERT INTO predictions SELECT * FROM _new_predictions")
    con.unregister("_new_predictions")
    return len(rows)

