"""How the ``mdm`` command prints: tables of data made safe for the terminal, and a run's
summary.

pandas is imported by the functions that build frames, not here: a command that prints plain
rows (``mdm status``, ``mdm --help``) starts without it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from mdm.cli.base import console

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from mdm.pipeline import RunSummary

SOURCE_COLUMNS = {
    "source": "source",
    "rows_read": "read",
    "inserted": "new",
    "updated": "changed",
    "deleted": "deleted",
    "unchanged": "same",
    "quarantined": "quarantined",
}
ENTITY_COLUMNS = {
    "entity": "entity",
    "records": "records",
    "golden": "golden",
    "candidate_pairs": "pairs",
    "created": "new ids",
    "updated": "updated",
    "merged": "redirects",
    "retired": "retired",
}


def print_summary(summary: RunSummary) -> None:
    import pandas as pd

    sources = pd.DataFrame([vars(s) for s in summary.sources])
    console.print(frame_table(f"Run {summary.run_id}: sources", pick(sources, SOURCE_COLUMNS)))
    if summary.entities:
        entities = pd.DataFrame([vars(e) for e in summary.entities])
        console.print(frame_table("Golden records", pick(entities, ENTITY_COLUMNS)))
    for entity in summary.entities:
        for warning in entity.warnings:
            console.print(f"[yellow]warning[/] ({entity.entity}): {text(warning)}")
    if summary.quarantined:
        console.print(
            f"[yellow]{summary.quarantined} rows quarantined[/] (not loaded, kept with reasons): "
            "see [bold]mdm quarantine[/]."
        )
    for source in summary.sources:
        if source.kept:
            whose = "record whose row was" if source.kept == 1 else "records whose rows were"
            console.print(
                f"{text(source.source)}: {source.kept} {whose} quarantined kept the last "
                "loaded version (neither updated nor deleted)."
            )
        for warning in source.warnings:
            console.print(f"[yellow]warning[/] ({text(source.source)}): {text(warning)}")
        if source.not_compared:
            console.print(
                f"{text(source.source)}: matched without {', '.join(source.not_compared)} "
                f"(compared by the {source.entity} rules; no column of the source is mapped)."
            )
    if summary.exports:
        console.print(f"Exports: [bold]{summary.exports}[/]")


def pick(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return frame[list(columns)].rename(columns=columns)


def models_frame(models: Sequence[BaseModel], columns: Iterable[str]) -> pd.DataFrame:
    """Models as table rows: one column per field in ``columns``, values as they are (objects,
    so that a missing number stays missing, not a float)."""
    import pandas as pd

    names = list(columns)
    return pd.DataFrame(model_rows(models, names), columns=names, dtype=object)


def model_rows(models: Sequence[BaseModel], columns: Iterable[str]) -> list[list[Any]]:
    """Models as plain table rows (for ``rows_table``): one value per field in ``columns``."""
    names = list(columns)
    return [[getattr(model, name) for name in names] for model in models]


def record_table(title: str, record: dict[str, Any]) -> Table:
    table = Table(title=text(title), show_header=False)
    table.add_column("attribute", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, cell(value))
    return table


def records_table(title: str, records: pd.DataFrame) -> Table:
    """Source records side by side: one column per record, one row per attribute."""
    table = Table(title=text(title))
    table.add_column("attribute", style="bold")
    labels = records["source"].astype(str) + ":" + records["source_key"].astype(str)
    for label in labels:
        table.add_column(text(label))
    for column in records.columns.drop(["source", "source_key"]):
        table.add_row(column, *(cell(value) for value in records[column]))
    return table


def frame_table(title: str, frame: pd.DataFrame, *, whole_title: bool = False) -> Table:
    """A table of ``frame``; ``whole_title``: at least as wide as its title, never wrapped."""
    rows = frame.itertuples(index=False, name=None)
    return rows_table(title, frame.columns, rows, whole_title=whole_title)


def rows_table(
    title: str,
    columns: Iterable[object],
    rows: Iterable[Iterable[Any]],
    *,
    whole_title: bool = False,
) -> Table:
    """A table of plain rows, as ``frame_table`` prints a frame."""
    table = Table(title=text(title), min_width=len(title) if whole_title else None)
    for column in columns:
        table.add_column(text(str(column)))
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    return table


def cell(value: Any) -> str:
    """Data as text for the terminal (see ``text``)."""
    if value is None or (not isinstance(value, (list, dict)) and _missing(value)):
        return ""
    if isinstance(value, (list, dict)):
        return text(json.dumps(value, ensure_ascii=False))
    return text(str(value))


def _missing(value: Any) -> bool:
    """``pd.isna(value)`` for one value, asking pandas only about values that are not plain
    Python text and numbers (which a table of plain rows holds)."""
    if isinstance(value, (str, int)):
        return False
    if type(value) is float:
        return value != value  # NaN
    import pandas as pd

    return bool(pd.isna(value))


# Characters that drive the terminal instead of showing: C0 and C1 controls (ESC starts colour
# and cursor sequences, NUL and BEL are invisible) and the bidirectional overrides that make
# text read differently from what it holds. Other non-ASCII text is shown as it is.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def text(value: str) -> str:
    """Source data made safe to print: controls shown escaped (ESC as \\x1b), and markup
    escaped, since a value like '[b]' is data, not markup."""
    return escape(UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], value))
