"""The workspace store: one DuckDB file; every write goes through :class:`Store`."""

from healthscore.store.store import Store, WriteCounts

__all__ = ["Store", "WriteCounts"]
