"""Turning a chunk of the demo company into export files shaped like real tools write them.

:class:`Sink` owns the open files: one CSV writer per CSV file (appended to chunk by chunk, the
header written once), one Parquet part file of usage events per chunk, and the tickets JSONL.
The ``*_table`` functions format one chunk's numpy columns into those files' columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import formats as fm
from . import words
from .company import Chunk
from .portfolio import account_names
from .signals import TOUCH_KINDS, Columns
from .timeline import to_date
from .usage import FEATURE_NAMES, NEVER_S

ACCOUNTS_DIR = "data/crm/accounts"
EVENTS_DIR = "data/product/events"
EVENTS_GLOB = f"{EVENTS_DIR}/part-*.parquet"
TICKETS = "data/helpdesk/tickets.jsonl"
#: Rows per Parquet row group (a part file holds one chunk, ~500k events: one or two groups).
ROW_GROUP = 500_000

_S = pa.string()
_I = pa.int64()

#: Every CSV file: relative path → column names and types, in file order.
CSV_SCHEMAS: dict[str, pa.Schema] = {
    "data/product/users.csv": pa.schema([("user_id", _S), ("account_id", _S), ("role", _S),
                                         ("created_at", _S), ("deactivated_at", _S)]),
    "data/surveys/nps.csv": pa.schema([("Account", _S), ("User", _S), ("Score", _I),
                                       ("Submitted", _S), ("Comment", _S)]),
    "data/surveys/csat.csv": pa.schema([("account_id", _S), ("user_id", _S), ("score", _I),
                                        ("responded_at", _I)]),
    "data/billing/invoices.csv": pa.schema([
        ("Invoice Number", _S), ("Customer ID", _S), ("Amount", _S), ("Currency", _S),
        ("Invoice Date", _S), ("Due Date", _S), ("Paid Date", _S)]),
    "data/crm/touchpoints.csv": pa.schema([("account_id", _S), ("type", _S), ("date", _S),
                                           ("owner", _S)]),
    "data/crm/contacts.csv": pa.schema([("account_id", _S), ("contact_id", _S), ("role", _S),
                                        ("name", _S), ("active_from", _S), ("active_to", _S)]),
    "data/lms/trainings.csv": pa.schema([("account_id", _S), ("user_id", _S), ("course", _S),
                                         ("completed_at", _S)]),
    "data/marketing/advocacy.csv": pa.schema([("account_id", _S), ("kind", _S),
                                              ("occurred_at", _S)]),
    "data/cs/outcomes.csv": pa.schema([("account_id", _S), ("goal", _S), ("achieved_at", _S)]),
    "data/cs/pulses.csv": pa.schema([("account_id", _S), ("value", _S), ("author", _S),
                                     ("comment", _S), ("at", _S)]),
    "data/crm/renewals.csv": pa.schema([("account_id", _S), ("renewal_date", _S),
                                        ("outcome", _S), ("arr_before", _I),
                                        ("arr_after", _I)]),
}

ACCOUNT_SCHEMA = pa.schema([
    ("Account ID", _S), ("Account Name", _S), ("Plan", _S), ("Segment", _S),
    ("Lifecycle Stage", _S), ("ARR", _S), ("Seats", _I), ("CSM", _S), ("Renewal Date", _S),
    ("Contract Start", _S), ("Churn Date", _S), ("Industry", _S), ("Snapshot Date", _S),
])

EVENT_SCHEMA = pa.schema([("account", _S), ("user", _S), ("event_name", _S),
                          ("time", pa.int64()), ("count", pa.int32())])


def snapshot_path(day: int) -> str:
    return f"{ACCOUNTS_DIR}/accounts_{to_date(day).isoformat()}.csv"


class Sink:
    """The open output files of one run, and how many rows went into each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rows: dict[str, int] = {}
        self._csv: dict[str, tuple[BinaryIO, pacsv.CSVWriter]] = {}
        self._text: dict[str, BinaryIO] = {}

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _open(self, rel: str) -> BinaryIO:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb")  # noqa: SIM115 - closed in close()

    def csv(self, rel: str, table: pa.Table) -> None:
        if rel not in self._csv:
            fh = self._open(rel)
            self._csv[rel] = (fh, pacsv.CSVWriter(fh, table.schema))
            self.rows[rel] = 0
        self._csv[rel][1].write_table(table)
        self.rows[rel] += table.num_rows

    def lines(self, rel: str, lines: pa.Array) -> None:
        """Append text lines (each already ending in a newline) straight from Arrow memory."""
        if rel not in self._text:
            self._text[rel] = self._open(rel)
            self.rows[rel] = 0
        self.rows[rel] += len(lines)
        if len(lines) == 0:
            return
        arr = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset: arr.offset + len(arr) + 1]
        data = memoryview(arr.buffers()[2])
        self._text[rel].write(data[offsets[0]:offsets[-1]])

    def parquet(self, rel: str, table: pa.Table, key: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd")
        self.rows[key] = self.rows.get(key, 0) + table.num_rows

    def close(self) -> None:
        for fh, writer in self._csv.values():
            writer.close()
            fh.close()
        for fh in self._text.values():
            fh.close()
        self._csv.clear()
        self._text.clear()


class ChunkText:
    """Id and name strings of one chunk, built once and taken by row."""

    def __init__(self, ch: Chunk, csm_names: pa.Array) -> None:
        pf, users = ch.pf, ch.users
        self.account = fm.ids("ACC-", pf.number, 6)
        self.names = account_names(pf)
        self.user = fm.join("U-", fm.padded(pf.number[users.account], 6), "-",
                            fm.padded(users.rank, 4))
        self.csm = csm_names

    def acc(self, rows: np.ndarray) -> pa.Array:
        return self.account.take(pa.array(rows, pa.int64()))

    def usr(self, idx: np.ndarray) -> pa.Array:
        return self.user.take(pa.array(idx, pa.int64()))

    def csm_of(self, idx: np.ndarray) -> pa.Array:
        return self.csm.take(pa.array(idx, pa.int64()))


def _table(schema: pa.Schema, columns: list) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(c, f.type) if not isinstance(c, pa.Array) else c.cast(f.type)
         for c, f in zip(columns, schema, strict=True)], schema=schema)


def accounts_table(ch: Chunk, tx: ChunkText, day: int) -> pa.Table:
    """The CRM export as it looked on ``day``: every account that was a customer by then."""
    pf, ct = ch.pf, ch.contract
    rows = np.nonzero(pf.start <= day)[0]
    churn = np.where(ct.churn <= day, ct.churn, -1)[rows]
    return _table(ACCOUNT_SCHEMA, [
        tx.acc(rows),
        pa.array(tx.names[rows], _S),
        fm.lookup(words.PLANS, ct.plan_at(pf, day)[rows]),
        fm.lookup(words.SEGMENTS, pf.segment[rows]),
        fm.lookup(words.LIFECYCLE, ct.lifecycle_at(pf, day)[rows]),
        fm.money(ct.arr_at(pf, day)[rows]),
        ct.seats_at(pf, day)[rows],
        tx.csm_of(pf.csm_at(day)[rows]),
        fm.dates(ct.next_renewal_at(pf, day)[rows], "%m/%d/%Y"),
        fm.dates(pf.start[rows], "%m/%d/%Y"),
        fm.dates(churn, "%m/%d/%Y"),
        fm.lookup(words.INDUSTRIES, pf.industry[rows]),
        pa.array([to_date(day).isoformat()] * len(rows), _S),
    ])


def users_table(ch: Chunk, tx: ChunkText) -> pa.Table:
    u = ch.users
    deact = np.where(u.deactivated_s >= NEVER_S, -1, u.deactivated_s)
    return _table(CSV_SCHEMAS["data/product/users.csv"], [
        tx.user, tx.acc(u.account), fm.lookup(words.USER_ROLES, u.role),
        fm.iso_seconds(u.created_s), fm.iso_seconds(deact)])


def events_table(tx: ChunkText, ev: Columns) -> pa.Table:
    return _table(EVENT_SCHEMA, [tx.acc(ev["account"]), tx.usr(ev["user"]),
                                 fm.lookup(FEATURE_NAMES, ev["feature"]), ev["time_ms"],
                                 ev["count"]])


def ticket_lines(ch: Chunk, tx: ChunkText, t: Columns, first_id: int) -> pa.Array:
    """Help-desk export lines: nested JSON, created_at in the customer's UTC offset."""
    rows = t["account"]
    names = pa.array([json.dumps(str(x), ensure_ascii=False) for x in tx.names], _S)
    subjects = [json.dumps(s, ensure_ascii=False) for s in words.TICKET_SUBJECTS]
    solved = fm.join('"', fm.iso_local(t["closed_s"], np.zeros(len(rows))), '"')
    return fm.join(
        '{"id": ', fm.padded(first_id + np.arange(len(rows)), 1),
        ', "subject": ', fm.lookup(subjects, t["subject"]),
        ', "organization": {"external_id": "', tx.acc(rows),
        '", "name": ', names.take(pa.array(rows, pa.int64())),
        '}, "created_at": "', fm.iso_local(t["opened_s"], ch.pf.offset_min[rows]),
        '", "solved_at": ', solved.fill_null("null"),
        ', "priority": "P', fm.padded(t["priority"] + 1, 1),
        '", "satisfaction_rating": {"score": "',
        fm.lookup(("good", "bad", "offered"), t["rating"]), '"}}\n',
    )


def nps_table(tx: ChunkText, s: Columns) -> pa.Table:
    comments = [c for bucket in words.NPS_COMMENTS for c in bucket]
    return _table(CSV_SCHEMAS["data/surveys/nps.csv"], [
        tx.acc(s["account"]), tx.usr(s["user"]), s["score"],
        fm.strftime_seconds(s["time_s"], "%m/%d/%Y %H:%M"), fm.lookup(comments, s["comment"])])


def csat_table(tx: ChunkText, s: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/surveys/csat.csv"], [
        tx.acc(s["account"]), tx.usr(s["user"]), s["score"], s["time_s"]])


def invoices_table(tx: ChunkText, inv: Columns, first_seq: int) -> pa.Table:
    year = inv["issued"].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    number = fm.join("INV-", fm.padded(year, 4), "-",
                     fm.padded(first_seq + np.arange(len(year)), 7))
    return _table(CSV_SCHEMAS["data/billing/invoices.csv"], [
        number, tx.acc(inv["account"]), fm.money(inv["amount"]),
        pa.array(["USD"] * len(year), _S), fm.dates(inv["issued"]), fm.dates(inv["due"]),
        fm.dates(inv["paid"])])


def touchpoints_table(tx: ChunkText, tp: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/crm/touchpoints.csv"], [
        tx.acc(tp["account"]), fm.lookup(TOUCH_KINDS, tp["kind"]),
        fm.iso_seconds(tp["time_s"]), tx.csm_of(tp["owner"])])


def contacts_table(ch: Chunk, tx: ChunkText, c: Columns) -> pa.Table:
    firsts = [f.capitalize() for f in words.FIRST_NAMES]
    return _table(CSV_SCHEMAS["data/crm/contacts.csv"], [
        tx.acc(c["account"]),
        fm.join("C-", fm.padded(ch.pf.number[c["account"]], 6), "-", fm.padded(c["number"], 2)),
        fm.lookup(words.CONTACT_ROLES, c["role"]),
        fm.join(fm.lookup(firsts, c["first"]), " ",
                fm.lookup(words.CONTACT_LAST_NAMES, c["last"])),
        fm.dates(c["since"]), fm.dates(c["until"])])


def trainings_table(tx: ChunkText, t: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/lms/trainings.csv"], [
        tx.acc(t["account"]), tx.usr(t["user"]), fm.lookup(words.COURSES, t["course"]),
        fm.iso_seconds(t["time_s"])])


def advocacy_table(tx: ChunkText, a: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/marketing/advocacy.csv"], [
        tx.acc(a["account"]), fm.lookup(("review", "referral", "case_study"), a["kind"]),
        fm.iso_seconds(a["time_s"])])


def outcomes_table(tx: ChunkText, o: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/cs/outcomes.csv"], [
        tx.acc(o["account"]), fm.lookup(words.GOALS, o["goal"]), fm.iso_seconds(o["time_s"])])


def pulses_table(tx: ChunkText, p: Columns) -> pa.Table:
    comments = [c for bucket in words.PULSE_COMMENTS for c in bucket]
    return _table(CSV_SCHEMAS["data/cs/pulses.csv"], [
        tx.acc(p["account"]), fm.lookup(("red", "yellow", "green"), p["value"]),
        tx.csm_of(p["author"]), fm.lookup(comments, p["comment"]), fm.iso_seconds(p["time_s"])])


def renewals_table(tx: ChunkText, r: Columns) -> pa.Table:
    return _table(CSV_SCHEMAS["data/crm/renewals.csv"], [
        tx.acc(r["account"]), fm.dates(r["day"]), fm.lookup(words.OUTCOMES, r["outcome"]),
        np.round(r["before"]).astype(np.int64), np.round(r["after"]).astype(np.int64)])

