"""The hypothesis profile that conftest loads: on CI, the same examples on every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent

# Loads conftest as pytest does, then draws examples from a property test.
DRAW = """
import json
import conftest
from hypothesis import given, settings, strategies as st

seen = []

@given(st.lists(st.integers()))
def draw(values):
    seen.append(values)

draw()
default = settings.default
print(json.dumps({
    "derandomize": default.derandomize,
    "deadline": None if default.deadline is None else str(default.deadline),
    "remembers_failures": default.database is not None,
    "seen": seen,
}))
"""


def draw_in_child(tmp_path: Path, **env: str) -> dict[str, Any]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    environment.update(env, PYTHONPATH=str(TESTS))
    done = subprocess.run(
        [sys.executable, "-c", DRAW],
        cwd=tmp_path,  # an example database, if any, goes here
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_ci_draws_the_same_examples_every_run_without_a_deadline(tmp_path: Path) -> None:
    first = draw_in_child(tmp_path, CI="true")
    second = draw_in_child(tmp_path, CI="true")
    assert first["derandomize"] is True
    assert first["deadline"] is None
    assert len(first["seen"]) > 10
    assert first["seen"] == second["seen"]
    assert first["remembers_failures"] is False  # each CI run starts from no example database


def test_elsewhere_examples_are_random_and_a_profile_can_be_named(tmp_path: Path) -> None:
    elsewhere = draw_in_child(tmp_path)
    assert elsewhere["derandomize"] is False
    assert elsewhere["remembers_failures"] is True
    assert draw_in_child(tmp_path, CI="true", HYPOTHESIS_PROFILE="dev")["derandomize"] is False
