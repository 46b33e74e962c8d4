"""Where the trained match models are kept (readable files beside the match rules) and how
they are read. Writing them, after a run commits, is the pipeline's (``mdm.pipeline.models``).
"""

from __future__ import annotations

import json
from pathlib import Path

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.matching.model import FellegiSunterModel
from mdm.schema import Entity


def model_path(project: Project, entity: Entity) -> Path:
    return project.rules_dir / "match" / f"{entity}.model.json"


def model_text(model: FellegiSunterModel) -> str:
    """The model file's exact text."""
    return json.dumps(model.to_dict(), indent=2, ensure_ascii=False) + "\n"


def load_model(project: Project, entity: Entity) -> FellegiSunterModel | None:
    """The saved model, or None: the run then trains one (and saves it)."""
    path = model_path(project, entity)
    if not path.exists():
        return None
    try:
        return FellegiSunterModel.load(path)
    except (ValueError, KeyError, TypeError) as error:
        raise MdmError(
            Reason.RULES,
            f"The match model {path} cannot be read: {error}. Delete it to train a new one.",
        ) from error
