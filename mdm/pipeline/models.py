"""The trained match models, kept as readable files beside the match rules.

A run that trains a model keeps it in memory (``RunModels``) and writes the file only after its
transaction commits, atomically (a temporary file renamed over the old one): a run that fails
or is killed leaves the model file as it was, so the file never describes a model whose
results the store does not hold.

A run trains a model only where there is no file: once written, a model is what every later
run scores with. ``train_from_decisions`` (``mdm train --from-decisions``) refines the models
with the stewards' active decisions (``mdm.matching.labels``) and writes them over the files, so
the next run uses them and keeps them: a refined model is a file like any other, and its
training record says it was refined and keeps the unsupervised estimates to refine again
from. The models are part of the resolution basis, so the next run recomputes every golden
record with them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.matching.compare import compare_levels
from mdm.matching.comparisons import comparisons_from_spec
from mdm.matching.labels import (
    DEFAULT_PRIOR_PAIRS,
    LevelChange,
    is_refined,
    level_changes,
    refine_from_decisions,
    unsupervised,
)
from mdm.matching.model import FellegiSunterModel

# Where the files are and how they are read is shared with the read models.
from mdm.model_files import load_model as load_model
from mdm.model_files import model_path as model_path
from mdm.model_files import model_text as model_text
from mdm.pipeline.keys import keys_of
from mdm.pipeline.match_input import match_input
from mdm.schema import Entity, LinkDecision
from mdm.store import open_store, records, stewardship
from mdm.store.migrate import writing

KEYS = ["source", "source_key"]
IntArray = npt.NDArray[np.int64]


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


# ---- refining the models with the stewards' decisions -----------------------------------------

# refined: written with the decisions; restored: a refined model back to its unsupervised
# estimates (its decisions were all revoked); unchanged: no decision and nothing to restore;
# rules: the entity is matched by rules, without a model.
Outcome = Literal["refined", "restored", "unchanged", "rules"]


@dataclass(frozen=True)
class DecisionTraining:
    """What ``train_from_decisions`` did to one entity's model."""

    entity: Entity
    outcome: Outcome
    decisions: int  # active decisions of the entity
    must_link: int  # pairs used as matches
    cannot_link: int  # pairs used as non-matches
    # decisions not used: a record no longer live, a record with itself, a pair decided again
    skipped: int
    changes: list[LevelChange]  # every level, unsupervised -> as written (none: unchanged)
    model: FellegiSunterModel | None = None  # as written (None: no file written)


def train_from_decisions(
    project: Project,
    *,
    prior_pairs: float = DEFAULT_PRIOR_PAIRS,
    wait_seconds: float | None = 0,
    actor: str = "cli",
) -> list[DecisionTraining]:
    """Refine each probabilistic entity's model with its active steward decisions and write it
    over the model file, for the next run (see ``mdm.matching.labels``).

    Holds the store's writer lock, so that no run reads or writes the model files meanwhile; a
    model written earlier is refined from the unsupervised estimates it keeps. Raises
    ``MdmError`` when no decision can be used (there is none, or none names two live
    records) and when an entity with decisions has no model yet (no run trained one)."""
    if not prior_pairs > 0:
        raise MdmError(
            Reason.USAGE, f"The prior pairs must be a positive number, not {prior_pairs}."
        )
    store = open_store(project.store_url, writing=True)
    try:
        with writing(store, "train", wait_seconds):
            with store.transaction() as connection:
                found = [
                    _train_entity(connection, project, entity, prior_pairs) for entity in Entity
                ]
                _require_decisions(project, found)
                written = [t for t in found if t.model is not None]
                stewardship.audit(
                    connection,
                    actor,
                    "train_from_decisions",
                    ", ".join(str(t.entity) for t in written),
                    {
                        str(t.entity): {
                            "outcome": t.outcome,
                            "must_link": t.must_link,
                            "cannot_link": t.cannot_link,
                            "skipped": t.skipped,
                        }
                        for t in found
                    }
                    | {"prior_pairs": prior_pairs},
                )
            # After the audit committed: a failure before here leaves the files as they were.
            for trained in written:
                if trained.model is not None:
                    save_model(project, trained.entity, trained.model)
        return found
    finally:
        store.close()


def _train_entity(
    connection: Connection, project: Project, entity: Entity, prior_pairs: float
) -> DecisionTraining:
    spec = project.rules.match[entity]
    decisions = stewardship.active_decisions(connection, entity)
    if spec.method is not Method.PROBABILISTIC:
        return DecisionTraining(entity, "rules", len(decisions), 0, 0, len(decisions), [])
    pairs = _decided_pairs(decisions)
    model = load_model(project, entity)
    if model is None:
        if len(pairs):
            raise MdmError(
                Reason.NOT_FOUND,
                f"No {entity} match model yet: run 'mdm run' first (it learns one without "
                "labels), then train it with the decisions.",
            )
        return DecisionTraining(entity, "unchanged", len(decisions), 0, 0, 0, [])
    comparisons = comparisons_from_spec(spec)
    where = str(model_path(project, entity))
    model.check(comparisons, where, context=spec.context, context_also=spec.context_also)
    try:
        base = unsupervised(model)
    except (ValueError, KeyError, TypeError) as error:
        raise MdmError(
            Reason.RULES,
            f"The refined match model {where} keeps no usable unsupervised estimates: {error}. "
            "Delete it for the next run to learn one without labels.",
        ) from error
    frame, left, right, is_match = _decided_records(connection, project, entity, pairs)
    skipped = len(decisions) - len(is_match)
    if not len(is_match):  # nothing to learn from: the unsupervised model
        if not is_refined(model):
            return DecisionTraining(entity, "unchanged", len(decisions), 0, 0, skipped, [])
        changes = level_changes(base, base)
        return DecisionTraining(entity, "restored", len(decisions), 0, 0, skipped, changes, base)
    levels = compare_levels(frame, left, right, comparisons)
    refined = refine_from_decisions(
        base, comparisons, levels, is_match, prior_pairs=prior_pairs, details={"skipped": skipped}
    )
    return DecisionTraining(
        entity,
        "refined",
        len(decisions),
        int(is_match.sum()),
        int((~is_match).sum()),
        skipped,
        level_changes(base, refined),
        refined,
    )


def _decided_pairs(decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per decided pair of records (left, right: (source, key) in a fixed order) with
    whether it is a match; where one pair has both decisions, cannot-link wins, as in a run."""
    if decisions.empty:
        return pd.DataFrame(columns=["left", "right", "is_match"])
    a = list(zip(*_texts(decisions, "left"), strict=True))
    b = list(zip(*_texts(decisions, "right"), strict=True))
    pairs = pd.DataFrame(
        {
            "left": [min(x, y) for x, y in zip(a, b, strict=True)],
            "right": [max(x, y) for x, y in zip(a, b, strict=True)],
            "is_match": (decisions["decision"] == str(LinkDecision.MUST_LINK)).to_numpy(),
        }
    )
    # A cannot-link (False) sorts first: it is the pair's decision when both are active.
    pairs = pairs.sort_values("is_match", kind="stable")
    return pairs.drop_duplicates(["left", "right"]).reset_index(drop=True)


def _texts(decisions: pd.DataFrame, side: str) -> tuple[list[str], list[str]]:
    """The sources and keys of one side of the decisions, as text."""
    sources = decisions[f"{side}_source"].astype(str).tolist()
    return sources, decisions[f"{side}_key"].astype(str).tolist()


def _decided_records(
    connection: Connection, project: Project, entity: Entity, pairs: pd.DataFrame
) -> tuple[pd.DataFrame, IntArray, IntArray, npt.NDArray[np.bool_]]:
    """The live records of the decided pairs as the matcher takes them (the run's own reading:
    match keys, and a contact's golden account), the pairs' rows in it and their labels; pairs
    with a record that is not live, or with one record on both sides, are left out."""
    if pairs.empty:
        none = np.zeros(0, dtype=np.int64)
        return pd.DataFrame(), none, none, np.zeros(0, dtype=bool)
    ends = pd.DataFrame(list(pairs["left"]) + list(pairs["right"]), columns=KEYS)
    current = records.current_ids_of_keys(connection, entity, ends.drop_duplicates())
    live = current.loc[~current["deleted"].astype(bool)]
    keys = keys_of(connection, project, entity, live["record_id"].astype("int64").tolist())
    frame = match_input(connection, project, entity, keys)
    row = pd.Series(
        np.arange(len(keys), dtype=np.int64),
        index=pd.MultiIndex.from_frame(keys[KEYS].astype(str)),
    )
    row = row[~row.index.duplicated()]

    def rows_of(side: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
        index = pd.MultiIndex.from_tuples(list(side), names=KEYS)
        return row.reindex(index).to_numpy(dtype=np.float64)

    left, right = rows_of(list(pairs["left"])), rows_of(list(pairs["right"]))
    usable = ~np.isnan(left) & ~np.isnan(right) & (left != right)
    is_match = pairs["is_match"].to_numpy(dtype=bool)[usable]
    return frame, left[usable].astype(np.int64), right[usable].astype(np.int64), is_match


def _require_decisions(project: Project, found: list[DecisionTraining]) -> None:
    """Nothing to train from: say why, and what is kept."""
    if any(t.must_link or t.cannot_link for t in found):
        return
    active = sum(t.decisions for t in found if t.outcome != "rules")
    kept = []
    for trained in found:
        model = None if trained.outcome == "rules" else load_model(project, trained.entity)
        if model is not None and is_refined(model):
            kept.append(str(model_path(project, trained.entity)))
    if active:
        summary = (
            f"None of the {active} active steward decision{'s' * (active != 1)} names two live "
            "records: nothing to train the match models from."
        )
    else:
        summary = (
            "There are no active steward decisions to train the match models from: decide "
            "pairs first ('mdm decide', or the review queue), then train."
        )
    if kept:
        which = "model" if len(kept) == 1 else "models"
        summary += (
            f" The refined {which} {', '.join(kept)} {'is' if len(kept) == 1 else 'are'} kept "
            "as before; delete a model file for the next run to learn one without labels."
        )
    raise MdmError(Reason.NOT_FOUND, summary)
