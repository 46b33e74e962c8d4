"""The master does not depend on the order of the rows in the extracts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm import pipeline
from mdm.config import load_project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES


def shuffle_sources(directory: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = directory / "data"
    for path, encoding, delimiter in (
        (data / "crm_accounts.csv", "utf-8", ","),
        (data / "crm_contacts.csv", "utf-8", ","),
        (data / "erp_customers.csv", "latin-1", ";"),
    ):
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=encoding, sep=delimiter
        )
        frame = frame.iloc[rng.permutation(len(frame))]
        frame.to_csv(path, index=False, encoding=encoding, sep=delimiter, lineterminator="\n")
    leads = data / "marketing_leads.jsonl"
    lines = leads.read_text(encoding="utf-8").splitlines()
    leads.write_text("\n".join(lines[i] for i in rng.permutation(len(lines))) + "\n")
    support = data / "support_contacts.parquet"
    table = pd.read_parquet(support)
    table.iloc[rng.permutation(len(table))].to_parquet(support, index=False)


def master(directory: Path) -> dict[str, pd.DataFrame]:
    shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
    summary = pipeline.run(load_project(directory))
    out = Path(summary.exports or "")
    frames = {
        name: pd.read_csv(out / f"{name}.csv", dtype=str)
        for name in ("accounts", "contacts", "xref")
    }
    lineage = pd.read_csv(out / "lineage.csv", dtype=str)
    # Record ids are the store's own numbering; what a value came from is (source, key).
    frames["lineage"] = lineage.drop(columns=["record_id", "beaten"]).sort_values(
        ["entity", "golden_id", "attribute", "value"], ignore_index=True
    )
    frames["beaten"] = (
        lineage["beaten"]
        .map(
            lambda text: (
                sorted(v["value"] for v in json.loads(text)) if isinstance(text, str) else []
            )
        )
        .to_frame()
    )
    return frames


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffled_extracts_give_the_same_master(tmp_path_factory, seed: int) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("ordered")
    generate_demo(base, accounts=60, seed=4, faults=False)
    shuffled = tmp_path_factory.mktemp("shuffled")
    generate_demo(shuffled, accounts=60, seed=4, faults=False)
    shuffle_sources(shuffled, seed)
    expected, found = master(base), master(shuffled)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(found[name], frame, obj=name)
