"""``mdm train --from-decisions``: the stewards' decisions refine the match models' m and u, the
next run scores with the refined models and keeps them.

On a real demo project (its truth says which records are one entity), run by the real
pipeline; pairs decided through ``decide_pair``; the levels of a pair read through
``explain_records`` (what ``mdm explain`` shows), never computed here.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mdm import pipeline, stewardship
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.matching.labels import is_refined, refine_from_decisions, unsupervised
from mdm.matching.model import FellegiSunterModel
from mdm.model_files import load_model, model_path
from mdm.pipeline.models import train_from_decisions
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import open_store
from mdm.store import stewardship as steward_store
from mdm.views import explain_records, reading

PRIOR_PAIRS = 100.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project of 150 organisations after its first run (copied by each test)."""
    directory = tmp_path_factory.mktemp("demo") / "project"
    generate_demo(directory, accounts=150, seed=11, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    pipeline.run(load_project(directory))
    return directory


@pytest.fixture
def project(demo: Path, tmp_path: Path) -> Project:
    directory = tmp_path / "project"
    shutil.copytree(demo, directory)
    return load_project(directory)


def mdm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "mdm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def truth(project: Project, entity: Entity) -> pd.DataFrame:
    """source, source_key, entity_id of the live records (those the run exported)."""
    path = project.root / "truth" / f"{entity}s.csv"
    found = pd.read_csv(path, dtype=str, keep_default_na=False)
    xref = pd.read_csv(project.exports_dir / "xref.csv", dtype=str, keep_default_na=False)
    live = xref[xref["entity"] == str(entity)][["source", "source_key", "golden_id"]]
    return found.merge(live, on=["source", "source_key"])


def ref(row: pd.Series) -> str:
    return f"{row['source']}:{row['source_key']}"


def levels(project: Project, model: FellegiSunterModel, left: str, right: str) -> list[int]:
    """The pair's level code per comparison (-1: null), as ``mdm explain`` shows them."""
    with reading(project.store_url) as connection:
        found = explain_records(connection, project, left, right)
    by_name = {field.name: field for field in found.fields}
    codes = []
    for comparison in model.comparisons:
        field = by_name[comparison.name]
        codes.append(-1 if field.m is None else comparison.labels.index(field.level))
    return codes


def pooled(base: tuple[float, ...], pseudo: float, codes: list[int]) -> np.ndarray:
    """The Dirichlet mean the decisions should give: ``base`` as ``pseudo`` pairs, plus one
    pair at each code (nulls not counted)."""
    counts = np.bincount([c for c in codes if c >= 0], minlength=len(base)).astype(float)
    return (pseudo * np.array(base) + counts) / (pseudo + counts.sum())


def decide(project: Project, pairs: list[tuple[str, str]], same: bool) -> None:
    decision = stewardship.Decision.MUST_LINK if same else stewardship.Decision.CANNOT_LINK
    for left, right in pairs:
        stewardship.decide_pair(project, left, right, decision, "ana")


def matching_pairs(project: Project, entity: Entity) -> list[tuple[str, str]]:
    """Pairs of live records of one true entity."""
    found = truth(project, entity)
    pairs = []
    for _, group in found.groupby("entity_id"):
        rows = [ref(row) for _, row in group.iterrows()]
        pairs.extend(itertools.combinations(sorted(rows), 2))
    return pairs


def test_no_decisions_is_a_clear_error_and_a_non_zero_exit(project: Project) -> None:
    before = {e: model_path(project, e).read_text() for e in Entity}
    done = mdm("train", "--from-decisions", "-p", str(project.root), cwd=project.root)
    assert done.returncode == 2, done.stdout
    assert "There are no active steward decisions to train the match models from" in " ".join(
        done.stderr.split()
    )
    assert "Traceback" not in done.stderr
    unsaid = mdm("train", "-p", str(project.root), cwd=project.root)
    assert unsaid.returncode == 2
    assert "--from-decisions" in unsaid.stderr
    assert {e: model_path(project, e).read_text() for e in Entity} == before
    with pytest.raises(MdmError, match="no active steward decisions"):
        train_from_decisions(project)


def test_must_links_move_m_towards_the_levels_they_show(project: Project) -> None:
    """A handful of must-links whose records differ on a field: that field's m of the level
    they show rises, by exactly the Dirichlet mean of N pseudo-pairs and the decisions."""
    model = load_model(project, Entity.ACCOUNT)
    assert model is not None
    names = [c.name for c in model.comparisons]
    # True matches with a comparison below its strongest level: what a steward must-links.
    shown = {}
    for left, right in matching_pairs(project, Entity.ACCOUNT)[:60]:
        codes = levels(project, model, left, right)
        for index, code in enumerate(codes):
            if 0 <= code < len(model.comparisons[index].labels) - 1:
                shown.setdefault((index, code), []).append(((left, right), codes))
    (index, code), found = max(shown.items(), key=lambda item: len(item[1]))
    chosen = found[:4]
    assert len(chosen) >= 2, f"too few pairs differ on {names[index]}"
    decide(project, [pair for pair, _ in chosen], same=True)

    trained = train_from_decisions(project, prior_pairs=PRIOR_PAIRS)

    account = next(t for t in trained if t.entity is Entity.ACCOUNT)
    assert (account.outcome, account.must_link, account.cannot_link) == ("refined", len(chosen), 0)
    refined = load_model(project, Entity.ACCOUNT)
    assert refined is not None and is_refined(refined)
    before, after = model.comparisons[index], refined.comparisons[index]
    assert after.m[code] > before.m[code]  # the level the must-links show
    for c, (old, new) in enumerate(zip(model.comparisons, refined.comparisons, strict=True)):
        expected = pooled(old.m, PRIOR_PAIRS, [codes[c] for _, codes in chosen])
        np.testing.assert_allclose(new.m, expected, rtol=1e-12)
        assert new.u == old.u  # no cannot-link: u is as measured
    assert refined.prior == model.prior
    # Nothing else changed: the contacts had no decision.
    assert next(t for t in trained if t.entity is Entity.CONTACT).outcome == "unchanged"
    contact = load_model(project, Entity.CONTACT)
    assert contact is not None and not is_refined(contact)


def test_cannot_links_count_as_sample_pairs_in_u(project: Project) -> None:
    """Cannot-links raise u of the levels they show, each counted as one more random pair
    next to the pairs u was measured on; m stays."""
    model = load_model(project, Entity.ACCOUNT)
    assert model is not None
    found = truth(project, Entity.ACCOUNT).drop_duplicates("entity_id").head(8)
    pairs = [(ref(a), ref(b)) for (_, a), (_, b) in itertools.pairwise(found.iterrows())][:5]
    decide(project, pairs, same=False)

    train_from_decisions(project, prior_pairs=PRIOR_PAIRS)

    refined = load_model(project, Entity.ACCOUNT)
    assert refined is not None
    sampled = float(model.training["u_sample_pairs"])
    codes = [levels(project, model, left, right) for left, right in pairs]
    moved = 0
    for c, (old, new) in enumerate(zip(model.comparisons, refined.comparisons, strict=True)):
        shown = [pair[c] for pair in codes]
        np.testing.assert_allclose(new.u, pooled(old.u, sampled, shown), rtol=1e-12)
        assert new.m == old.m
        moved += sum(new.u[code] > old.u[code] for code in shown if code >= 0)
    assert moved  # some level's u went up
    assert refined.training["decisions"]["cannot_link"] == len(pairs)


def test_a_cannot_link_of_colleagues_moves_u_within_the_context(project: Project) -> None:
    """Two people at one golden account are weighed within the employer's context: their
    cannot-link updates u_context of the comparisons scored there, not u."""
    model = load_model(project, Entity.CONTACT)
    assert model is not None and model.context == "account_id"
    contacts = truth(project, Entity.CONTACT)
    pair = None
    with reading(project.store_url) as connection:
        for left, right in itertools.combinations(contacts.head(400).itertuples(), 2):
            if left.entity_id == right.entity_id:
                continue
            a, b = f"{left.source}:{left.source_key}", f"{right.source}:{right.source_key}"
            found = explain_records(connection, project, a, b)
            account = next(f for f in found.fields if f.name == "account_id")
            if account.level == "exact":
                pair = (a, b)
                break
    assert pair is not None, "no two people of one account in the demo"
    decide(project, [pair], same=False)

    train_from_decisions(project)

    refined = load_model(project, Entity.CONTACT)
    assert refined is not None
    codes = levels(project, model, *pair)
    context_pairs = float(model.training["context"]["pairs"]) * (
        1.0 - float(model.training["context"]["match_share"])
    )
    for c, (old, new) in enumerate(zip(model.comparisons, refined.comparisons, strict=True)):
        if old.u_context is None:  # the context itself: weighed with u
            assert new.u_context is None
            sampled = float(model.training["u_sample_pairs"])
            np.testing.assert_allclose(new.u, pooled(old.u, sampled, [codes[c]]), rtol=1e-12)
        else:
            assert new.u == old.u
            assert new.u_context is not None
            np.testing.assert_allclose(
                new.u_context, pooled(old.u_context, context_pairs, [codes[c]]), rtol=1e-12
            )


def test_the_next_run_scores_with_the_refined_model_and_keeps_it(project: Project) -> None:
    pairs = matching_pairs(project, Entity.CONTACT)[:3]
    decide(project, pairs, same=True)
    unlabelled = model_path(project, Entity.CONTACT).read_text()

    done = mdm("train", "--from-decisions", "-p", str(project.root), cwd=project.root)

    assert done.returncode == 0, done.stderr
    assert "contact: 3 must-link and 0 cannot-link pairs used of 3 active decisions" in done.stdout
    assert "account: no decision to use; the model is unchanged." in done.stdout
    written = model_path(project, Entity.CONTACT).read_text()
    assert written != unlabelled
    refined = FellegiSunterModel.from_dict(json.loads(written))
    assert refined.training["decisions"]["must_link"] == 3

    summary = pipeline.run(project)

    assert summary.full  # the models are part of the basis: everything is scored again
    contact = next(e for e in summary.entities if e.entity == "contact")
    assert contact.statistics is not None
    used = {(row["comparison"], row["level"]): row["m"] for row in contact.statistics["levels"]}
    for comparison in refined.comparisons:
        for label, m in zip(comparison.labels, comparison.m, strict=True):
            assert used[(comparison.name, label)] == pytest.approx(m, rel=1e-12)
    assert model_path(project, Entity.CONTACT).read_text() == written
    again = pipeline.run(project, full=True)
    assert again.full
    assert model_path(project, Entity.CONTACT).read_text() == written


def test_training_again_starts_from_the_model_learned_without_labels(project: Project) -> None:
    unlabelled = {e: load_model(project, e) for e in Entity}
    decide(project, matching_pairs(project, Entity.ACCOUNT)[:2], same=True)
    decide(project, matching_pairs(project, Entity.CONTACT)[:2], same=True)
    train_from_decisions(project)
    first = {e: model_path(project, e).read_text() for e in Entity}

    train_from_decisions(project)  # the same decisions: the same models, nothing counted twice

    assert {e: model_path(project, e).read_text() for e in Entity} == first
    # The account decisions revoked: the account model is back to its unsupervised estimates.
    store = open_store(project.store_url, writing=True)
    try:
        with store.transaction() as connection:
            ids = steward_store.active_decisions(connection, Entity.ACCOUNT)["id"].tolist()
            steward_store.deactivate_decisions(connection, [int(i) for i in ids])
    finally:
        store.close()

    trained = {t.entity: t for t in train_from_decisions(project)}

    assert trained[Entity.ACCOUNT].outcome == "restored"
    restored = load_model(project, Entity.ACCOUNT)
    original = unlabelled[Entity.ACCOUNT]
    assert restored is not None and original is not None
    assert restored.to_dict() == original.to_dict()
    assert model_path(project, Entity.CONTACT).read_text() == first[Entity.CONTACT]


def test_refining_keeps_what_it_refined_from() -> None:
    """The estimation alone: the base it keeps restores the model exactly; no pair, no
    change; a refined model is not refined again."""
    from mdm.config import MatchSpec
    from mdm.matching.comparisons import comparisons_from_spec
    from mdm.matching.model import ComparisonModel

    spec = MatchSpec.model_validate(
        {
            "entity": "account",
            "method": "probabilistic",
            "blocking": [{"name": "name", "keys": ["name"]}],
            "comparisons": [{"field": "name", "kind": "exact"}, {"field": "city", "kind": "exact"}],
        }
    )
    comparisons = comparisons_from_spec(spec)
    model = FellegiSunterModel(
        "account",
        0.001,
        tuple(
            ComparisonModel(c.name, c.field, c.labels, m=(0.1, 0.9), u=(0.99, 0.01))
            for c in comparisons
        ),
        {"u_sample_pairs": 1000},
    )
    levels = np.array([[0, 1, 1], [0, -1, 1]], dtype=np.int8)
    is_match = np.array([True, True, False])

    refined = refine_from_decisions(model, comparisons, levels, is_match, prior_pairs=10)

    name, city = refined.comparisons
    assert name.m == pytest.approx(((10 * 0.1 + 1) / 12, (10 * 0.9 + 1) / 12))
    assert city.m == pytest.approx(((10 * 0.1 + 1) / 11, (10 * 0.9) / 11))  # a null: not counted
    assert name.u == pytest.approx((0.99 * 1000 / 1001, (0.01 * 1000 + 1) / 1001))
    assert refined.prior == model.prior
    assert unsupervised(refined).to_dict() == model.to_dict()
    assert refine_from_decisions(model, comparisons, levels[:, :0], is_match[:0]) is model
    with pytest.raises(ValueError, match="not a refined one"):
        refine_from_decisions(refined, comparisons, levels, is_match)


def test_the_command_s_default_is_the_estimation_s() -> None:
    """``mdm train`` names its default itself (``mdm --help`` does not import numpy)."""
    from mdm.cli.train_commands import PRIOR_PAIRS
    from mdm.matching.labels import DEFAULT_PRIOR_PAIRS

    assert PRIOR_PAIRS == DEFAULT_PRIOR_PAIRS
