"""The trained match models, kept as readable files beside the match rules.

A run that trains a model keeps it in memory (``RunModels``) and writes the file only after its
transaction commits, atomically (a temporary file renamed over the old one): a run that fails
or is killed leaves the model file as it was, so the file never describes a model whose
results the store does not hold.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mdm import failpoints
from mdm.config.specs import Project
from mdm.matching.model import FellegiSunterModel

# Where the files are and how they are read is shared with the read models.
from mdm.model_files import load_model as load_model
from mdm.model_files import model_path as model_path
from mdm.model_files import model_text as model_text
from mdm.schema import Entity


def save_model(project: Project, entity: Entity, model: FellegiSunterModel) -> None:
    write_atomically(model_path(project, entity), model_text(model))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class RunModels:
    """The models a run uses: those it trained (pending until it commits), else the files."""

    project: Project
    trained: dict[Entity, FellegiSunterModel] = field(default_factory=dict)

    def load(self, entity: Entity) -> FellegiSunterModel | None:
        if entity in self.trained:
            return self.trained[entity]
        return load_model(self.project, entity)

    def keep(self, entity: Entity, model: FellegiSunterModel) -> None:
        self.trained[entity] = model

    def texts(self) -> dict[Entity, str]:
        """The models' file texts as they will be after this run: trained ones, else files."""
        found: dict[Entity, str] = {}
        for entity in Entity:
            if entity in self.trained:
                found[entity] = model_text(self.trained[entity])
            elif (path := model_path(self.project, entity)).exists():
                found[entity] = path.read_text(encoding="utf-8")
        return found

    def write(self) -> None:
        """Write the trained models beside the rules: call once the run has committed."""
        for entity, model in sorted(self.trained.items()):
            save_model(self.project, entity, model)
            failpoints.reached(f"model.{entity}.written")
