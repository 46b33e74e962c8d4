"""The ``mdm`` command. Thin: it parses, calls the pipeline, the views and the parts, and
prints. ``app`` is the Typer app and ``main`` runs it (the ``mdm`` script)."""

from collections.abc import Callable
from typing import Any

from mdm.cli import (
    publish_commands,
    read_commands,
    report_commands,
    run_commands,
    steward_commands,
    train_commands,
    web_commands,
)
from mdm.cli.base import app, console, errors

# In the order ``mdm --help`` lists them.
COMMANDS: dict[str, Callable[..., Any]] = {
    "init": run_commands.init,
    "run": run_commands.run,
    "ingest": run_commands.ingest,
    "export": run_commands.export,
    "publish": publish_commands.publish,
    "show": read_commands.show,
    "status": read_commands.status,
    "report": report_commands.report,
    "profile": report_commands.profile,
    "quarantine": read_commands.quarantine,
    "history": read_commands.history,
    "lineage": read_commands.lineage,
    "resolve": read_commands.resolve,
    "check": run_commands.check,
    "migrate": run_commands.migrate,
    "unmerge": steward_commands.unmerge,
    "pin": steward_commands.pin,
    "unpin": steward_commands.unpin,
    "decide": steward_commands.decide,
    "merge": steward_commands.merge,
    "move": steward_commands.move,
    "undo": steward_commands.undo,
    "review": read_commands.review,
    "explain": read_commands.explain,
    "train": train_commands.train,
    "demo": run_commands.demo,
    "serve": web_commands.serve,
}
for name, command in COMMANDS.items():
    app.command(name)(command)
app.add_typer(web_commands.users, name="user")
app.add_typer(web_commands.tokens, name="token")


def main() -> None:
    app()


__all__ = ["app", "console", "errors", "main"]
