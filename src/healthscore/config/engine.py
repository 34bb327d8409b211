"""``engine:`` in healthscore.yaml: where scorecards run (DuckDB, the default, or Spark)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from healthscore.config.base import _Model


class EngineConfig(_Model):
    """The engine that computes the measures (docs/scale.md)."""

    kind: Literal["duckdb", "spark"] = Field(
        "duckdb", description="`duckdb`: the workspace's store (the default). `spark`: the "
        "canonical tables in Parquet or a Spark catalog, through PySpark "
        "(pip install 'healthscore[spark]', Java 17).")
    tables: str | None = Field(
        None, description="Spark: the folder (relative to the workspace, or absolute; any path "
        "Spark reads, e.g. s3a://…) holding one Parquet folder or file per canonical table "
        "(`usage_events/`, `accounts.parquet` …), columns as in docs/data.md.")
    database: str | None = Field(
        None, description="Spark: a catalog database holding tables named like the canonical "
        "tables (instead of `tables`).")
    master: str = Field("local[*]", description="Spark: the master URL (`local[*]`, "
                        "`spark://host:7077`, `yarn`, `k8s://…`).")
    conf: dict[str, str] = Field(
        default_factory=dict, description="Spark: extra session settings "
        "(`spark.driver.memory: 8g`).")
    output: str | None = Field(
        None, description="A folder (relative to the workspace, or absolute) where every date "
        "`score`, `backfill` and `run` score is also written as date-partitioned Parquet, "
        "scores and per-measure rows (`scores/scorecard=health/as_of=2026-10-31/…`, the "
        "layout of `healthscore export --to FOLDER --measures`, docs/bi.md), for tools that "
        "read a lake. Either engine; the store keeps the snapshots too.")
    shuffle_partitions: int = Field(
        8, ge=1, description="Spark: `spark.sql.shuffle.partitions` (raise it on a cluster).")

    @model_validator(mode="after")
    def _where(self) -> EngineConfig:
        if self.kind == "spark" and (self.tables is None) == (self.database is None):
            raise ValueError("[at engine] the Spark engine reads the canonical tables from "
                             "`tables` (a Parquet folder) or `database` (a Spark catalog "
                             "database): set exactly one")
        if self.kind == "duckdb" and (self.tables or self.database):
            raise ValueError("[at engine] `tables` and `database` are for `kind: spark`; "
                             "DuckDB reads the workspace's store")
        return self
