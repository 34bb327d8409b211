"""The exception tree: one root, one class per kind of failure.

Every error says what went wrong, where (file:line, config key, file/row/column) and what to try.
The CLI maps :class:`ConfigError` (and usage errors) to exit code 2 and everything else to 1;
the API and the pages map them to one HTTP status each (422, 404, 503, ...)::

    HealthScoreError
    ├── ConfigError (ValueError)        a workspace or scorecard file is invalid      exit 2
    ├── WorkspaceError (FileNotFoundError)  no workspace where one was expected       exit 2
    ├── InputError (ValueError)         a request or command argument is invalid      exit 2 / 422
    ├── NotFound (LookupError)          no such account, snapshot or date             exit 1 / 404
    ├── SourceError (OSError)           a source file cannot be read
    ├── SchemaError (ValueError)        data does not fit a table's column contract
    ├── QuarantineError                 rows were rejected under ``strict``
    ├── EngineError                     the dataframe engine lacks what was asked of it
    ├── StoreError                      the store cannot be opened, migrated or written
    │   └── StoreBusy                   another process holds the store            503
    ├── OutputError (OSError)           an output file (export, report) cannot be written
    └── DeliveryError                   an alert did not reach its channel (``retryable``)
"""

from __future__ import annotations


class HealthScoreError(Exception):
    """Root of every error healthscore raises on purpose."""

    #: CLI exit code for this kind of error.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)


class ConfigError(HealthScoreError, ValueError):
    """A workspace or scorecard file is missing, unreadable or invalid.

    ``problems`` lists every problem found (``"file:line key: message"``), not just the first.
    """

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None):
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )
        super().__init__(full, hint=hint)
        self.message = message  # the headline; str(error) has the problems too


class WorkspaceError(HealthScoreError, FileNotFoundError):
    """No workspace where one was expected, or one already exists where a new one should go."""

    exit_code = 2


class SourceError(HealthScoreError, OSError):
    """A source file cannot be read, or lacks a required column: the whole source is refused."""


class SchemaError(HealthScoreError, ValueError):
    """Data does not fit a canonical table's column contract."""


class QuarantineError(HealthScoreError):
    """Rows were rejected and the ingest ran with ``strict``: nothing was written."""

    def __init__(self, message: str, *, report=None, hint: str | None = None):
        self.report = report
        super().__init__(message, hint=hint)


class StoreError(HealthScoreError):
    """The workspace store (DuckDB file) cannot be opened, migrated or written."""


class StoreBusy(StoreError):
    """Another process (an ingest, a backfill, the daily job) holds the store: retry later.

    Raised by :class:`healthscore.store.Store` when it cannot get the file's lock in time; the
    server answers it with 503 and ``Retry-After``."""


class InputError(HealthScoreError, ValueError):
    """An argument of a read or a command is invalid; ``field`` names it (a query parameter,
    an option)."""

    exit_code = 2

    def __init__(self, field: str, message: str, *, hint: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}", hint=hint)


class NotFound(HealthScoreError, LookupError):
    """What was asked for is not in the store: an unknown account, a date with no snapshot,
    an account with no score on a date. The hint says what exists or what to run; ``param``
    names the argument that asked for it, when one did (``as_of``, ``end``)."""

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None):
        self.param = param
        super().__init__(message, hint=hint)


class EngineError(HealthScoreError):
    """The dataframe engine cannot do what was asked (a backend without a capability)."""


class OutputError(HealthScoreError, OSError):
    """An output file (an export, a report, a CSV of the quarantine) cannot be written: its
    folder is missing or read-only, or the disk is full."""


class DeliveryError(HealthScoreError):
    """An alert (or a digest) did not reach its channel: a webhook, a mail server, a file.

    ``retryable`` says whether the same send may succeed later unchanged (the receiver was
    down, timed out, asked to slow down, the disk was full) or needs a change first (a 4xx
    answer, a refused login, a missing environment variable). ``channel`` names it
    (``webhook 'slack-cs'``), ``attempts`` counts the tries made, ``code`` is the last HTTP
    status or SMTP reply code, when there was one."""

    def __init__(self, message: str, *, retryable: bool, channel: str = "",
                 attempts: int = 1, code: int | None = None, hint: str | None = None):
        self.retryable = retryable
        self.channel = channel
        self.attempts = attempts
        self.code = code
        super().__init__(message, hint=hint)
