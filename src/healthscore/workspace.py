"""A workspace: a folder with ``healthscore.yaml`` and the DuckDB store it names."""

from __future__ import annotations

import glob
from contextlib import nullcontext
from pathlib import Path

from healthscore.config.models import WorkspaceConfig
from healthscore.config.scorecard import LoadedScorecard, load_scorecard
from healthscore.config.yamlfile import YamlDocument, load_model
from healthscore.errors import ConfigError, WorkspaceError
from healthscore.store import Store

CONFIG_FILE = "healthscore.yaml"

TEMPLATE = """\
# healthscore workspace — see docs/workspace.md and docs/sources.md
name: {name}
# Time zone of timestamps written without a UTC offset.
timezone: UTC
# The store (a DuckDB file), relative to this folder.
store: healthscore.duckdb

# Sources: each reads CSV, Parquet or JSON-lines files (paths and globs relative to this folder),
# or a table or query of a database (`database:`, docs/sources.md#databases), into one canonical
# table (docs/data.md). `columns` maps canonical columns onto the source's own column names; a
# canonical column with no entry is read from a column of the same name.
sources: {{}}
#  crm_accounts:
#    table: accounts
#    path: data/accounts.csv
#    columns:
#      account_id: Account ID
#      name: Account Name
#      arr: ARR                                   # "$48,000.00" is read as 48000
#      renewal_date: {{column: Renewal Date, format: "%m/%d/%Y"}}
#  product_events:
#    table: usage_events
#    path: data/events/*.parquet
#    columns:
#      timestamp: {{column: time, format: epoch_ms}}
#  helpdesk_tickets:
#    table: tickets
#    path: data/tickets.jsonl
#    columns:
#      account_id: organization.external_id      # a path into nested JSON
#      csat: {{column: satisfaction.score, map: {{good: 5, bad: 1}}}}
#  crm_database:
#    table: accounts
#    database:
#      url_env: CRM_DB_URL                        # postgresql://user@host:5432/crm (no password here)
#      table: public.companies                    # or query: "SELECT …"
#      cursor: updated_at                         # read only what changed since the last ingest
"""


#: How long commands wait for a store held by another process (the dashboard holds it for the
#: moment of a request; another job for as long as it runs).
STORE_WAIT = 30.0


class Workspace:
    """A workspace folder: its validated configuration and its store.

    Examples
    --------
    >>> ws = Workspace.open("demo/")            # doctest: +SKIP
    >>> ws.config.name                          # doctest: +SKIP
    'demo'
    """

    def __init__(self, root: Path, config: WorkspaceConfig, document: YamlDocument | None = None):
        self.root = root
        self.config = config
        self.document = document

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def store_path(self) -> Path:
        p = Path(self.config.store)
        return p if p.is_absolute() else self.root / p

    @classmethod
    def open(cls, path: Path | str) -> Workspace:
        """Open the workspace in folder ``path``; errors name the file, line and key."""
        root = Path(path)
        cfg = root / CONFIG_FILE
        if not cfg.is_file():
            raise WorkspaceError(f"{root}: not a healthscore workspace (no {CONFIG_FILE})",
                                 hint=f"create one with `healthscore init {root}`")
        doc, config = load_model(cfg, WorkspaceConfig, "workspace configuration",
                                 "name:, sources:, …")
        return cls(root, config, doc)

    @classmethod
    def init(cls, path: Path | str, *, name: str | None = None,
             config_text: str | None = None) -> Workspace:
        """Create a workspace in ``path``: a commented ``healthscore.yaml`` and an empty store."""
        root = Path(path)
        cfg = root / CONFIG_FILE
        if cfg.exists():
            raise WorkspaceError(f"{cfg} already exists",
                                 hint="use that workspace, or choose an empty folder")
        root.mkdir(parents=True, exist_ok=True)
        (root / "data").mkdir(exist_ok=True)
        text = config_text or TEMPLATE.format(name=name or root.resolve().name)
        cfg.write_text(text, encoding="utf-8")
        ws = cls.open(root)
        ws.store(create=True).close()
        return ws

    def scorecard_files(self) -> list[Path]:
        """The scorecard files the workspace's ``scorecards:`` patterns match, sorted."""
        found: set[Path] = set()
        for pattern in self.config.scorecards:
            full = Path(pattern) if Path(pattern).is_absolute() else self.root / pattern
            if glob.has_magic(str(full)):
                found.update(Path(p) for p in glob.glob(str(full)) if Path(p).is_file())
            elif full.is_file():
                found.add(full)
            else:
                raise ConfigError(f"{self.config_path}: scorecard file not found: {full}",
                                  hint="fix `scorecards:` in healthscore.yaml")
        return sorted(found)

    def scorecards(self, names: list[str] | None = None) -> list[LoadedScorecard]:
        """Load (and validate the shape of) the workspace's scorecards, optionally by name."""
        loaded = [load_scorecard(p) for p in self.scorecard_files()]
        seen: dict[str, Path] = {}
        for sc in loaded:
            if sc.name in seen:
                raise ConfigError(f"{sc.path}: scorecard name {sc.name!r} is also used by "
                                  f"{seen[sc.name]}", hint="give each scorecard its own name")
            seen[sc.name] = sc.path
        if names:
            unknown = [n for n in names if n not in seen]
            if unknown:
                raise ConfigError(f"no scorecard named {', '.join(map(repr, unknown))}",
                                  hint="the workspace has: " + (", ".join(seen) or "none"))
            loaded = [sc for sc in loaded if sc.name in names]
        return loaded

    def store_or(self, store: Store | None, *, read_only: bool = False):
        """``store`` as a context that leaves it open (a caller's store, shared by several
        steps), else the workspace's store, opened (for writing unless ``read_only``) and
        closed after."""
        return nullcontext(store) if store is not None else self.store(read_only=read_only)

    def store(self, *, create: bool = False, read_only: bool = False,
              wait: float = STORE_WAIT) -> Store:
        """Open the workspace's store (creating it when ``create``), waiting up to ``wait``
        seconds for another process that holds it (a job or a dashboard request)."""
        return Store(self.store_path, create=create or not self.store_path.exists(),
                     read_only=read_only, memory_limit=self.config.memory_limit, wait=wait)
