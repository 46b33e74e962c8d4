"""The mdm command starts fast: ``mdm --help`` and ``mdm status`` import only what they use.

Checked as behaviour, not as time: a fresh interpreter runs the command through its entry point
(``mdm.cli.main``, the ``mdm`` script) and reports the modules it imported. pandas, numpy,
Alembic, the matching engine and the pipeline take seconds to import, more than these commands'
whole work. ``benchmarks/bench_cli.py`` measures the time.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import typing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from alembic.script import ScriptDirectory
from crm_project import CRM_ACCOUNTS_TOML
from rich.markup import escape

import mdm.views
from mdm import pipeline
from mdm.cli import COMMANDS
from mdm.cli.output import cell
from mdm.cli.run_commands import ExportFormatName
from mdm.config import load_project
from mdm.project_files import DEFAULT_RULES
from mdm.publish import ExportFormat
from mdm.store import schema_version
from mdm.store.tables import Run
from mdm.views.runs import RUNS

# What neither --help nor status needs: each takes longer to import than they take to answer.
NOT_FOR_HELP = (
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "alembic",
    "rapidfuzz",
    "sqlalchemy",
    "sqlmodel",
    "mdm.config",
    "mdm.store",
    "mdm.views",
    "mdm.matching",
    "mdm.pipeline",
    "mdm.publish",
)
# status reads the project's rules (mdm.config: pydantic, SQLAlchemy, rapidfuzz) and the store.
NOT_FOR_STATUS = (
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "alembic",
    "sqlmodel",
    "mdm.store.tables",
    "mdm.matching",
    "mdm.pipeline",
    "mdm.publish",
)

# Runs each command line given (as JSON) through the entry point in this one fresh process,
# then prints its exit codes and the modules it imported as the last line of stdout.
PROBE = """
import json, sys
from mdm.cli import main

codes = []
for arguments in json.loads(sys.argv[1]):
    sys.argv = ["mdm", *arguments]
    try:
        main()
    except SystemExit as stop:
        codes.append(stop.code or 0)
    else:
        codes.append(0)
print()
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""

SMALL_PROJECT = CRM_ACCOUNTS_TOML.format(url="sqlite:///mdm.db")


def probe(*command_lines: list[str], cwd: Path) -> tuple[list[int], set[str], str]:
    """Exit codes, the modules imported, and the output of the command lines run one after
    another in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(command_lines)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    assert done.returncode == 0, done.stderr
    output, _, last = done.stdout.rstrip("\n").rpartition("\n")
    report = json.loads(last)
    return report["codes"], set(report["modules"]), output


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names (packages with their submodules) among the modules."""
    return [name for name in names if any(m == name or m.startswith(f"{name}.") for m in modules)]


def test_help_imports_neither_pandas_nor_alembic_nor_the_engine(tmp_path: Path) -> None:
    lines = [["--help"], *([name, "--help"] for name in COMMANDS)]
    codes, modules, output = probe(*lines, cwd=tmp_path)
    assert codes == [0] * len(lines)
    assert "Usage: mdm [OPTIONS] COMMAND" in output
    for name in COMMANDS:
        assert f"Usage: mdm {name} [OPTIONS]" in output
    assert loaded(modules, NOT_FOR_HELP) == []


def test_status_reads_the_store_without_pandas_alembic_or_sqlmodel(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "mdm.toml").write_text(SMALL_PROJECT)
    shutil.copytree(DEFAULT_RULES, root / "rules")
    rows = "1,Acme Inc,555-0101,94105,2024-01-01\n2,Globex,555-0102,10001,2024-01-02\n"
    (root / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + rows)
    pipeline.run(load_project(root), export=False)

    lines = [["status", "-p", str(root)], ["status", "-p", str(root), "--run", "1"]]
    codes, modules, output = probe(*lines, cwd=tmp_path)
    assert codes == [0, 0]
    assert "Recent runs" in output
    assert "│ 1   │ run     │ succeeded │" in output
    assert "2 inserted, 0 updated, 0 deleted, 0 quarantined, 2 golden accounts" in output
    assert "Run 1" in output and "Stages" in output
    assert loaded(modules, NOT_FOR_STATUS) == []


def test_the_migration_files_are_read_as_alembic_reads_them() -> None:
    """Opening a store reads the shipped revisions from the files' text, without Alembic."""
    chain = schema_version._shipped_chain()
    script = ScriptDirectory(str(schema_version.MIGRATIONS))
    assert chain is not None
    assert chain.head == script.get_current_head() == schema_version.head_revision()
    known = frozenset(revision.revision for revision in script.walk_revisions())
    assert chain.revisions == known == schema_version.known_revisions()


def test_a_migration_file_that_is_not_plain_is_left_to_alembic(tmp_path: Path) -> None:
    plain = tmp_path / "plain.py"
    plain.write_text('revision: str = "0002"\ndown_revision = ("0001", "0001a")\n')
    assert schema_version._declared_revision(plain) == ("0002", ("0001", "0001a"))
    computed = tmp_path / "computed.py"
    computed.write_text('revision = "00" + "02"\ndown_revision = None\n')
    assert schema_version._declared_revision(computed) is None
    lacking = tmp_path / "lacking.py"
    lacking.write_text('revision = "0002"\n')
    assert schema_version._declared_revision(lacking) is None


def test_the_status_view_reads_the_run_table_as_the_store_defines_it() -> None:
    store: Any = Run.__table__  # type: ignore[attr-defined]
    assert RUNS.name == store.name
    assert [shape(c) for c in RUNS.columns] == [shape(c) for c in store.columns]


def shape(column: Any) -> tuple[object, ...]:
    """What a column holds, whether a SQLModel type (a TypeDecorator) or a plain one."""
    kind = getattr(column.type, "impl_instance", column.type)
    size, zone = getattr(kind, "length", None), getattr(kind, "timezone", None)
    return (column.name, kind.python_type, size, zone, column.nullable, column.primary_key)


def test_the_export_formats_of_the_command_are_the_exporters() -> None:
    assert typing.get_args(ExportFormatName) == tuple(member.value for member in ExportFormat)


def test_every_view_name_is_found_where_the_views_package_says() -> None:
    assert sorted(mdm.views._MODULES) == sorted(mdm.views.__all__)
    for name in mdm.views.__all__:
        assert getattr(mdm.views, name) is not None
    with pytest.raises(AttributeError):
        _ = mdm.views.no_such_view


@pytest.mark.parametrize(
    "value",
    [
        None,
        math.nan,
        np.nan,
        np.float64(1.5),
        np.float64("nan"),
        np.int64(3),
        pd.NA,
        pd.NaT,
        pd.Timestamp("2024-01-02"),
        Decimal("NaN"),
        Decimal("1.5"),
        0,
        True,
        "",
        "[b]x[/b]",
        datetime(2024, 1, 2, tzinfo=UTC),
    ],
)
def test_a_cell_is_blank_exactly_when_pandas_calls_it_missing(value: object) -> None:
    expected = "" if pd.isna(value) else escape(str(value))
    assert cell(value) == expected
