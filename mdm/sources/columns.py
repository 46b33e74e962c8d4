"""The columns check: every column ``mdm.toml`` names is in the source, exactly once."""

from __future__ import annotations

import difflib

from mdm.config.specs import SourceSpec
from mdm.errors import MdmError, Problem, Reason
from mdm.sources.validate import readable

_COLUMN_HINT = "fix the mapping in mdm.toml or the extract"
_LISTED_COLUMNS = 30


def missing_columns(
    spec: SourceSpec, location: str, columns: list[str], container: str
) -> list[Problem]:
    """One problem per column the spec needs that is absent (or ambiguous) in the source."""
    problems = []
    for column, keys in _column_uses(spec).items():
        where = f"{location} (source '{spec.name}', {', '.join(keys)})"
        count = columns.count(column)
        if count == 0:
            message = f"column '{column}' is not in {container}; it has: {listing(columns)}"
            problems.append(Problem(where, message, _did_you_mean(column, columns)))
        elif count > 1:
            message = f"column '{column}' appears {count} times in {container}"
            problems.append(Problem(where, message, "rename the copies in the extract"))
    return problems


def _column_uses(spec: SourceSpec) -> dict[str, list[str]]:
    """Source column -> the mdm.toml keys that name it."""
    uses: dict[str, list[str]] = {column: [] for column in spec.source_columns}
    uses[spec.key].append("key")
    for attribute in spec.mapping:
        for column in spec.mapped_columns(attribute):
            uses[column].append(f"mapping.{attribute}")
    if spec.last_modified:
        uses[spec.last_modified].append("last_modified")
    if spec.deleted_flag:
        uses[spec.deleted_flag].append("deleted_flag")
    if spec.op_column:
        uses[spec.op_column].append("op_column")
    return uses


def listing(names: list[str]) -> str:
    shown = ", ".join(readable(name, "utf-8") for name in names[:_LISTED_COLUMNS])
    if len(names) > _LISTED_COLUMNS:
        shown += f", … ({len(names)} in all)"
    return shown or "no columns"


def _did_you_mean(column: str, columns: list[str]) -> str:
    folded = {name.casefold(): name for name in columns}
    close = folded.get(column.casefold()) or next(
        iter(difflib.get_close_matches(column, columns, n=1)), None
    )
    return f"did you mean '{close}'? {_COLUMN_HINT}" if close else _COLUMN_HINT


def require_columns(spec: SourceSpec, location: str, columns: list[str], container: str) -> None:
    problems = missing_columns(spec, location, columns, container)
    if problems:
        summary = f"source '{spec.name}': {location} lacks columns that mdm.toml names"
        raise MdmError(Reason.SOURCE, summary, problems)
