"""Each record version is standardized once: its display forms and match keys are made
together when it is written, shared with worker processes when there are many values, and
read back (not recomputed) when its golden record is built."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mdm.config.load import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.match_keys import CLEAN_FIELD, KEYS_VERSION, VERSION_FIELD
from mdm.pipeline import run
from mdm.project_files import DEFAULT_RULES
from mdm.schema import ATTRIBUTES, Entity, Kind
from mdm.standardize import clean_frame, forms_frame, match_frame, parallel
from mdm.standardize.kinds import CLEAN
from mdm.standardize.phone import _north_american, library_parse
from mdm.standardize.vectorized import record_forms

PHONES = [
    "(212) 256-5021",
    "212.256.5021",
    "1-212-256-5021",
    "+1 (212) 256-5021",
    "+1-212-256-5021",
    "212-256-5021 x726",
    "212 256 5021 ext. 44",
    "2122565021",
    "12122565021",
    "+12122565021",
    "(112) 256-5021",  # no area code starts with 1: the general parser decides
    "01-77-79-78-24",
    "+33 1 77 79 78 24",
    "0033 4 83 07 60 14",
    "+49 (0)30 1234567",
    "555-0100",
    "call me",
    "",
]


def _frame() -> pd.DataFrame:
    rows = [
        {
            "first_name": f"  ANNE-marie {i % 7}",
            "last_name": "o'neil" if i % 2 else None,
            "email": f"Anne.ONeil{i % 5}@Example.COM " if i % 3 else "not an address",
            "phone": PHONES[i % len(PHONES)],
            "mobile": PHONES[(i * 7) % len(PHONES)],
            "company": "ACME Corp." if i % 4 else "Ünited Wïdgets GmbH",
        }
        for i in range(120)
    ]
    return pd.DataFrame(rows).astype("string")


def test_forms_frame_gives_what_clean_and_match_give_apart() -> None:
    frame = _frame()
    regions = pd.Series(["US", "DE", "FR"] * 40, index=frame.index)
    clean, keys = forms_frame(Entity.CONTACT, frame, regions)
    pd.testing.assert_frame_equal(clean, clean_frame(Entity.CONTACT, frame, regions))
    pd.testing.assert_frame_equal(keys, match_frame(Entity.CONTACT, frame, regions))
    assert clean.loc[0, "phone"] == "+12122565021"
    assert clean.loc[6, "phone"] == "+12122565021 ext. 44"
    assert keys.loc[6, "phone"] == "+12122565021"
    assert clean.loc[11, "phone"] == "+33177797824"  # dialled in France


ACCOUNT_VALUES = {
    "name": ["  ACME Corp.", "Ünited Wïdgets GmbH", "o'neil & sons, inc", "", None],
    "domain": ["https://www.Acme.com/about", "acme.co.uk", "not a domain", None],
    "phone": PHONES,
    "street": ["12 North Main St.", "Rue de la Paix 4", " 1 ", None],
    "city": ["NEW YORK", "São Paulo", None],
    "region": ["ny", "Bavaria", "Île-de-France", None],
    "postcode": ["6982", "06982-1234", "069821234", "SW1A 1AA", "75002", "1", None],
    "country": ["usa", "Deutschland", "FR", "United Kingdom", "Atlantis", "", None],
    "tax_id": ["DE 136 695 976", "12-3456789", "x", None],
}


@pytest.mark.parametrize("entity", [Entity.ACCOUNT, Entity.CONTACT])
def test_one_records_forms_are_its_row_of_the_frames_forms(entity: Entity) -> None:
    """A match request standardizes one record without a frame: the same forms, record by
    record, as a run's frame gives (countries of its own and not, phones, postcodes)."""
    if entity is Entity.CONTACT:
        frame = _frame()
    else:
        rng = random.Random(3)
        rows = [
            {name: rng.choice(pool) for name, pool in ACCOUNT_VALUES.items()} for _ in range(300)
        ]
        frame = pd.DataFrame(rows).astype("string")
    names = [attribute.name for attribute in ATTRIBUTES[entity]]
    frame = frame.reindex(columns=names).astype("string")
    regions = pd.Series(["US", "DE", "FR", "GB", "CA"] * (len(frame) // 5), index=frame.index)
    clean, keys = forms_frame(entity, frame, regions)
    for row in frame.index:
        values = {name: _text(frame.at[row, name]) for name in names}
        one_clean, one_keys = record_forms(entity, values, regions[row])
        assert one_clean == {name: _text(clean.at[row, name]) for name in names}, values
        assert one_keys == {name: _text(keys.at[row, name]) for name in names}, values


def _text(value: object) -> str | None:
    return None if pd.isna(value) else str(value)


@pytest.mark.parametrize("region", ["US", "CA", "DE", "GB", None])
def test_north_american_numbers_are_read_as_the_library_reads_them(region: str | None) -> None:
    rng = random.Random(7)
    separators = ["", " ", "-", ".", " - "]
    read = 0
    for text in [*PHONES, *(_random_number(rng, separators) for _ in range(4000))]:
        fast = _north_american(text, region)
        if fast is None:
            continue
        read += 1
        assert fast == library_parse(text, region), text
    assert read > 500  # the fast reading was taken, and agreed each time


def _random_number(rng: random.Random, separators: list[str]) -> str:
    area, exchange, line = (f"{rng.randint(0, 10**n - 1):0{n}d}" for n in (3, 3, 4))
    area = rng.choice([area, f"({area})", f"({area}", f"{area})"])
    prefix = rng.choice(["", "", "+1", "+1 ", "1", "1-", "+ 1 ", "+11", "0", "+44 "])
    extension = rng.choice(["", "", " x726", "x12", " ext. 5", " ext 44", " x12345678", " #12"])
    middle = rng.choice(separators) + area + rng.choice(separators) + exchange
    return prefix + middle + rng.choice(separators) + line + extension


def test_long_lists_are_shared_with_a_worker_and_come_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 10)
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "1")
    monkeypatch.setattr(parallel, "_pool", [])
    arguments = [(f"{200 + i} 256 {5000 + i}", "US") for i in range(300)]
    fn = CLEAN[Kind.PHONE].fn
    shared = parallel.map_values(fn, arguments)
    assert shared == parallel.apply(fn, arguments)
    assert shared[0] == "+12002565000"
    [worker] = parallel._pool
    assert worker.process.poll() is None and not worker.failed  # it answered and lives on
    # A worker that dies is not waited for: its share is done here.
    worker.process.kill()
    worker.process.wait()
    assert parallel.map_values(fn, arguments) == shared
    assert worker.failed
    assert parallel.map_values(fn, arguments) == shared
    assert parallel._pool == []  # and not used again
    worker.stop()


def test_a_worker_stopped_and_continued_while_it_answers_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With Python's output unbuffered (``PYTHONUNBUFFERED``, as many container images set
    it), a worker writes its answer straight to the pipe. A stop and continue (Ctrl-Z and
    ``fg``, a profiler) while the answer waits for room in the pipe cuts that write short; the
    rest must still be sent, or the run waits for it for ever."""
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.setenv(parallel.WORKERS_VARIABLE, "1")
    monkeypatch.setattr(parallel, "_pool", [])
    [worker] = parallel._workers()
    fn = CLEAN[Kind.PHONE].fn
    # Answers of about 300 KB: far more than a pipe holds while nobody reads it.
    arguments = [(f"{200 + i % 700} 256 {1000 + i}", "US") for i in range(20_000)]
    pid = worker.process.pid
    try:
        assert worker.send(fn, arguments)
        _wait_for(lambda: "pipe_write" in Path(f"/proc/{pid}/wchan").read_text(), "a full pipe")
        os.kill(pid, signal.SIGSTOP)
        _wait_for(lambda: Path(f"/proc/{pid}/stat").read_text().split()[2] == "T", "a stop")
        os.kill(pid, signal.SIGCONT)
        answers: list[list[object] | None] = []
        reader = threading.Thread(target=lambda: answers.append(worker.receive()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert not reader.is_alive(), "the answer came short: this process waits for the rest"
        assert answers == [parallel.apply(fn, arguments)]
        assert not worker.failed
    finally:
        worker.process.kill()
        worker.stop()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within a minute"
        time.sleep(0.01)


def test_a_run_stores_display_forms_and_reads_them_back(tmp_path: Path) -> None:
    project = _demo(tmp_path)
    run(project)
    db = sqlite3.connect(tmp_path / "mdm.db")
    [(stored,)] = db.execute(
        "SELECT match_keys FROM source_record WHERE is_current AND NOT deleted "
        "AND source = 'crm_contacts' ORDER BY id LIMIT 1"
    ).fetchall()
    document = json.loads(stored)
    assert document[VERSION_FIELD] == KEYS_VERSION
    assert set(document[CLEAN_FIELD]) >= {"first_name", "last_name", "email", "phone"}
    golden = _golden_contacts(db)
    # Forms written by an older mdm (none stored) are made again from the attributes: a full
    # run over such a store gives the same golden records, and stores the forms.
    db.execute("UPDATE source_record SET match_keys = NULL")
    db.commit()
    run(project, full=True)
    assert _golden_contacts(db) == golden
    [(missing,)] = db.execute(
        "SELECT count(*) FROM source_record WHERE is_current AND NOT deleted "
        f"AND (match_keys IS NULL OR match_keys NOT LIKE '%\"{CLEAN_FIELD}\"%')"
    ).fetchall()
    assert missing == 0


def _golden_contacts(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT golden_id, first_name, last_name, email, phone FROM golden_contact "
        "WHERE status = 'active' ORDER BY golden_id"
    ).fetchall()


def _demo(root: Path) -> Project:
    generate_demo(root, accounts=60, seed=3, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)
    return load_project(root / "mdm.toml")
