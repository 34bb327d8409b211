"""Events are stored month by month, so a date filter skips the row groups of other months.

Each ingest appends its new events ordered by month, account and time (an account's events of a
month together keep the ids in a row group few); whether an event is already stored is looked up
among the stored events of the staged ones' time range only, and, for events with an
``event_id``, among every stored event with an id. These tests read the tables in their stored
order (``rowid``) after ingests of files whose rows are out of order.
"""

from datetime import datetime, timedelta

from conftest import ACCOUNTS_CSV, ACCOUNTS_SOURCE, NOW

# Out of order within the file and across the two files (read in order of path).
MAY_JUNE = """\
account_id,user_id,event,timestamp
A2,u2,login,2026-06-20T10:00:00Z
A1,u1,login,2026-05-20T10:00:00Z
A2,u2,login,2026-05-02T09:00:00Z
A1,u1,report.created,2026-06-01T10:05:00Z
A1,u1,login,2026-06-10T08:00:00Z
"""
READ_FIRST = """\
account_id,user_id,event,timestamp
A2,u2,export,2026-06-02T09:00:00Z
A1,u1,login,2026-05-21T10:00:00Z
"""


def _events(ws, *files: tuple[str, str]) -> None:
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    for rel, text in files:
        ws.file(rel, text)
    ws.config(ACCOUNTS_SOURCE, "events: {table: usage_events, path: data/events/*.csv}")


def _stored(ws) -> list[tuple[datetime, str, str]]:
    """The events as they lie in the table (insertion order), not sorted by the query."""
    return ws.query('SELECT "timestamp", account_id, event FROM usage_events ORDER BY rowid')


def _days(ws) -> list[tuple[str, str]]:
    return [(ts.strftime("%m-%d"), a) for ts, a, _ in _stored(ws)]


def _written(report):
    events = next(s for s in report.sources if s.table == "usage_events")
    return events.written.inserted, events.written.unchanged


def test_one_ingest_stores_its_events_by_month_then_account_then_time(ws):
    _events(ws, ("data/events/1-may-june.csv", MAY_JUNE), ("data/events/0.csv", READ_FIRST))
    ws.ingest()
    assert _days(ws) == [("05-20", "A1"), ("05-21", "A1"), ("05-02", "A2"),
                         ("06-01", "A1"), ("06-10", "A1"), ("06-02", "A2"), ("06-20", "A2")]


def test_a_full_reingest_adds_nothing_and_keeps_the_order(ws):
    _events(ws, ("data/events/1-may-june.csv", MAY_JUNE), ("data/events/0.csv", READ_FIRST))
    ws.ingest()
    before = _stored(ws)
    report = ws.ingest(now=NOW + timedelta(hours=1), full=True)
    assert _written(report) == (0, 7)
    assert _stored(ws) == before


def test_a_later_file_keeps_every_new_event_and_appends_it_in_order(ws):
    """The later file holds new events after the stored ones, one new event inside the stored
    range, one older than every stored event (a late export), and two already stored: the five
    new ones are appended after the stored ones, in their own order; the two stored ones are not
    loaded again."""
    _events(ws, ("data/events/1-may-june.csv", MAY_JUNE))
    ws.ingest()
    ws.file("data/events/2-late.csv", """\
        account_id,user_id,event,timestamp
        A2,u2,login,2026-06-30T09:00:00Z
        A1,u1,login,2026-05-20T10:00:00Z
        A1,u1,export,2026-06-28T10:00:00Z
        A1,u1,login,2026-04-15T10:00:00Z
        A2,u2,login,2026-06-20T10:00:00Z
        A2,u2,report.created,2026-06-10T08:00:00Z
        A1,u1,login,2026-06-29T11:00:00Z
        """)
    report = ws.ingest(now=NOW + timedelta(hours=1))
    assert _written(report) == (5, 2)
    assert _days(ws) == [
        # the first ingest
        ("05-20", "A1"), ("05-02", "A2"), ("06-01", "A1"), ("06-10", "A1"), ("06-20", "A2"),
        # the second, appended
        ("04-15", "A1"), ("06-28", "A1"), ("06-29", "A1"), ("06-10", "A2"), ("06-30", "A2")]
    assert _written(ws.ingest(now=NOW + timedelta(hours=2), full=True)) == (0, 10)


def test_an_event_resent_with_another_time_still_loads_once_by_its_id(ws):
    """O-1 comes again in a later file with a corrected time, weeks after every stored event's:
    it is the same event (its id), found although it lies outside the new file's time range;
    the stored row is kept as it was. Without an id, the same change is a new event."""
    ws.file("data/accounts.csv", ACCOUNTS_CSV)
    ws.file("data/orders/1.csv", "order_id,account_id,event,timestamp\n"
                                 "O-2,A1,purchase,2026-06-03T10:00:00Z\n"
                                 "O-1,A1,purchase,2026-06-01T10:00:00Z\n")
    ws.file("data/plain/1.csv", "account_id,event,timestamp\nA1,visit,2026-06-01T10:00:00Z\n")
    ws.config(ACCOUNTS_SOURCE,
              "orders:\n  table: usage_events\n  path: data/orders/*.csv\n"
              "  columns: {event_id: order_id}",
              "plain: {table: usage_events, path: data/plain/*.csv}")
    ws.ingest()
    ws.file("data/orders/2.csv", "order_id,account_id,event,timestamp\n"
                                 "O-3,A1,purchase,2026-06-25T10:00:00Z\n"
                                 "O-1,A1,purchase,2026-06-24T10:00:00Z\n")
    ws.file("data/plain/2.csv", "account_id,event,timestamp\nA1,visit,2026-06-24T10:00:00Z\n")
    report = ws.ingest(now=NOW + timedelta(hours=1))
    assert {s.source: s.written.inserted for s in report.sources if s.table == "usage_events"
            } == {"orders": 1, "plain": 1}
    assert ws.query("SELECT event_id, CAST(\"timestamp\" AS DATE)::VARCHAR FROM usage_events "
                    "WHERE _source = 'orders' ORDER BY rowid") == [
        ("O-1", "2026-06-01"), ("O-2", "2026-06-03"), ("O-3", "2026-06-25")]
    assert ws.query("SELECT count(*) FROM usage_events WHERE _source = 'plain'") == [(2,)]
