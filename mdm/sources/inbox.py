"""Inbox sources: records submitted one by one (``POST /api/records/{source}``), kept in the
store until the next run ingests them like any source's delta.

An inbox is declared in ``mdm.toml`` like any source, with ``format = "inbox"`` and no file:
its key field, the mapping of its fields onto the canonical attributes, and optionally
``last_modified``, ``deleted_flag`` and ``op_column``. A submission is checked here before the
store takes it, with the checks a run makes of any source's rows (``validate_rows``) and more:
every field must be one the source declares, every value a scalar, a record's key given once
and at least one mapped field filled. A record without a key gets one from the store.

A run reads the pending submissions (``mdm.store.inbox``) in its own transaction, under the
writer lock, and takes them as a load (``pending_load``): the latest submission of each key is
the record (a key submitted again is a new version of that record, as in any delta). The run
stamps every submission it read with its id in the same transaction, so that a run that dies
leaves them pending and nothing is ingested twice. A record without a ``last_modified`` of
its own is as recent as its submission.
"""

from __future__ import annotations

import difflib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from mdm.config.specs import SourceFormat, SourceSpec
from mdm.errors import Problem
from mdm.sources.parsing import Parsed, parsed_frame
from mdm.sources.readers import SourceLoad, load_of_parsed, source_location
from mdm.sources.validate import UTC_NS, validate_rows

# Records one submission may hold: a person's entry or a small batch, not an extract.
MAX_RECORDS: Final = 1_000
Scalar = str | int | float | bool | None


def is_inbox(spec: SourceSpec) -> bool:
    return spec.format is SourceFormat.INBOX


# ---- submission ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One record as the inbox keeps it: its key and the submitted object as JSON text."""

    source_key: str
    record: str


@dataclass(frozen=True)
class Checked:
    """A submission as checked: the records to append, or the problems that refuse it all."""

    submissions: list[Submission]
    problems: list[Problem]


def check_submission(spec: SourceSpec, objects: Sequence[Mapping[str, Any]]) -> Checked:
    """The records of one submission to ``spec`` (an inbox source), keys filled in; or every
    problem found, each naming the record (``records[i]``) and its field."""
    problems = [
        problem for i, obj in enumerate(objects) for problem in _field_problems(spec, i, obj)
    ]
    if not objects:
        problems.append(Problem("records", "no record was sent", "send at least one record"))
    elif len(objects) > MAX_RECORDS:
        problems.append(
            Problem(
                "records",
                f"{len(objects):,} records in one submission",
                f"send at most {MAX_RECORDS:,}",
            )
        )
    if problems:
        return Checked([], problems)
    keyed = [_with_key(spec, obj) for obj in objects]
    problems = _key_problems(spec, keyed) + _row_problems(spec, keyed)
    if problems:
        return Checked([], problems)
    submissions = [
        Submission(str(obj[spec.key]).strip(), json.dumps(obj, ensure_ascii=False, sort_keys=True))
        for obj in keyed
    ]
    return Checked(submissions, [])


def _field_problems(spec: SourceSpec, index: int, obj: Mapping[str, Any]) -> list[Problem]:
    known = spec.source_columns
    problems = []
    for field, value in obj.items():
        where = f"records[{index}].{field}"
        if field not in known:
            close = difflib.get_close_matches(field, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(
                Problem(
                    where,
                    f"'{field}' is not a field of source '{spec.name}'",
                    f"{hint}its fields: {', '.join(known)}",
                )
            )
        elif not _is_scalar(value):
            problems.append(
                Problem(
                    where,
                    f"a {type(value).__name__} is not a field value",
                    "send text, a number, true/false or null",
                )
            )
    mapped = {column for name in spec.mapping for column in spec.mapped_columns(name)}
    if not any(_filled(obj.get(column)) for column in mapped):
        problems.append(
            Problem(
                f"records[{index}]",
                "the record has no value for any field the source maps",
                f"fill at least one of: {', '.join(sorted(mapped))}",
            )
        )
    return problems


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _with_key(spec: SourceSpec, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object, with a key from the store where it has none: a random one, so that it
    names no other record of the source, whatever keys callers give."""
    keyed = dict(obj)
    if not _filled(keyed.get(spec.key)):
        keyed[spec.key] = uuid.uuid4().hex
    elif not isinstance(keyed[spec.key], str):
        keyed[spec.key] = str(keyed[spec.key]).strip()
    return keyed


def _key_problems(spec: SourceSpec, objects: list[dict[str, Any]]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for index, obj in enumerate(objects):
        key = str(obj[spec.key]).strip()
        if key in first:
            problems.append(
                Problem(
                    f"records[{index}].{spec.key}",
                    f"key '{key}' is also the key of records[{first[key]}]",
                    "send each record once: which of the two is right cannot be told",
                )
            )
        first.setdefault(key, index)
    return problems


def _row_problems(spec: SourceSpec, objects: list[dict[str, Any]]) -> list[Problem]:
    """The checks a run makes of every source's rows: dates, flags, lengths."""
    valid = validate_rows(_frame(spec, objects, list(range(len(objects)))), spec)
    return [
        Problem(f"records[{row.row_number}].{row.column}", str(row.reason), "")
        for row in valid.quarantine.itertuples(index=False)
    ]


def _frame(
    spec: SourceSpec, objects: Sequence[Mapping[str, Any]], numbers: list[int]
) -> pd.DataFrame:
    columns = spec.source_columns
    return parsed_frame(columns, [[obj.get(c) for c in columns] for obj in objects], numbers)


# ---- the run's read ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxLoad:
    """An inbox's pending submissions as a load (row numbers are submission ids), and the ids
    of every submission it read, superseded ones included: the run stamps them all."""

    load: SourceLoad
    ids: list[int]


def pending_load(spec: SourceSpec, found: pd.DataFrame) -> InboxLoad:
    """The pending submissions of an inbox (``found``: id, source_key, record, received_at,
    in the order they came) as the source's delta: the latest of each key;
    ``last_modified`` the submission's time where the record gives none."""
    ids = found["id"].astype("int64").tolist() if not found.empty else []
    latest = found.drop_duplicates("source_key", keep="last") if not found.empty else found
    objects = [json.loads(text) for text in latest.get("record", pd.Series(dtype=object))]
    numbers = latest["id"].astype("int64").tolist() if not latest.empty else []
    parsed = Parsed(_frame(spec, objects, numbers), [], len(objects))
    load = load_of_parsed(spec, source_location(spec), parsed)
    if not latest.empty and not load.records.empty:
        received = pd.Series(
            pd.to_datetime(latest["received_at"].to_numpy(), utc=True).astype(UTC_NS),
            index=numbers,
        )
        stamps = load.records["row_number"].map(received)
        records = load.records.assign(
            last_modified=load.records["last_modified"].fillna(stamps).astype(UTC_NS)
        )
        load = _with_records(load, records)
    return InboxLoad(load, ids)


def _with_records(load: SourceLoad, records: pd.DataFrame) -> SourceLoad:
    from dataclasses import replace

    return replace(load, records=records)


def unread(spec: SourceSpec) -> Parsed:
    """What reading an inbox outside a run's transaction gives: nothing. Its submissions are
    read by the run's ingest (``pending_load``), under the writer lock, so that a submission
    that arrives while the run waits for the lock is either in this run or the next."""
    return Parsed(_frame(spec, [], []), [], 0)
