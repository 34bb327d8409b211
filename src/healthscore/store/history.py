"""The history half of the store's write path: snapshots and their revisions, the
account-ordered series, and compiled plans.

A mixin of :class:`healthscore.store.store.Store` (which holds the connection and
:meth:`~healthscore.store.store.Store.transaction`); kept apart so each module reads on its own.
The layout it writes is :mod:`healthscore.store.values`.
"""

from __future__ import annotations

from datetime import datetime

from healthscore import clock
from healthscore.store.schema import SERIES_FILL
from healthscore.store.values import values_ddl, values_table


class HistoryWrites:
    """Writes of scores: snapshots, revisions, the series, compiled plans (see the module)."""

    # -- snapshots -------------------------------------------------------------------------

    #: Re-sort the account-ordered series once this many dates were appended since the last
    #: sort (each appended date is read whole by a one-account history: ~3 ms at 100k accounts).
    SERIES_UNSORTED_MAX = 7

    def write_snapshot(self, *, scorecard: str, version: str, definition: str,
                       source_file: str | None, as_of, run_id: int, computed_at: datetime,
                       accounts, values, overrides, replace: bool = True,
                       series: bool = True) -> int:
        """Store the snapshot of (scorecard, version, as_of) from Arrow tables (the compact
        history, :mod:`healthscore.store.values`).

        ``accounts`` has account_id, variant, score, band, grade, coverage; ``values`` has
        account_id and the version's value columns (DOUBLE); ``overrides`` has account_id,
        measure, score, override_id. Call inside :meth:`transaction`: a failure leaves the
        earlier snapshot in place. When the date was scored before and the result differs,
        the earlier one is kept as a revision (``snapshot_revisions``, values marked
        ``superseded_at``); when it is the same, the stored rows stay as they are and nothing is
        written. ``replace=False`` skips looking for an earlier snapshot: only for a caller
        that knows there is none (a backfill of missing dates). ``series=False`` leaves the
        account-ordered series alone: only for a caller that has marked it not ready and
        rebuilds it (:meth:`rebuild_series`), as a backfill does. Returns the accounts written.
        """
        known = self.con.execute(
            "SELECT count(*) FROM scorecard_versions WHERE scorecard = ? AND version = ?",
            [scorecard, version]).fetchall()[0][0]
        if not known:
            self.con.execute("INSERT INTO scorecard_versions VALUES (?, ?, ?, ?, ?)",
                             [scorecard, version, definition, source_file, computed_at])
        table = values_table(scorecard, version)
        columns = [c for c in values.column_names if c != "account_id"]
        self.con.execute(values_ddl(table, columns))
        key = [scorecard, version, as_of]
        self.con.register("_snap_accounts", accounts)
        self.con.register("_snap_values", values)
        self.con.register("_snap_overrides", overrides)
        try:
            if replace and self._snapshot_exists(key):
                if self._same_snapshot(key, table, columns):
                    return 0
                self._supersede(key, table, run_id, computed_at, series)
            self.con.execute(
                "INSERT INTO snapshots SELECT ?, ?, ?, account_id, variant, score, band, grade,"
                " coverage, ?, ? FROM _snap_accounts", key + [run_id, computed_at])
            picks = "".join(f', "{c}"' for c in columns)
            self.con.execute(f'INSERT INTO "{table}" SELECT ?, account_id, ?, NULL{picks} '
                             "FROM _snap_values", [as_of, computed_at])
            self.con.execute(
                "INSERT INTO snapshot_overrides SELECT ?, ?, ?, account_id, measure, score, "
                "override_id, ?, NULL FROM _snap_overrides", key + [computed_at])
            if series:
                self.con.execute(
                    "INSERT INTO snapshot_series SELECT ?, ?, account_id, ?, variant, score, "
                    "band, grade, coverage FROM _snap_accounts", key)
        finally:
            for name in ("_snap_accounts", "_snap_values", "_snap_overrides"):
                self.con.unregister(name)
        return accounts.num_rows

    def _snapshot_exists(self, key: list) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM snapshots WHERE scorecard = ? AND version = ? "
            "AND as_of = ? LIMIT 1)", key).fetchall()[0][0])

    def _same_snapshot(self, key: list, table: str, columns: list[str]) -> bool:
        """Whether the registered new snapshot equals the stored one (heads, values,
        overrides), compared by an order-free sum of row hashes."""
        head = "hash(account_id, variant, score, band, grade, coverage)"
        vals = "hash(account_id" + "".join(f', "{c}"' for c in columns) + ")"
        over = "hash(account_id, measure, score, override_id)"
        where = "scorecard = ? AND version = ? AND as_of = ?"
        old = self.con.execute(f"""
            SELECT (SELECT (count(*), sum({head})) FROM snapshots WHERE {where}),
                   (SELECT (count(*), sum({vals})) FROM "{table}"
                    WHERE as_of = ? AND superseded_at IS NULL),
                   (SELECT (count(*), sum({over})) FROM snapshot_overrides
                    WHERE {where} AND superseded_at IS NULL)""",
                               key + [key[2]] + key).fetchall()[0]
        new = self.con.execute(f"""
            SELECT (SELECT (count(*), sum({head})) FROM _snap_accounts),
                   (SELECT (count(*), sum({vals})) FROM _snap_values),
                   (SELECT (count(*), sum({over})) FROM _snap_overrides)""").fetchall()[0]
        return old == new

    def _supersede(self, key: list, table: str, run_id: int, at: datetime,
                   series: bool) -> None:
        """Keep the stored snapshot of ``key`` as a revision superseded at ``at`` by
        ``run_id``: its head moves to ``snapshot_revisions``, its values and overrides are
        marked superseded; the series (current scores only) drops it."""
        where = "scorecard = ? AND version = ? AND as_of = ?"
        self.con.execute(f"INSERT INTO snapshot_revisions SELECT *, ?, ? FROM snapshots "
                         f"WHERE {where}", [at, run_id] + key)
        self.con.execute(f"DELETE FROM snapshots WHERE {where}", key)
        self.con.execute(f'UPDATE "{table}" SET superseded_at = ? WHERE as_of = ? '
                         "AND superseded_at IS NULL", [at, key[2]])
        self.con.execute(f"UPDATE snapshot_overrides SET superseded_at = ? WHERE {where} "
                         "AND superseded_at IS NULL", [at] + key)
        if series:
            self.con.execute(f"DELETE FROM snapshot_series WHERE {where}", key)

    def forget_snapshot(self, scorecard: str, as_of) -> dict[str, int]:
        """Delete every version's snapshot of ``scorecard`` on ``as_of`` with its revisions
        (scores, values, overrides, the account-ordered series); returns the accounts removed
        per version. Call inside :meth:`transaction`."""
        key = [scorecard, as_of]
        removed = dict(self.con.execute(
            "SELECT version, count(*) FROM snapshots WHERE scorecard = ? AND as_of = ? "
            "GROUP BY version ORDER BY version", key).fetchall())
        versions = [r[0] for r in self.con.execute(
            "SELECT DISTINCT version FROM scorecard_versions WHERE scorecard = ?",
            [scorecard]).fetchall()]
        for version in versions:
            table = values_table(scorecard, version)
            if self._has_table(table):
                self.con.execute(f'DELETE FROM "{table}" WHERE as_of = ?', [as_of])
        for table in ("snapshots", "snapshot_revisions", "snapshot_overrides",
                      "snapshot_series"):
            self.con.execute(f"DELETE FROM {table} WHERE scorecard = ? AND as_of = ?", key)
        return removed

    # -- compiled plans (engine/plan.py) ----------------------------------------------------

    #: Plans kept per store (the newest): a scorecard edited many times leaves no pile behind.
    PLANS_KEPT = 32

    def compiled_plan(self, key: str) -> str | None:
        """The plan stored under ``key`` (JSON), or None."""
        rows = self.con.execute('SELECT plan FROM compiled_plans WHERE "key" = ?',
                                [key]).fetchall()
        return rows[0][0] if rows else None

    def save_plan(self, key: str, scorecard: str, plan: str) -> None:
        """Keep a compiled plan for the next run (and only the newest PLANS_KEPT)."""
        with self.transaction():
            self.con.execute('INSERT OR REPLACE INTO compiled_plans VALUES (?, ?, ?, ?)',
                             [key, scorecard, clock.now(), plan])
            self.con.execute(f"""DELETE FROM compiled_plans WHERE "key" NOT IN (
                SELECT "key" FROM compiled_plans ORDER BY created_at DESC, "key"
                LIMIT {self.PLANS_KEPT})""")

    def _has_table(self, name: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND "
            "table_name = ?", [name]).fetchall()[0][0])

    # -- the account-ordered series ------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def series_ready(self) -> bool:
        """Whether ``snapshot_series`` holds every snapshot (reads may use it)."""
        return self._meta("series_ready") == "true"

    def series_not_ready(self) -> None:
        """Mark the series incomplete (committed at once): reads use ``snapshots`` until
        :meth:`rebuild_series`. A backfill calls this before writing dates without it."""
        with self.transaction():
            self.con.execute("UPDATE meta SET value = 'false' WHERE key = 'series_ready'")

    def rebuild_series(self) -> None:
        """Rebuild ``snapshot_series`` from ``snapshots``, sorted by account, and mark it ready."""
        with self.transaction():
            self.con.execute(SERIES_FILL)
            self.con.execute("UPDATE meta SET value = CASE key WHEN 'series_ready' THEN 'true' "
                             "ELSE '0' END WHERE key IN ('series_ready', 'series_unsorted')")

    def tidy_series(self, appended: int = 0) -> None:
        """After a write that appended ``appended`` dates to the series (whatever the number
        of scorecards): rebuild it when it is not ready (an interrupted backfill), or re-sort
        it when more than :data:`SERIES_UNSORTED_MAX` dates were appended since the last
        sort."""
        if appended:
            with self.transaction():
                self.con.execute("UPDATE meta SET value = CAST(value::INT + ? AS VARCHAR) "
                                 "WHERE key = 'series_unsorted'", [appended])
        if not self.series_ready() or int(self._meta("series_unsorted") or 0) \
                > self.SERIES_UNSORTED_MAX:
            self.rebuild_series()
