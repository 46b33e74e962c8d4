"""One error type for everything a user can get wrong, with a reason code and a hint."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    CONFIG = "config"
    RULES = "rules"
    SOURCE = "source"
    STORE = "store"
    NOT_FOUND = "not-found"
    USAGE = "usage"
    BUSY = "busy"
    # What an action was asked about changed since the asker looked (a record has a newer
    # version than the page a steward decided on): nothing was done; look again.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located as precisely as we can: file, key (or row, column), and a hint."""

    where: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass
class MdmError(Exception):
    """Base of every error mdm raises for people to read. Carries every problem found at once."""

    reason: Reason
    summary: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.problems:
            return self.summary
        lines = [self.summary, *(f"  - {problem}" for problem in self.problems)]
        return "\n".join(lines)


class ProblemCollector:
    """Collects problems so that a file is reported whole, then raises once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(where, message, hint))

    def raise_if_any(self, reason: Reason, summary: str) -> None:
        if self.problems:
            raise MdmError(reason, summary, list(self.problems))


def describe_error(error: BaseException) -> str:
    """An error as it may be stored in a run's record and printed: what went wrong and where,
    without the row values that driver and library messages quote (a SQL statement with its
    parameters, a key that clashed). The full text belongs in the local crash report only."""
    if isinstance(error, MdmError):
        return str(error)  # written by mdm for people: names files, keys and rules
    original = getattr(error, "orig", None)  # a database driver's error, wrapped
    if isinstance(original, BaseException):
        first_line = str(original).strip().splitlines()[0] if str(original).strip() else ""
        # The first line of a driver message names the constraint or table; the lines after
        # it (PostgreSQL's DETAIL) and SQLAlchemy's wrapper quote the values.
        return f"{type(original).__name__} ({_place(error)}): {first_line}".rstrip(": ")
    return f"{type(error).__name__} ({_place(error)})"


def _place(error: BaseException) -> str:
    """Where in mdm's code the error was raised: the innermost mdm frame, as module:line."""
    place = "unknown place"
    trace = error.__traceback__
    while trace is not None:
        code = trace.tb_frame.f_code
        module = trace.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith("mdm"):
            place = f"{module}:{trace.tb_lineno} in {code.co_name}"
        trace = trace.tb_next
    return place
