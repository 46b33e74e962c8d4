"""What the steward actions share: their result, and records named as SOURCE:KEY."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mdm.pipeline import RunSummary

# Records listed in a message before "and N more".
MEMBERS_SHOWN = 10
KEYS = ["source", "source_key"]


@dataclass(frozen=True)
class StewardResult:
    message: str
    run: RunSummary


def named(frame: pd.DataFrame, source: str = "source", key: str = "source_key") -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, row by row."""
    return [f"{s}:{k}" for s, k in zip(frame[source], frame[key], strict=True)]


def refs(frame: pd.DataFrame) -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, sorted."""
    return sorted(named(frame))
