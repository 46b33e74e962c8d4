"""Typed, validated specs of the project file (``mdm.toml``) and the rule files (``rules/``).

These models only describe and validate; loading (with every problem reported at once) is in
``mdm.config.load``. Unknown keys are errors, so a typo fails at load and not mid-run.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from mdm.config.base import Strict
from mdm.config.match_spec import MatchSpec
from mdm.config.survivorship_spec import SurvivorshipSpec
from mdm.schema import Entity, attribute_names


class SourceFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"
    SQL = "sql"
    INBOX = "inbox"  # records submitted to the REST API, kept in the store until a run


class LoadMode(StrEnum):
    FULL = "full"  # a complete extract: keys absent from it are deleted (tombstoned)
    DELTA = "delta"  # only new, changed and flagged-deleted records


class DateFormat(StrEnum):
    """The named formats of ``last_modified_format`` (anything else is a strftime pattern)."""

    ISO = "iso"  # ISO 8601: 2024-03-31, 2024-03-31T14:05:00Z (the default)
    COMPACT = "compact"  # 20240331140500 (%Y%m%d%H%M%S) or 20240331 (%Y%m%d)
    US = "us"  # 03/31/2024, with an optional time 14:05 or 14:05:00
    EU = "eu"  # 31/03/2024 or 31.03.2024, with an optional time
    EPOCH = "epoch"  # unix seconds; milliseconds when 13 digits


# strptime directives; those that place a value on the calendar (a date directive).
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)
_STRPTIME_DIRECTIVES: Final = frozenset("aAwdbBmyYHIpMSfzZjUWcxXGuV%")
_DATE_DIRECTIVES: Final = frozenset("dbBmyYjUWcxGV")
# The operation values that mean a deletion when op_delete is not set.
DEFAULT_OP_DELETE: Final = ("D", "DELETE")


def _mapped_columns(value: object) -> object:
    """A mapping value: one column name, or a non-empty list of distinct column names."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ValueError("map a column name, or a list of column names to join")
    if not value:
        raise ValueError("an empty list maps no column: name one column, or several to join")
    if not all(isinstance(item, str) and item for item in value):
        raise ValueError("each item of the list must be a column name")
    repeated = sorted({item for item in value if value.count(item) > 1})
    if repeated:
        raise ValueError(
            f"the list names {', '.join(map(repr, repeated))} more than once; name each column once"
        )
    return value


MappedColumns = Annotated[str | list[str], BeforeValidator(_mapped_columns)]


def check_date_format(value: str) -> str:
    """A named format or a strftime pattern with at least one date directive."""
    if value in set(DateFormat):
        return value
    named = ", ".join(f'"{name}"' for name in DateFormat)
    if "%" not in value:
        close = difflib.get_close_matches(value.casefold(), list(DateFormat), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        raise ValueError(
            f"{value!r} is neither a named format ({named}) nor a strftime pattern such as "
            f'"%Y%m%d%H%M%S"{hint}'
        )
    if value.endswith("%") and not value.endswith("%%"):
        raise ValueError(f"the strftime pattern {value!r} ends with a lone '%'")
    directives = _DIRECTIVE.findall(value)
    unknown = sorted({d for d in directives if d not in _STRPTIME_DIRECTIVES})
    if unknown:
        raise ValueError(
            f"the strftime pattern {value!r} has directives strptime does not know: "
            + ", ".join(f"%{d}" for d in unknown)
        )
    if not _DATE_DIRECTIVES & set(directives):
        raise ValueError(
            f"the strftime pattern {value!r} has no date directive (such as %Y, %m, %d), "
            "so it reads no date"
        )
    return value


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class SourceSpec(Strict):
    """One source system extract, mapped onto the canonical schema."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")
    system: str = Field(min_length=1)
    entity: Entity
    format: SourceFormat
    # A file, relative to the project folder; on the spark engine also a folder of extract
    # files or a URI Spark reads (s3a://bucket/crm/, hdfs:///exports/erp.parquet), kept as
    # written: a Path would fold the URI's '//'.
    path: str | Path | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    key: str = Field(min_length=1)
    last_modified: str | None = None
    # A named format (DateFormat) or a strftime pattern; unset: ISO 8601, and the values that
    # are not are read in the one common format they all fit (see mdm.sources.dates).
    last_modified_format: str | None = None
    deleted_flag: str | None = None
    # A delta's operation column: values in op_delete (trimmed, any case) mark deletions.
    op_column: str | None = None
    op_delete: list[str] | None = None
    mode: LoadMode = LoadMode.FULL
    # A full load that would delete more than this share of the source's live records stops
    # the run before it writes anything (a cut-off or header-only extract).
    max_delete_share: float = Field(default=0.1, ge=0, le=1)
    # A load quarantining more than this share of its rows for one reason (the same check on
    # the same column) stops the run before it writes anything (a wrong format or column).
    max_quarantine_share: float = Field(default=0.5, ge=0, le=1)
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    account_source: str | None = None
    # Canonical attribute -> a column, or several columns whose values are joined by a space.
    mapping: dict[str, MappedColumns] = Field(min_length=1)

    @field_validator("last_modified_format")
    @classmethod
    def _check_last_modified_format(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not info.data.get("last_modified") and "last_modified" in info.data:
            raise ValueError("a format without 'last_modified' (the column it reads) reads nothing")
        return check_date_format(value)

    @field_validator("op_column")
    @classmethod
    def _check_op_column(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value:
            raise ValueError("name the column that holds each row's operation")
        if value == info.data.get("key"):
            raise ValueError(f"{value!r} is the key column; the operation is another column")
        if value == info.data.get("deleted_flag"):
            raise ValueError(
                f"{value!r} is also deleted_flag; name the operation column once, as op_column"
            )
        return value

    @field_validator("op_delete")
    @classmethod
    def _check_op_delete(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        if not info.data.get("op_column") and "op_column" in info.data:
            raise ValueError("op_delete says which values of op_column delete: set op_column")
        if not value or not all(item.strip() for item in value):
            raise ValueError("list the values of op_column that mean a deletion, such as ['D']")
        return value

    @field_validator("mapping")
    @classmethod
    def _check_mapped_attributes(
        cls, mapping: dict[str, str | list[str]], info: ValidationInfo
    ) -> dict[str, str | list[str]]:
        entity = info.data.get("entity")
        if entity is Entity.ACCOUNT and "full_name" in mapping:
            raise ValueError(
                "'full_name' is a contact attribute (a person's whole name); an account "
                "source maps its organisation's name to 'name'"
            )
        return mapping

    @model_validator(mode="before")
    @classmethod
    def _inbox_is_a_delta(cls, data: object) -> object:
        """An inbox holds only what was submitted since the last run: a delta by nature."""
        if isinstance(data, dict) and data.get("format") == SourceFormat.INBOX:
            return {"mode": LoadMode.DELTA, **data}
        return data

    @model_validator(mode="after")
    def _check_location_and_mapping(self) -> SourceSpec:
        if self.format is SourceFormat.INBOX:
            _check_inbox(self)
        elif self.format is SourceFormat.SQL:
            if not self.url:
                raise ValueError("a sql source needs 'url' (a SQLAlchemy URL)")
            if bool(self.table) == bool(self.query):
                raise ValueError("a sql source needs exactly one of 'table' or 'query'")
        elif self.path is None:
            raise ValueError(f"a {self.format} source needs 'path'")
        known = attribute_names(self.entity)
        unknown = sorted(set(self.mapping) - set(known))
        if unknown:
            raise ValueError(
                f"mapping names {', '.join(map(repr, unknown))}, not attributes of a "
                f"{self.entity}; known: {', '.join(known)}"
            )
        if self.account_source and self.entity is not Entity.CONTACT:
            raise ValueError("'account_source' is only for contact sources")
        return self

    @property
    def path_is_uri(self) -> bool:
        """``path`` names a scheme (s3a://, hdfs://, file://): only Spark reads it."""
        return self.path is not None and bool(_URI.match(str(self.path)))

    def mapped_columns(self, attribute: str) -> list[str]:
        """The columns mapped to ``attribute`` (none if it is not mapped)."""
        columns = self.mapping.get(attribute, [])
        return [columns] if isinstance(columns, str) else list(columns)

    @property
    def op_delete_values(self) -> frozenset[str]:
        """The operation values that mean a deletion, case-folded."""
        values = DEFAULT_OP_DELETE if self.op_delete is None else self.op_delete
        return frozenset(value.strip().casefold() for value in values)

    @property
    def source_columns(self) -> list[str]:
        """Every column this source must have: key, mapped, and bookkeeping columns."""
        columns = [self.key]
        for attribute in self.mapping:
            columns += self.mapped_columns(attribute)
        columns += [c for c in (self.last_modified, self.deleted_flag, self.op_column) if c]
        return list(dict.fromkeys(columns))


def _check_inbox(spec: SourceSpec) -> None:
    """An inbox is kept in the store and holds submissions since the last run: it reads no
    file or database, and is never a full extract (that would delete every record not
    submitted again)."""
    located = [key for key in ("path", "url", "table", "query") if getattr(spec, key)]
    if located:
        raise ValueError(
            f"an inbox source is kept in the store: remove {', '.join(map(repr, located))}"
        )
    if spec.mode is not LoadMode.DELTA:
        raise ValueError(
            "an inbox source holds only the records submitted since the last run: "
            'remove mode = "full" (it is a delta)'
        )


class StoreSpec(Strict):
    url: str = "sqlite:///mdm.db"


class PathsSpec(Strict):
    rules: Path = Path("rules")
    exports: Path = Path("exports")


class ProjectInfo(Strict):
    name: str = "mdm"


# The match engines a project can name (``mdm.matching.protocol`` has one of each).
EngineName = Literal["local", "spark"]


class SparkSpec(Strict):
    """``[spark]``: where the spark engine runs and how finely it splits the work."""

    # A Spark master URL; unset: the one spark-submit was given, else local[*]. Ignored when a
    # session is already running.
    master: str | None = None
    app_name: str = "mdm"
    # Partitions of the records and of every shuffle (candidate pairs, their aggregates).
    partitions: int = Field(default=8, ge=1)
    # Any Spark configuration, passed as is ("spark.executor.memory" = "8g").
    options: dict[str, str] = Field(default_factory=dict)


class ProjectSpec(Strict):
    project: ProjectInfo = ProjectInfo()
    store: StoreSpec = StoreSpec()
    paths: PathsSpec = PathsSpec()
    engine: EngineName = "local"  # the match engine of `mdm run` (`--engine` overrides it)
    spark: SparkSpec = SparkSpec()
    sources: list[SourceSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_sources(self) -> ProjectSpec:
        names = [source.name for source in self.sources]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicated)}")
        by_name = {source.name: source for source in self.sources}
        for source in self.sources:
            target = by_name.get(source.account_source or "")
            if source.account_source and (target is None or target.entity is not Entity.ACCOUNT):
                raise ValueError(
                    f"source {source.name!r}: account_source {source.account_source!r} "
                    "must name an account source of this project"
                )
        return self


class RuleSet(Strict):
    match: dict[Entity, MatchSpec]
    survivorship: dict[Entity, SurvivorshipSpec]


class Project(Strict):
    """A loaded project: its folder, its validated project file and rules."""

    root: Path
    spec: ProjectSpec
    rules: RuleSet

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.root / relative

    @property
    def exports_dir(self) -> Path:
        return self.path(self.spec.paths.exports)

    @property
    def rules_dir(self) -> Path:
        return self.path(self.spec.paths.rules)

    @property
    def store_url(self) -> str:
        return resolve_sqlite_url(self.spec.store.url, self.root)

    def source(self, name: str) -> SourceSpec:
        for source in self.spec.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def resolve_sqlite_url(url: str, root: Path) -> str:
    """Make a relative SQLite path relative to the project folder, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        relative = url[len(prefix) :]
        if relative and relative != ":memory:":
            return prefix + str((root / relative).resolve())
    return url
