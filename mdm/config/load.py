"""Load ``mdm.toml`` and ``rules/`` into a validated ``Project``, reporting all problems."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, process

from mdm.config.match_spec import MatchSpec
from mdm.config.specs import Project, ProjectSpec, RuleSet
from mdm.config.survivorship_spec import SurvivorshipSpec
from mdm.errors import ProblemCollector, Reason
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
    project_file = find_project_file(path).resolve()
    problems = ProblemCollector()
    raw = _read_toml(project_file, problems)
    problems.raise_if_any(Reason.CONFIG, f"Cannot read the project file {project_file}.")
    spec = _validate(ProjectSpec, raw, project_file, problems)
    problems.raise_if_any(Reason.CONFIG, f"The project file {project_file} has problems.")
    assert spec is not None  # narrowed: no problems means the model validated
    root = project_file.parent
    rules_dir = spec.paths.rules if spec.paths.rules.is_absolute() else root / spec.paths.rules
    rules = load_rules(rules_dir, spec, problems)
    problems.raise_if_any(Reason.RULES, f"The rule files in {rules_dir} have problems.")
    assert rules is not None
    return Project(root=root, spec=spec, rules=rules)


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
