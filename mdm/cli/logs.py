"""Where the ``mdm`` logger's lines go when mdm runs as a command.

The library only logs (``mdm.log``); the command decides: lines go to stderr, apart from the
tables on stdout. Without a terminal (cron, a pipe) each stage's line shows at INFO by default,
so a log file shows progress; on a terminal the spinner shows it, and the lines only with
``--verbose``. ``MDM_LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR) sets the level; ``--verbose``
makes it more detailed, never less.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from mdm.errors import MdmError, Reason
from mdm.log import logger

LEVEL_VARIABLE = "MDM_LOG_LEVEL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LINE_FORMAT = "%(asctime)s %(levelname)s %(message)s"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes each line to ``sys.stderr`` as it is then: the spinner (which prints such lines
    above itself) or a test runner may have replaced it since the handler was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def log_level(verbose: int, environment: Mapping[str, str], terminal: bool) -> int:
    """The level of the ``mdm`` logger: ``MDM_LOG_LEVEL``, else INFO without a terminal and
    WARNING on one; ``--verbose`` once lowers it to INFO, twice to DEBUG."""
    named = environment.get(LEVEL_VARIABLE, "").strip().upper()
    if named and named not in LEVELS:
        raise MdmError(
            Reason.USAGE,
            f"{LEVEL_VARIABLE}={environment[LEVEL_VARIABLE]!r} is not a log level: use one of "
            f"{', '.join(LEVELS)}.",
        )
    level = logging.getLevelName(named) if named else logging.WARNING if terminal else logging.INFO
    if verbose:
        level = min(level, logging.INFO if verbose == 1 else logging.DEBUG)
    return int(level)


def configure_logging(verbose: int = 0) -> Callable[[], None]:
    """Send the ``mdm`` logger's lines to stderr at the level the user asked for. Called again
    (a command's own --verbose), it replaces its handler. Returns what undoes it, for a process
    that goes on after the command (a test, a program that runs commands)."""
    level = log_level(verbose, os.environ, sys.stderr.isatty())
    before = logger.level
    _remove_handlers()
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(LINE_FORMAT, TIME_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)

    def undo() -> None:
        _remove_handlers()
        logger.setLevel(before)

    return undo


def _remove_handlers() -> None:
    for handler in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(handler)
