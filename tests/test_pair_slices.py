"""Comparing and weighing go over slices of ``PAIRS_AT_ONCE`` candidate pairs, and deterministic
rules name their pairs by a code per pair: a match in about ten slices of pairs is the match
made in one slice, in every part (model, probabilities bit for bit, links, clusters, rules),
for a full match with steward constraints and for a delta's partner search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_spark_engine import assert_same_result, demo_project

from mdm import pipeline
from mdm.matching import compare, score
from mdm.matching.engine import LocalEngine
from mdm.pipeline import index
from mdm.pipeline.match_input import match_input
from mdm.pipeline.scope import full_scope
from mdm.schema import Entity
from mdm.store import open_store


def test_a_match_in_slices_of_pairs_is_the_match_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = demo_project(tmp_path / "demo", accounts=100)
    pipeline.run(project, command="ingest", resolve=False, export=False)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            records = {entity: full_scope(connection, project, entity).records for entity in Entity}
            inputs = {
                entity: match_input(connection, project, entity, records[entity])
                for entity in Entity
            }
    finally:
        store.close()
    for entity in Entity:
        frame, spec = inputs[entity], project.rules.match[entity]
        ids = frame["record_id"].to_numpy()
        options: dict[str, Any] = {
            "frequencies": index.frequencies_of(records[entity], spec),
            "must_link": np.array([[ids[0], ids[-1]], [ids[5], ids[7]]]),
            "cannot_link": np.array([[ids[1], ids[2]]]),
        }
        new = np.zeros(len(frame), dtype=bool)
        new[::5] = True
        whole = LocalEngine().match(frame, spec, **options)
        partners = LocalEngine().match(frame, spec, **options, model=whole.model, new=new)
        assert whole.candidate_pairs > 50, entity
        at_once = whole.candidate_pairs // 10 + 1  # about ten slices, the last one shorter
        assert {"model", "must_link"} <= set(whole.links["rule"]), entity
        for module in (compare, score):
            monkeypatch.setattr(module, "PAIRS_AT_ONCE", at_once)
        assert_same_result(whole, LocalEngine().match(frame, spec, **options), f"{entity}")
        sliced = LocalEngine().match(frame, spec, **options, model=whole.model, new=new)
        assert_same_result(partners, sliced, f"{entity}, a delta's partners")
        monkeypatch.undo()
