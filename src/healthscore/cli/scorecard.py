"""``healthscore scorecard suggest``: a first scorecard from what the workspace has loaded."""

from __future__ import annotations

from pathlib import Path

import typer

from healthscore import pipeline
from healthscore.cli.common import WorkspaceOption, console, esc
from healthscore.store.disk import check_output
from healthscore.workspace import Workspace

scorecard_app = typer.Typer(help="Scorecards: suggest a first one from the loaded data.",
                            no_args_is_help=True)


@scorecard_app.command("suggest")
def suggest(
    workspace: Path = WorkspaceOption,
    name: str = typer.Option("health", "--name", help="The scorecard's name."),
    out: Path = typer.Option(None, "--out", help="Where to write it (default: "
                             "scorecards/<name>.yaml in the workspace)."),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
) -> None:
    """Write a scorecard with the measures the loaded data supports (only tables with rows,
    only columns the exports filled, the most used event names as features), scored by
    percentile; the comments say why each is in. Review it, then healthscore check."""
    if out is not None:
        check_output(out)
    ws = Workspace.open(workspace)
    path, chosen = pipeline.suggest_scorecard(ws, name, out=out, force=force)
    groups = sorted({p.group for p in chosen})
    console.print(f"Wrote {esc(str(path))}: {len(chosen)} measures in {len(groups)} groups "
                  f"({', '.join(groups)}).")
    for p in chosen:
        console.print(f"  {p.group}.{p.measure}: {esc(p.why)}")
    console.print(f"Next: review the weights, then [bold]healthscore check -w {esc(str(workspace))}"
                  "[/] (it previews every measure) and healthscore score.")


def register(app: typer.Typer) -> None:
    app.add_typer(scorecard_app, name="scorecard")
