"""DDL of the workspace store: canonical tables, bookkeeping tables, schema migrations.

Canonical tables carry their contract columns (``healthscore.schemas``) plus lineage columns:

``_hash``         content hash as a UUID (events: the row's identity — its source and
                  ``event_id`` when it has one; state/entity: change detection)
``_known_from``   state tables: when this version was first seen to hold (snapshot date or ingest)
``_valid_from``   state tables: start of validity; NULL for a key's first version ("always")
``_valid_to``     state tables: end of validity (exclusive); NULL while current
``_source``       the source name in healthscore.yaml that delivered the row
``_run_id``       the ingest run that wrote it
``_ingested_at``  when that run started (UTC)
"""

from __future__ import annotations

from functools import partial

from healthscore.schemas import TABLES, Table
from healthscore.store import rollups
from healthscore.store.values import migrate_to_values

#: Bump when the store layout changes, and add the step to MIGRATIONS.
SCHEMA_VERSION = 16

LINEAGE = {
    "state": [("_hash", "UUID"), ("_known_from", "TIMESTAMP"), ("_valid_from", "TIMESTAMP"),
              ("_valid_to", "TIMESTAMP")],
    "entity": [("_hash", "UUID")],
    "event": [("_hash", "UUID")],
}
COMMON_LINEAGE = [("_source", "VARCHAR"), ("_run_id", "BIGINT"), ("_ingested_at", "TIMESTAMP")]


def lineage_columns(table: Table) -> list[tuple[str, str]]:
    return LINEAGE[table.kind] + COMMON_LINEAGE


def table_ddl(table: Table) -> str:
    cols = [f'"{c.name}" {c.duckdb_type}' for c in table.columns]
    cols += [f"{name} {typ}" for name, typ in lineage_columns(table)]
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


BOOKKEEPING_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )""",
    "CREATE SEQUENCE IF NOT EXISTS run_ids START 1",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        detail JSON,
        error VARCHAR,
        pid BIGINT,
        host VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        run_id BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        "table" VARCHAR NOT NULL,
        file VARCHAR NOT NULL,
        "row" BIGINT NOT NULL,
        "column" VARCHAR,
        value VARCHAR,
        reason VARCHAR NOT NULL,
        quarantined_at TIMESTAMP NOT NULL,
        "key" VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS ingested_files (
        source VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        config_hash VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        run_id BIGINT NOT NULL,
        PRIMARY KEY (source, path)
    )""",
]


# Where each database source with a `cursor` got to (sources/database.py): the largest
# cursor value read and which rows holding exactly that value were read, so the next ingest
# reads from that value on (a row added later with the same value is not lost, and the rows
# read before are not read twice).
CURSORS_DDL = [
    """CREATE TABLE IF NOT EXISTS source_cursors (
        source VARCHAR PRIMARY KEY,
        location VARCHAR NOT NULL,
        config_hash VARCHAR NOT NULL,
        cursor_column VARCHAR NOT NULL,
        value_kind VARCHAR,
        last_value VARCHAR,
        last_rows VARCHAR[] NOT NULL,
        rows_numbered BIGINT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        run_id BIGINT NOT NULL
    )""",
]


#: The columns of a snapshot's head (``snapshots``; ``snapshot_revisions`` adds two).
SNAPSHOT_COLUMNS = """
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        account_id VARCHAR NOT NULL,
        variant VARCHAR NOT NULL,
        score DOUBLE,
        band VARCHAR,
        grade VARCHAR,
        coverage DOUBLE NOT NULL,
        run_id BIGINT NOT NULL,
        computed_at TIMESTAMP NOT NULL"""

SNAPSHOT_DDL = [
    """CREATE TABLE IF NOT EXISTS scorecard_versions (
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        definition JSON NOT NULL,
        source_file VARCHAR,
        first_used_at TIMESTAMP NOT NULL
    )""",
    # One row per account x scorecard x version x as-of date.
    f"CREATE TABLE IF NOT EXISTS snapshots ({SNAPSHOT_COLUMNS})",
]


# Schema 2's per-measure and per-group rows of each snapshot; schema 11 keeps raw values in
# one wide table per version instead (store/values.py) and drops these.
MEASURE_ROWS_DDL = [
    """CREATE TABLE IF NOT EXISTS snapshot_measures (
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        account_id VARCHAR NOT NULL,
        "group" VARCHAR NOT NULL,
        measure VARCHAR NOT NULL,
        raw_value DOUBLE,
        score DOUBLE,
        weight DOUBLE NOT NULL,
        points DOUBLE NOT NULL,
        missing BOOLEAN NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS snapshot_groups (
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        account_id VARCHAR NOT NULL,
        "group" VARCHAR NOT NULL,
        score DOUBLE,
        weight DOUBLE NOT NULL,
        points DOUBLE NOT NULL
    )""",
]

# The compact history (store/values.py): the overrides a snapshot applied, and the earlier
# revisions of re-scored snapshots (the head; their values stay in the values table, marked
# superseded).
HISTORY_DDL = [
    """CREATE TABLE IF NOT EXISTS snapshot_overrides (
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        account_id VARCHAR NOT NULL,
        measure VARCHAR NOT NULL,
        score DOUBLE NOT NULL,
        override_id BIGINT NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        superseded_at TIMESTAMP
    )""",
    f"""CREATE TABLE IF NOT EXISTS snapshot_revisions ({SNAPSHOT_COLUMNS},
        superseded_at TIMESTAMP NOT NULL,
        superseded_by BIGINT NOT NULL
    )""",
]


#: The schema that added compiled_plans (a store opened read-only may be older).
PLANS_SINCE = 13

#: Scorecards' measures compiled to SQL, by a key of everything the SQL depends on
#: (engine/plan.py): the next run reads them instead of compiling again.
PLANS_DDL = [
    """CREATE TABLE IF NOT EXISTS compiled_plans (
        "key" VARCHAR PRIMARY KEY,
        scorecard VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        plan JSON NOT NULL
    )""",
]


def create_all() -> list[str]:
    """Every statement that creates a current store from nothing (idempotent)."""
    return (BOOKKEEPING_DDL + SNAPSHOT_DDL + HISTORY_DDL + MANUAL_DDL + [TRENDS_VIEW] + TOKENS_DDL
            + SERIES_DDL + MODEL_DDL + ALERTS_DDL + [table_ddl(t) for t in TABLES.values()]
            + rollups.DDL + PLANS_DDL + CURSORS_DDL
            + ["INSERT INTO meta VALUES ('series_ready', 'true'), ('series_unsorted', '0')"])


# Deltas over 7 / 30 / 90 days next to every snapshot row, for sorting and trend arrows.
TRENDS_VIEW = """CREATE OR REPLACE VIEW snapshot_trends AS
    SELECT s.*,
        s.score - s7.score AS delta_7d, s.score - s30.score AS delta_30d,
        s.score - s90.score AS delta_90d,
        s7.band AS band_7d_ago, s30.band AS band_30d_ago, s90.band AS band_90d_ago
    FROM snapshots s
    LEFT JOIN snapshots s7 ON s7.scorecard = s.scorecard AND s7.version = s.version
        AND s7.account_id = s.account_id AND s7.as_of = s.as_of - 7
    LEFT JOIN snapshots s30 ON s30.scorecard = s.scorecard AND s30.version = s.version
        AND s30.account_id = s.account_id AND s30.as_of = s.as_of - 30
    LEFT JOIN snapshots s90 ON s90.scorecard = s.scorecard AND s90.version = s.version
        AND s90.account_id = s.account_id AND s90.as_of = s.as_of - 90"""

# Each account's series of scores, kept sorted by account (re-sorted when enough dates have been
# appended since): one account's year is then a few row groups, where in `snapshots` (stored
# date by date) it touches every row group. A copy of the score columns of `snapshots`, written
# in the same transactions; meta 'series_ready' says whether it holds every snapshot (a
# backfill rebuilds it at its end), 'series_unsorted' how many dates were appended unsorted
# (counted by the writer, Store.tidy_series).
SERIES_COLUMNS = "scorecard, version, account_id, as_of, variant, score, band, grade, coverage"
SERIES_FILL = (f"CREATE OR REPLACE TABLE snapshot_series AS SELECT {SERIES_COLUMNS} "
               "FROM snapshots ORDER BY scorecard, version, account_id, as_of")
SERIES_DDL = [
    """CREATE TABLE IF NOT EXISTS snapshot_series (
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        variant VARCHAR NOT NULL,
        score DOUBLE,
        band VARCHAR,
        grade VARCHAR,
        coverage DOUBLE NOT NULL
    )""",
]

MANUAL_DDL = [
    "CREATE SEQUENCE IF NOT EXISTS override_ids START 1",
    # A CSM's replacement of one measure's score for one account, until it expires.
    """CREATE TABLE IF NOT EXISTS overrides (
        override_id BIGINT PRIMARY KEY,
        account_id VARCHAR NOT NULL,
        scorecard VARCHAR,
        measure VARCHAR NOT NULL,
        score DOUBLE NOT NULL,
        author VARCHAR NOT NULL,
        comment VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP
    )""",
]

TOKENS_DDL = [
    # REST API tokens: only a SHA-256 of the token is kept; token_id is its non-secret prefix.
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        scopes VARCHAR[] NOT NULL,
        sha256 VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        last_used_at TIMESTAMP,
        revoked_at TIMESTAMP
    )""",
]

MODEL_DDL = [
    # A fitted churn (or expansion) model: what it was fitted on and how it did on later dates.
    """CREATE TABLE IF NOT EXISTS models (
        model_version VARCHAR PRIMARY KEY,
        scorecard VARCHAR NOT NULL,
        version VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        horizon INTEGER NOT NULL,
        train_until DATE NOT NULL,
        measures VARCHAR[] NOT NULL,
        base DOUBLE NOT NULL,
        run_id BIGINT NOT NULL,
        trained_at TIMESTAMP NOT NULL,
        detail JSON
    )""",
    # Its probability per account per scored date; contributions (log-odds, one per measure of
    # the model, in its order) add up to logit - base exactly. Only the latest model of a
    # scorecard and target keeps its predictions.
    """CREATE TABLE IF NOT EXISTS predictions (
        model_version VARCHAR NOT NULL,
        scorecard VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        account_id VARCHAR NOT NULL,
        probability DOUBLE NOT NULL,
        logit DOUBLE NOT NULL,
        in_sample BOOLEAN NOT NULL,
        contributions DOUBLE[] NOT NULL
    )""",
]

ALERTS_DDL = [
    "CREATE SEQUENCE IF NOT EXISTS alert_ids START 1",
    # One alert per episode: a rule began to hold for an account on `opened_on`, held last
    # on `last_held_on`, and was found cleared on `closed_on` (NULL while the episode lasts:
    # until the rule has not held for the rule's clear_after_days). `state` is the team's:
    # open, acknowledged or snoozed (until `snoozed_until`). Title, text and detail are
    # rendered once, when it opens.
    """CREATE TABLE IF NOT EXISTS alerts (
        alert_id BIGINT PRIMARY KEY,
        rule VARCHAR NOT NULL,
        scorecard VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        opened_on DATE NOT NULL,
        last_held_on DATE NOT NULL,
        closed_on DATE,
        severity VARCHAR NOT NULL,
        csm VARCHAR,
        title VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        detail JSON,
        state VARCHAR NOT NULL,
        snoozed_until DATE,
        acted_by VARCHAR,
        acted_at TIMESTAMP,
        comment VARCHAR,
        run_id BIGINT NOT NULL,
        created_at TIMESTAMP NOT NULL
    )""",
    # Which rule was evaluated on which date (a date is evaluated once per rule: re-running it
    # opens nothing twice).
    """CREATE TABLE IF NOT EXISTS alert_checks (
        rule VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        holding BIGINT NOT NULL,
        opened BIGINT NOT NULL,
        closed BIGINT NOT NULL,
        run_id BIGINT NOT NULL,
        checked_at TIMESTAMP NOT NULL,
        PRIMARY KEY (rule, as_of)
    )""",
    # What is to be delivered where: written with the alert, in the same transaction; sent
    # after it commits; marked sent after the channel accepted it. `key` is the idempotency
    # key a receiver sees on every attempt.
    """CREATE TABLE IF NOT EXISTS alert_outbox (
        "key" VARCHAR PRIMARY KEY,
        alert_id BIGINT,
        kind VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        recipient VARCHAR,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        last_error VARCHAR,
        created_at TIMESTAMP NOT NULL,
        last_attempt_at TIMESTAMP,
        sent_at TIMESTAMP,
        payload JSON
    )""",
]

#: The schema whose migration frees most of a store's space (the per-measure rows go): a store
#: migrated past it is compacted (Store.compact).
COMPACTED_AT = 11

#: version → statements that migrate a store from ``version - 1`` to ``version``.
MIGRATIONS: dict[int, list] = {
    2: SNAPSHOT_DDL + MEASURE_ROWS_DDL,  # scores: snapshots, their measures and groups, versions
    3: MANUAL_DDL + [  # overrides, which measure scores they replaced, the trends view
        "ALTER TABLE snapshot_measures ADD COLUMN IF NOT EXISTS override_id BIGINT",
        TRENDS_VIEW,
    ],
    4: TOKENS_DDL,  # REST API tokens (hashed)
    5: [  # which process runs a run, so a run whose process died shows as interrupted
        "ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid BIGINT",
        "ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR",
    ],
    6: SERIES_DDL + [SERIES_FILL,  # each account's scores in account order (fast history)
                     "INSERT INTO meta VALUES ('series_ready', 'true'), ('series_unsorted', '0')"],
    # the hash as a UUID (pandas and pyarrow read it; the 128-bit value is the same), and
    # events' own id, amount and properties (added columns: stored rows keep their hash)
    7: [f'ALTER TABLE "{t.name}" ALTER COLUMN _hash SET DATA TYPE UUID' for t in TABLES.values()]
       + [f'ALTER TABLE "{t.name}" ADD COLUMN IF NOT EXISTS "{c.name}" {c.duckdb_type}'
          for t in TABLES.values() for c in t.columns if c.added],
    # a rejected row's key (an account's id), so rows pointing at it can say where it went
    8: ['ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS "key" VARCHAR'],
    9: MODEL_DDL,  # churn-probability models and their predictions
    10: ALERTS_DDL,  # alerts (one per episode), the dates each rule was checked, the outbox
    # the compact history: raw values per version, overrides applied, revisions kept
    11: HISTORY_DDL + [migrate_to_values],
    # daily roll-ups of the usage events, maintained as events arrive (store/rollups.py)
    12: [partial(rollups.rebuild, last=False)],
    13: PLANS_DDL,  # compiled measure plans (engine/plan.py)
    # each account's last event time, each (account, user) and (account, event)'s last day
    14: [partial(rollups.rebuild_last, tables=(rollups.LAST,))],
    15: [partial(rollups.rebuild_last, tables=tuple(rollups.PAIR_LAST.values()))],
    16: CURSORS_DDL,  # where each database source's cursor got to (sources/database.py)
}


#: Version of the content-hash recipe below, kept in ``meta`` so a release that changes it can
#: re-hash stored rows in a migration instead of duplicating them on re-ingest.
HASH_SCHEME = 1


def _hash_text(col) -> str:
    ref = f'"{col.name}"'
    if col.type == "timestamp":
        return f"CAST(epoch_us({ref}) AS VARCHAR)"
    if col.type == "string":
        return ref
    return f"CAST({ref} AS VARCHAR)"


def hash_expr(table: Table) -> str:
    """SQL for a 128-bit content hash of a canonical row as a UUID (NULL-safe,
    order-sensitive).

    Each value is spelled in a stable text form (timestamps as epoch microseconds, dates as ISO)
    so the hash does not depend on display settings. Columns added to a table later join the
    text only when they have a value, so rows stored before keep their hash. A row with an
    identity column set (an event's ``event_id``) is identified by its source and that id.
    """
    base = [f"coalesce({_hash_text(c)}, chr(0))" for c in table.columns
            if not c.added and not c.identity]
    extra = "".join(f" || coalesce(chr(31) || {lit(c.name)} || chr(30) || {_hash_text(c)}, '')"
                    for c in table.columns if c.added and not c.identity)
    content = f"CAST(md5_number(concat_ws(chr(31), {', '.join(base)}){extra}) AS UUID)"
    ident = [c for c in table.columns if c.identity]
    if not ident:
        return content
    key = f'"{ident[0].name}"'
    return (f"CASE WHEN {key} IS NOT NULL THEN CAST(md5_number(concat_ws(chr(31), "
            f"{lit(ident[0].name)}, _source, {key})) AS UUID) ELSE {content} END")


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
