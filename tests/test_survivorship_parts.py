"""Survivorship of many members is built in parts of whole golden records (``PART_MEMBERS``):
the golden values and lineage are exactly those of one build over every member, in the same
order and dtypes, with steward pins, odd times and without a given ``now``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_spark_engine import demo_project
from test_spark_stages import assert_same_golden, pins_of, resolved_members, with_odd_times

from mdm.survivorship import build_golden, builder


def test_golden_records_built_in_parts_are_those_built_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = demo_project(tmp_path / "demo", accounts=120)
    seen = resolved_members(project, monkeypatch)
    built_parts: list[int] = []
    build_part = builder._build_golden

    def counted(*args: Any, **kwargs: Any) -> builder.Golden:
        built_parts.append(len(args[1]))
        return build_part(*args, **kwargs)

    for entity, (inputs, members) in seen.items():
        spec = project.rules.survivorship[entity]
        pins = pins_of(members, entity)
        members = with_odd_times(members)
        for now, given_pins in ((inputs.now, pins), (None, None)):
            monkeypatch.setattr(builder, "PART_MEMBERS", 10**9)
            expected = build_golden(spec, members, now=now, pins=given_pins)
            monkeypatch.setattr(builder, "PART_MEMBERS", 37)
            monkeypatch.setattr(builder, "_build_golden", counted)
            built_parts.clear()
            found = build_golden(spec, members, now=now, pins=given_pins)
            monkeypatch.setattr(builder, "_build_golden", build_part)
            assert_same_golden(expected, found, f"{entity}, now {now}")
            # Every member in exactly one part; parts of whole golden records, about 37 each.
            assert sum(built_parts) == len(members)
            assert len(built_parts) >= len(members) // 60
