"""``token create|list|revoke``: REST API tokens, shown once and stored hashed."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from healthscore import clock
from healthscore.cli.common import WorkspaceOption, console, err_console, esc
from healthscore.store import tokens
from healthscore.workspace import Workspace

token_app = typer.Typer(help="REST API tokens: create (shown once), list, revoke.",
                        no_args_is_help=True)


@token_app.command("create")
def create(
    workspace: Path = WorkspaceOption,
    name: str = typer.Option(..., "--name", help="Who or what uses the token (e.g. ingest-bot)."),
    scope: list[str] = typer.Option(
        ["write"], "--scope", help="read (reads only) or write (ingest, pulses, overrides and "
        "reads); repeat for several."),
) -> None:
    """Create a token and print it once: only its SHA-256 is stored."""
    for s in scope:
        if s not in tokens.SCOPES:
            raise typer.BadParameter(f"{s!r}: use " + " or ".join(tokens.SCOPES),
                                     param_hint="--scope")
    ws = Workspace.open(workspace)
    with ws.store() as store:
        token, info = tokens.create_token(store, name=name, scopes=scope, now=clock.now())
    # The token alone on stdout, so `T=$(healthscore token create ...)` works.
    print(token)
    err_console.print(f"Token {info.token_id} ({esc(info.name)}, scopes: "
                      f"{', '.join(info.scopes)}) created. It is shown only now: keep it in a "
                      "secret store. Use it as `Authorization: Bearer <token>`.")


@token_app.command("list")
def list_(
    workspace: Path = WorkspaceOption,
    all_: bool = typer.Option(False, "--all", help="Include revoked tokens."),
) -> None:
    """List tokens: id, name, scopes, created, last used (never the secrets)."""
    ws = Workspace.open(workspace)
    with ws.store() as store:
        found = tokens.list_tokens(store, include_revoked=all_)
    if not found:
        console.print("No tokens. [bold]healthscore token create --name NAME[/] makes one.")
        return
    table = Table(title_justify="left")
    for col in ("id", "name", "scopes", "created", "last used") + (("revoked",) if all_ else ()):
        table.add_column(col)
    for t in found:
        row = [t.token_id, esc(t.name), ", ".join(t.scopes), f"{t.created_at:%Y-%m-%d %H:%M}",
               f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"]
        if all_:
            row.append(f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "")
        table.add_row(*row)
    console.print(table)


@token_app.command("revoke")
def revoke(
    token_id: str = typer.Argument(..., help="The token's id (from `token list`)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    ws = Workspace.open(workspace)
    with ws.store() as store:
        info = tokens.revoke_token(store, token_id, now=clock.now())
    console.print(f"Token {info.token_id} ({esc(info.name)}) revoked.")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
