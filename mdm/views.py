"""Read models for people: the 360 view of a golden record, recent runs, quarantined rows.

Shared by the CLI now and the stewards' web UI later; they only read the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Connection

from mdm.config import MatchSpec
from mdm.config.match_spec import Method
from mdm.config.specs import Project, ProjectSpec
from mdm.errors import MdmError, Reason
from mdm.identity import resolve
from mdm.matching.engine import term_frequencies_of
from mdm.matching.explain import explain_pair
from mdm.pipeline.keys import live_keys
from mdm.pipeline.models import load_model
from mdm.pipeline.resolve import account_ids
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, attribute_names
from mdm.store import io as store_io
from mdm.store import open_store


class StoreProject(Protocol):
    """What reading the store takes: a ``Project``, or a ``ReadOnlyProject`` whose rules have
    problems (views that need the rules, like ``explain_records``, take a ``Project``)."""

    @property
    def spec(self) -> ProjectSpec: ...

    @property
    def store_url(self) -> str: ...


@dataclass(frozen=True)
class GoldenView:
    requested: str
    golden_id: str
    entity: Entity
    record: dict[str, Any]
    members: pd.DataFrame  # system, source, source_key, last_modified, attribute values
    related: pd.DataFrame  # an account's contacts, or a contact's account
    related_title: str
    lineage: pd.DataFrame  # attribute, value, source, source_key, rule, candidates


def golden_view(project: StoreProject, golden_id: str) -> GoldenView:
    entity = entity_of_golden_id(golden_id)
    with _reading(project) as connection:
        return _view(connection, project, entity, golden_id)


def _view(
    connection: Connection, project: StoreProject, entity: Entity, requested: str
) -> GoldenView:
    golden_id = resolve(requested, store_io.redirects(connection, str(entity)))
    found = store_io.golden_record(connection, str(entity), golden_id)
    if found.empty:
        raise MdmError(
            Reason.NOT_FOUND,
            f"No golden {entity} {requested}. Find ids in the export's {entity}s file.",
        )
    record = {str(k): _plain(v) for k, v in found.iloc[0].to_dict().items()}
    members = _members(connection, project, entity, golden_id)
    related, title = _related(connection, entity, golden_id, record)
    return GoldenView(
        requested=requested,
        golden_id=golden_id,
        entity=entity,
        record=record,
        members=members,
        related=related,
        related_title=title,
        lineage=_lineage(connection, golden_id),
    )


def _members(
    connection: Connection, project: StoreProject, entity: Entity, golden_id: str
) -> pd.DataFrame:
    xref = store_io.xref_of_golden_ids(connection, [golden_id])
    records = store_io.records_by_id(connection, xref["record_id"].astype(int).tolist())
    systems = {source.name: source.system for source in project.spec.sources}
    values = pd.DataFrame([json.loads(text) for text in records["attributes"]])
    values = values.reindex(columns=attribute_names(entity))
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "system": records["source"].map(lambda name: systems.get(name, name)),
                    "source": records["source"],
                    "source_key": records["source_key"],
                    "version": records["version"],
                    "last_modified": records["last_modified"],
                }
            ),
            values,
        ],
        axis=1,
    )
    return frame.dropna(axis=1, how="all").sort_values(["system", "source", "source_key"])


def _related(
    connection: Connection, entity: Entity, golden_id: str, record: dict[str, Any]
) -> tuple[pd.DataFrame, str]:
    if entity is Entity.ACCOUNT:
        contacts = store_io.golden_records(connection, str(Entity.CONTACT))
        mine = contacts[(contacts["account_id"] == golden_id) & (contacts["status"] == "active")]
        columns = ["golden_id", "first_name", "last_name", "email", "phone", "title"]
        return mine[columns].sort_values(["last_name", "first_name"]), "Contacts"
    account_id = record.get("account_id")
    if not account_id:
        return pd.DataFrame(), "Account"
    account = store_io.golden_record(connection, str(Entity.ACCOUNT), str(account_id))
    columns = ["golden_id", "name", "domain", "city", "country"]
    return account[columns], f"Account (linked by {record.get('account_link')})"


def _lineage(connection: Connection, golden_id: str) -> pd.DataFrame:
    lineage = store_io.lineage(connection, golden_id=golden_id)
    record_ids = lineage["record_id"].dropna().astype(int).tolist()
    keys = store_io.records_in(connection, record_ids)[["record_id", "source", "source_key"]]
    keyed = lineage.astype({"record_id": "Int64"}).merge(
        keys.astype({"record_id": "Int64"}), on="record_id", how="left"
    )
    # A pinned value comes from a steward, not from a record.
    keyed["record"] = (keyed["source"] + ":" + keyed["source_key"]).fillna("(steward pin)")
    columns = ["attribute", "value", "record", "rule", "candidates"]
    if "beaten" in keyed.columns:
        columns.append("beaten")
    return keyed[columns]


def _plain(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def recent_runs(project: StoreProject, limit: int) -> pd.DataFrame:
    with _reading(project) as connection:
        runs = store_io.recent_runs(connection, limit)
    return pd.DataFrame(
        {
            "run": runs["id"],
            "command": runs["command"],
            "status": runs["status"],
            "started": runs["started_at"].astype(str).str.slice(0, 19),
            "seconds": _seconds(runs),
            "outcome": [
                _outcome(summary, error)
                for summary, error in zip(runs["summary"], runs["error"], strict=True)
            ],
        }
    )


def _seconds(runs: pd.DataFrame) -> pd.Series:
    started = pd.to_datetime(runs["started_at"], utc=True)
    finished = pd.to_datetime(runs["finished_at"], utc=True)
    return (finished - started).dt.total_seconds().round(1)


def _outcome(summary: object, error: object) -> str:
    # A column read from the store holds NaN, not None, where a run has no error or summary.
    if isinstance(error, str) and error:
        return error.splitlines()[0][:120]
    data = json.loads(summary) if isinstance(summary, str) and summary else {}
    sources = data.get("sources", [])
    parts = [
        f"{sum(s[key] for s in sources)} {key}"
        for key in ("inserted", "updated", "deleted", "quarantined")
    ]
    for entity in data.get("entities", []):
        parts.append(f"{entity['golden']} golden {entity['entity']}s")
    return ", ".join(parts)


def run_quarantine(project: StoreProject, run_id: int | None) -> pd.DataFrame:
    with _reading(project) as connection:
        if run_id is None:
            runs = store_io.recent_runs(connection, 50)
            loaded = runs[(runs["status"] == "succeeded")]
            run_id = int(loaded["id"].iloc[0]) if not loaded.empty else -1
        rows = store_io.quarantine(connection, run_id)
    return rows[["source", "row_number", "source_key", "column", "reason"]]


# ---- history, lineage, explanations, review queue ------------------------------------------


@dataclass(frozen=True)
class History:
    requested: str
    golden_id: str
    events: pd.DataFrame  # run, event, other_id
    versions: pd.DataFrame  # version, run, status, members, and the values as they were


def golden_history(project: StoreProject, golden_id: str) -> History:
    entity = entity_of_golden_id(golden_id)
    with _reading(project) as connection:
        current = resolve(golden_id, store_io.redirects(connection, str(entity)))
        events, versions = store_io.golden_history(connection, golden_id)
    if events.empty:
        raise MdmError(Reason.NOT_FOUND, f"No history for {golden_id}: no run has made it.")
    values = pd.DataFrame([json.loads(text) for text in versions["record"]])
    return History(
        requested=golden_id,
        golden_id=current,
        events=events[["run_id", "event", "other_id"]].rename(columns={"run_id": "run"}),
        versions=pd.concat(
            [
                versions[["version", "run_id", "status", "members"]].rename(
                    columns={"run_id": "run"}
                ),
                values.dropna(axis=1, how="all"),
            ],
            axis=1,
        ),
    )


def golden_lineage(project: StoreProject, golden_id: str) -> pd.DataFrame:
    """Every golden value: the record it came from, the rule, and the candidates it beat."""
    entity = entity_of_golden_id(golden_id)
    with _reading(project) as connection:
        current = resolve(golden_id, store_io.redirects(connection, str(entity)))
        lineage = _lineage(connection, current)
    if lineage.empty:
        raise MdmError(Reason.NOT_FOUND, f"No lineage for {golden_id}: is it an active id?")
    return lineage


def resolve_id(project: StoreProject, golden_id: str) -> tuple[str, str]:
    """The id that answers for ``golden_id`` now, and its status."""
    entity = entity_of_golden_id(golden_id)
    with _reading(project) as connection:
        current = resolve(golden_id, store_io.redirects(connection, str(entity)))
        found = store_io.golden_in(connection, str(entity), [current])
    if found.empty:
        raise MdmError(Reason.NOT_FOUND, f"No golden {entity} {golden_id}.")
    return current, str(found["status"].iloc[0])


def review_queue(project: StoreProject, entity: Entity | None, limit: int) -> pd.DataFrame:
    with _reading(project) as connection:
        items = store_io.open_reviews(connection, None if entity is None else str(entity))
    if items.empty:
        return items
    return pd.DataFrame(
        {
            "entity": items["entity"],
            "left": items["left_source"] + ":" + items["left_key"],
            "right": items["right_source"] + ":" + items["right_key"],
            "probability": items["probability"].astype(float).round(3),
            "weight": items["weight"].astype(float).round(2),
        }
    ).head(limit)


@contextmanager
def _reading(project: StoreProject) -> Iterator[Connection]:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            yield connection
    finally:
        store.close()


@dataclass(frozen=True)
class PairExplanation:
    fields: pd.DataFrame  # per comparison: the two values, the level, its weight
    verdict: str


def explain_records(project: Project, left: str, right: str) -> PairExplanation:
    """Why two source records (``source:key``) match or not, field by field."""
    (left_source, left_key), (right_source, right_key) = (
        parse_record_ref(left),
        parse_record_ref(right),
    )
    entity = entity_of_source(project, left_source)
    spec = project.rules.match[entity]
    with _reading(project) as connection:
        keys = live_keys(connection, project, entity)
        indexed = keys.set_index(["source", "source_key"])
        missing = [
            ref
            for ref, key in ((left, (left_source, left_key)), (right, (right_source, right_key)))
            if key not in indexed.index
        ]
        if missing:
            raise MdmError(
                Reason.NOT_FOUND, f"No live record {', '.join(missing)}: write SOURCE:KEY."
            )
        pair = indexed.loc[[(left_source, left_key), (right_source, right_key)]].reset_index()
        if "account_id" in spec.extra_fields:
            pair["account_id"] = account_ids(connection, project, pair).to_numpy()
    a, b = pair.iloc[0], pair.iloc[1]
    if spec.method is Method.PROBABILISTIC:
        return _explain_probabilistic(project, entity, spec, keys, a, b)
    return _explain_rules(spec, a, b)


def _explain_probabilistic(
    project: Project,
    entity: Entity,
    spec: MatchSpec,
    keys: pd.DataFrame,
    a: pd.Series,
    b: pd.Series,
) -> PairExplanation:
    model = load_model(project, entity)
    if model is None:
        raise MdmError(Reason.NOT_FOUND, f"No {entity} match model yet: run 'mdm run' first.")
    found = explain_pair(a, b, spec, model, frequencies=term_frequencies_of(keys, spec))
    fields = pd.DataFrame(
        {
            "comparison": [c.name for c in found.comparisons],
            "left": [c.left for c in found.comparisons],
            "right": [c.right for c in found.comparisons],
            "level": [c.label for c in found.comparisons],
            "m": [None if c.m is None else round(c.m, 4) for c in found.comparisons],
            "u": [None if c.u is None else round(c.u, 6) for c in found.comparisons],
            "weight": [round(c.weight, 2) for c in found.comparisons],
        }
    )
    verdict = (
        f"prior {found.prior_weight:.2f} + fields = total weight {found.total_weight:.2f}, "
        f"probability {found.probability:.4f}: {found.decision.name.replace('_', '-').lower()}"
    )
    if found.rule:
        verdict += f" (rule {found.rule})"
    return PairExplanation(fields, verdict)


def _explain_rules(spec: MatchSpec, a: pd.Series, b: pd.Series) -> PairExplanation:
    fields = list(dict.fromkeys(f for rule in spec.rules for f in rule.fields))
    same = {f: pd.notna(a[f]) and pd.notna(b[f]) and a[f] == b[f] for f in fields}
    table = pd.DataFrame(
        {
            "field": fields,
            "left": [_plain(a[f]) for f in fields],
            "right": [_plain(b[f]) for f in fields],
            "level": [
                "exact" if same[f] else ("null" if pd.isna(a[f]) or pd.isna(b[f]) else "different")
                for f in fields
            ],
        }
    )
    holding = [rule.name for rule in spec.rules if all(same[f] for f in rule.fields)]
    verdict = (
        f"match: rule {holding[0]} holds" if holding else "no match rule holds: different records"
    )
    return PairExplanation(table, verdict)
