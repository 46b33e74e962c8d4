"""Typed, validated specs of the project file (``mdm.toml``) and the rule files (``rules/``).

These models only describe and validate; loading (with every problem reported at once) is in
``mdm.config.load``. Unknown keys are errors, so a typo fails at load and not mid-run.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator

from mdm.config.base import Strict
from mdm.config.match_spec import MatchSpec
from mdm.config.survivorship_spec import SurvivorshipSpec
from mdm.schema import Entity, attribute_names


class SourceFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"
    SQL = "sql"


class LoadMode(StrEnum):
    FULL = "full"  # a complete extract: keys absent from it are deleted (tombstoned)
    DELTA = "delta"  # only new, changed and flagged-deleted records


class SourceSpec(Strict):
    """One source system extract, mapped onto the canonical schema."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")
    system: str = Field(min_length=1)
    entity: Entity
    format: SourceFormat
    path: Path | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    encoding: str = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    key: str = Field(min_length=1)
    last_modified: str | None = None
    deleted_flag: str | None = None
    mode: LoadMode = LoadMode.FULL
    # A full load that would delete more than this share of the source's live records stops
    # the run before it writes anything (a cut-off or header-only extract).
    max_delete_share: float = Field(default=0.1, ge=0, le=1)
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    account_source: str | None = None
    mapping: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_location_and_mapping(self) -> SourceSpec:
        if self.format is SourceFormat.SQL:
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
    def source_columns(self) -> list[str]:
        """Every column this source must have: key, mapped, and bookkeeping columns."""
        columns = [self.key, *self.mapping.values()]
        columns += [c for c in (self.last_modified, self.deleted_flag) if c]
        return list(dict.fromkeys(columns))


class StoreSpec(Strict):
    url: str = "sqlite:///mdm.db"


class PathsSpec(Strict):
    rules: Path = Path("rules")
    exports: Path = Path("exports")


class ProjectInfo(Strict):
    name: str = "mdm"


class ProjectSpec(Strict):
    project: ProjectInfo = ProjectInfo()
    store: StoreSpec = StoreSpec()
    paths: PathsSpec = PathsSpec()
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
