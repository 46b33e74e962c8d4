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
