"""Any bytes as a source file: the ingest loads rows, quarantines rows or leaves the file out
with a reason — it never raises for what a file holds, and never loses a valid row.

Each example is a valid header and rows followed by arbitrary bytes (junk lines, a cut-off
quote, bytes that are not UTF-8, NULs). The valid rows come first, so every one of them must
be loaded unless the whole file was left out (which the report then says, with a reason).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ACCOUNTS_CSV, NOW
from healthscore.errors import SourceError
from healthscore.sources import ingest
from healthscore.workspace import Workspace

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

junk = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xe9", b"\xff", b"{", b"}",
                              b"A1", b" ", b"2026-06-01", b"\xc3\xa9", b"[1]"]),
             max_size=60).map(b"".join),
)


def _run(fmt: str, valid: list[bytes], tail: bytes):
    root = Path(tempfile.mkdtemp(prefix="hs-fuzz-"))
    try:
        (root / "data").mkdir()
        (root / "data/accounts.csv").write_text(ACCOUNTS_CSV)
        (root / f"data/events.{fmt}").write_bytes(b"".join(valid) + tail)
        (root / "healthscore.yaml").write_text(
            "name: fuzz\nsources:\n  crm: {table: accounts, path: data/accounts.csv}\n"
            f"  ev: {{table: usage_events, path: data/events.{fmt}, max_rejected: 1}}\n")
        report = ingest(Workspace.open(root), now=NOW)
        with Workspace.open(root).store(read_only=True) as store:
            ids = {r[0] for r in store.con.execute(
                "SELECT event FROM usage_events").fetchall()}
            accounts = store.con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
        return report, ids, accounts
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check(report, ids: set[str], accounts: int, n: int) -> None:
    assert accounts == 2  # the other source always loads
    if report.failed_files:
        (failed,) = report.failed_files
        assert failed[2].startswith("data/events.") and failed[3]  # named, with a reason
        return
    assert {f"e{i}" for i in range(n)} <= ids  # no valid row is lost
    assert report.rows_read >= n


@SETTINGS
@given(n=st.integers(0, 5), tail=junk)
def test_any_bytes_after_valid_csv_rows(n, tail):
    valid = [b"account_id,event,timestamp\n"] + [
        f"A1,e{i},2026-06-01T10:00:0{i}Z\n".encode() for i in range(n)]
    # A quote the junk opens may swallow the last valid row's line end: end it safely.
    report, ids, accounts = _run("csv", valid, b"\n" + tail)
    _check(report, ids, accounts, n)


@SETTINGS
@given(n=st.integers(0, 5), tail=junk)
def test_any_bytes_after_valid_json_lines(n, tail):
    valid = [f'{{"account_id": "A1", "event": "e{i}", "timestamp": "2026-06-01T10:00:0{i}Z"}}\n'
             .encode() for i in range(n)]
    report, ids, accounts = _run("jsonl", valid, tail)
    _check(report, ids, accounts, n)


@SETTINGS
@given(data=st.binary(max_size=400))
def test_any_bytes_as_a_whole_csv_file(data):
    """Without a valid header the only error allowed is the designed one: the file's header
    lacks the required columns, a mapping to fix (a SourceError naming them); nothing is
    written then."""
    try:
        report, _ids, accounts = _run("csv", [], data)
    except SourceError as exc:
        assert "no column" in str(exc) and "(required)" in str(exc)
        return
    assert accounts == 2
    for _source, _table, file, why in report.failed_files:
        assert file == "data/events.csv" and why
