"""Custom measures: oracle values on a hand-made workspace, and refusal of anything unsafe.

The workspace (ingested at conftest.NOW, 2026-07-01 12:00 UTC) holds these usage events; the
default as-of date is 2026-06-30, so the cutoff is 2026-07-01 00:00 and row 5 is "the future":

    #  account user event             timestamp (UTC)    quantity
    1  A1      u1   report.created    2026-06-29 10:00   2
    2  A1      u2   report.shared     2026-06-20 10:00   3
    3  A1      u1   login             2026-06-25 10:00   1
    4  A1      -    report.created    2026-05-01 10:00   -
    5  A1      u3   report.created    2026-07-01 08:00   10
    6  A2      u9   login             2026-06-30 23:00   4
    7  A2      u9   Report.Exported   2026-06-10 10:00   1
    8  A3      u5   report.created    2026-06-28 10:00   6
    9  A4      u7   login             2026-06-15 10:00   1

Seats: A1 50, A2 10, A3 0, A4 empty. Every expected number is counted from this table by hand,
as the comment beside it says.
"""

from __future__ import annotations

from datetime import date

import ibis
import pytest

from healthscore.config.scorecard import CustomMeasure
from healthscore.errors import ConfigError
from healthscore.measures.base import MeasureContext
from healthscore.measures.custom import check_custom, compile_custom

ACCOUNTS = """\
account_id,name,seats,contract_start
A1,Acme,50,2024-01-01
A2,Beta,10,2024-01-01
A3,Gamma,0,2024-01-01
A4,Delta,,2024-01-01
"""
EVENTS = """\
account_id,user_id,event,timestamp,quantity
A1,u1,report.created,2026-06-29T10:00:00Z,2
A1,u2,report.shared,2026-06-20T10:00:00Z,3
A1,u1,login,2026-06-25T10:00:00Z,1
A1,,report.created,2026-05-01T10:00:00Z,
A1,u3,report.created,2026-07-01T08:00:00Z,10
A2,u9,login,2026-06-30T23:00:00Z,4
A2,u9,Report.Exported,2026-06-10T10:00:00Z,1
A3,u5,report.created,2026-06-28T10:00:00Z,6
A4,u7,login,2026-06-15T10:00:00Z,1
"""
INVOICES = """\
invoice_id,account_id,amount,issued_at,due_at,paid_at
I1,A1,100,2026-06-01,2026-07-01,
I2,A1,50,2026-05-31,2026-06-30,2026-06-15
I3,A2,70,2026-06-30,2026-07-30,
"""
REPORTS = "event IN ('report.created', 'report.shared')"


@pytest.fixture
def store(ws):
    ws.file("data/accounts.csv", ACCOUNTS)
    ws.file("data/events.csv", EVENTS)
    ws.file("data/invoices.csv", INVOICES)
    ws.config("crm: {table: accounts, path: data/accounts.csv}",
              "events: {table: usage_events, path: data/events.csv}",
              "billing: {table: invoices, path: data/invoices.csv}")
    assert ws.ingest().rows_rejected == 0
    with ws.open().store(read_only=True) as s:
        yield s


def values(store, as_of: date = date(2026, 6, 30), **spec) -> dict[str, float | None]:
    """{account_id: value} of a custom measure as of ``as_of``."""
    ctx = MeasureContext(ibis.duckdb.from_connection(store.con), as_of)
    expr = compile_custom(ctx, CustomMeasure(**{"table": "usage_events", **spec}))
    assert expr.schema().names == ("account_id", "value")
    assert expr.schema()["value"] == ibis.dtype("float64")
    rows = expr.to_pyarrow().to_pylist()
    return {r["account_id"]: r["value"] for r in rows}


# -- oracle values ---------------------------------------------------------------------------


def test_count_star(store):
    # rows up to the cutoff: A1 1-4, A2 6-7, A3 8, A4 9 (row 5 is after the cutoff)
    assert values(store, aggregate="count(*)") == {"A1": 4, "A2": 2, "A3": 1, "A4": 1}


def test_count_distinct_users_of_report_events(store):
    # report.* rows 1, 2, 4 for A1: users u1, u2 and a NULL (not counted) -> 2; A3 row 8 -> 1;
    # A2's "Report.Exported" is not in the list and A4 only logged in: no rows, absent
    got = values(store, aggregate="count(DISTINCT user_id)", where=REPORTS)
    assert got == {"A1": 2, "A3": 1}


def test_sum_per_distinct_user(store):
    # A1: (2 + 3 + NULL) / 2 users = 2.5 ; A3: 6 / 1 = 6
    got = values(store, aggregate="sum(quantity) / count(DISTINCT user_id)", where=REPORTS)
    assert got == {"A1": 2.5, "A3": 6.0}


def test_numeric_date_and_cast_functions(store):
    """Over the rows up to the cutoff. ln(1 + sum(quantity)) of the report rows: A1 2 + 3 (+
    NULL) = 5 → ln 6, A3 6 → ln 7. The most days from an event to 06-30, by date_diff: A1 60
    (05-01), A2 20 (06-10), A3 2 (06-28), A4 15 (06-15). greatest(sum(quantity), 3): A1 6 → 6,
    A2 5, A3 6, A4 1 → 3. log10 of A3's 6; round(avg, 1) of A1's 2, 3, 1 = 2.0; a cast."""
    import math

    assert values(store, aggregate="ln(1 + sum(quantity))", where=REPORTS) == {
        "A1": math.log(6), "A3": math.log(7)}
    assert values(store, aggregate="max(date_diff('day', timestamp, '2026-06-30'))") == {
        "A1": 60, "A2": 20, "A3": 2, "A4": 15}
    assert values(store, aggregate="greatest(sum(quantity), 3)") == {
        "A1": 6, "A2": 5, "A3": 6, "A4": 3}
    assert values(store, aggregate="LOG10(sum(quantity))", where="account_id = 'A3'") == {
        "A3": math.log10(6)}
    assert values(store, aggregate="round(avg(quantity), 1)", where="account_id = 'A1'") == {
        "A1": 2.0}
    assert values(store, aggregate="sum(CAST(quantity AS BIGINT))", where="quantity::INT > 2"
                  ) == {"A1": 3, "A2": 4, "A3": 6}


def test_window_days(store):
    # 7 days up to 2026-06-30: from 2026-06-24 00:00. A1 rows 1 (06-29) and 3 (06-25);
    # A2 row 6 (06-30 23:00); A3 row 8 (06-28); A4's 06-15 is outside the window
    assert values(store, aggregate="count(*)", window_days=7) == {"A1": 2, "A2": 1, "A3": 1}


def test_window_on_a_date_column_includes_its_first_day(store):
    # invoices by issued_at; 30 days up to 2026-06-30 start on 2026-06-01:
    # A1 I1 (06-01) = 100, I2 (05-31) is out ; A2 I3 (06-30) = 70
    got = values(store, table="invoices", aggregate="sum(amount)", window_days=30)
    assert got == {"A1": 100.0, "A2": 70.0}


def test_per_seats(store):
    # distinct users / seats: A1 u1, u2 / 50 = 0.04 ; A2 u9 / 10 = 0.1 ;
    # A3 u5 / 0 seats -> NULL ; A4 u7 / no seat count -> NULL
    got = values(store, aggregate="count(DISTINCT user_id)", per="seats")
    assert got == {"A1": pytest.approx(0.04), "A2": 0.1, "A3": None, "A4": None}


def test_null_handling(store):
    # A1 has 4 rows, one with no quantity: count(quantity) = 3, and coalescing it to 1
    # gives 2 + 3 + 1 + 1 = 7
    assert values(store, aggregate="count(quantity)")["A1"] == 3
    assert values(store, aggregate="sum(coalesce(quantity, 1))")["A1"] == 7
    # the one row without a user is A1's row 4
    assert values(store, aggregate="count(*)", where="user_id IS NULL") == {"A1": 1}
    # every account has rows; dividing by zero gives NULL, not an error or infinity
    assert values(store, aggregate="count(*) / 0") == dict.fromkeys(["A1", "A2", "A3", "A4"])
    # NULL as an operand is refused (it would make the whole result NULL)
    assert refused(where="quantity > NULL") == [
        "where: NULL is only allowed in IS [NOT] NULL and coalesce(); anything compared or "
        "computed with NULL is NULL (write `x IS NULL`)"]


def test_like_ilike_and_not_like(store):
    # LIKE is case-sensitive: rows 1, 2, 4 (A1) and 8 (A3); ILIKE adds A2's Report.Exported
    assert values(store, aggregate="count(*)", where="event LIKE 'report.%'") == {
        "A1": 3, "A3": 1}
    assert values(store, aggregate="count(*)", where="event ILIKE 'report.%'") == {
        "A1": 3, "A2": 1, "A3": 1}
    # NOT LIKE: logins only, rows 3 (A1), 6 and 7 (A2: 'Report.Exported' does not match), 9 (A4)
    assert values(store, aggregate="count(*)", where="event NOT LIKE 'report.%'") == {
        "A1": 1, "A2": 2, "A4": 1}


def test_other_operators(store):
    # quantity between 2 and 4: rows 1, 2 (A1) and 6 (A2)
    assert values(store, aggregate="count(*)", where="quantity BETWEEN 2 AND 4") == {
        "A1": 2, "A2": 1}
    # from 2026-06-25 on (a string compared with a timestamp): rows 1, 3, 6, 8
    assert values(store, aggregate="count(*)", where="timestamp >= '2026-06-25'") == {
        "A1": 2, "A2": 1, "A3": 1}
    # lower() matches A2's row 7; NOT IN matches A4's row 9 (u7); A1's row 4 has no user, so
    # its NOT IN is NULL, not true. max(quantity) * 2 - -1 = 1 * 2 + 1 = 3 for both
    where = "lower(event) = 'report.exported' OR (user_id NOT IN ('u1', 'u2', 'u9', 'u5'))"
    assert values(store, aggregate="max(quantity) * 2 - -1", where=where) == {
        "A2": 3.0, "A4": 3.0}
    # avg and min of an expression: A1 rows 1-3 quantity 2, 3, 1 (row 4 NULL is skipped)
    assert values(store, aggregate="avg(quantity * 10) + min(abs(-quantity))")["A1"] == 21.0


def test_point_in_time(store):
    # as of 2026-06-30 row 5 (2026-07-01 08:00) is after the cutoff: max quantity of A1 is 3
    assert values(store, aggregate="max(quantity)")["A1"] == 3.0
    # as of 2026-07-01 it is known: A1 has 5 rows and a max of 10
    assert values(store, date(2026, 7, 1), aggregate="count(*)")["A1"] == 5
    assert values(store, date(2026, 7, 1), aggregate="max(quantity)")["A1"] == 10.0
    # as of 2026-06-15 only rows 4 (A1), 7 (A2) and 9 (A4, 06-15 10:00 is that day) exist
    assert values(store, date(2026, 6, 15), aggregate="count(*)") == {"A1": 1, "A2": 1,
                                                                     "A4": 1}


def test_point_in_time_hides_later_facts(store):
    # unpaid invoices: as of 2026-06-30 I2 was paid (06-15), so A1 owes I1 = 100 and A2 I3 = 70;
    # as of 2026-06-10 the payment had not happened yet: A1 owes I1 + I2 = 150, I3 is unissued
    where = "paid_at IS NULL"
    assert values(store, table="invoices", aggregate="sum(amount)", where=where) == {
        "A1": 100.0, "A2": 70.0}
    assert values(store, date(2026, 6, 10), table="invoices", aggregate="sum(amount)",
                  where=where) == {"A1": 150.0}


# -- static checks and refusals --------------------------------------------------------------


class _NoStore:
    """A backend that fails the test on any use: refusals must not reach the store."""

    def __getattr__(self, name):
        raise AssertionError(f"the store was touched ({name})")


def refused(**spec) -> list[str]:
    """The problems of a spec; also checks compile_custom refuses it before any data access."""
    custom = CustomMeasure(**{"table": "usage_events", "aggregate": "count(*)", **spec})
    problems = check_custom(custom)
    assert problems
    with pytest.raises(ConfigError) as err:
        compile_custom(MeasureContext(_NoStore(), date(2026, 6, 30)), custom)
    assert err.value.problems == problems
    return problems


@pytest.mark.parametrize(("spec", "expected"), [
    ({"aggregate": "1; DROP TABLE accounts"}, "aggregate: `;` is not allowed"),
    ({"where": "event = 'x'; DROP TABLE accounts"}, "where: `;` is not allowed"),
    ({"aggregate": "DROP TABLE accounts"}, "a DROP statement, not an expression"),
    ({"aggregate": "(SELECT 1)"}, "aggregate: subqueries are not allowed"),
    ({"where": "user_id IN (SELECT user_id FROM users)"}, "where: subqueries are not allowed"),
    ({"aggregate": "read_csv('x')"}, "aggregate: function 'read_csv' is not allowed; allowed: "
                                     "count, sum, avg, min, max, count(DISTINCT …)"),
    ({"aggregate": "__import__('os')"}, "function '__import__' is not allowed"),
    ({"where": "exec('rm -rf /') = 1"}, "where: function 'exec' is not allowed; allowed: "
                                        "coalesce, abs, lower, upper"),
    ({"where": "evnt = 'login'"}, "where: unknown column 'evnt' in table usage_events; its "
                                  "columns are account_id, user_id, event, timestamp, quantity"),
    ({"aggregate": "sum(seats)"}, "'seats' is a column of accounts"),
    ({"where": "accounts.seats > 3"}, "column `accounts.seats` is from another table"),
    ({"aggregate": "sum(quantity) OVER (PARTITION BY user_id)"}, "window functions"),
    ({"aggregate": "row_number() OVER ()"}, "window functions"),
    ({"aggregate": "sum(*)"}, "`*` is only allowed in count(*)"),
    ({"aggregate": "CAST(count(*) AS JSON)"}, "cast to json is not allowed; cast to DOUBLE"),
    ({"where": "LOG1P(quantity) > 0"}, "where: function 'LOG1P' is not allowed"),
    ({"where": "len(event) > 3"}, "where: function 'len' is not allowed"),
    ({"aggregate": "round(sum(quantity), quantity)"}, "round() takes a whole number"),
    ({"where": "date_diff('fortnight', timestamp, '2026-06-30') < 2"},
     "date_diff takes a unit first"),
    ({"where": "user_id = ?"}, "query parameters"),
    ({"where": "event LIKE 'a' ESCAPE '!'"}, "is not allowed; allowed: columns, literals"),
    ({"aggregate": "quantity"}, "column 'quantity' must be inside an aggregate"),
    ({"aggregate": "1 + 1"}, "aggregate: needs an aggregate function"),
    ({"aggregate": "sum(max(quantity))"}, "'max' is not allowed inside an aggregate"),
    ({"where": "count(*) > 1"}, "'count' is not allowed inside a row filter"),
    ({"aggregate": "sum(DISTINCT quantity)"}, "DISTINCT is allowed only as count(DISTINCT x)"),
    ({"aggregate": "sum(event)"}, "sum() needs a number, but `event` is a string"),
    ({"aggregate": "max(timestamp)"}, "must give a number, but `MAX(timestamp)` is a timestamp"),
    ({"where": "quantity"}, "where: must be a condition"),
    ({"where": "event = 1"}, "cannot compare a string with a number"),
    ({"where": "timestamp > '2026-13-01'"}, "'2026-13-01' is not a date or time"),
    ({"where": "event IN (user_id)"}, "IN takes a list of literal values"),
    ({"where": "event IS TRUE"}, "IS only tests for NULL"),
    ({"aggregate": "count(*) AS n"}, "not one expression"),
    ({"aggregate": "sum(quantity) +"}, "aggregate: does not parse"),
    ({"aggregate": "count(" * 600}, "aggregate: too long"),
    ({"table": "secrets"}, "table: unknown table 'secrets'; the canonical tables are: accounts"),
    ({"per": "name"}, "per: 'name' is not a numeric accounts column; allowed: arr, seats"),
])
def test_refusals_name_the_key_and_what_is_allowed(spec, expected):
    problems = refused(**spec)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = refused(aggregate="exec(1)", where="evnt = 1", per="plan")
    assert [p.split(":")[0] for p in problems] == ["per", "aggregate", "where"]


@pytest.mark.parametrize("spec", [
    {"aggregate": "count(*)"},
    {"aggregate": "COUNT(DISTINCT User_Id)", "where": "EVENT = 'login'", "per": "arr"},
    {"aggregate": "coalesce(sum(quantity), 0) / (1 + count(*))", "window_days": 30},
    {"aggregate": "count(*)", "where": "NOT (quantity > 1 OR user_id IS NOT NULL) -- a comment"},
    {"table": "tickets", "aggregate": "avg(csat)", "where": "priority IN ('urgent', 'high')"},
])
def test_valid_specs_have_no_problems(spec):
    assert check_custom(CustomMeasure(**{"table": "usage_events", **spec})) == []
