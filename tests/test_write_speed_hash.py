"""The vectorized forms of the golden writer and builder give exactly what their first,
row-by-row forms gave: stored content hashes, version documents, lineage order, golden values.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mdm.config import SurvivorshipSpec
from mdm.pipeline.write import _records_json, golden_hash
from mdm.schema import Entity, survived_attribute_names
from mdm.survivorship import build_golden
from mdm.survivorship.arrays import codes_sorted
from mdm.survivorship.features import Features
from mdm.survivorship.lineage import Lineage, _order

RULES_DIR = Path(__file__).resolve().parents[1] / "mdm" / "rules" / "survivorship"


def first_golden_hash(values: pd.DataFrame, lineage: pd.DataFrame, members: pd.Series) -> pd.Series:
    """golden_hash as first written, row by row: the hashes stored by earlier versions."""
    ordered = lineage.sort_values(["golden_id", "attribute"])
    parts = (
        ordered["attribute"].astype(str)
        + "="
        + ordered["record_id"].astype("string").fillna("pin").astype(str)
        + ":"
        + ordered["rule"].astype(str)
    )
    joined = {
        golden_id: "|".join(part for _, part in group)
        for golden_id, group in itertools.groupby(
            zip(ordered["golden_id"].tolist(), parts.tolist(), strict=True), key=lambda x: x[0]
        )
    }
    trail = pd.Series(joined, dtype=object)
    text = pd.Series("", index=values.index, dtype=object)
    for column in values.columns:
        text = text + values[column].astype(object).where(values[column].notna(), "\x00") + "\x1f"
    combined = text + "\x1e" + trail.reindex(values.index).fillna("") + "\x1e" + members.astype(str)
    return pd.Series(
        [hashlib.sha256(item.encode()).hexdigest() for item in combined],
        index=values.index,
        dtype=object,
    )


def hash_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    ids = pd.Index(["G-2", "G-1", "G-3", "G-4"], dtype="string", name="golden_id")
    values = pd.DataFrame(
        {
            "name": pd.array(["Acme", None, 'Zoë "Z" \\ Co', "x"], dtype="string"),
            "phone": pd.array([None, "+1555", "+44", None], dtype="string"),
            "account_id": pd.Series(["A-1", None, np.nan, "A-2"], dtype=object).to_numpy(),
        },
        index=ids,
    )
    first = pd.DataFrame(
        {
            "golden_id": pd.array(["G-1", "G-2", "G-2", "G-1", "G-9"], dtype="string"),
            "attribute": pd.array(["phone", "phone", "name", "name", "name"], dtype="string"),
            "value": pd.array(["+1555", "b", "a", "c", "d"], dtype="string"),
            "record_id": pd.array([3, None, 1, 7, 9], dtype="Int64"),
            "rule": pd.array(["most_recent", "steward_pin", "trust", "x", "y"], dtype="string"),
        }
    )
    # A contact's account link is appended later, as its own frame: chunked Arrow columns.
    link = pd.DataFrame(
        {
            "golden_id": ["G-2", "G-1", "G-2"],
            "attribute": ["account_id", "name", "name"],
            "value": ["A-1", "k2", "a0"],
            "record_id": pd.array([1, 8, 2], dtype="int64"),
            "rule": ["account_key", "keep_all", "keep_all"],
        }
    )
    lineage = pd.concat([first, link], ignore_index=True)
    members = pd.Series([2, 1, 1, 5], index=ids, dtype="int64")
    return values, lineage, members


def test_golden_hash_is_the_stored_formula() -> None:
    values, lineage, members = hash_inputs()
    expected = first_golden_hash(values, lineage, members)
    assert golden_hash(values, lineage, members).equals(expected)
    empty = lineage.iloc[:0]
    assert golden_hash(values, empty, members).equals(first_golden_hash(values, empty, members))


def test_records_json_is_json_dumps() -> None:
    records = pd.DataFrame(
        {
            "name": pd.array(['q"uote', "back\\slash", "nl\n\t\x01", None], dtype="string"),
            "city": pd.array(["Zoë", "\u2028 😀", "\x7f", "plain"], dtype="string"),
            "account_id": pd.Series(["A-1", None, np.nan, "A-2"], dtype=object),
            "members": pd.array([1, None, 3, 4], dtype="Int64"),
            "score": [1.5, np.nan, 2.0, 0.0],
            "empty": pd.Series([None] * 4, dtype=object),
        }
    )
    plain = records.astype(object).where(records.notna(), None)
    expected = [
        json.dumps(dict(zip(plain.columns, row, strict=True)), ensure_ascii=False, sort_keys=True)
        for row in plain.itertuples(index=False, name=None)
    ]
    assert _records_json(records) == expected
    assert _records_json(records.iloc[:0]) == []
    assert _records_json(records[[]]) == ["{}"] * 4


@pytest.mark.parametrize("seed", range(5))
def test_lineage_order_ranks_values_only_where_a_cell_has_several(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 300
    g = rng.integers(0, 40, size).astype(np.int64)
    p = rng.integers(0, 6, size).astype(np.int64)
    value = np.asarray([f"v{n}" for n in rng.integers(0, 30, size)], dtype=object)
    rows = Lineage(
        g,
        p,
        value,
        np.arange(size, dtype=np.int64),
        np.full(size, "r", dtype=object),
        np.ones(size, dtype=np.int64),
        np.full(size, "[]", dtype=object),
        np.full(size, None, dtype=object),
        np.zeros(size, dtype=bool),
    )
    expected = np.lexsort((codes_sorted(value), p, g))
    assert np.array_equal(_order(rows), expected)
    single = rows.take(np.unique(g * 10 + p, return_index=True)[1])
    assert np.array_equal(_order(single), np.lexsort((single.p, single.g)))


def load_spec(entity: Entity) -> SurvivorshipSpec:
    with (RULES_DIR / f"{entity}.toml").open("rb") as f:
        return SurvivorshipSpec.model_validate({"entity": entity.value, **tomllib.load(f)})


@pytest.mark.parametrize("entity", [Entity.ACCOUNT, Entity.CONTACT])
def test_keys_only_where_values_differ_decide_as_everywhere(
    entity: Entity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validity and match keys computed for every contested candidate, or only where a cell
    holds different values: the same golden values and lineage."""
    rng = np.random.default_rng(7)
    size = 400
    pools = {
        "phone": ["+15550100", "+1555", "555-0100", "+4420 7946 0000", "+4915112345678"],
        "mobile": ["+15550100", "+1555", "+4915112345678"],
        "email": ["a@acme.com", "A@Acme.com", "a@gmail.com", "bad@", "b@b.co"],
        "domain": ["acme.com", "www.acme.com", "no domain"],
        "country": ["US", "DE", "GB", "ZZ"],
        "tax_id": ["DE136695976", "DE123", "760716509"],
    }
    members = pd.DataFrame(
        {
            "golden_id": pd.array([f"G{n}" for n in rng.integers(0, 60, size)], dtype="string"),
            "record_id": np.arange(1, size + 1, dtype=np.int64),
            "source": pd.array(rng.choice(["crm", "erp", "web"], size), dtype="string"),
            "system": pd.array(rng.choice(["CRM", "ERP", "Web"], size), dtype="string"),
            "last_modified": pd.to_datetime(
                rng.integers(1_600_000_000, 1_700_000_000, size), unit="s", utc=True
            ),
        }
    )
    for name in survived_attribute_names(entity):
        pool = pools.get(name, ["Alpha", "alpha", "Beta Co", "Gamma"])
        cells = rng.choice([*pool, None], size)
        members[name] = pd.array(cells, dtype="string")
    spec = load_spec(entity)
    ours = build_golden(spec, members)

    def contested(self: Features, slot: object, rows: np.ndarray) -> np.ndarray:
        golden = self.prepared.golden_code[rows]
        counts = np.bincount(golden, minlength=len(self.prepared.golden_ids))
        return np.asarray(counts[golden] >= 2, dtype=bool)

    monkeypatch.setattr(Features, "competing", contested)
    everywhere = build_golden(spec, members)
    pd.testing.assert_frame_equal(ours.values, everywhere.values)
    pd.testing.assert_frame_equal(ours.lineage, everywhere.lineage)
