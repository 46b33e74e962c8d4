"""How people name things on the command line: golden ids and source records."""

from __future__ import annotations

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.schema import GOLDEN_ID_PREFIX, Entity


def entity_of_golden_id(golden_id: str) -> Entity:
    for entity, prefix in GOLDEN_ID_PREFIX.items():
        if golden_id.startswith(f"{prefix}-"):
            return entity
    raise MdmError(
        Reason.NOT_FOUND,
        f"{golden_id!r} is not a golden id: account ids start with 'A-', contact ids with 'C-'.",
    )


def parse_record_ref(text: str) -> tuple[str, str]:
    """``SOURCE:KEY`` -> (source, key); the key may itself hold colons."""
    source, separator, key = text.partition(":")
    if not separator or not source or not key:
        raise MdmError(Reason.USAGE, f"{text!r} is not a record reference: write SOURCE:KEY.")
    return source, key


def entity_of_source(project: Project, source: str) -> Entity:
    try:
        return project.source(source).entity
    except KeyError:
        names = ", ".join(s.name for s in project.spec.sources)
        raise MdmError(Reason.NOT_FOUND, f"No source {source!r}; sources: {names}.") from None
