"""Shared bits of the CLI verbs: consoles, the workspace option, small formatters."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from healthscore.formatting import count


def _width(stream) -> int | None:
    # Rich assumes 80 columns when output is not a terminal (CI logs, pipes, tests); tables of
    # counts then get truncated, so give them room.
    return None if stream.isatty() else 140


# No emoji codes (":100:" in "file.yaml:100:" is not a picture); data is escaped with esc().
console = Console(highlight=False, soft_wrap=True, emoji=False, width=_width(sys.stdout))
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False,
                      width=_width(sys.stderr))


def esc(value: object) -> str:
    """Text from data or errors, safe from Rich markup (``[red]`` in a name stays text)."""
    return escape("" if value is None else str(value))

WorkspaceOption = typer.Option(
    Path("."), "--workspace", "-w", help="The workspace folder (holds healthscore.yaml).",
    show_default=True)


#: A count with thousands separators (one formatting module for every surface).
n = count
