"""The ``healthscore`` command line: one verb per job, each a thin module."""

from healthscore.cli.app import app, main

__all__ = ["app", "main"]
