"""A real, throw-away PostgreSQL server for the database source and export tests.

Debian's ``postgresql`` package (installed by ``make test``) provides ``initdb`` and
``pg_ctl``; each pytest worker starts its own server on a free port with a data folder in a
temporary directory, and stops it at the end of the session. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user the package creates. Where the
binaries are missing the tests that need the server are skipped with the reason printed (``make
test`` and ``.ci/run`` install them, so in CI they run).

Fixtures: ``postgres`` (the server, session-wide) and ``pg_url`` (a fresh empty database on it
per test, as a ``postgresql://`` URL).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_databases = itertools.count(1)


def pg_bin(name: str) -> str | None:
    """The path of a PostgreSQL server program (Debian keeps them out of PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL server: ``start()``, ``url(db)``, ``create_database()``, ``stop()``."""

    user = "hs"

    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL's initdb/pg_ctl not found (apt-get install "
                                    "postgresql; `make test` does it)")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.tmp = Path(tempfile.mkdtemp(prefix="hs-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:  # the server may not run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PgServer:
        if self.as_root:
            shutil.chown(self.tmp, "postgres", "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--no-locale")
        opts = (f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.tmp / "log"), "-o", opts,
                  "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    try:
        server = PgServer().start()
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or ""
        pytest.skip(f"no PostgreSQL server could be started: {e} {detail}".strip())
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.create_database()
