"""What a run learned, kept in its record: seconds and peak memory per stage, the match
statistics per entity, and a log line per stage on the ``mdm`` logger."""

from __future__ import annotations

import gc
import json
import logging
import platform
import re
import shutil
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.log import logger
from mdm.pipeline import clock as run_clock
from mdm.pipeline.clock import RELEASE_AFTER_SECONDS, RunClock, release_memory
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.stewardship import pin_value
from mdm.store import open_store, runs

RESOLUTION_STAGES = ("scope", "read", "match", "identity", "survivorship", "write", "index")


def make_demo(directory: Path, store_url: str) -> Project:
    generate_demo(directory, accounts=40, seed=5)
    shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
    project_file = directory / "mdm.toml"
    text = project_file.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^url = "sqlite:///mdm.db"', f'url = "{store_url}"', text, count=1)
    project_file.write_text(text, encoding="utf-8")
    return load_project(directory)


def stored_summary(store_url: str, run_id: int) -> dict[str, Any]:
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            recent = runs.recent_runs(connection, 10)
    finally:
        store.close()
    row = recent[recent["id"] == run_id]
    assert len(row) == 1
    summary: dict[str, Any] = json.loads(row["summary"].iloc[0])
    return summary


@pytest.fixture
def mdm_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="mdm")
    yield caplog


def test_a_full_run_keeps_its_stage_timings_and_match_statistics(
    tmp_path: Path, store_url: str, mdm_log: pytest.LogCaptureFixture
) -> None:
    project = make_demo(tmp_path / "demo", store_url)
    handlers = list(logger.handlers)  # the command line's, if a test ran it in this process
    started = time.perf_counter()
    summary = pipeline.run(project)
    elapsed = time.perf_counter() - started
    record = stored_summary(store_url, summary.run_id)

    stages = [stage["stage"] for stage in record["stages"]]
    expected = [
        "read",
        "ingest",
        "standardize",
        *(f"account.{stage}" for stage in RESOLUTION_STAGES),
        *(f"contact.{stage}" for stage in RESOLUTION_STAGES[:5]),
        "contact.relate",
        *(f"contact.{stage}" for stage in RESOLUTION_STAGES[5:]),
        "analyze",
        "export",  # added to the record once the export is written
    ]
    assert stages == expected
    for stage in record["stages"]:
        assert stage["seconds"] >= 0, stage
        assert stage["peak_mb"] > 10, stage  # the interpreter and pandas alone are more
    # A stage's seconds are its own (standardizing is not also counted as ingesting): together
    # they are the run, and not more.
    assert 0 < sum(stage["seconds"] for stage in record["stages"]) <= elapsed

    for entity, kept in zip(summary.entities, record["entities"], strict=True):
        statistics = kept["statistics"]
        assert statistics == entity.statistics
        configured = {rule.name for rule in project.rules.match[Entity(entity.entity)].blocking}
        assert configured <= {rule["rule"] for rule in statistics["blocking"]}
        # Each rule's pairs are counted before the union of the rules.
        assert sum(rule["pairs"] for rule in statistics["blocking"]) >= entity.candidate_pairs > 0
        assert statistics["levels"], "the probabilistic model's levels"
        assert all(0 < level["m"] <= 1 and 0 < level["u"] <= 1 for level in statistics["levels"])
        assert sum(statistics["scores"]["counts"]) == entity.candidate_pairs
        clusters = statistics["clusters"]
        sizes = zip(clusters["sizes"], clusters["counts"], strict=True)
        assert sum(size * count for size, count in sizes) == entity.scope
        assert sum(clusters["counts"]) == entity.golden

    # One line per stage on the mdm logger, with its counts and seconds.
    lines = [r.getMessage() for r in mdm_log.records if r.name == "mdm"]
    assert any(
        re.fullmatch(r"read crm_accounts: [\d,]+ rows, [\d,]+ good in \d+\.\d\d s", line)
        for line in lines
    ), lines
    match_lines = [line for line in lines if line.startswith("account.match: ")]
    assert len(match_lines) == 1
    pairs = summary.entities[0].candidate_pairs
    assert f"{pairs:,} candidate pairs" in match_lines[0]
    assert re.search(r"in \d+\.\d\d s$", match_lines[0])
    assert len(lines) >= len(expected)
    # The library adds no handler: where the lines go is the application's choice.
    assert logger.handlers == handlers


def test_a_delta_with_nothing_to_do_and_a_steward_action_keep_their_stages(
    tmp_path: Path, store_url: str
) -> None:
    project = make_demo(tmp_path / "demo", store_url)
    first = pipeline.run(project)
    again = pipeline.run(project)
    record = stored_summary(store_url, again.run_id)
    stages = [stage["stage"] for stage in record["stages"]]
    assert stages[:2] == ["read", "ingest"]
    assert stages[-3:] == ["account.scope", "contact.scope", "export"]  # nothing to resolve
    assert [entity["statistics"] for entity in record["entities"]] == [None, None]

    golden_id = first.entities[0].touched[0]
    action = pin_value(project, golden_id, "name", "Pinned Name Ltd", "ana", force=True)
    record = stored_summary(store_url, action.run.run_id)
    stages = [stage["stage"] for stage in record["stages"]]
    assert stages[0] == "act"
    assert "account.match" in stages and stages[-1] == "export"
    assert record["entities"][0]["statistics"]["clusters"]["counts"]


def test_nested_stages_count_their_own_seconds() -> None:
    # A stage of a second or more reads the clock again after handing back memory.
    ticks = iter([0.0, 1.0, 3.0, 3.0, 4.5, 4.5, 10.0, 10.25])
    clock = RunClock(timer=lambda: next(ticks))
    # ingest from 0.0 to 4.5, standardize inside it from 1.0 to 3.0
    with clock.stage("ingest"), clock.stage("standardize") as stage:
        stage.counts = "3 versions"
    with clock.stage("ingest"):  # 10.0 .. 10.25: a second source adds up
        pass
    timings = {timing.stage: timing.seconds for timing in clock.timings}
    assert timings == {"ingest": 2.5 + 0.25, "standardize": 2.0}
    assert [timing.stage for timing in clock.timings] == ["ingest", "standardize"]


class _Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.itself = self


def _stage_leaving_a_cycle(seconds: float) -> weakref.ref[_Node]:
    ticks = iter([0.0, seconds, seconds])
    clock = RunClock(timer=lambda: next(ticks))
    with clock.stage("work"):
        node = _Node()
        left_behind = weakref.ref(node)
        del node
    return left_behind


def test_a_long_stage_hands_back_the_memory_it_left_and_a_quick_one_does_not() -> None:
    gc.disable()  # only the stage's own collection may free the cycle
    try:
        assert _stage_leaving_a_cycle(RELEASE_AFTER_SECONDS)() is None
        assert _stage_leaving_a_cycle(RELEASE_AFTER_SECONDS / 2)() is not None
    finally:
        gc.enable()
        gc.collect()


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's (this C library: none)"
)
def test_on_glibc_the_free_heap_pages_are_given_back() -> None:
    trim = run_clock._MALLOC_TRIM
    assert trim is not None
    assert trim(0) in (0, 1)  # 1: pages were given back, 0: there were none to give
    release_memory()


def test_a_run_started_by_a_large_process_reports_its_own_peak_memory() -> None:
    # Linux carries ru_maxrss across exec; the peak a run records must be its own.
    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident, not reserved
    probe = "from mdm.pipeline.clock import peak_mb; print(peak_mb())"
    child = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert 5 < float(child.stdout) < 300, child.stdout
    del ballast
