"""The workbench: ``mdm serve``, and the people (``mdm user``) and machines (``mdm token``)
that may use it. Imports of the web stack happen inside the commands: ``mdm --help`` stays
fast, and mdm without its ``web`` extra still runs everything else."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mdm.cli.base import ProjectOption, console, load, user_errors
from mdm.errors import MdmError, Reason

if TYPE_CHECKING:
    from mdm.config import Project

users = typer.Typer(help="People who may sign in to the workbench.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens for machines.", no_args_is_help=True)

RoleOption = Annotated[
    str, typer.Option("--role", help="viewer (reads), steward (decides), admin (manages users).")
]
ByOption = Annotated[str, typer.Option("--by", help="Who acts (for the audit log).")]
SECRET_FILE = "web-secret.key"
WEB_EXTRA = "the web workbench needs mdm's 'web' extra: pip install 'mdm[web]'"


def serve(
    project: ProjectOption = Path("."),
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    session_hours: Annotated[
        float, typer.Option(help="How long a sign-in lasts, in hours.")
    ] = 12.0,
    secure_cookies: Annotated[
        bool,
        typer.Option(help="Send the session cookie over HTTPS only (behind a TLS proxy)."),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes: each answers requests on its own core (one process "
            "answers one request at a time).",
        ),
    ] = 1,
) -> None:
    """Serve the stewards' workbench and the REST API (sign in with a user of 'mdm user add')."""
    with user_errors():
        _require_web()
        import uvicorn

        from mdm.web.serving import freeze_what_is_loaded, hand_to_workers, served_app

        loaded = load(project)
        secret = _secret(loaded)
        # Opened here in any case: a store that cannot be served is said before listening.
        app, store = served_app(
            loaded, secret=secret, session_hours=session_hours, secure_cookies=secure_cookies
        )
    console.print(f"Serving {escape(loaded.spec.project.name)} on http://{host}:{port}/")
    if workers > 1:
        store.close()  # each worker opens its own
        hand_to_workers(
            loaded, secret=secret, session_hours=session_hours, secure_cookies=secure_cookies
        )
        uvicorn.run(
            "mdm.web.serving:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="info",
            proxy_headers=True,
        )
        return
    freeze_what_is_loaded()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
    finally:
        store.close()


@users.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: RoleOption = "steward",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    project: ProjectOption = Path("."),
    by: ByOption = "cli",
) -> None:
    """Add a user; the password is asked for (or read from standard input)."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        parsed = accounts.parse_role(role)
        loaded = load(project)
        password = _password(password_stdin)
        accounts.add_user(loaded.store_url, name, parsed, password, by)
    console.print(f"User {escape(name)} added as {parsed}.")


@users.command("list")
def user_list(project: ProjectOption = Path(".")) -> None:
    """List the users."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        rows = accounts.list_users(load(project).store_url)
    table = Table("name", "role", "active", "created", "disabled")
    for row in rows:
        table.add_row(
            escape(row["name"]),
            row["role"],
            "yes" if row["active"] else "no",
            _when(row["created_at"]),
            _when(row["disabled_at"]),
        )
    console.print(table)


@users.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The user to disable.")],
    project: ProjectOption = Path("."),
    by: ByOption = "cli",
) -> None:
    """Disable a user: their sessions stop working at once."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        accounts.disable_user(load(project).store_url, name, by)
    console.print(f"User {escape(name)} is disabled.")


@tokens.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. crm-sync.")],
    role: RoleOption = "viewer",
    project: ProjectOption = Path("."),
    by: ByOption = "cli",
) -> None:
    """Create an API token. It is printed once, alone on the last line; keep it safe."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        parsed = accounts.parse_role(role)
        token = accounts.create_token(load(project).store_url, name, parsed, by)
    console.print(
        f"Token {escape(name)} ({parsed}) created. It is shown this once; send it as "
        "'Authorization: Bearer TOKEN'."
    )
    print(token)


@tokens.command("list")
def token_list(project: ProjectOption = Path(".")) -> None:
    """List the API tokens (never the tokens themselves)."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        rows = accounts.list_tokens(load(project).store_url)
    table = Table("id", "name", "role", "created by", "created", "revoked")
    for row in rows:
        table.add_row(
            str(row["id"]),
            escape(row["name"]),
            row["role"],
            escape(row["created_by"]),
            _when(row["created_at"]),
            _when(row["revoked_at"]),
        )
    console.print(table)


@tokens.command("revoke")
def token_revoke(
    name_or_id: Annotated[str, typer.Argument(help="The token's name or id.")],
    project: ProjectOption = Path("."),
    by: ByOption = "cli",
) -> None:
    """Revoke an API token: requests with it fail from now on."""
    with user_errors():
        _require_web()
        from mdm.web import accounts

        count = accounts.revoke_token(load(project).store_url, name_or_id, by)
    console.print(f"{count} token{'s' * (count != 1)} revoked.")


def _require_web() -> None:
    try:
        import argon2  # noqa: F401
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as error:
        raise MdmError(Reason.USAGE, f"{WEB_EXTRA} ({error.name} is missing).") from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    text: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return text


def _secret(project: Project) -> bytes:
    """The key that signs session cookies: MDM_SECRET_KEY, else a random key kept in the
    project folder (readable by its owner only), made the first time."""
    given = os.environ.get("MDM_SECRET_KEY")
    if given:
        return given.encode("utf-8")
    path = project.root / SECRET_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode("utf-8")


def _when(value: object) -> str:
    return "" if value is None else str(value)[:19]
