"""The Typer application, its error handling and the verbs' registration.

Errors: a :class:`~healthscore.errors.HealthScoreError` prints one red line (and its hint) and
exits 2 for configuration/usage problems, 1 for other failures; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from healthscore.cli.common import err_console, esc
from healthscore.errors import HealthScoreError


class _Group(TyperGroup):
    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except (HealthScoreError, OSError) as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            if not isinstance(exc, HealthScoreError):
                # a file a command writes (a report, a CSV): a missing folder, a full disk
                from healthscore.store.disk import output_fault

                exc = output_fault(Path(exc.filename or "(output)"), exc)
            err_console.print(f"[bold red]error:[/] {esc(exc.message)}")
            for problem in getattr(exc, "problems", []):
                err_console.print(f"  - {esc(problem)}")
            if exc.hint:
                err_console.print(f"[dim]hint:[/] {esc(exc.hint)}")
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="healthscore",
    help="Customer health scores from your own data: ingest, score, explain, prove.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    ctx.obj = {"debug": debug}


def _register() -> None:
    from healthscore.cli import (
        alerts,
        backtest,
        demo,
        explain,
        export,
        history,
        ingest,
        init,
        manual,
        predict,
        preview,
        quarantine,
        score,
        scorecard,
        serve,
        status,
        token,
        weights,
    )

    for module in (init, ingest, status, quarantine, score, scorecard, explain, history,
                   backtest, weights, predict, preview, manual, alerts, export, demo, token,
                   serve):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="healthscore")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
