"""A contact's account by company name or email domain: the golden account that alone has
the name (or domain) among the live account records, found in the record-key index.

The index answers it grouped by key in the database (``sole_golden_ids_with_keys``); here it
is held to the plain reading: every (key, golden id) row of the index joined to the xref,
grouped in Python."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from first_runs import first_run
from sqlalchemy import Connection

from mdm import record_keys
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.pipeline.keys import keys_of
from mdm.project_files import DEFAULT_RULES
from mdm.record_keys import KeyKind, hashed, value_texts
from mdm.schema import Entity
from mdm.store import bulk, golden, open_store, record_index


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=150, seed=5, faults=False)
        shutil.copytree(DEFAULT_RULES, folder / "rules")

    return first_run(tmp_path / "shop", store_url, ("demo", 150), prepare)


def indexed_values(connection: Connection, project: Project, kind: KeyKind) -> pd.Series:
    """The names (or domains) of the live account records, in match form, from the store."""
    column = {KeyKind.NAME: "name", KeyKind.DOMAIN: "domain"}[kind]
    live = golden.xref(connection, Entity.ACCOUNT)
    keys = keys_of(connection, project, Entity.ACCOUNT, live["record_id"].tolist())
    return keys[column].dropna().astype(str)


def plainly(connection: Connection, kind: KeyKind, values: pd.Series) -> dict[str, str]:
    """Value -> golden account, for the values one golden account alone has: every row."""
    texts = pd.unique(pd.Series(value_texts(kind, values), dtype=object))
    text_of = pd.Series(texts, index=hashed(texts))
    rows = record_index.golden_ids_with_keys(connection, Entity.ACCOUNT, text_of.index.tolist())
    owners = rows.drop_duplicates().groupby("key")["golden_id"].agg(["nunique", "first"])
    sole = owners[owners["nunique"] == 1]
    prefix = len(record_keys.key_text(kind) + record_keys.SEPARATOR)
    return {
        str(text_of[key])[prefix:]: str(golden_id)
        for key, golden_id in zip(sole.index, sole["first"], strict=True)
    }


@pytest.mark.parametrize("kind", [KeyKind.NAME, KeyKind.DOMAIN])
@pytest.mark.parametrize("chunk", [bulk.CHUNK, 7])
def test_the_sole_owner_of_a_name_or_domain_is_the_plain_readings(
    project: Project, kind: KeyKind, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small IN lists too: a key's rows must be grouped whole whatever list it falls in.
    monkeypatch.setattr(bulk, "CHUNK", chunk)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            values = indexed_values(connection, project, kind)
            asked = pd.concat([values, pd.Series(["no such value", None])], ignore_index=True)
            found = record_keys._account_by(connection, kind, asked)
            expected = plainly(connection, kind, asked)
            rows = record_index.golden_ids_with_keys(
                connection,
                Entity.ACCOUNT,
                hashed(value_texts(kind, values.drop_duplicates())).tolist(),
            ).drop_duplicates()
    finally:
        store.close()
    owners = rows.groupby("key")["golden_id"].nunique()
    # The demo has values of one golden account and values several share (branches, chains).
    assert (owners == 1).sum() > 20
    assert (owners > 1).sum() > 0
    assert dict(zip(found.index, found.to_numpy(), strict=True)) == expected
    assert "no such value" not in found.index
    assert len(found) == (owners == 1).sum()
