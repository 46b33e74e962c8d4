"""The store's schema: models and migrations agree, stores upgrade, newer stores are refused."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import inspect, text

from mdm.errors import MdmError
from mdm.store import open_store
from mdm.store.schema_version import alembic_config, current_revision, head_revision, upgrade

TABLES = {
    "run",
    "source_record",
    "golden_account",
    "golden_contact",
    "xref",
    "redirect",
    "lineage",
    "quarantine",
}


def test_migrations_build_exactly_the_models(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            assert current_revision(connection) == head_revision()
            assert set(inspect(connection).get_table_names()) >= TABLES
            # Raises if the models hold anything the migrations do not create.
            command.check(alembic_config(connection))
    finally:
        store.close()


def test_a_store_made_at_the_first_revision_opens_at_head(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    from sqlalchemy import create_engine

    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
            assert "run" not in inspect(connection).get_table_names()
            upgrade(connection, "0001")
            assert current_revision(connection) == "0001"
    finally:
        engine.dispose()
    reopened = open_store(store_url)
    try:
        with reopened.transaction() as connection:
            assert current_revision(connection) == head_revision()
    finally:
        reopened.close()


def test_a_store_from_a_newer_mdm_is_refused(store_url: str) -> None:
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        store.close()
    with pytest.raises(MdmError) as caught:
        open_store(store_url)
    assert "schema revision 9999_future, made by a newer mdm" in str(caught.value)


def test_an_unusable_store_url_is_a_clear_error() -> None:
    with pytest.raises(MdmError) as caught:
        open_store("nosuchdb://somewhere/x")
    assert "is not usable" in str(caught.value)


def test_xref_lookup_returns_each_row_once_whatever_the_keys_repeat(store_url: str) -> None:
    import pandas as pd

    from mdm.store import io as store_io
    from mdm.store.tables import SourceRecord, Xref

    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            run_id = store_io.start_run(connection, "test", {})
            store_io.insert_frame(
                connection, SourceRecord, _first_versions("account", ["a", "b"], run_id)
            )
            ids = store_io.live_records(connection, "account")["record_id"].tolist()
            xref = pd.DataFrame(
                {
                    "source": "crm",
                    "source_key": ["a", "b"],
                    "entity": "account",
                    "golden_id": ["A-1", "A-2"],
                    "record_id": ids,
                    "run_id": run_id,
                }
            )
            store_io.insert_frame(connection, Xref, xref)
            # More repeats than one chunk holds: each row still comes back once.
            keys = pd.DataFrame({"source": "crm", "source_key": ["a", "b"] * store_io.CHUNK})
            found = store_io.xref_of_keys(connection, "account", keys)
    finally:
        store.close()
    assert sorted(found["golden_id"]) == ["A-1", "A-2"]


def test_rows_of_numbers_and_text_reach_the_store_as_given(store_url: str) -> None:
    """Lineage rows go to the driver without SQLAlchemy's per-row processing: missing
    numbers, missing and non-ASCII text come back exactly."""
    import pandas as pd
    from sqlalchemy import select

    from mdm.store import io as store_io
    from mdm.store.tables import Lineage, SourceRecord

    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            run_id = store_io.start_run(connection, "test", {})
            store_io.insert_frame(
                connection, SourceRecord, _first_versions("contact", ["k"], run_id)
            )
            [record_id] = store_io.live_records(connection, "contact")["record_id"].tolist()
            lineage = pd.DataFrame(
                {
                    "entity": "contact",
                    "golden_id": ["C-1", "C-1"],
                    "attribute": ["first_name", "phone"],
                    "value": ["Zoë", "+14155550100"],
                    "record_id": pd.array([record_id, None], dtype="Int64"),
                    "rule": ["most_recent", "pin"],
                    "candidates": [2, 1],
                    "run_id": run_id,
                    "beaten": ['[{"value": "Zoe"}]', None],
                }
            )
            store_io.insert_frame(connection, Lineage, lineage)
            table = store_io.table_of(Lineage)
            rows = connection.execute(
                select(
                    table.c.value, table.c.record_id, table.c.candidates, table.c.beaten
                ).order_by(table.c.id)
            ).all()
    finally:
        store.close()
    assert [tuple(row) for row in rows] == [
        ("Zoë", record_id, 2, '[{"value": "Zoe"}]'),
        ("+14155550100", None, 1, None),
    ]


def _first_versions(entity: str, keys: list[str], run_id: int) -> pd.DataFrame:
    """Source record rows: the first, live version of each of ``keys`` from source crm."""
    return pd.DataFrame(
        {
            "source": "crm",
            "entity": entity,
            "source_key": keys,
            "version": 1,
            "is_current": True,
            "deleted": False,
            "content_hash": "h",
            "run_id": run_id,
            "attributes": "{}",
        }
    )
