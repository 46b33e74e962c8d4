"""The record-key index written in bulk: every row and count lands exactly (the whole int64
range of keys, row counts around the statement and COPY sizes), on SQLite and PostgreSQL; the
key hashes are pandas' stable hashes; revision 0007 keeps the index of an older store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, inspect, select, text

from mdm.pipeline import index
from mdm.record_keys import hashed
from mdm.schema import Entity, Kind
from mdm.standardize import match_values
from mdm.store import record_index
from mdm.store.bulk import table_of
from mdm.store.schema_version import alembic_config, current_revision, upgrade
from mdm.store.tables import KeyCount, RecordKey

INT64 = np.iinfo(np.int64)


def random_keys(seed: int, records: int, per_record: int) -> pd.DataFrame:
    """Distinct (record_id, key) rows in random order, keys over the whole int64 range."""
    rng = np.random.default_rng(seed)
    record_ids = np.repeat(np.arange(1, records + 1, dtype=np.int64), per_record)
    keys = rng.integers(INT64.min, INT64.max, size=len(record_ids), dtype=np.int64, endpoint=True)
    keys[:3] = [INT64.min, INT64.max, 0]
    frame = pd.DataFrame({"record_id": record_ids, "key": keys}).drop_duplicates()
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def stored_keys(connection: Connection, entity: Entity) -> list[tuple[int, int]]:
    table = table_of(RecordKey)
    statement = select(table.c.record_id, table.c.key).where(table.c.entity == entity)
    return sorted((int(r), int(k)) for r, k in connection.execute(statement))


def stored_counts(connection: Connection, entity: Entity) -> dict[int, int]:
    table = table_of(KeyCount)
    statement = select(table.c.key, table.c.records).where(table.c.entity == entity)
    return {int(k): int(n) for k, n in connection.execute(statement)}


@pytest.mark.parametrize(
    "records",
    [
        1,
        record_index.ROWS_PER_INSERT,
        record_index.ROWS_PER_INSERT + 1,
        record_index.ROWS_PER_COPY // 3 + 7,
    ],
)
def test_replacing_the_index_keeps_every_row_and_count(
    connection: Connection, records: int
) -> None:
    other = random_keys(1, 5, 2)  # the other entity's rows (other records) stay as they are
    other["record_id"] += 10_000_000
    record_index.replace_record_keys(connection, Entity.CONTACT, other, other.groupby("key").size())
    for seed in (2, 3):  # twice: the second replaces the first
        keys = random_keys(seed, records, 3)
        counts = keys.groupby("key").size().sample(frac=1.0, random_state=seed)  # any order
        record_index.replace_record_keys(connection, Entity.ACCOUNT, keys, counts)
        assert stored_keys(connection, Entity.ACCOUNT) == sorted(
            zip(keys["record_id"].tolist(), keys["key"].tolist(), strict=True)
        )
        assert stored_counts(connection, Entity.ACCOUNT) == counts.to_dict()
    assert stored_keys(connection, Entity.CONTACT) == sorted(
        zip(other["record_id"].tolist(), other["key"].tolist(), strict=True)
    )
    found = record_index.records_with_keys(connection, Entity.ACCOUNT, [INT64.min, INT64.max])
    assert set(found["key"]) == {INT64.min, INT64.max}


def test_an_empty_index_replaces_one(connection: Connection) -> None:
    keys = random_keys(4, 10, 2)
    record_index.replace_record_keys(connection, Entity.ACCOUNT, keys, keys.groupby("key").size())
    empty = pd.DataFrame({"record_id": [], "key": []})
    record_index.replace_record_keys(connection, Entity.ACCOUNT, empty, pd.Series(dtype="int64"))
    assert stored_keys(connection, Entity.ACCOUNT) == []
    assert stored_counts(connection, Entity.ACCOUNT) == {}


def test_appended_keys_join_those_there(connection: Connection) -> None:
    keys = random_keys(5, record_index.ROWS_PER_INSERT + 3, 2)
    first, second = keys.iloc[: len(keys) // 2], keys.iloc[len(keys) // 2 :]
    record_index.insert_record_keys(connection, Entity.CONTACT, first)
    record_index.insert_record_keys(connection, Entity.CONTACT, second)
    assert stored_keys(connection, Entity.CONTACT) == sorted(
        zip(keys["record_id"].tolist(), keys["key"].tolist(), strict=True)
    )


def test_sorted_keys_are_in_primary_key_order() -> None:
    keys = random_keys(6, 50, 4)
    record_ids, key_values = record_index.sorted_keys(keys)
    pairs = list(zip(record_ids.tolist(), key_values.tolist(), strict=True))
    assert pairs == sorted(zip(keys["record_id"].tolist(), keys["key"].tolist(), strict=True))
    ordered = pd.DataFrame({"record_id": record_ids, "key": key_values})
    again = record_index.sorted_keys(ordered)
    assert np.array_equal(again[0], record_ids) and np.array_equal(again[1], key_values)


# ---- key texts and hashes ------------------------------------------------------------------


def test_key_hashes_are_pandas_stable_hashes() -> None:
    """Stored in the index and computed again by every reader: they never change."""
    texts = ["l", "b\x1fname\x1facme", "b\x1fname\x1facme", "t\x1fcity\x1fköln", "", "n\x1f"]
    expected = np.asarray(pd.util.hash_array(np.asarray(texts, dtype=object)), dtype=np.uint64)
    assert hashed(texts).tolist() == expected.view(np.int64).tolist()
    assert hashed(pd.Series(texts, dtype="string")).tolist() == hashed(texts).tolist()
    assert hashed(np.asarray(texts, dtype=object)).tolist() == hashed(texts).tolist()
    with_missing = np.asarray(["l", None], dtype=object)
    expected = np.asarray(pd.util.hash_array(with_missing), dtype=np.uint64).view(np.int64)
    assert hashed(with_missing).tolist() == expected.tolist()
    assert hashed([]).tolist() == []


def test_email_domains_are_the_domains_of_the_addresses() -> None:
    emails = pd.Series(
        [
            "js@acme.co.uk",
            "JS@Acme.com",
            "a@b@c.co.uk",
            "x@mailto:y",
            "a/b@c.com",
            "mailto:a@b.com",
            " a@b.com",
            "ä@b.de",
            "a@localhost",
            "a@192.168.0.1",
            "no address",
            "",
            None,
        ],
        dtype="string",
    )
    expected = match_values(Kind.DOMAIN, emails)
    found = index.email_domains(emails)
    assert found.index.equals(emails.index)
    assert found.fillna("<NA>").tolist() == expected.fillna("<NA>").tolist()
    nothing = pd.Series([], dtype="string")
    assert index.email_domains(nothing).tolist() == []
    assert index.email_domains(pd.Series([None], dtype="string")).isna().all()


# ---- revision 0007 ---------------------------------------------------------------------------


def test_revision_0007_keeps_the_index_of_an_older_store(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            upgrade(connection, "0006")
            connection.execute(
                text(
                    "INSERT INTO record_key (record_id, key, entity) VALUES "
                    "(2, 5, 'account'), (1, :low, 'account'), (1, :high, 'contact')"
                ),
                {"low": int(INT64.min), "high": int(INT64.max)},
            )
            connection.execute(
                text(
                    "INSERT INTO key_count (entity, key, records) VALUES "
                    "('account', 5, 1), ('account', :low, 1), ('contact', :high, 1)"
                ),
                {"low": int(INT64.min), "high": int(INT64.max)},
            )
        with engine.begin() as connection:
            upgrade(connection, "0007")
            assert current_revision(connection) == "0007"
            assert stored_keys(connection, Entity.ACCOUNT) == [(1, int(INT64.min)), (2, 5)]
            assert stored_keys(connection, Entity.CONTACT) == [(1, int(INT64.max))]
            assert stored_counts(connection, Entity.ACCOUNT) == {5: 1, int(INT64.min): 1}
            if connection.dialect.name == "sqlite":
                for table in ("record_key", "key_count"):
                    sql = connection.exec_driver_sql(
                        "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
                    ).scalar_one()
                    assert "WITHOUT ROWID" in sql
        with engine.begin() as connection:  # and back
            upgrade_down(connection, "0006")
            assert stored_keys(connection, Entity.ACCOUNT) == [(1, int(INT64.min)), (2, 5)]
            assert stored_counts(connection, Entity.CONTACT) == {int(INT64.max): 1}
    finally:
        engine.dispose()


def test_revision_0007_is_applied_whole_or_not_at_all(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            upgrade(connection, "0006")
        with pytest.raises(RuntimeError), engine.begin() as connection:
            upgrade(connection, "0007")
            raise RuntimeError("killed before the commit")
        with engine.connect() as connection:
            assert current_revision(connection) == "0006"
            names = set(inspect(connection).get_table_names())
            assert {"record_key", "key_count"} <= names
            assert not {"_record_key_new", "_key_count_new"} & names
            indexes = {ix["name"] for ix in inspect(connection).get_indexes("record_key")}
            assert indexes == {"ix_record_key_entity_key"}
        with engine.begin() as connection:
            upgrade(connection, "0007")
            assert current_revision(connection) == "0007"
    finally:
        engine.dispose()


def upgrade_down(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)
