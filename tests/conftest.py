"""Shared fixtures: small real workspaces on disk with a real DuckDB store."""

from __future__ import annotations

import os
import subprocess
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from healthscore.sources import ingest
from healthscore.workspace import CONFIG_FILE, Workspace

#: Fixtures shared by several test folders: a served demo workspace (the REST API tests), a
#: small hand-built store of snapshots (the read and server tests), the browser set-up (web),
#: a scored workspace with alerts (the alerts API and page tests).
pytest_plugins = ("rest_server", "read_store", "web_site", "oracle_history", "alert_site",
                  "pg_server")

ROOT = Path(__file__).resolve().parents[1]


def copy_workspace(src: Path, dst: Path) -> Path:
    """Copy a workspace folder in a child process (``cp -a``), for a store a server of this
    process may hold open: POSIX locks belong to a process, and any open and close of the file
    by the same process (``shutil.copytree`` reading it) drops the lock DuckDB holds on it, so
    another process could then write under the server's open connection."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


def screenshot_folder() -> Path:
    """Where the browser tests save a screenshot of each page (git-ignored)."""
    return Path(os.environ.get("HS_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")


def pytest_terminal_summary(terminalreporter):
    """Name the screenshots folder at the end of the run (pytest captures the tests' prints,
    and with -n the workers' too)."""
    folder = screenshot_folder()
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_line(f"screenshots of the dashboard pages: {folder}")


#: The ingest clock used by tests (a seam we own): everything after it is "the future".
NOW = datetime(2026, 7, 1, 12, 0, 0)

ACCOUNTS_CSV = """\
account_id,name,plan,arr,seats,renewal_date,contract_start
A1,Acme,business,48000,50,2026-09-30,2024-10-01
A2,Beta,starter,6000,10,2026-12-31,2025-01-01
"""


#: A one-measure health scorecard: days since the last activity, 30 days scores 0.
RECENCY_SCORECARD = """\
name: health
groups:
  usage:
    measures:
      days_since_last_activity:
        scoring: {linear: {from: 30, to: 0}}
"""


class WS:
    """A workspace under construction in a temp folder."""

    def __init__(self, root: Path):
        self.root = root

    def file(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def config(self, *sources_yaml: str, **top: str) -> Path:
        """Write healthscore.yaml from source blocks (each dedented on its own)."""
        head = "\n".join(f"{k}: {v}" for k, v in {"name": "test", **top}.items())
        joined = "\n".join(textwrap.dedent(s).strip("\n") for s in sources_yaml)
        body = textwrap.indent(joined, "  ")
        return self.file(CONFIG_FILE, f"{head}\nsources:\n{body}\n")

    def open(self) -> Workspace:
        return Workspace.open(self.root)

    def ingest(self, **kw):
        kw.setdefault("now", NOW)
        return ingest(self.open(), **kw)

    def query(self, sql: str, params=None) -> list[tuple]:
        """Rows of ``sql`` on the store; ``snapshot_measures`` and ``snapshot_groups`` in it
        are the rows the read layer rebuilds (tests/history_rows.py)."""
        with self.open().store(read_only=True) as store:
            if "snapshot_measures" in sql or "snapshot_groups" in sql:
                from history_rows import registered

                registered(store)
            return store.con.execute(sql, params or []).fetchall()


@pytest.fixture
def ws(tmp_path: Path) -> WS:
    return WS(tmp_path / "ws")


ACCOUNTS_SOURCE = """
crm:
  table: accounts
  path: data/accounts.csv
"""
