"""JSON Lines extracts: one object per line; a line that is not one is quarantined."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdm.config.specs import SourceSpec
from mdm.sources.checks import Check
from mdm.sources.columns import require_columns
from mdm.sources.parsing import Parsed, Rejected, existing_file, parsed_frame, text_file
from mdm.sources.validate import raw_object, value_text


@dataclass(frozen=True)
class _JsonLines:
    columns: list[str]  # every key seen on any line, in order of first appearance
    objects: list[dict[str, Any]]
    numbers: list[int]  # the line number of each object: one object per line
    rejected: list[Rejected]


def _parse_jsonl(spec: SourceSpec, root: Path, location: str) -> _JsonLines:
    path = existing_file(spec, root, location)
    lines = _JsonLines([], [], [], [])
    key_pattern = _json_key_pattern(spec.key)
    with text_file(spec, path, location) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            problem = _json_object(text, number, lines.objects)
            if problem:
                raw = raw_object({"_line": text}, spec.encoding)
                key = _key_in_text(text, key_pattern)
                lines.rejected.append(Rejected(number, key, None, problem, raw, Check.NOT_JSON))
            else:
                lines.numbers.append(number)
    lines.columns.extend(dict.fromkeys(key for obj in lines.objects for key in obj))
    if not lines.objects:
        # An empty delta ("nothing changed") has no line to name columns: nothing is missing.
        lines.columns.extend(spec.source_columns)
    return lines


def _json_object(text: str, number: int, objects: list[dict[str, Any]]) -> str:
    """Append the line's object; or say why the line is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"line {number} is not valid JSON ({error.msg} at character {error.colno})"
    if not isinstance(value, dict):
        return f"line {number} is a JSON {type(value).__name__}, not an object"
    objects.append(value)
    return ""


def _json_key_pattern(key: str) -> re.Pattern[str]:
    """``"<key>": "value"`` or ``"<key>": 123`` as a member of an object.

    A string counts once its closing quote is there; a number only when a ',' or '}' follows
    it, since a line cut off inside a number ("id": 12|34) would give another key."""
    name = re.escape(json.dumps(key, ensure_ascii=False))
    string = r'"(?:[^"\\]|\\.)*"'
    number = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*[,}])"
    return re.compile(rf"(?:^|[{{,])\s*{name}\s*:\s*({string}|{number})")


def _key_in_text(text: str, pattern: re.Pattern[str]) -> str | None:
    """The key of a line that is not a JSON object, when the line shows exactly one."""
    found = {match.group(1) for match in pattern.finditer(text)}
    if len(found) != 1:
        return None
    try:
        return value_text(json.loads(found.pop()))
    except json.JSONDecodeError:
        return None


def jsonl_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    return _parse_jsonl(spec, root, location).columns, "any line of the file"


def read_jsonl(spec: SourceSpec, root: Path, location: str) -> Parsed:
    lines = _parse_jsonl(spec, root, location)
    require_columns(spec, location, lines.columns, "any line of the file")
    rows = [[obj.get(column) for column in lines.columns] for obj in lines.objects]
    frame = parsed_frame(lines.columns, rows, lines.numbers)
    return Parsed(frame, lines.rejected, len(rows) + len(lines.rejected))
