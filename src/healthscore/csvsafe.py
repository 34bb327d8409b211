"""Spreadsheet-safe CSV cells (OWASP's CSV injection rule).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets: a CRM name ``=HYPERLINK("http://…")`` exported as it is
runs when a CSM opens the file. Every CSV healthscore writes prefixes such a cell with a single
quote (``'=HYPERLINK(…)``), which spreadsheets show as text. Numbers are left as they are,
whether typed (an ARR of -12.5) or written as text (``-5``, ``+3.2``).
"""

from __future__ import annotations

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """``value`` as a CSV cell: a text starting like a formula gets a leading ``'``."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
        return value  # a number written as text
    except ValueError:
        return "'" + value


def sql_cell(expr: str) -> str:
    """SQL of the same rule for a text expression (DuckDB)."""
    return (f"CASE WHEN regexp_matches({expr}, '^[=+\\-@\\t\\r]') AND "
            f"TRY_CAST({expr} AS DOUBLE) IS NULL THEN '''' || {expr} ELSE {expr} END")
