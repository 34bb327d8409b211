"""The engine's own contract: it runs on DuckDB, and says so clearly for any other backend."""

from __future__ import annotations

import pytest

from healthscore.config.scorecard import Scorecard
from healthscore.engine import Evaluator
from healthscore.errors import EngineError


def test_another_backend_is_refused_with_a_typed_error():
    class Spark:  # an Ibis backend's name is all the evaluator looks at before compiling
        name = "pyspark"

    scorecard = Scorecard.model_validate({
        "name": "health", "groups": {"usage": {"weight": 1, "measures": {
            "tenure_days": {"scoring": {"linear": {"from": 0, "to": 365}}}}}}})
    with pytest.raises(EngineError, match="'pyspark' backend is not supported yet") as err:
        Evaluator(Spark(), scorecard)
    assert "duckdb" in err.value.hint
