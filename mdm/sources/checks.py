"""The checks that quarantine a row, each with the fix to suggest when it takes most rows.

Every quarantine row comes from one check on one column (or on the whole row). A load whose
rows fail the same check on the same column past ``max_quarantine_share`` is not a few bad
rows but a source read wrongly (a date format, a delimiter, an encoding, the key column): the
run stops before it writes anything, with one error naming the check's likely fix
(``check_quarantine_share``).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from mdm.errors import MdmError, Problem, Reason

if TYPE_CHECKING:
    from mdm.sources.readers import SourceLoad

# A source with fewer rows than this is never stopped for its share: a handful of rows says
# little (a delta of three rows, one of them bad).
MIN_ROWS_FOR_SHARE: Final = 20


class Check(StrEnum):
    """What a quarantined row failed."""

    RAGGED = "ragged"  # a CSV row with more or fewer fields than the header
    UNCLOSED_QUOTE = "unclosed_quote"
    NOT_JSON = "not_json"  # a JSON Lines line that is not one object
    UNDECODABLE = "undecodable"  # bytes the encoding cannot decode
    OVERSIZED = "oversized"  # a value longer than mdm takes
    EMPTY_KEY = "empty_key"
    DUPLICATE_KEY = "duplicate_key"
    DATE = "date"  # not a date, or not in the source's date format
    AMBIGUOUS_DATE = "ambiguous_date"  # a/b/yyyy with no day over 12: us or eu cannot be told
    DATE_RANGE = "date_range"  # a date beyond what the store holds (a 9999-12-31 "never")
    FLAG = "flag"  # a deleted flag that is not true/false


_WHAT: Final[dict[Check, str]] = {
    Check.RAGGED: "have another number of fields than the header",
    Check.UNCLOSED_QUOTE: "open a quote that is not closed",
    Check.NOT_JSON: "are not JSON objects",
    Check.UNDECODABLE: "hold bytes the encoding cannot decode",
    Check.OVERSIZED: "hold values longer than mdm takes",
    Check.EMPTY_KEY: "have an empty key",
    Check.DUPLICATE_KEY: "repeat a key",
    Check.DATE: "have a last-modified value that is not a date in the expected format",
    Check.AMBIGUOUS_DATE: "have a last-modified date that may be mm/dd or dd/mm",
    Check.DATE_RANGE: "have a last-modified date outside the dates mdm can store",
    Check.FLAG: "have a deleted flag that is not true/false",
}

_FIX: Final[dict[Check, str]] = {
    Check.RAGGED: "check delimiter and encoding in mdm.toml: a wrong delimiter splits rows "
    "into the wrong fields",
    Check.UNCLOSED_QUOTE: "check delimiter and encoding in mdm.toml, or fix the quoting of the "
    "extract",
    Check.NOT_JSON: "check format in mdm.toml: a JSON Lines file holds one object per line",
    Check.UNDECODABLE: 'set encoding for this source in mdm.toml (e.g. encoding = "cp1252" '
    'or "latin-1")',
    Check.OVERSIZED: "check the mapping and delimiter in mdm.toml: is the right column mapped?",
    Check.EMPTY_KEY: "check key = in mdm.toml: it should name the column that identifies a record",
    Check.DUPLICATE_KEY: "check key = in mdm.toml: it should name a column unique per record",
    Check.DATE: 'set last_modified_format for this source in mdm.toml ("compact", "us", '
    '"eu", "epoch" or a strftime pattern such as "%Y%m%d%H%M%S"), or check last_modified =',
    Check.AMBIGUOUS_DATE: 'set last_modified_format = "us" or "eu" for this source in mdm.toml',
    Check.DATE_RANGE: "check last_modified = in mdm.toml names the column of last changes",
    Check.FLAG: "check deleted_flag = in mdm.toml names a column of true/false values",
}


def check_quarantine_share(load: SourceLoad) -> None:
    """Stop a load that quarantines more than ``max_quarantine_share`` of its rows for the same
    reason (the same check on the same column): raise one ``MdmError`` naming each such
    reason, before anything is written."""
    problems = quarantine_share_problems(load)
    if problems:
        summary = (
            "The run was stopped before changing the store: most rows of a source were "
            "quarantined for the same reason, so the source is read wrongly."
        )
        raise MdmError(Reason.SOURCE, summary, problems)


def quarantine_share_problems(load: SourceLoad) -> list[Problem]:
    spec = load.spec
    rows = load.rows_read
    if rows < MIN_ROWS_FOR_SHARE or load.quarantine.empty:
        return []
    limit = spec.max_quarantine_share
    found = load.quarantine.assign(check=list(load.checks))
    found["column"] = found["column"].fillna("")
    problems = []
    for (check, column), group in found.groupby(["check", "column"], sort=False):
        count = int(group["row_number"].nunique())
        if count <= limit * rows:
            continue
        first = group.iloc[0]
        where = f"{load.location} (source '{spec.name}'" + (
            f", column '{column}')" if column else ")"
        )
        message = (
            f"{count:,} of {rows:,} rows ({_percent(count / rows)}) "
            f"{_WHAT[Check(str(check))]}, more than max_quarantine_share = {limit:g} allows "
            f"({_percent(limit)}); for example row {first['row_number']}"
            f"{_example_value(first['raw'], str(column))}: {first['reason']}"
        )
        hint = f"{_FIX[Check(str(check))]}; or raise max_quarantine_share if these rows are bad"
        problems.append(Problem(where, message, hint))
    return problems


def _example_value(raw: str, column: str) -> str:
    if not column:
        return ""
    try:
        value = json.loads(raw).get(column)
    except (json.JSONDecodeError, AttributeError):
        return ""
    if value is None:
        return ""
    shown = value if len(value) <= 60 else value[:59] + "…"
    return f" ({column} = '{shown}')"


def _percent(share: float) -> str:
    text = f"{share * 100:.1f}".removesuffix(".0")
    return f"{text}%"
