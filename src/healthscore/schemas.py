"""The canonical tables and their column contracts.

This module is the one source of truth for what healthscore reads: every source is mapped onto
these tables, the store creates them from here, and ``docs/data.md`` is rendered from here
(``python -m healthscore.schemas > docs/data.md``; a test fails when the two disagree).

Three kinds of table, by how a re-ingest treats a row that is already in the store:

``state``
    Describes how something *is* (an account's plan, a contact's role). Keyed. When a re-ingested
    export changes a row, the stored version is closed (``_valid_to``) and a new one opened, so
    an earlier date still sees the row as it was.
``entity``
    A record with its own id whose later versions carry their own timestamps (a ticket gains a
    ``closed_at``, an invoice a ``paid_at``). Keyed; the newest version replaces the stored one.
``event``
    Something that happened once (a usage event, a survey answer). No id: a row is identified by
    a hash of its content, so loading the same file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

ColumnType = Literal["string", "integer", "number", "date", "timestamp", "boolean", "json"]
TableKind = Literal["state", "entity", "event"]

#: DuckDB type of each canonical column type.
DUCKDB_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "string": "VARCHAR",
        "integer": "BIGINT",
        "number": "DOUBLE",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "boolean": "BOOLEAN",
        "json": "JSON",
    }
)


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``not_future`` marks an event time: a value later than the moment of ingest is rejected.
    ``aliases`` are spellings accepted for a value on top of the canonical ones (``"P1"`` for
    ``urgent``); a source can add its own with a ``map:`` in healthscore.yaml.
    """

    name: str
    type: ColumnType
    description: str
    required: bool = False
    unit: str | None = None
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    not_future: bool = False
    aliases: Mapping[str, str] = field(default_factory=dict)
    example: str | None = None
    #: The value only exists once this other (time) column has happened: a ticket's CSAT is
    #: given when it is closed. Point-in-time reads hide it before then.
    known_with: str | None = None
    #: A column added after rows were stored: it joins a row's content hash only when it has
    #: a value, so the rows stored before it keep their hash (and a re-ingest finds them).
    added: bool = False
    #: The row's identity when set (an event's own id): the row is the source's event of that
    #: id, whatever else it carries; a re-sent event loads once.
    identity: bool = False
    #: The most characters a text or JSON value may have (a longer one rejects its row); a
    #: source's ``max_length:`` on the column overrides it. Default: :data:`MAX_LENGTH`.
    max_length: int | None = None

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Check:
    """A rule across columns of one row; a row that breaks it is quarantined.

    ``range`` checks ``column`` between ``min`` and ``max`` when every ``when`` column equals its
    value; ``order`` checks ``column >= other`` (for example closed after opened).
    """

    kind: Literal["range", "order"]
    column: str
    reason: str
    min: float | None = None
    max: float | None = None
    other: str | None = None
    when: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """A canonical table: its kind, key, columns and cross-column checks."""

    name: str
    kind: TableKind
    description: str
    signal: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    #: The column saying when a row happened (events) or began (state); None if there is none.
    time: str | None = None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def has_account(self) -> bool:
        return "account_id" in self.column_names and self.name != "accounts"


#: The longest value of a text or JSON column, by kind of value (characters). Names, ids and
#: categories are short; free-text comments get more room, JSON properties more still. A CRM
#: name of 5 MB is an export gone wrong, and it would be shown on every page that names the
#: account.
MAX_LENGTH: Mapping[str, int] = MappingProxyType({"string": 1_000, "text": 10_000,
                                                  "json": 100_000})


def _c(name: str, type: ColumnType, description: str, **kw) -> Column:
    if type in ("string", "json"):
        kw.setdefault("max_length", MAX_LENGTH[type])
    return Column(name=name, type=type, description=description, **kw)


_ACCOUNT = _c("account_id", "string", "The account this row belongs to; must exist in `accounts`.",
              required=True, example="ACC-0042")
_USER = _c("user_id", "string", "The user, as in `users.user_id`.", example="U-0042-007")

PRIORITIES = ("urgent", "high", "normal", "low")
RENEWAL_OUTCOMES = ("renewed", "churned", "expanded", "contracted")

TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in (
    Table(
        "accounts", "state",
        "One row per customer account, as the CRM describes it now. Re-ingesting a changed export "
        "keeps the earlier version for point-in-time scoring.",
        "segmentation, renewal",
        key=("account_id",),
        time="contract_start",
        columns=(
            _c("account_id", "string", "Stable account identifier (the CRM id).", required=True,
               example="ACC-0042"),
            _c("name", "string", "Account (company) name.", required=True, example="Northwind Ltd"),
            _c("plan", "string", "Commercial plan.", example="business"),
            _c("segment", "string", "Customer segment.", example="mid-market"),
            _c("lifecycle_stage", "string",
               "Where the customer is in its journey (e.g. onboarding, adoption, mature, renewal).",
               example="onboarding"),
            _c("arr", "number", "Annual recurring revenue.", unit="currency per year", min=0,
               example="48000"),
            _c("seats", "integer", "Licensed seats.", unit="seats", min=0, example="120"),
            _c("csm", "string", "The customer-success manager who owns the account.",
               example="maria.lopez"),
            _c("renewal_date", "date", "Next contract renewal date.", example="2026-09-30"),
            _c("contract_start", "date", "Start of the first contract; the account is a customer "
               "from this date.", example="2024-10-01"),
            _c("industry", "string", "Industry of the customer.", example="logistics"),
            _c("churned_at", "date", "Date the account stopped being a customer, if it has.",
               example="2026-03-31"),
        ),
    ),
    Table(
        "users", "state", "People at customer accounts who can use the product.", "breadth",
        key=("user_id",),
        time="created_at",
        columns=(
            _c("user_id", "string", "Stable user identifier.", required=True, example="U-0042-007"),
            _ACCOUNT,
            _c("role", "string", "Role in the product (admin, member, viewer, …).", example="admin"),
            _c("created_at", "timestamp", "When the user was created.", not_future=True,
               example="2025-01-14T09:30:00Z"),
            _c("deactivated_at", "timestamp", "When the user was removed, if they were.",
               not_future=True, example="2026-02-01T00:00:00Z"),
        ),
    ),
    Table(
        "usage_events", "event", "Product usage: one row per event (or per event count).",
        "frequency, breadth, depth, trend",
        time="timestamp",
        columns=(
            _ACCOUNT,
            _USER,
            _c("event", "string", "The event or feature used.", required=True,
               example="report.created"),
            _c("timestamp", "timestamp", "When it happened.", required=True, not_future=True,
               example="2026-06-30T14:02:11Z"),
            _c("quantity", "number", "How many times (for pre-aggregated exports); 1 if absent.",
               unit="events", min=0, example="1"),
            _c("event_id", "string", "The event's own id (an analytics message id, an order "
               "number). When mapped, an event is its source plus this id: a re-sent event "
               "loads once, and two different events with equal content are both kept.",
               example="9f1c2e0a-77b1-4c55-a0f3-2b8d0c6e1f42", added=True, identity=True),
            _c("value", "number", "An amount the event carries (order value, revenue, credits "
               "used), summed by the `usage_value` measure.", example="129.90", added=True),
            _c("properties", "json", "Anything else about the event, as a JSON object (kept "
               "with it, for queries of the store; no measure reads it yet).", example='{"plan": "pro"}',
               added=True),
        ),
    ),
    Table(
        "tickets", "entity", "Support tickets. A re-export with a later `closed_at` replaces the "
        "stored version.", "support",
        key=("ticket_id",),
        time="opened_at",
        columns=(
            _c("ticket_id", "string", "Help-desk ticket id.", required=True, example="T-99812"),
            _ACCOUNT,
            _c("opened_at", "timestamp", "When the ticket was opened.", required=True,
               not_future=True, example="2026-06-02T08:15:00Z"),
            _c("closed_at", "timestamp", "When it was solved or closed; empty while open.",
               not_future=True, example="2026-06-03T17:40:00Z"),
            _c("priority", "string", "Priority.", allowed=PRIORITIES,
               aliases={"p1": "urgent", "critical": "urgent", "p2": "high", "p3": "normal",
                        "medium": "normal", "p4": "low"}, example="high"),
            _c("csat", "number", "Satisfaction rating given on the ticket.", unit="1-5", min=1,
               max=5, example="4", known_with="closed_at"),
        ),
        checks=(Check("order", "closed_at", "closed before it was opened", other="opened_at"),),
    ),
    Table(
        "surveys", "event", "Survey answers: NPS (0-10) and CSAT (1-5).", "sentiment, NPS",
        time="responded_at",
        columns=(
            _ACCOUNT,
            _USER,
            _c("kind", "string", "Which survey.", required=True, allowed=("nps", "csat"),
               example="nps"),
            _c("score", "number", "The answer: 0-10 for NPS, 1-5 for CSAT.", required=True,
               unit="points", example="9"),
            _c("responded_at", "timestamp", "When the answer was given.", required=True,
               not_future=True, example="2026-05-20T10:00:00Z"),
            _c("comment", "string", "Free-text comment.", example="Great support",
               max_length=MAX_LENGTH["text"]),
        ),
        checks=(
            Check("range", "score", "NPS score must be 0-10", min=0, max=10, when={"kind": "nps"}),
            Check("range", "score", "CSAT score must be 1-5", min=1, max=5, when={"kind": "csat"}),
        ),
    ),
    Table(
        "invoices", "entity", "Invoices. A re-export with a `paid_at` replaces the stored version.",
        "financial health",
        key=("invoice_id",),
        time="issued_at",
        columns=(
            _c("invoice_id", "string", "Billing-system invoice id.", required=True,
               example="INV-2026-0042"),
            _ACCOUNT,
            _c("amount", "number", "Amount invoiced.", required=True, unit="currency", min=0,
               example="12000.00"),
            _c("issued_at", "date", "Issue date.", required=True, not_future=True,
               example="2026-04-01"),
            _c("due_at", "date", "Due date.", example="2026-05-01"),
            _c("paid_at", "date", "Date paid in full; empty while unpaid.", not_future=True,
               example="2026-05-12"),
            _c("currency", "string", "ISO 4217 currency code.", example="USD"),
        ),
        checks=(Check("order", "due_at", "due before it was issued", other="issued_at"),),
    ),
    Table(
        "touchpoints", "event", "CSM interactions with the customer.", "engagement",
        time="occurred_at",
        columns=(
            _ACCOUNT,
            _c("kind", "string", "Kind of interaction.", required=True,
               allowed=("meeting", "call", "email", "qbr", "other"), example="qbr"),
            _c("occurred_at", "timestamp", "When it happened.", required=True, not_future=True,
               example="2026-06-10T15:00:00Z"),
            _c("author", "string", "Who on our side took part.", example="maria.lopez"),
        ),
    ),
    Table(
        "trainings", "event", "Training courses completed by customer users.", "enabling",
        time="completed_at",
        columns=(
            _ACCOUNT,
            _USER,
            _c("course", "string", "Course name or id.", required=True, example="admin-101"),
            _c("completed_at", "timestamp", "When it was completed.", required=True,
               not_future=True, example="2026-03-03T11:00:00Z"),
        ),
    ),
    Table(
        "advocacy", "event", "Advocacy: reviews, referrals, case studies.", "advocacy",
        time="occurred_at",
        columns=(
            _ACCOUNT,
            _c("kind", "string", "Kind of advocacy.", required=True,
               allowed=("review", "referral", "case_study", "reference", "other"),
               example="review"),
            _c("occurred_at", "timestamp", "When it happened.", required=True, not_future=True,
               example="2026-02-17T00:00:00Z"),
        ),
    ),
    Table(
        "contacts", "state", "Key people at the account and their role in the relationship.",
        "relationship (high and wide)",
        key=("contact_id",),
        time="active_from",
        columns=(
            _ACCOUNT,
            _c("contact_id", "string", "Stable contact identifier.", required=True,
               example="C-0042-01"),
            _c("role", "string",
               "Role in the relationship (champion, exec_sponsor, decision_maker, admin, user).",
               required=True, example="champion"),
            _c("name", "string", "Contact name.", example="Ada Byrne"),
            _c("active_from", "date", "First day in this role.", example="2025-01-01"),
            _c("active_to", "date", "Last day in this role (left the company or the role).",
               example="2026-04-30"),
        ),
        checks=(Check("order", "active_to", "active_to before active_from",
                      other="active_from"),),
    ),
    Table(
        "outcomes", "event", "Business goals the customer achieved with the product.", "ROI",
        time="achieved_at",
        columns=(
            _ACCOUNT,
            _c("goal", "string", "The goal achieved.", required=True, example="cut month-end close"),
            _c("achieved_at", "timestamp", "When it was achieved.", required=True,
               not_future=True, example="2026-01-31T00:00:00Z"),
        ),
    ),
    Table(
        "pulses", "event", "The CSM's own read of the account (a manual measure).",
        "CSM sentiment",
        time="at",
        columns=(
            _ACCOUNT,
            _c("value", "integer", "1 (bad) to 5 (good); red, yellow and green are read as 1, 3 "
               "and 5.", required=True, unit="1-5", min=1, max=5,
               aliases={"red": "1", "yellow": "3", "amber": "3", "green": "5"}, example="2"),
            _c("at", "timestamp", "When the pulse was given.", required=True, not_future=True,
               example="2026-06-28T16:20:00Z"),
            _c("author", "string", "Who gave it.", example="maria.lopez"),
            _c("comment", "string", "Why.", example="champion left",
               max_length=MAX_LENGTH["text"]),
            _c("expires_at", "timestamp", "When the pulse stops counting.",
               example="2026-08-01T00:00:00Z"),
        ),
    ),
    Table(
        "renewals", "entity", "Renewal outcomes: the ground truth the score is validated against.",
        "ground truth for validation",
        key=("account_id", "renewal_date"),
        time="renewal_date",
        columns=(
            _ACCOUNT,
            _c("renewal_date", "date", "The renewal (contract end) date.", required=True,
               example="2026-03-31"),
            _c("outcome", "string", "What happened.", required=True, allowed=RENEWAL_OUTCOMES,
               example="renewed"),
            _c("arr_before", "number", "ARR before the renewal.", unit="currency per year",
               min=0, example="48000"),
            _c("arr_after", "number", "ARR after the renewal (0 when churned).",
               unit="currency per year", min=0, example="52000"),
        ),
    ),
)})

#: Load order: accounts first, so every other table can check its account ids.
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)


def table(name: str) -> Table:
    """The canonical table called ``name``; a clear error lists the valid names."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(
            f"unknown table {name!r}; the canonical tables are: {', '.join(TABLES)}"
        ) from None


_INTRO = """\
# Data contracts: the canonical tables

healthscore reads a company's own data through thirteen canonical tables. A source in
`healthscore.yaml` maps its own column names onto these (see [sources.md](sources.md)); only
`accounts` is required, and a scorecard needs only the tables its measures use.

This page is generated from `src/healthscore/schemas.py`
(`python -m healthscore.schemas > docs/data.md`); a test fails when the two disagree.

**Kinds of table.** *state* tables describe how something is (re-ingesting a changed row closes
the old version and opens a new one, so earlier dates see the old one); *entity* tables hold
records with an id whose newer version replaces the stored one (a ticket gets closed);
*event* tables hold things that happened once, identified by a hash of their content, so loading
a file twice adds nothing.

**Types.** `string`; `integer`; `number` (also read from text such as `$1,234.00`,
`1.234,50 €` with `decimal: ","`, or `(12.00)` for a negative amount); `date` and `timestamp`
(ISO 8601 with or without a UTC offset, Unix epoch seconds or milliseconds, or any `format:`
such as `%m/%d/%Y`; a timestamp without an offset is read in the workspace `timezone`; stored
in UTC); `boolean` (true/false, yes/no, 1/0).

**Rejected rows.** A row that breaks the contract (a required value empty, a value of the wrong
type, a value outside its allowed set or range, an event time after the moment of ingest, an
unknown `account_id`, a duplicate key) is not loaded: it goes to the quarantine with its file, row,
column, value and reason, and every valid row is loaded.

**Lengths.** A text value may have at most 1,000 characters (free-text comments 10,000, JSON
`properties` 100,000); a longer one rejects its row (`value is 5,242,880 characters, longer
than the limit of 1,000 …`). A source raises a column's limit with `max_length:` in its
mapping ([sources.md](sources.md#mapping-columns)).
"""


def _fmt_range(col: Column) -> str:
    parts = []
    if col.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in col.allowed))
    if col.min is not None or col.max is not None:
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        parts.append(f"≥ {lo}" if not hi else f"{lo} – {hi}" if lo else f"≤ {hi}")
    if col.not_future:
        parts.append("not after ingest time")
    if col.max_length:
        parts.append(f"at most {col.max_length:,} characters")
    if col.aliases:
        parts.append("also accepts " + ", ".join(f"`{k}`→`{v}`" for k, v in col.aliases.items()))
    return "; ".join(parts)


def _event_key(t: Table) -> str:
    ids = [c.name for c in t.columns if c.identity]
    return f"source + {ids[0]}, else content hash" if ids else "content hash"


def render_markdown() -> str:
    """The data-contract reference page (``docs/data.md``) as Markdown."""
    out = [_INTRO]
    out.append("| table | kind | key | signal |\n|---|---|---|---|")
    for t in TABLES.values():
        key = ", ".join(t.key) if t.key else _event_key(t)
        out.append(f"| [{t.name}](#{t.name}) | {t.kind} | {key} | {t.signal} |")
    for t in TABLES.values():
        out.append(f"\n## {t.name}\n\n{t.description}\n")
        ids = [c.name for c in t.columns if c.identity]
        key = (", ".join(f"`{k}`" for k in t.key) if t.key else
               f"the source and `{ids[0]}` when it has one, else a hash of all columns" if ids
               else "a hash of all columns")
        out.append(f"Kind: **{t.kind}**. Key: {key}.\n")
        out.append("| column | type | required | unit | rules | meaning | example |")
        out.append("|---|---|---|---|---|---|---|")
        for c in t.columns:
            out.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {c.unit or ''} | "
                f"{_fmt_range(c)} | {c.description} | {c.example or ''} |"
            )
        if t.checks:
            out.append("")
            for chk in t.checks:
                cond = " and ".join(f"`{k}` = `{v}`" for k, v in chk.when.items())
                out.append(f"- Rejected when {chk.reason}" + (f" (when {cond})" if cond else "")
                           + ".")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - documented generator
    print(render_markdown(), end="")
