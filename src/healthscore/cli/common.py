"""Shared bits of the CLI verbs: consoles, the workspace option, small formatters."""

from __future__ import annotations

import re
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


#: Terminal escape sequences (colours, cursor moves, window titles) and other control
#: characters: a CRM name must not be able to rewrite the screen of whoever reads it.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|"
                      r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def esc(value: object) -> str:
    """Text from data or errors, safe for the terminal: Rich markup (``[red]`` in a name stays
    text) and control characters (escape sequences are removed; tabs and newlines stay)."""
    return escape(_CONTROL.sub("", "" if value is None else str(value)))

WorkspaceOption = typer.Option(
    Path("."), "--workspace", "-w", help="The workspace folder (holds healthscore.yaml).",
    show_default=True)


#: A count with thousands separators (one formatting module for every surface).
n = count
