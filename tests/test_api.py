"""The public Python API: what `import healthscore` offers is pinned."""

import healthscore


def test_public_names_are_pinned():
    assert healthscore.__all__ == [
        "TABLES", "BackfillReport", "Column", "ConfigError", "DailyRun", "EngineError",
        "Evaluation", "HealthScoreError", "IngestReport", "InputError", "NotFound",
        "OutputError", "QuarantineError", "SchemaError", "ScoreRun", "Scorecard", "SourceError",
        "SourceReport", "Store", "StoreBusy", "StoreError", "Table", "Workspace",
        "WorkspaceError", "WriteCounts", "__version__", "backfill", "backtest", "check", "explain",
        "generate_demo", "ingest", "predict", "preview", "run_daily", "score", "scores", "suggest_weights"]
    for name in healthscore.__all__:
        assert getattr(healthscore, name) is not None


def test_errors_share_one_root_and_subclass_builtins():
    assert issubclass(healthscore.ConfigError, (healthscore.HealthScoreError, ValueError))
    assert issubclass(healthscore.SourceError, (healthscore.HealthScoreError, OSError))
    assert issubclass(healthscore.WorkspaceError, FileNotFoundError)
    assert healthscore.ConfigError("x").exit_code == 2
    assert healthscore.SourceError("x").exit_code == 1
