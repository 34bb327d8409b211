"""A scorecard's measures compiled to SQL once, and kept in the store for the next run.

Compiling the measures' Ibis expressions to DuckDB SQL costs about a second per scorecard
(tens of expression trees rewritten and translated), more than the whole work of scoring a
thousand accounts. The SQL depends only on the scorecard's definition, on the code of the
measures and the engine, on the Ibis and DuckDB releases, and on the columns of the store's
tables, so it is compiled the first time and kept in the store (``compiled_plans``), keyed by a
hash of all of those; a later run with the same key reads it back instead. Anything that could
change the SQL changes the key, and a plan that no longer matches is simply compiled again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from healthscore.measures.rollup import BatchMeasure, Need, Span
from healthscore.schemas import TABLES
from healthscore.store.schema import PLANS_SINCE

#: Bump when the plan's JSON layout changes.
PLAN_FORMAT = 2  # 2: measures read the active accounts from engine/evaluate.ACTIVE_TABLE

#: The code whose change can change a compiled plan (relative to the package).
#: A stored plan also vouches that the scorecard passed engine/check.py (see stored_plan).
_CODE = ("measures", "engine/evaluate.py", "engine/plan.py", "engine/check.py", "schemas.py",
         "config/scorecard.py", "config/columns.py")


@cache
def code_fingerprint() -> str:
    """A hash of the measure and engine code and of the Ibis and DuckDB releases."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{PLAN_FORMAT}".encode())
    for dist in ("ibis-framework", "duckdb", "sqlglot"):
        try:
            digest.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(dist.encode())
    for rel in _CODE:
        path = package / rel
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(f.relative_to(package).as_posix().encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def plan_key(con, definition: str) -> str:
    """The key of a scorecard's plan on the store of ``con``: code, definition, table columns."""
    columns = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND list_contains(?, table_name) "
        "ORDER BY table_name, ordinal_position", [sorted(TABLES)]).fetchall()
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(definition.encode())
    digest.update(json.dumps(columns).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Plan:
    """What scoring runs, as SQL: the active accounts with the variant and percentile columns,
    each per-date measure's query (the cutoff read from a DuckDB variable, the active accounts
    from the table :data:`healthscore.engine.evaluate.ACTIVE_TABLE`), each batch
    measure's aggregates and expression, and the tables whose absence makes a measure missing."""

    sql_accounts: str
    sql_active: str
    sql: dict[str, str]
    batch: dict[str, BatchMeasure]
    tables: dict[str, tuple[str, ...]]

    def to_json(self) -> str:
        def need(n: Need | Span) -> dict:
            if isinstance(n, Span):
                return {"span": n.source}
            return {"kind": n.kind, "window": n.window,
                    "features": None if n.features is None else list(n.features)}

        return json.dumps({
            "format": PLAN_FORMAT, "sql_accounts": self.sql_accounts,
            "sql_active": self.sql_active, "sql": self.sql,
            "batch": {k: {"expr": b.expr, "needs": [need(n) for n in b.needs]}
                      for k, b in self.batch.items()},
            "tables": {k: list(v) for k, v in self.tables.items()}})

    @classmethod
    def from_json(cls, text: str) -> Plan | None:
        """The plan, or None when it was written in another format or cannot be read (it is
        then compiled again: a plan is only ever a cache)."""
        try:
            return cls._parse(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def _parse(cls, d: dict) -> Plan | None:
        if d.get("format") != PLAN_FORMAT:
            return None

        def need(n: dict) -> Need | Span:
            if "span" in n:
                return Span(n["span"])
            return Need(n["kind"], n["window"],
                        None if n["features"] is None else tuple(n["features"]))

        return cls(d["sql_accounts"], d["sql_active"], d["sql"],
                   {k: BatchMeasure(tuple(need(n) for n in b["needs"]), b["expr"])
                    for k, b in d["batch"].items()},
                   {k: tuple(v) for k, v in d["tables"].items()})


def stored_plan(store, sc) -> Plan | None:
    """The plan ``store`` holds for scorecard ``sc`` under today's key, else None.

    Plans are written only for scorecards that passed their check, and the key covers the
    check's code and the scorecard's definition: a scorecard with a stored plan needs no
    check again (the library it would load costs more than scoring a thousand accounts)."""
    if store.schema_version() < PLANS_SINCE:  # an older store opened read-only
        return None
    text = store.compiled_plan(plan_key(store.con, sc.model_dump_json()))
    return Plan.from_json(text) if text else None
