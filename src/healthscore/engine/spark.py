"""The same scorecards on Apache Spark: measures as Ibis expressions run by Ibis's PySpark
backend over the canonical tables in Parquet (or a Spark catalog), scored by the same numpy
code as on DuckDB, written to the workspace's store (so ``explain``, ``why``, the pages and the
API read them as any other snapshot) and, when asked, to date-partitioned Parquet.

``healthscore.yaml``::

    engine:
      kind: spark
      tables: lake/            # one Parquet folder or file per canonical table (lake/usage_events/…)
      # database: crm_lake     # … or a Spark catalog database holding tables of those names
      master: local[*]         # or spark://host:7077, yarn, k8s://…
      conf: {spark.driver.memory: 4g}

What runs where: each date's measures are one Spark job (the active accounts left-joined with
every measure's query, the cutoff a literal), collected to the driver as Arrow, one row per
account; the scoring math (measure scores, weights, variants, bands) runs on the driver in numpy,
the very code DuckDB's path runs. The DuckDB fast paths (usage roll-ups, compiled plans) have no
Spark twin: Spark runs each measure's point-in-time Ibis expression, whose equality with the
fast paths the measure tests assert. See docs/scale.md.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from healthscore.config.scorecard import Scorecard
from healthscore.engine.evaluate import (
    _account_columns,
    active_overrides,
    measure_expr,
    measure_tables,
)
from healthscore.engine.freshness import ACTIVITY
from healthscore.errors import EngineError
from healthscore.measures.cutoff import cutoff_of, held_data
from healthscore.schemas import TABLES
from healthscore.scoring.frame import Evaluation, measure_key, score_frame

if TYPE_CHECKING:
    from healthscore.config.engine import EngineConfig

#: Spark SQL type of each canonical column type.
_SPARK_TYPES = {"string": "string", "integer": "bigint", "number": "double", "date": "date",
                "timestamp": "timestamp", "boolean": "boolean", "json": "string"}

#: The versioning columns of state tables (docs/store.md): a lake table without them holds one
#: current version of each row.
_STATE_COLUMNS = ("_valid_from", "_valid_to")


#: Spark's logging configuration while healthscore runs it (errors only).
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")

#: The lake's tables a Spark workspace's store keeps a copy of (replaced at each run): the
#: accounts, which every read names, and what the account page lists as recent activity.
STORE_COPIES = ("accounts", "tickets", "surveys", "touchpoints", "invoices")


def _spark_missing(what: str) -> EngineError:
    return EngineError(f"the Spark engine needs {what}",
                       hint="pip install 'healthscore[spark]' (PySpark; Java 17 from your "
                            "system's packages, e.g. apt-get install default-jre-headless)")


class SparkEngine:
    """A Spark session over the workspace's canonical tables, and the Ibis backend on it.

    The session is started on first use (seconds: a JVM starts) and stopped by :meth:`close`.
    Each canonical table is registered as a temporary view of its own name, its columns cast
    to the canonical types; a table the lake lacks is an empty view (its measures are missing,
    as on DuckDB), an optional column it lacks is NULL.
    """

    name = "spark"

    def __init__(self, cfg: EngineConfig, root: Path, *, store=None):
        self.cfg = cfg
        self.root = root
        self.store = store
        self._registered = False

    def evaluator(self, sc: Scorecard) -> SparkEvaluator:
        return SparkEvaluator(self, sc, store=self.store)

    @cached_property
    def session(self):
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise _spark_missing("Java (no `java` on PATH and no JAVA_HOME)")
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise _spark_missing("PySpark") from None
        # a session already running in this process (a notebook's, a test's) is used and left
        # running; one started here is stopped by close()
        self._owned = SparkSession.getActiveSession() is None
        builder = (SparkSession.builder.master(self.cfg.master).appName("healthscore")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", str(self.cfg.shuffle_partitions)))
        if "spark.driver.extraJavaOptions" not in self.cfg.conf:
            # errors only from Spark's JVM (it is launched with this session's settings)
            builder = builder.config("spark.driver.extraJavaOptions",
                                     f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}")
        for key, value in self.cfg.conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    @cached_property
    def backend(self):
        import ibis

        self.register()
        backend = ibis.pyspark.connect(self.session)
        backend.compiler = _compiler()
        return backend

    def register(self) -> None:
        """Register every canonical table as a view (once)."""
        if self._registered:
            return
        for spec in TABLES.values():
            self._view(spec).createOrReplaceTempView(spec.name)
        self._registered = True

    def _source(self, name: str):
        """The lake's DataFrame of table ``name``, or None when the lake has no such table."""
        spark = self.session
        if self.cfg.database:
            full = f"{self.cfg.database}.{name}"
            return spark.table(full) if spark.catalog.tableExists(full) else None
        folder = (self.root / self.cfg.tables).resolve()
        if not folder.is_dir():
            raise EngineError(f"engine.tables: {folder} is not a folder",
                              hint="point engine.tables at the folder holding one Parquet "
                                   "folder or file per canonical table (docs/scale.md), or "
                                   "write one from the store: healthscore lake -w WS --out DIR")
        for path in (folder / name, folder / f"{name}.parquet"):
            if path.exists():
                return spark.read.parquet(str(path))
        return None

    def _view(self, spec):
        """Table ``spec`` from the lake with the canonical columns and types."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import StructType

        df = self._source(spec.name)
        wanted = [(c.name, _SPARK_TYPES[c.type]) for c in spec.columns]
        if spec.kind == "state":
            wanted += [(c, "timestamp") for c in _STATE_COLUMNS]
        if df is None:
            schema = StructType.fromDDL(", ".join(f"`{n}` {t}" for n, t in wanted))
            return self.session.createDataFrame([], schema)
        have = set(df.columns)
        missing = [c.name for c in spec.columns if c.required and c.name not in have]
        if missing:
            raise EngineError(
                f"the lake's table {spec.name} lacks the required column(s) "
                f"{', '.join(missing)}",
                hint=f"see docs/data.md for the columns of {spec.name}")
        return df.select(*[
            (F.col(f"`{n}`") if n in have else F.lit(None)).cast(t).alias(n)
            for n, t in wanted])

    def stats(self) -> dict[str, tuple[int, object]]:
        """Rows and earliest time of every canonical table (one Spark job)."""
        parts = []
        for spec in TABLES.values():
            first = f"CAST(min(`{spec.time}`) AS STRING)" if spec.time else "NULL"
            parts.append(f"SELECT '{spec.name}' AS t, count(*) AS n, {first} AS first "
                         f"FROM {spec.name}")
        self.register()
        out = {}
        for row in self.session.sql(" UNION ALL ".join(parts)).collect():
            spec = TABLES[row["t"]]
            first = row["first"]
            if first is not None:
                kind = spec.column(spec.time).type
                first = (datetime.fromisoformat(first) if kind == "timestamp"
                         else date.fromisoformat(first[:10]))
            out[row["t"]] = (int(row["n"]), first)
        return out

    def table_ends(self, tables) -> dict[str, date]:
        """The last date each activity table in ``tables`` has a row for (as
        :func:`healthscore.engine.freshness.table_ends` on the store)."""
        names = [t for t in tables if t in ACTIVITY]
        if not names:
            return {}
        self.register()
        sql = " UNION ALL ".join(
            f"SELECT '{t}' AS t, CAST(max(`{TABLES[t].time}`) AS DATE) AS d FROM {t}"
            for t in names)
        return {r["t"]: r["d"] for r in self.session.sql(sql).collect() if r["d"] is not None}

    def sync_store(self) -> None:
        """Copy the lake's tables of :data:`STORE_COPIES` into the store, replacing what it
        held: the accounts (every version, with its validity), so the pages, ``explain``,
        ``movers`` and the exports name each account and show its segment, plan, ARR and CSM as
        on DuckDB; and the tickets, survey answers, touchpoints and invoices the account page
        lists. The other tables (the usage events above all) stay in the lake. Call inside the
        transaction that writes the scores."""
        import pyarrow as pa

        if self.store is None:
            return
        self.register()
        con = self.store.con
        for name in STORE_COPIES:
            df = self.session.table(name)
            table = (df.toArrow() if hasattr(df, "toArrow")  # PySpark 4; 3.5: the private one
                     else pa.Table.from_batches(df._collect_as_arrow(), schema=None))
            # Spark hands timestamps over in the session's zone (UTC); the store's are naive UTC
            table = table.cast(pa.schema([
                f.with_type(pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) else f
                for f in table.schema]))
            con.register("_hs_lake_copy", table)
            try:
                con.execute(f'DELETE FROM "{name}"')
                con.execute(f'INSERT INTO "{name}" BY NAME SELECT *, \'lake\' AS _source '
                            "FROM _hs_lake_copy")
            finally:
                con.unregister("_hs_lake_copy")

    def close(self) -> None:
        if "session" in self.__dict__:
            if self._owned:
                self.session.stop()
            del self.__dict__["session"]
            self.__dict__.pop("backend", None)
            self._registered = False


class SparkEvaluator:
    """Evaluates one scorecard on Spark for any as-of date: the interface of
    :class:`healthscore.engine.evaluate.Evaluator` (``arrays``, ``evaluate``,
    ``read_tables``, ``prepare``). Overrides are read from the workspace's store."""

    def __init__(self, engine: SparkEngine, sc: Scorecard, *, store=None):
        self.engine = engine
        self.sc = sc
        self.store = store
        self.resolved = {name: sc.resolve(name) for name in sc.variant_names()}
        self.measures = {}
        for r in self.resolved.values():
            for _, mid, cfg in r.measures():
                self.measures.setdefault(measure_key(mid, cfg), (mid, cfg))
        self.columns = _account_columns(sc, self.resolved)
        self.tables = {key: measure_tables(mid, cfg)
                       for key, (mid, cfg) in self.measures.items()}
        self.stats: dict | None = None

    @property
    def read_tables(self) -> set[str]:
        return {t for ts in self.tables.values() for t in ts}

    def prepare(self, dates) -> None:
        """Nothing to prepare: each date is one Spark job."""

    def _expressions(self, as_of: date):
        """The active accounts (with the variant and percentile columns), and every measure
        whose tables held data as one long table (measure key, account_id, value): a union,
        not a join of the measures, so no Spark task holds them all at once."""
        import ibis

        from healthscore.measures.base import MeasureContext

        if self.stats is None:
            self.stats = self.engine.stats()
        ctx = MeasureContext(self.engine.backend, as_of)
        present = [k for k in self.measures
                   if all(held_data(self.stats, t, as_of) for t in self.tables[k])]
        accounts = ctx.accounts().select("account_id", *self.columns)
        parts = []
        for key in present:
            m = measure_expr(ctx, *self.measures[key])
            parts.append(m.select(key=ibis.literal(key), account_id=m.account_id,
                                  value=m.value.cast("float64")))
        return accounts, (ibis.union(*parts) if parts else None)

    def arrays(self, as_of: date) -> dict[str, np.ndarray]:
        """The measure frame of ``as_of`` (see ``Evaluator.arrays``), computed by Spark."""
        accounts_expr, long_expr = self._expressions(as_of)
        table = accounts_expr.to_pyarrow()
        ids = np.asarray(table.column("account_id").to_pylist(), dtype=object)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        out: dict[str, np.ndarray] = {"account_id": ids}
        for col in self.columns:
            arr = np.asarray(table.column(col).to_pylist(), dtype=object)[order]
            if _numeric(table, col):
                arr = np.array([np.nan if v is None else v for v in arr], dtype=float)
            out[col] = arr
        n = len(ids)
        for key in self.measures:
            out[key] = np.full(n, np.nan)
        if long_expr is not None and n:
            rows = long_expr.to_pyarrow()
            keys = np.asarray(rows.column("key").to_pylist(), dtype=object)
            accs = np.asarray(rows.column("account_id").to_pylist(), dtype=object)
            vals = rows.column("value").to_numpy(zero_copy_only=False).astype(float)
            pos = np.searchsorted(ids, accs)  # ids are sorted
            known = ids[np.minimum(pos, n - 1)] == accs
            for key in set(keys.tolist()):
                rows_of = (keys == key) & known
                out[key][pos[rows_of]] = vals[rows_of]
        return out

    def overrides(self, as_of: date) -> list[dict]:
        if self.store is None:
            return []
        return active_overrides(self.store.con, cutoff_of(as_of), self.sc.name)

    def evaluate(self, as_of: date) -> Evaluation:
        return score_frame(self.sc, self.resolved, self.arrays(as_of), as_of,
                           self.overrides(as_of))


def _compiler():
    """Ibis's PySpark compiler, with epoch seconds kept to the microsecond as DuckDB's
    ``epoch()`` keeps them (Spark's ``unix_timestamp`` drops the fraction: a measure of days
    since a moment would differ by up to a second's worth, 1e-5 days)."""
    import ibis.expr.datatypes as dt
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    class Compiler(PySparkCompiler):
        def visit_ExtractEpochSeconds(self, op, *, arg):
            return self.f.unix_micros(self.cast(arg, dt.timestamp)) / 1_000_000

    return Compiler()


def _numeric(table, col: str) -> bool:
    import pyarrow.types as pat

    t = table.schema.field(col).type
    return pat.is_integer(t) or pat.is_floating(t) or pat.is_decimal(t)
