"""The exception tree: one root, one class per kind of failure.

Every error says what went wrong, where (file:line, config key, file/row/column) and what to try.
The CLI maps :class:`ConfigError` (and usage errors) to exit code 2 and everything else to 1.
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
