"""The dashboard's form fields, read one way: trimmed text within a length, and dates, each
problem said as ``field: what to do`` (the pulse form and the alert actions)."""

from __future__ import annotations

from datetime import date, datetime


def text(form: dict[str, str], name: str, errors: list[str], *, limit: int,
         missing: str | None = None) -> str:
    """The field trimmed; an error when it is longer than ``limit`` characters, or empty and
    ``missing`` says what to do then."""
    value = form.get(name, "").strip()
    if not value and missing is not None:
        errors.append(f"{name}: {missing}")
    elif len(value) > limit:
        errors.append(f"{name}: at most {limit:,} characters")
    return value


def day(form: dict[str, str], name: str, errors: list[str], *, missing: str | None = None
        ) -> date | None:
    """The field as a date (YYYY-MM-DD); None when empty (an error if ``missing`` says what
    to do then) or not a date (an error naming it)."""
    raw = form.get(name, "").strip()
    if not raw:
        if missing is not None:
            errors.append(f"{name}: {missing}")
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        errors.append(f"{name}: {raw!r} is not a date (YYYY-MM-DD)")
        return None
