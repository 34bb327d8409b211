"""The engine's own contract: it runs on DuckDB, and says so clearly for any other backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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


def test_the_measures_read_the_active_accounts_computed_once_per_date(ws):
    """Each per-date measure's query reads the accounts active at the date from the table the
    evaluator fills once per date, instead of repeating the churn rules (accounts as of the
    cutoff, churned renewals) in every query; the scores are those of the rules themselves."""
    import ibis

    from healthscore.engine.evaluate import ACTIVE_TABLE
    from healthscore.workspace import Workspace

    Workspace.init(ws.root)
    card = Path(__file__).parents[2] / "src/healthscore/demo/scorecards/health.yaml"
    scorecard = Scorecard.model_validate(yaml.safe_load(card.read_text()))
    with ws.open().store(create=True) as store:
        ev = Evaluator(ibis.duckdb.from_connection(store.con), scorecard)
        assert len(ev.sql) >= 10  # the support, sentiment, relationship … measures
        for key, sql in ev.sql.items():
            assert f'"{ACTIVE_TABLE}"' in sql and '"renewals"' not in sql, key
        assert '"renewals"' in ev.sql_active and ACTIVE_TABLE not in ev.sql_active
