"""Shared bits of the CLI verbs: consoles, the workspace option, small formatters."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOption = typer.Option(
    Path("."), "--workspace", "-w", help="The workspace folder (holds healthscore.yaml).",
    show_default=True)


def n(value: int | float | None) -> str:
    """A count with thousands separators."""
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
