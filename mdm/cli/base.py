"""The ``mdm`` Typer app and what every command shares: the consoles, the common options,
loading the project, opening the store for reading, and turning errors into one paragraph.

The command modules import at their top only what ``mdm --help`` needs (Typer, rich, the enums
in the commands' signatures). The project's rules, the store, the views and the pipeline are
imported in the functions that use them: importing them all costs seconds (pandas, Alembic,
the matching engine), which ``mdm --help`` and ``mdm status`` would pay for nothing.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mdm.cli.logs import configure_logging
from mdm.errors import MdmError, describe_error

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from mdm.config import Project
    from mdm.config.load import ReadOnlyProject

app = typer.Typer(
    help="Master data management: golden customer accounts and contacts from many systems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

GoldenId = Annotated[str, typer.Argument(help="A golden id, e.g. A-1f3e... or C-9a0b...")]
ActorOption = Annotated[str, typer.Option("--by", help="Who acts (for the audit log).")]
ReasonOption = Annotated[str | None, typer.Option(help="Why, for the audit log.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="If another run or steward action is writing to the store, wait for it to finish "
        "instead of stopping.",
    ),
]
ProjectOption = Annotated[
    Path,
    typer.Option("--project", "-p", envvar="MDM_PROJECT", help="Project folder or mdm.toml."),
]
VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="Log each stage with its counts and seconds to stderr (twice: debug details). "
        "Without a terminal (cron) stages are logged anyway; MDM_LOG_LEVEL sets the level.",
    ),
]


@app.callback()
def options(context: typer.Context, verbose: VerboseOption = 0) -> None:
    """Master data management: golden customer accounts and contacts from many systems."""
    with user_errors():
        # Only while the command runs: the library itself configures no handler.
        context.call_on_close(configure_logging(verbose))


def more_verbose(verbose: int) -> None:
    """A command's own --verbose: as if given before the command."""
    if verbose:
        with user_errors():
            configure_logging(verbose)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an MdmError into one clear paragraph and exit code 2: no traceback."""
    try:
        yield
    except MdmError as error:
        errors.print(f"[bold red]Error[/] ({error.reason}): {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    except Exception as error:  # a bug of ours: say so plainly, keep the details for a report
        report = _crash_report()
        # Not the error's own text: driver messages quote SQL and customer values.
        errors.print(
            f"[bold red]Internal error[/]: {escape(describe_error(error))}. "
            "Nothing was half-written: a run that fails is rolled back. The details are in "
            f"{report}; please attach that file to a bug report.",
            highlight=False,
        )
        raise typer.Exit(1) from None


def wait_seconds(wait: bool) -> float | None:
    """How long a run waits for the store's writer lock: as long as it takes, or not at all."""
    return None if wait else 0


def _crash_report() -> Path:
    handle, name = tempfile.mkstemp(prefix="mdm-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as report:
        report.write(traceback.format_exc())
    return Path(name)


def load(project: Path) -> Project:
    from mdm.config import load_project  # lazily: see the module docstring

    return load_project(project)


def load_for_reading(project: Path) -> ReadOnlyProject:
    """Commands that only read the store work even when the rules have problems: they warn."""
    from mdm.config.load import load_project_for_reading  # lazily: see the module docstring

    found = load_project_for_reading(project)
    if found.problems:
        count = len(found.problems)
        errors.print(
            f"[yellow]warning[/]: the project's rules or paths have {count} "
            f"problem{'s' * (count != 1)} ([bold]mdm run[/] lists them); this command only "
            "reads the store, as the last run left it.",
            highlight=False,
            soft_wrap=True,
        )
    return found


@contextmanager
def read_store(project: Project | ReadOnlyProject) -> Iterator[Connection]:
    """The project's store, open for one command's reads (the database refuses writes)."""
    from mdm.views import reading  # lazily: see the module docstring

    with reading(project.store_url) as connection:
        yield connection
