"""Faults of the disk, the store file and the configuration: each ends in one clear sentence
and an exit code, never a traceback, and the data stored before stays as it was.

A full disk and a read-only file system are real: a small tmpfs mounted for the test (the
tests run as root, as CI does; elsewhere those two cases are skipped, the rest still run).
"""

from __future__ import annotations

import os
import stat
import subprocess
import tracemalloc
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import RECENCY_SCORECARD, WS
from healthscore.cli import app as cli
from healthscore.config.yamlfile import MAX_BYTES, load_yaml
from healthscore.errors import ConfigError, StoreError
from healthscore.store.store import Store

ACCOUNTS = ("account_id,name,arr,contract_start\n"
            "A1,Acme,1000,2025-01-01\nA2,Beta,2000,2025-01-01\nA3,Gamma,3000,2025-01-01\n")
EVENTS = ("account_id,event,timestamp\nA1,login,2026-06-01T10:00:00Z\n"
          "A2,login,2026-05-20T10:00:00Z\nA3,login,2026-05-02T10:00:00Z\n")


def _run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _workspace(root: Path) -> WS:
    ws = WS(root)
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.file("data/events.csv", EVENTS)
    ws.file("scorecards/health.yaml", RECENCY_SCORECARD)
    ws.config("crm: {table: accounts, path: data/accounts.csv}",
              "events: {table: usage_events, path: data/events.csv}")
    assert _run("ingest", "-w", str(root)).exit_code == 0
    assert _run("score", "-w", str(root), "--as-of", "2026-06-02").exit_code == 0
    return ws


@pytest.fixture
def tmpfs(tmp_path: Path):
    """Mount a small tmpfs (root only); yields a function that remounts it with options."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)

    yield where, remount
    subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file until the disk holding ``folder`` is full; the file's path."""
    filler = folder / "filler.bin"
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    # fill the last bytes too, so that even a small write fails
    try:
        with open(folder / "filler2.bin", "wb") as fh:
            while True:
                fh.write(b"\0" * 512)
                fh.flush()
    except OSError:
        pass
    return filler


def _scored_dates(root: Path) -> list[str]:
    with Store(root / "healthscore.duckdb", read_only=True) as store:
        return [str(r[0]) for r in store.con.execute(
            "SELECT DISTINCT as_of FROM snapshots ORDER BY 1").fetchall()]


def test_disk_full_says_so_and_keeps_the_scores(tmpfs):
    where, _ = tmpfs
    root = where / "ws"
    ws = _workspace(root)
    before = _scored_dates(root)
    rows_before = ws.query("SELECT count(*) FROM usage_events")[0][0]
    more = "".join(f"A{i % 3 + 1},login,2026-06-{i % 28 + 1:02d}T10:00:00Z\n"
                   for i in range(30000))
    (root / "data/events.csv").write_text(EVENTS + more, encoding="utf-8")
    _fill(where)
    result = _run("ingest", "-w", str(root))
    assert result.exit_code == 1
    assert "the disk is full" in result.output
    assert "stored before are as they were" in result.output
    assert "free space on the disk holding" in result.output
    result = _run("score", "-w", str(root), "--as-of", "2026-06-20")
    assert result.exit_code == 1 and "the disk is full" in result.output, result.output
    for f in where.glob("filler*.bin"):
        f.unlink()
    assert _scored_dates(root) == before == ["2026-06-02"]
    assert ws.query("SELECT count(*) FROM usage_events")[0][0] == rows_before == 3
    # with space again, the same commands work
    assert _run("ingest", "-w", str(root)).exit_code == 0
    assert ws.query("SELECT count(*) FROM usage_events")[0][0] > rows_before


def test_read_only_store_is_named_and_reads_still_work(tmpfs):
    where, remount = tmpfs
    root = where / "ws"
    _workspace(root)
    (root / "data/events.csv").write_text(EVENTS + "A1,login,2026-06-02T10:00:00Z\n")
    remount("ro")
    try:
        result = _run("ingest", "-w", str(root))
        assert result.exit_code == 1
        assert "cannot be written here (the file or its folder is read-only)" in result.output
        assert "another healthscore process" not in result.output
        status = _run("status", "-w", str(root))
        assert status.exit_code == 0, status.output
        assert "ingest" in status.output
    finally:
        remount("rw")


def test_corrupted_store_is_named_not_busy(tmp_path):
    root = tmp_path / "ws"
    _workspace(root)
    store = root / "healthscore.duckdb"
    data = bytearray(store.read_bytes())
    data[5000:7000] = os.urandom(2000)  # inside the first data block: its checksum fails
    store.write_bytes(bytes(data))
    for verb in ("status", "ingest"):
        result = _run(verb, "-w", str(root))
        assert result.exit_code == 1, result.output
        assert "the store file is damaged" in result.output
        assert "healthscore ingest --full" in result.output  # how to rebuild it
        assert "another healthscore process" not in result.output


def test_a_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "x.duckdb"
    path.write_text("hello, not a database")
    with pytest.raises(StoreError, match="damaged"):
        Store(path)


@pytest.mark.parametrize("args", [
    ["export", "-o", "{missing}/scores.csv"],
    ["backtest", "--json", "{missing}/b.json"],
    ["quarantine", "--csv", "{missing}/q.csv"],
])
def test_missing_output_folder_is_one_sentence(tmp_path, args):
    root = tmp_path / "ws"
    _workspace(root)
    missing = tmp_path / "no" / "such"
    result = _run(*[a.format(missing=missing) for a in args], "-w", str(root))
    assert result.exit_code == 1, result.output
    assert f"the folder {missing} does not exist" in result.output
    assert f"mkdir -p {missing}" in result.output


def test_export_to_a_folder_is_refused(tmp_path):
    root = tmp_path / "ws"
    _workspace(root)
    result = _run("export", "-w", str(root), "-o", str(tmp_path), "--format", "csv")
    assert result.exit_code == 1 and "is a folder" in result.output


def test_store_and_its_wal_are_private(tmp_path):
    """The store file and the write-ahead log DuckDB writes beside it are 0600 whatever the
    umask (the WAL exists while a write is not yet checkpointed)."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "s.duckdb"
        store = Store(path, create=True)
        with store.transaction() as con:
            con.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
        wal = path.with_name(path.name + ".wal")
        assert wal.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        store.close()
        # the umask is the process's own again once the store is done with it
        probe = tmp_path / "other.txt"
        probe.write_text("x")
        assert stat.S_IMODE(probe.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_full_ingest_of_unchanged_files_changes_nothing(ws):
    """`ingest --full` re-reads every file; versions known from a date column of the file
    (valid_from) are the stored ones again: nothing new, nothing changed, run ids kept."""
    ws.file("data/crm/accounts_2026-01-31.csv",
            "account_id,name,arr,snapshot\nA1,Acme,1000,2026-01-31\nA2,Beta,2000,2026-01-31\n")
    ws.file("data/crm/accounts_2026-02-28.csv",
            "account_id,name,arr,snapshot\nA1,Acme,1500,2026-02-28\nA2,Beta,2000,2026-02-28\n")
    ws.config("crm: {table: accounts, path: data/crm/accounts_*.csv, "
              "valid_from: {column: snapshot}}")
    first = ws.ingest()
    # versions of new keys: A1 1000 then 1500, A2 once (its second row says the same)
    assert (first.written.inserted, first.written.updated, first.written.unchanged) == (3, 0, 1)
    versions = ws.query("SELECT account_id, arr, _run_id, _valid_from FROM accounts ORDER BY ALL")
    assert len(versions) == 3  # A1 twice (1000, then 1500), A2 once
    again = ws.ingest(full=True)
    written = again.written
    assert (written.inserted, written.updated, written.unchanged) == (0, 0, 4)
    assert ws.query("SELECT account_id, arr, _run_id, _valid_from FROM accounts "
                    "ORDER BY ALL") == versions


ALIAS_BOMB = """\
name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path):
    """Nine lines whose aliases expand to 9^9 = 387 M strings (4.6 GB when built): refused
    while the Python heap grows by under 20 MB (tracemalloc, in this process)."""
    (tmp_path / "healthscore.yaml").write_text(ALIAS_BOMB)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="aliases .* expand to more than 100,000"):
            load_yaml(tmp_path / "healthscore.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    result = _run("status", "-w", str(tmp_path))
    assert result.exit_code == 2
    assert "healthscore.yaml: its aliases (*name) expand to more than 100,000 values" \
        in result.output


def test_yaml_aliases_within_reason_still_work(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {weight: 2, scoring: percentile}\none: *b\ntwo: *b\n")
    assert load_yaml(path).data["two"] == {"weight": 2, "scoring": "percentile"}


def test_yaml_over_the_size_cap_and_too_deep(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match="more than a configuration file may be"):
        load_yaml(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("x: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_yaml(deep)


def test_health_reports_a_broken_scorecard_as_degraded(tmp_path):
    from fastapi.testclient import TestClient

    from healthscore.server import create_app

    root = tmp_path / "ws"
    _workspace(root)
    client = TestClient(create_app(root), base_url="http://localhost")
    ok = client.get("/api/v1/health")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json()["scorecards"] == ["health"]
    (root / "scorecards/health.yaml").write_text(RECENCY_SCORECARD + "  oops: [\n")
    bad = client.get("/api/v1/health")
    assert bad.status_code == 503
    body = bad.json()
    assert body["ok"] is False and body["status"] == "degraded"
    assert body["error"] == "a scorecard cannot be loaded"
    assert body["errors"][0]["reason"].startswith("scorecards/health.yaml:8: not valid YAML")
    assert str(tmp_path) not in bad.text  # the server's own paths stay its own
