"""The pure stages of a resolution, over the value the reading edge made of a scope
(``ResolutionInputs``): match, identity, survivorship, relate. Nothing here touches the store.
"""

from __future__ import annotations

import json
from collections.abc import Set
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import MatchSpec
from mdm.config.specs import Project
from mdm.identity import IdentityResult, assign_golden_ids
from mdm.matching.decide import Decision
from mdm.matching.protocol import DEFAULT_ENGINE, SPARK, MatchEngine, engine_named
from mdm.matching.result import MatchResult
from mdm.pipeline import index
from mdm.pipeline.inputs import ResolutionInputs
from mdm.relate import relate_contacts
from mdm.schema import survived_attribute_names
from mdm.survivorship import Golden, build_golden

KEYS = ["source", "source_key"]


def match_scope(
    inputs: ResolutionInputs, spec: MatchSpec, engine: MatchEngine | None = None
) -> MatchResult:
    """Match the scope with ``engine`` (the project's: ``engine_named(project.spec.engine,
    project.spec)``; the local one when None)."""
    records = inputs.records
    engine = engine or engine_named(DEFAULT_ENGINE)
    return engine.match(
        inputs.match_input,
        spec,
        model=inputs.model,
        # Value shares of the whole population, so that a delta scores as a full run does.
        frequencies=(
            index.frequencies_of(records, spec)
            if inputs.frequencies is None
            else inputs.frequencies
        ),
        oversized=inputs.oversized,
        **constraints(inputs.decisions, records),
    )


def constraints(decisions: pd.DataFrame, records: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Steward ``decisions`` between records of the scope, as record id pairs."""
    ids = records.set_index(KEYS)["record_id"]
    left = pd.MultiIndex.from_frame(decisions[["left_source", "left_key"]].astype(str))
    right = pd.MultiIndex.from_frame(decisions[["right_source", "right_key"]].astype(str))
    pairs = pd.DataFrame(
        {
            "left_record_id": ids.reindex(left).to_numpy(),
            "right_record_id": ids.reindex(right).to_numpy(),
            "decision": decisions["decision"].to_numpy(),
        }
    ).dropna()
    pairs = pairs.astype({"left_record_id": "int64", "right_record_id": "int64"})
    columns = ["left_record_id", "right_record_id"]
    return {
        "must_link": pairs.loc[pairs["decision"] == "must_link", columns],
        "cannot_link": pairs.loc[pairs["decision"] == "cannot_link", columns],
    }


def identify(
    inputs: ResolutionInputs, labels: npt.NDArray[np.int64], taken: Set[str]
) -> IdentityResult:
    """Golden ids for the clusters ``labels``; ``taken``: ids known to be used, never minted."""
    history = inputs.history
    return assign_golden_ids(
        inputs.entity,
        inputs.records[KEYS].assign(label=labels),
        inputs.previous,
        history.age,
        taken,
        former=history.former,
        leaving=history.leaving,
    )


def members_of(
    project: Project, inputs: ResolutionInputs, identity: IdentityResult
) -> pd.DataFrame:
    """The scope's records with their display values, system, time and golden id."""
    records, stored, entity = inputs.records, inputs.stored, inputs.entity
    systems = {source.name: source.system for source in project.spec.sources}
    frame = pd.DataFrame(
        {
            "record_id": records["record_id"].astype("int64"),
            "source": records["source"],
            "source_key": records["source_key"],
            "system": records["source"].map(lambda name: systems.get(name, name)),
            "last_modified": pd.to_datetime(stored["last_modified"].to_numpy(), utc=True),
            "golden_id": identity.golden_ids.to_numpy(),
        },
        index=records.index,
    )
    return pd.concat([frame, stored[survived_attribute_names(entity)]], axis=1)


def survive(
    project: Project,
    inputs: ResolutionInputs,
    members: pd.DataFrame,
    identity: IdentityResult,
) -> Golden:
    """Golden values and lineage of the scope's golden records (``build_golden``); on Spark,
    grouped by golden id, when the project's engine is ``spark``."""
    pins = inputs.pins[inputs.pins["golden_id"].isin(set(identity.golden_ids))]
    spec = project.rules.survivorship[inputs.entity]
    pins = pins[["golden_id", "attribute", "value", "pinned_by", "pinned_at"]]
    if project.spec.engine == SPARK:
        # Imported only here: a local run never loads the Spark code.
        from mdm.pipeline.spark_stages import spark_golden

        return spark_golden(project.spec.spark, spec, members, now=inputs.now, pins=pins)
    return build_golden(spec, members, now=inputs.now, pins=pins)


def relate(
    project: Project,
    inputs: ResolutionInputs,
    members: pd.DataFrame,
    values: pd.DataFrame,
    lineage: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach golden contacts to golden accounts; the link gets a lineage row of its own."""
    accounts = inputs.accounts
    if accounts is None:
        raise ValueError(f"no account evidence read for the {inputs.entity} scope")
    records = inputs.records
    links = relate_contacts(
        members[["golden_id", "record_id", "source", "last_modified"]].assign(
            account_key=records["account_key"],
            company_key=records["company"],
            email_domain=accounts.email_domains,
        ),
        index.account_sources(project),
        accounts.xref,
        accounts.names,
        accounts.domains,
    )
    values = values.join(links.set_index("golden_id")[["account_id", "account_link"]])
    link_lineage = pd.DataFrame(
        {
            "golden_id": links["golden_id"],
            "attribute": "account_id",
            "value": links["account_id"],
            "record_id": links["record_id"].astype("int64"),
            "rule": links["account_link"],
            "candidates": 1,
        }
    )
    return values, pd.concat([lineage, link_lineage], ignore_index=True)


def review_items(records: pd.DataFrame, pairs: pd.DataFrame, golden_ids: pd.Series) -> pd.DataFrame:
    """The pairs the matcher sent to review, named by source and key, with their levels and
    their priority (``review_priority``); ``golden_ids``: the golden id of each of ``records``
    after the run, row for row."""
    columns = [
        "left_source",
        "left_key",
        "right_source",
        "right_key",
        "weight",
        "probability",
        "levels",
        "priority",
    ]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    review = pairs[pairs["decision"] == int(Decision.REVIEW)]
    record_ids = pd.Index(records["record_id"].astype("int64"))
    left_rows = record_ids.get_indexer(pd.Index(review["left_record_id"].astype("int64")))
    right_rows = record_ids.get_indexer(pd.Index(review["right_record_id"].astype("int64")))
    by_row = records[KEYS].reset_index(drop=True)
    left, right = by_row.take(left_rows), by_row.take(right_rows)
    level_columns = [c for c in review.columns if c.startswith("level_")]
    levels = [
        json.dumps(
            {c.removeprefix("level_"): int(v) for c, v in zip(level_columns, row, strict=True)}
        )
        for row in review[level_columns].itertuples(index=False, name=None)
    ]
    probability = review["probability"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "left_source": left["source"].to_numpy(),
            "left_key": left["source_key"].to_numpy(),
            "right_source": right["source"].to_numpy(),
            "right_key": right["source_key"].to_numpy(),
            "weight": review["weight"].to_numpy(dtype=float),
            "probability": probability,
            "levels": levels,
            "priority": review_priority(probability, golden_ids.to_numpy(), left_rows, right_rows),
        }
    )


def review_priority(
    probability: npt.NDArray[np.float64],
    golden_ids: npt.NDArray[Any],
    left: npt.NDArray[np.intp],
    right: npt.NDArray[np.intp],
) -> npt.NDArray[np.float64]:
    """How much deciding each review pair helps: uncertainty x impact, the queue's order.

    * uncertainty = 1 - 2 |p - 0.5|: 1 at probability 0.5, 0 at 0 or 1;
    * impact = the records the decision joins or separates: the members of the two golden
      records the pair's records are in after the run, added when they are apart (a match
      joins them), the members of the one golden record when they are together (a non-match
      separates it).

    ``golden_ids``: the golden id of every record of the scope after the run (a scope holds
    every member of its golden records, so counting them there counts every member);
    ``left``, ``right``: the rows of each pair's records in it. Whole arrays, no Python per
    pair."""
    codes, _ = pd.factorize(pd.Series(golden_ids, dtype=object))
    sizes = np.bincount(codes)
    left_code, right_code = codes[left], codes[right]
    together = left_code == right_code
    impact = np.where(together, sizes[left_code], sizes[left_code] + sizes[right_code])
    uncertainty = 1.0 - 2.0 * np.abs(np.asarray(probability, dtype=np.float64) - 0.5)
    return np.asarray(uncertainty * impact, dtype=np.float64)
