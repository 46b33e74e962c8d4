"""Load ``mdm.toml`` and ``rules/`` into a validated ``Project``, reporting all problems."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from mdm.config.match_spec import MatchSpec
from mdm.config.specs import Project, ProjectSpec, RuleSet, resolve_sqlite_url
from mdm.config.survivorship_spec import SurvivorshipSpec
from mdm.errors import MdmError, Problem, ProblemCollector, Reason
from mdm.schema import Entity

PROJECT_FILE = "mdm.toml"
TYPO_SIMILARITY = 85  # rapidfuzz WRatio: "Crm" ~ "CRM", "ERPP" ~ "ERP"
Model = TypeVar("Model", bound=BaseModel)


def find_project_file(path: Path) -> Path:
    """Accept the project folder or the project file itself."""
    if path.is_dir() or (not path.exists() and path.suffix != ".toml"):
        return path / PROJECT_FILE
    return path


def load_project(path: Path) -> Project:
    """Load and validate the project file and every rule file; raise ``MdmError`` listing all."""
    project_file, spec = _load_project_file(path)
    root = project_file.parent
    exports_problems = _exports_problems(project_file, spec)
    rule_problems = ProblemCollector()
    rules = load_rules(_rules_dir(root, spec), spec, rule_problems)
    problems = [*exports_problems, *rule_problems.problems]
    if exports_problems:
        raise MdmError(Reason.CONFIG, f"The project {project_file} has problems.", problems)
    rule_problems.raise_if_any(
        Reason.RULES, f"The rule files in {_rules_dir(root, spec)} have problems."
    )
    assert rules is not None  # narrowed: no problems means every rule file validated
    return Project(root=root, spec=spec, rules=rules)


@dataclass(frozen=True)
class ReadOnlyProject:
    """What commands that only read the store need: the folder and the project file. The rules
    and paths may have problems: they are listed, not raised (runs refuse them)."""

    root: Path
    spec: ProjectSpec
    problems: list[Problem]

    @property
    def store_url(self) -> str:
        return resolve_sqlite_url(self.spec.store.url, self.root)

    @property
    def exports_dir(self) -> Path:
        exports = self.spec.paths.exports
        return exports if exports.is_absolute() else self.root / exports


def load_project_for_reading(path: Path) -> ReadOnlyProject:
    """The project as far as reading its store goes: only the project file must be valid."""
    try:
        project_file, spec = _load_project_file(path)
    except MdmError as error:
        raise MdmError(
            error.reason,
            f"{error.summary} Commands that only read the store need it too: it names the store.",
            error.problems,
        ) from None
    problems = ProblemCollector()
    problems.problems.extend(_exports_problems(project_file, spec))
    load_rules(_rules_dir(project_file.parent, spec), spec, problems)
    return ReadOnlyProject(root=project_file.parent, spec=spec, problems=problems.problems)


def _load_project_file(path: Path) -> tuple[Path, ProjectSpec]:
    project_file = find_project_file(path).resolve()
    problems = ProblemCollector()
    raw = _read_toml(project_file, problems)
    problems.raise_if_any(Reason.CONFIG, f"Cannot read the project file {project_file}.")
    spec = _validate(ProjectSpec, raw, project_file, problems)
    problems.raise_if_any(Reason.CONFIG, f"The project file {project_file} has problems.")
    assert spec is not None  # narrowed: no problems means the model validated
    return project_file, spec


def _exports_problems(project_file: Path, spec: ProjectSpec) -> list[Problem]:
    root = project_file.parent
    exports = spec.paths.exports if spec.paths.exports.is_absolute() else root / spec.paths.exports
    return export_folder_problems(exports, root, spec, f"{project_file}: paths.exports")


def _rules_dir(root: Path, spec: ProjectSpec) -> Path:
    return spec.paths.rules if spec.paths.rules.is_absolute() else root / spec.paths.rules


def export_folder_problems(
    folder: Path, root: Path, spec: ProjectSpec, where: str
) -> list[Problem]:
    """An export replaces its whole folder: it must not be, or hold, anything the project reads
    (the project folder, a source file's folder, the rules, the store file)."""
    target = folder.resolve()
    held = [
        label
        for label, path in _project_places(root, spec)
        if path == target or target in path.parents
    ]
    if not held:
        return []
    return [
        Problem(
            where,
            f"the export folder {target} is or holds {', '.join(held)}, and an export replaces "
            "its whole folder",
            "choose a folder of its own, e.g. 'exports'",
        )
    ]


def check_export_folder(folder: Path, root: Path, spec: ProjectSpec) -> None:
    """Refuse ``mdm export --out`` into a folder the project reads from."""
    problems = export_folder_problems(folder, root, spec, "--out")
    if problems:
        raise MdmError(Reason.USAGE, f"Cannot export to {folder}.", problems)


def _project_places(root: Path, spec: ProjectSpec) -> list[tuple[str, Path]]:
    places = [
        ("the project folder", root.resolve()),
        ("the rules folder", _rules_dir(root, spec).resolve()),
    ]
    places += [
        (f"the folder of source {source.name!r}", (root / source.path).resolve().parent)
        for source in spec.sources
        if source.path is not None and not source.path_is_uri
    ]
    store_file = _sqlite_file(resolve_sqlite_url(spec.store.url, root))
    if store_file is not None:
        places.append(("the store file", store_file))
    return places


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # opening the store says what is wrong with it
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def load_rules(rules_dir: Path, spec: ProjectSpec, problems: ProblemCollector) -> RuleSet | None:
    match: dict[Entity, MatchSpec] = {}
    survivorship: dict[Entity, SurvivorshipSpec] = {}
    for entity in Entity:
        match_file = rules_dir / "match" / f"{entity}.toml"
        match_spec = _validate(
            MatchSpec, {"entity": entity, **_read_toml(match_file, problems)}, match_file, problems
        )
        if match_spec is not None:
            match[entity] = match_spec
        survive_file = rules_dir / "survivorship" / f"{entity}.toml"
        raw = {"entity": entity, **_read_toml(survive_file, problems)}
        survive_spec = _validate(SurvivorshipSpec, raw, survive_file, problems)
        if survive_spec is not None:
            _check_priorities(survive_spec, spec, survive_file, problems)
            survivorship[entity] = survive_spec
    if len(match) < len(Entity) or len(survivorship) < len(Entity):
        return None
    return RuleSet(match=match, survivorship=survivorship)


def _check_priorities(
    survive: SurvivorshipSpec, spec: ProjectSpec, file: Path, problems: ProblemCollector
) -> None:
    """A priority naming no source or system is harmless (the default rules name common
    systems), but one that nearly names a known one is a typo that would silently rank last."""
    known = sorted({s.name for s in spec.sources} | {s.system for s in spec.sources})
    for position, name in enumerate(survive.source_priority):
        if name in known or not known:
            continue
        close = process.extractOne(name, known, scorer=fuzz.WRatio, processor=str.casefold)
        if close is not None and close[1] >= TYPO_SIMILARITY:
            problems.add(
                f"{file}: source_priority[{position}]",
                f"{name!r} names no source or system of this project",
                f"did you mean {close[0]!r}?",
            )


def _read_toml(file: Path, problems: ProblemCollector) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        problems.add(str(file), "file not found", "run 'mdm init' or restore the file")
    except tomllib.TOMLDecodeError as error:
        problems.add(str(file), f"not valid TOML: {error}")
    return {}


def _validate(
    model: type[Model], raw: dict[str, Any], file: Path, problems: ProblemCollector
) -> Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            key = _key_path(raw, item["loc"])
            message = item["msg"]
            if item["type"] == "value_error":  # our own validators' words, without pydantic's
                message = str(item.get("ctx", {}).get("error", message))
            if item["type"] in {"enum", "literal_error", "string_pattern_mismatch"}:
                message = f"{item['input']!r}: {message}"
            problems.add(f"{file}: {key}" if key else str(file), message, _hint(item["type"]))
        return None


def _key_path(raw: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a TOML key, naming list items by their 'name' if any."""
    parts: list[str] = []
    node: Any = raw
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            parts[-1] += f"[{step}]" + (f" ({name})" if name else "")
            node = item
        elif step != "[key]":  # pydantic's marker for a bad dict key: the key itself follows
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts)


def _hint(error_type: str) -> str:
    return {
        "extra_forbidden": "unknown key: check its spelling against the README",
        "enum": "use one of the listed values",
        "missing": "add this key",
    }.get(error_type, "")
