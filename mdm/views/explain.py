"""Why two source records match or not, field by field, as the matcher weighs them.

Read by key, never writing: the two records' match keys (computed in memory where the stored
ones are stale), a contact's golden account, the model file, and the population's share of the
two records' values from the record-key index (term frequencies), not from every record.
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

import pandas as pd
from sqlalchemy import Connection

from mdm.config import MatchSpec
from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.match_keys import keys_of_attributes, parse_keys, region_of
from mdm.matching.protocol import DEFAULT_ENGINE, engine_named
from mdm.model_files import load_model
from mdm.record_keys import account_ids, frequencies
from mdm.refs import entity_of_source, parse_record_ref
from mdm.schema import Entity
from mdm.store import records
from mdm.views.base import ViewModel

KEYS = ["source", "source_key"]
Decision = Literal["match", "review", "non-match"]
DECISIONS = frozenset(get_args(Decision))


class ExplainedField(ViewModel):
    """One comparison (probabilistic matching) or one rule field (deterministic rules)."""

    name: str
    left: str | None
    right: str | None
    level: str
    m: float | None = None  # None for a null level, and for rules
    u: float | None = None
    weight: float | None = None  # None for rules


class ExplanationView(ViewModel):
    left: str
    right: str
    entity: Entity
    method: Literal["probabilistic", "rules"]
    fields: list[ExplainedField]
    decision: Decision
    prior_weight: float | None = None  # probabilistic only
    total_weight: float | None = None
    probability: float | None = None
    rule: str | None = None  # the rule that forced the decision, or that holds
    verdict: str  # the decision in a sentence


def explain_records(
    connection: Connection, project: Project, left: str, right: str
) -> ExplanationView:
    """Why two source records (``SOURCE:KEY``) match or not, field by field."""
    refs = [parse_record_ref(left), parse_record_ref(right)]
    entity = entity_of_source(project, refs[0][0])
    spec = project.rules.match[entity]
    pair = _match_input(connection, project, entity, [left, right], refs)
    if "account_id" in spec.extra_fields:
        pair["account_id"] = account_ids(connection, project, pair).to_numpy()
    if spec.method is Method.PROBABILISTIC:
        return _probabilistic(connection, project, entity, spec, pair, (left, right))
    return _rules(entity, spec, pair, (left, right))


def _match_input(
    connection: Connection,
    project: Project,
    entity: Entity,
    texts: list[str],
    refs: list[tuple[str, str]],
) -> pd.DataFrame:
    """The two live records as the matcher takes them (source and match keys), in order."""
    wanted = pd.DataFrame(refs, columns=KEYS).drop_duplicates()
    current = records.current_ids_of_keys(connection, entity, wanted)
    ids = current.loc[~current["deleted"].astype(bool), "record_id"].astype(int).tolist()
    live = records.live_match_keys_of(connection, entity, ids).reset_index(drop=True)
    keys, stale = parse_keys(entity, live["match_keys"])
    if stale.any():
        keys.loc[stale] = _fresh_keys(connection, project, entity, live[stale])
    frame = pd.concat([live[["record_id", *KEYS]], keys], axis=1).set_index(KEYS)
    missing = [text for text, ref in zip(texts, refs, strict=True) if ref not in frame.index]
    if missing:
        raise MdmError(Reason.NOT_FOUND, f"No live record {', '.join(missing)}: write SOURCE:KEY.")
    return frame.loc[refs].reset_index()


def _fresh_keys(
    connection: Connection, project: Project, entity: Entity, live: pd.DataFrame
) -> pd.DataFrame:
    """Match keys computed from the records' attributes, in memory: stored keys are the
    pipeline's to refresh."""
    ids = live["record_id"].astype(int).tolist()
    stored = records.records_in(connection, ids).set_index("record_id").loc[ids]
    attributes = pd.Series(stored["attributes"].to_numpy(), index=live.index)
    return keys_of_attributes(entity, attributes, region_of(project, live["source"]))


def _probabilistic(
    connection: Connection,
    project: Project,
    entity: Entity,
    spec: MatchSpec,
    pair: pd.DataFrame,
    texts: tuple[str, str],
) -> ExplanationView:
    model = load_model(project, entity)
    if model is None:
        raise MdmError(Reason.NOT_FOUND, f"No {entity} match model yet: run 'mdm run' first.")
    shares = frequencies(connection, entity, spec, pair)
    engine = engine_named(DEFAULT_ENGINE)
    found = engine.explain(pair.iloc[0], pair.iloc[1], spec, model, frequencies=shares)
    decision = found.decision.name.replace("_", "-").lower()
    verdict = (
        f"prior {found.prior_weight:.2f} + fields = total weight {found.total_weight:.2f}, "
        f"probability {found.probability:.4f}: {decision}"
    )
    if found.rule:
        verdict += f" (rule {found.rule})"
    return ExplanationView(
        left=texts[0],
        right=texts[1],
        entity=entity,
        method="probabilistic",
        fields=[
            ExplainedField(
                name=c.name,
                left=c.left,
                right=c.right,
                level=c.label,
                m=c.m,
                u=c.u,
                weight=c.weight,
            )
            for c in found.comparisons
        ],
        decision=_decision(decision),
        prior_weight=found.prior_weight,
        total_weight=found.total_weight,
        probability=found.probability,
        rule=found.rule,
        verdict=verdict,
    )


def _rules(
    entity: Entity, spec: MatchSpec, pair: pd.DataFrame, texts: tuple[str, str]
) -> ExplanationView:
    a, b = pair.iloc[0], pair.iloc[1]
    fields = list(dict.fromkeys(f for rule in spec.rules for f in rule.fields))
    same = {f: pd.notna(a[f]) and pd.notna(b[f]) and a[f] == b[f] for f in fields}
    holding = [rule.name for rule in spec.rules if all(same[f] for f in rule.fields)]
    return ExplanationView(
        left=texts[0],
        right=texts[1],
        entity=entity,
        method="rules",
        fields=[
            ExplainedField(
                name=f,
                left=_text(a[f]),
                right=_text(b[f]),
                level="exact" if same[f] else ("null" if _missing(a[f], b[f]) else "different"),
            )
            for f in fields
        ],
        decision="match" if holding else "non-match",
        rule=holding[0] if holding else None,
        verdict=(
            f"match: rule {holding[0]} holds"
            if holding
            else "no match rule holds: different records"
        ),
    )


def _decision(name: str) -> Decision:
    if name not in DECISIONS:
        raise ValueError(f"unknown match decision {name!r}")
    return cast(Decision, name)


def _missing(a: Any, b: Any) -> bool:
    return bool(pd.isna(a) or pd.isna(b))


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
