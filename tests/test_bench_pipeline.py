"""The end-to-end benchmark (``benchmarks/bench_pipeline.py``) on a tiny project: what its JSON
line holds and how its parts relate (behaviour, not timing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is not installed: import it from the checkout
    sys.path.insert(0, str(ROOT))

from conftest import postgres_or_skip  # noqa: E402

from benchmarks.bench_pipeline import fresh_store, measure_size, server_url, stage_table  # noqa: E402

TINY = 1_500  # source records: a few hundred organisations


@pytest.fixture(scope="module")
def result() -> dict[str, object]:
    (found,) = measure_size(TINY, ["sqlite"], seed=7)
    return found


def test_one_line_per_run_with_what_it_measured(result: dict[str, object]) -> None:
    assert "error" not in result, result.get("error")
    assert result["benchmark"] == "pipeline"
    assert result["store"] == "sqlite"
    assert result["target_records"] == TINY
    records, accounts, contacts = (
        result["records"],
        result["account_source_records"],
        result["contact_source_records"],
    )
    assert isinstance(records, int) and isinstance(accounts, int) and isinstance(contacts, int)
    assert records == accounts + contacts
    assert 0.8 * TINY <= records <= 1.2 * TINY
    for key in ("seconds", "peak_mb", "run_seconds", "stage_seconds_total"):
        value = result[key]
        assert isinstance(value, float) and value > 0, key


def test_stages_come_from_the_run_record_and_fit_in_the_run(result: dict[str, object]) -> None:
    stages = result["stage_seconds"]
    peaks = result["stage_peak_mb"]
    assert isinstance(stages, dict) and isinstance(peaks, dict)
    # The stages the pipeline's clock records, the export included (`mdm run` exports).
    for stage in ("read", "ingest", "standardize", "account.match", "contact.match", "export"):
        assert stage in stages, stage
    assert set(peaks) == set(stages)
    assert all(seconds >= 0 for seconds in stages.values())
    total = sum(stages.values())
    assert result["stage_seconds_total"] == pytest.approx(total, abs=1e-3)
    seconds = result["seconds"]
    assert isinstance(seconds, float)
    assert total <= seconds  # the process also starts, imports and loads the project


def test_scores_are_pairwise_rates(result: dict[str, object]) -> None:
    for entity in ("account", "contact"):
        for metric in ("precision", "recall", "f1"):
            value = result[f"{entity}_{metric}"]
            assert isinstance(value, float) and 0.0 <= value <= 1.0, (entity, metric)
        scored, written = result[f"{entity}_scored_records"], result[f"{entity}_source_records"]
        assert isinstance(scored, int) and isinstance(written, int)
        assert 0.9 * written <= scored <= written  # the live ones (a few CRM rows are deleted)
        true_pairs = result[f"{entity}_true_pairs"]
        assert isinstance(true_pairs, int) and true_pairs > 0  # there are duplicates to find


def test_stage_table_has_a_column_per_run(result: dict[str, object]) -> None:
    failed = {"benchmark": "pipeline", "store": "postgresql", "error": "not reachable"}
    table = stage_table([result, failed]).splitlines()
    assert table[0] == f"| stage | sqlite {result['records']:,} |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert {"read", "export", "stages (sum)", "end to end", "peak MB", "contact F1"} <= set(rows)
    assert stage_table([failed]) == "(no pipeline run succeeded)"


def test_a_postgres_url_without_a_driver_gets_psycopg() -> None:
    assert server_url("postgresql://postgres@127.0.0.1:5432/test").startswith(
        "postgresql+psycopg://"
    )
    assert server_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.postgres
def test_a_postgres_store_is_a_new_database_dropped_afterwards(tmp_path: Path) -> None:
    server = postgres_or_skip()
    with fresh_store("postgresql", tmp_path, server) as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            name = connection.execute(text("select current_database()")).scalar_one()
            tables = connection.execute(
                text("select count(*) from information_schema.tables where table_schema='public'")
            ).scalar_one()
        engine.dispose()
        assert name.startswith("mdm_bench_pipeline_") and tables == 0
    admin = create_engine(server)
    with admin.connect() as connection:
        left = connection.execute(
            text("select count(*) from pg_database where datname = :name"), {"name": name}
        ).scalar_one()
    admin.dispose()
    assert left == 0
