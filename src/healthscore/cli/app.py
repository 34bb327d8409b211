"""The Typer application, its error handling and the verbs' registration.

Errors: a :class:`~healthscore.errors.HealthScoreError` prints one red line (and its hint) and
exits 2 for configuration/usage problems, 1 for other failures; ``--debug`` shows the traceback.

Verbs load on demand. :data:`VERBS` names each top-level command, the module that defines it and
the summary the command list shows; a verb's module (and what it imports: the pipeline, Ibis,
pandas, …) is imported only when that verb runs or shows its own help, so ``healthscore --help``
and the light verbs start without them. tests/cli/test_startup.py checks VERBS against the
modules.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from healthscore.cli.common import err_console, esc
from healthscore.errors import HealthScoreError


class Verb(NamedTuple):
    """A top-level command: the module whose ``register(app)`` adds it, and the first paragraph
    of its help (all the command list shows)."""

    module: str
    summary: str


#: Every top-level command, in the order ``healthscore --help`` lists them.
VERBS: dict[str, Verb] = {
    "init": Verb("init",
        "Create a workspace: a commented healthscore.yaml, commented starter scorecards (health,\n"
        "expansion) and an empty store."),
    "ingest": Verb("ingest",
        "Load every configured source into the store; rejected rows go to the quarantine."),
    "status": Verb("status",
        "Rows, accounts and time span of every table; the last runs; the quarantine."),
    "quarantine": Verb("quarantine",
        "List quarantined rows: what was rejected, where, and why."),
    "score": Verb("score",
        "Score every active account as of a date; store the snapshot; show bands and the lowest."),
    "forget": Verb("score",
        "Remove a date's snapshots scored by mistake (e.g. after the exports stopped); recorded\n"
        "as a run, so the history never changes silently."),
    "check": Verb("score",
        "Validate healthscore.yaml and every scorecard (measures, params, variants), then "
        "preview\n"
        "each measure on the last date with data: coverage, how varied its scores are, and a\n"
        "warning for a measure missing for every account or the same for all. Nothing is stored."),
    "explain": Verb("explain",
        "Score, band, coverage; every group and measure: raw value, score, weight, points."),
    "backfill": Verb("history",
        "Score every day (or --step) of a range; resumable: scored dates are skipped."),
    "run": Verb("history",
        "The daily job: ingest what is new, score today. Safe to run again (cron); fails when "
        "the\n"
        "data stopped arriving days ago (stale exports), leaving the last scores as they were."),
    "trend": Verb("history",
        "Score per day, band changes, and the 7 / 30 / 90-day deltas of one account."),
    "why": Verb("history",
        "Why a score changed between two dates: the delta split exactly by measure."),
    "movers": Verb("history",
        "The largest drops and rises in the portfolio, each with its top reason."),
    "backtest": Verb("backtest",
        "Backtest a scorecard's stored scores against what followed: churn (or expansion, for a\n"
        "scorecard that `predicts: expansion`). AUC with its interval, the event rate by band, "
        "flag\n"
        "precision and recall, lift by decile, each measure alone, baselines, lead time.\n"
        "Recorded as a run in the store."),
    "suggest-weights": Verb("weights",
        "Fit the scorecard's weights to what followed its stored scores: trained on earlier\n"
        "sample dates, checked on later ones, groups kept, weights non-negative. Prints the new\n"
        "weights, the band thresholds, the backtest before and after on the later dates, and the\n"
        "diff of the scorecard file. Nothing changes until you ship the file."),
    "predict": Verb("predict",
        "Fit a glass-box churn model on the stored measure values and their 30/90-day changes,\n"
        "out of time (trained on earlier dates, checked on later ones beside the score), and "
        "store\n"
        "its probability for every account on every scored date. With --explain ACCOUNT, show\n"
        "one account's probability, its reasons and history instead."),
    "preview": Verb("preview",
        "Compare the scorecard with a changed file on the same data, writing nothing: the band\n"
        "transitions (accounts and ARR), the accounts that move most and the measures that moved\n"
        "them, and the backtest before and after when history is stored."),
    "pulse": Verb("manual",
        "Record a CSM pulse: an input of the scorecard's csm_pulse measure from now on."),
    "override": Verb("manual",
        "Replace one measure's score for an account until it expires (shown in explain)."),
    "export": Verb("export",
        "Write the scores (or per-measure explanations) of one date to a CSV or Parquet file."),
    "lake": Verb("lake",
        "Write the store's canonical tables to a folder of Parquet files (one per table), the\n"
        "layout the Spark engine reads (engine: {kind: spark, tables: DIR}; docs/scale.md)."),
    "demo": Verb("demo",
        "Generate a realistic SaaS company (files + healthscore.yaml) and load it."),
    "serve": Verb("serve",
        "Serve the dashboard (pages at /) and the REST API (/api/v1) until Ctrl-C."),
    "scorecard": Verb("scorecard",
        "Scorecards: suggest a first one from the loaded data."),
    "alerts": Verb("alerts",
        "Alerts: list, acknowledge, snooze, check the rules, deliver, replay over history, test "
        "the channels, send the digest."),
    "token": Verb("token",
        "REST API tokens: create (shown once), list, revoke."),
}


def load_verbs(module: str) -> dict[str, TyperCommand | TyperGroup]:
    """The commands and command groups a verb module (``healthscore.cli.<module>``) registers."""
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    holder.callback()(lambda: None)  # a group, even for a module with a single command
    importlib.import_module(f"healthscore.cli.{module}").register(holder)
    return dict(typer.main.get_command(holder).commands)


class _Verbs(Mapping[str, TyperCommand | TyperGroup]):
    """The root's commands by name; a verb's module is imported when it is first looked up."""

    def __init__(self) -> None:
        self._loaded: dict[str, TyperCommand | TyperGroup] = {}

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in self._loaded:
            if name not in VERBS:
                raise KeyError(name)
            self._loaded.update(load_verbs(VERBS[name].module))
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in VERBS

    def __iter__(self) -> Iterator[str]:
        return iter(VERBS)

    def __len__(self) -> int:
        return len(VERBS)


class _Group(TyperGroup):
    def __init__(self, **attrs) -> None:
        super().__init__(**attrs)
        self.commands = _Verbs()

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(VERBS)

    def format_help(self, ctx: typer.Context, formatter) -> None:
        # The command list shows VERBS' summaries: listing the verbs imports none of them.
        listing = copy.copy(self)
        listing.commands = {name: TyperCommand(name=name, help=verb.summary)
                            for name, verb in VERBS.items()}
        TyperGroup.format_help(listing, ctx, formatter)

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


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="healthscore")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
