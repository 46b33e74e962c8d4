"""The spark engine: the local engine's matching, with the pair work done on Spark.

What runs where (``mdm.matching.engine`` is the local engine it must equal, bit for bit):

* **driver**: the records arrive as a pandas frame (the pipeline reads them from the store);
  they are encoded once as the local engine encodes them (codes, the population's value
  shares, steward constraints as rows), in linear time.
* **Spark**: blocking (each record's blocking key texts, per partition; block sizes, the
  oversized blocks skipped, the pairs inside the others by a self-join on the key; the union
  of the rules with a bit per rule), comparisons (per partition of pairs with both records'
  values joined in, through ``mapInPandas`` over Arrow: the same ``compare_pairs`` and
  ``forced_by_rules``), the training's aggregate (pairs per distinct level pattern and rule
  bits, with the first pair of each), the u sample's and the context sample's levels,
  scoring and the decision before clustering (the same ``match_weights`` and ``decide``),
  and the run report's histogram of probabilities.
* **driver**: expectation-maximisation on the pattern counts (``train_on_patterns``: the
  patterns in the local order, so its sums run in the same order), then clustering on the
  pairs that can change a cluster: every match and review pair, and every other pair whose
  two records end in one component of the matches (the only pairs that cannot-link repairs
  and the weak-bridge test read). The local ``decided``, ``kept_apart`` and ``clustered`` run
  on them in the local pair order, so clusters, cut bridges and review pairs are the same.

A ``rules`` spec (exact rules, no pairs to score) is matched by the local engine.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import MatchSpec, Method
from mdm.config.specs import SparkSpec
from mdm.errors import MdmError, Reason
from mdm.matching.block import (
    Blocked,
    BlockingReport,
    _Keys,
    _oversized_warnings,
    blocking_columns,
    blocking_rules,
)
from mdm.matching.cluster import connected_components
from mdm.matching.compare import compare_pairs
from mdm.matching.comparisons import Comparison, comparisons_from_spec
from mdm.matching.decide import Decision
from mdm.matching.deterministic import rule_fields
from mdm.matching.encoded import EncodedRecords, PairsLike, encode
from mdm.matching.engine import LocalEngine, _check_probabilistic_records, _encoded_for_model
from mdm.matching.explain import Explanation
from mdm.matching.model import FellegiSunterModel
from mdm.matching.probabilistic import (
    Scores,
    clustered,
    decided,
    kept_apart,
    pair_space,
    term_frequencies,
    with_context_u,
)
from mdm.matching.result import MatchResult, ScoredPairs, links_frame, pairs_frame
from mdm.matching.spark_pairs import (
    GROUP,
    LEFT_PREFIX,
    NEW,
    RIGHT_PREFIX,
    ROW,
    SHARE_PREFIX,
    CompareTask,
    ScoreTask,
    block_keys,
    compare_batches,
    histogram_batches,
    level_column,
    score_batches,
    share_column,
)
from mdm.matching.spark_session import MISSING_PYSPARK, quiet_pyspark, spark_session
from mdm.matching.stages import Candidates, Constraints
from mdm.matching.statistics import (
    SCORE_BINS,
    MatchStatistics,
    RulePairs,
    ScoreHistogram,
    cluster_sizes,
    level_weights,
)
from mdm.matching.train import (
    Patterns,
    refine_with_labels,
    sample_pairs,
    train_on_patterns,
)
from mdm.matching.values import isin_keys

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Int8Array = npt.NDArray[np.int8]


class SparkEngine:
    """``MatchEngine`` on Spark (see the module). ``settings``: the project's ``[spark]``."""

    name = "spark"

    def __init__(self, settings: SparkSpec | None = None) -> None:
        try:
            import pyspark  # noqa: F401 (only whether it is there)
        except ImportError as error:
            raise MdmError(Reason.USAGE, MISSING_PYSPARK) from error
        self.settings = settings or SparkSpec()

    def match(
        self,
        records: pd.DataFrame,
        spec: MatchSpec,
        *,
        model: FellegiSunterModel | None = None,
        labels: pd.DataFrame | None = None,
        must_link: PairsLike | None = None,
        cannot_link: PairsLike | None = None,
        new: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
        frequencies: Mapping[str, pd.Series] | pd.DataFrame | None = None,
        oversized: Collection[str] = (),
    ) -> MatchResult:
        """See ``MatchEngine.match``."""
        if spec.method is Method.RULES:  # exact rules: nothing to score, the driver's
            return LocalEngine().match(
                records,
                spec,
                model=model,
                labels=labels,
                must_link=must_link,
                cannot_link=cannot_link,
                new=new,
                groups=groups,
                frequencies=frequencies,
                oversized=oversized,
            )
        comparisons = comparisons_from_spec(spec)
        warnings, absent = _check_probabilistic_records(records, spec, comparisons)
        if absent:  # as the local engine: derived columns the caller did not add are empty
            empty = pd.array([pd.NA] * len(records), dtype="string")
            records = records.assign(**dict.fromkeys(absent, empty))
        encoded, _ = _encoded_for_model(
            records, spec, comparisons, new, groups, frequencies, oversized
        )
        session = spark_session(self.settings)
        with quiet_pyspark():
            plan = _plan(session, self.settings.partitions, records, encoded, spec, comparisons)
            try:
                return _match(
                    plan,
                    Constraints.of(encoded, must_link, cannot_link),
                    model=model,
                    labels=labels,
                    warnings=warnings,
                )
            finally:
                plan.release()

    def term_frequencies(self, records: pd.DataFrame, spec: MatchSpec) -> dict[str, pd.Series]:
        """See ``MatchEngine.term_frequencies`` (one pass over the records: the driver's)."""
        return LocalEngine().term_frequencies(records, spec)

    def explain(
        self,
        record_a: pd.Series,
        record_b: pd.Series,
        spec: MatchSpec,
        model: FellegiSunterModel,
        *,
        frequencies: Mapping[str, pd.Series] | None = None,
    ) -> Explanation:
        """See ``MatchEngine.explain`` (one pair: the driver's)."""
        return LocalEngine().explain(record_a, record_b, spec, model, frequencies=frequencies)

    def blocking_keys(self, records: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
        """See ``MatchEngine.blocking_keys`` (a delta's few records: the driver's)."""
        return LocalEngine().blocking_keys(records, spec)


# ---- the plan: the records on Spark and how their pairs are compared ---------------------------


@dataclass
class _Plan:
    session: SparkSession
    partitions: int
    spec: MatchSpec
    comparisons: list[Comparison]
    encoded: EncodedRecords
    task: CompareTask
    records: DataFrame  # __row, the record columns, shares, __new, __group
    kept: list[DataFrame]  # persisted frames, released at the end

    @property
    def size(self) -> int:
        return self.encoded.size

    def persist(self, frame: DataFrame) -> DataFrame:
        from pyspark import StorageLevel

        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self.kept.append(frame)
        return frame

    def release(self) -> None:
        for frame in self.kept:
            frame.unpersist()
        self.kept.clear()


def _plan(
    session: SparkSession,
    partitions: int,
    records: pd.DataFrame,
    encoded: EncodedRecords,
    spec: MatchSpec,
    comparisons: list[Comparison],
) -> _Plan:
    """The records on Spark, in ``partitions`` partitions, with what comparing reads."""
    session.conf.set("spark.sql.shuffle.partitions", str(partitions))
    # Batches as large as the local engine's arrays are long enough to pay for comparing each
    # distinct pair of values once (``comparisons._distinct_pairs``).
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH_ROWS))
    compared = [c for c in comparisons if not c.members and c.field in records.columns]
    fields = list(
        dict.fromkeys([*blocking_columns(spec), *(c.field for c in compared), *rule_fields(spec)])
    )
    swaps = [(c.field, c.swap_with) for c in compared if c.swap_with is not None]
    wanted = [*fields, *(name for pair in swaps for name in pair)]
    columns = [c for c in records.columns if c in _base_columns(wanted)]
    tf_fields = [f for f in dict.fromkeys(c.field for c in compared if c.tf_adjust)]
    task = CompareTask(
        spec=spec,
        comparisons=tuple(comparisons),
        fields=tuple(fields),
        swaps=tuple(dict.fromkeys(swaps)),
        tf_fields=tuple(f for f in tf_fields if f in encoded.shares),
        columns=tuple(str(c) for c in columns),
    )
    frame = pd.DataFrame({ROW: np.arange(len(records), dtype=np.int64)})
    for column in task.columns:
        # Plain objects: PySpark cannot convert pandas' Arrow-backed strings.
        frame[column] = pd.Series(records[column].astype("string").to_numpy(), dtype=object)
    for field in task.tf_fields:
        codes = encoded.values(field).codes
        shares = encoded.shares[field]
        frame[SHARE_PREFIX + field] = _row_shares(codes, shares)
    schema = [f"`{ROW}` long", *(f"`{c}` string" for c in task.columns)]
    schema += [f"`{SHARE_PREFIX}{f}` double" for f in task.tf_fields]
    if encoded.new is not None:
        frame[NEW] = encoded.new
        schema.append(f"`{NEW}` boolean")
    if encoded.groups is not None:
        frame[GROUP] = encoded.groups
        schema.append(f"`{GROUP}` long")
    spark_records = session.createDataFrame(frame, schema=", ".join(schema))
    plan = _Plan(session, partitions, spec, comparisons, encoded, task, spark_records, [])
    plan.records = plan.persist(spark_records.repartition(partitions, ROW))
    return plan


def _row_shares(codes: npt.NDArray[np.int64], shares: npt.NDArray[np.float64]) -> Any:
    """Each row's value's share (NaN where the row has no value)."""
    if not len(shares):
        return np.full(len(codes), np.nan)
    return np.where(codes >= 0, shares[np.maximum(codes, 0)], np.nan)


def _base_columns(fields: list[str]) -> set[str]:
    """The record columns of fields (``"a+b"``: columns a and b)."""
    return {part for field in fields for part in field.split("+")}


# ---- blocking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Blocking:
    pairs: DataFrame  # left, right, bits, first_rule, blocked (True): each pair once
    count: int
    reports: list[BlockingReport]
    warnings: list[str]


def _block(plan: _Plan) -> _Blocking:
    """The candidate pairs of every rule, as ``block_records`` makes them."""
    from pyspark.sql import functions as F

    spec, encoded = plan.spec, plan.encoded
    rules = blocking_rules(spec)
    keys = plan.records.mapInPandas(
        partial(block_keys, spec=spec),
        "row long, rule int, key string, new boolean, grp long",
    )
    keys = plan.persist(keys)
    sizes = keys.groupBy("rule", "key").agg(
        F.count("*").alias("size"),
        F.max(F.col("new").cast("int")).alias("any_new"),
        F.min("grp").alias("low"),
        F.max("grp").alias("high"),
    )
    sizes = plan.persist(sizes)
    too_big = F.col("size") > spec.max_block_size
    warnings, oversized_by_rule = _oversized_blocks(plan, keys, sizes.where(too_big))
    usable = ~too_big
    if encoded.oversized:
        usable &= ~F.col("key").isin(sorted(encoded.oversized))
    if encoded.new is not None:
        usable &= F.col("any_new") == 1
    if encoded.groups is not None:
        usable &= F.col("low") != F.col("high")
    kept = keys.join(sizes.where(usable).select("rule", "key"), ["rule", "key"])
    a = kept.select("rule", "key", F.col("row").alias("left"), F.col("new").alias("lnew"),
                    F.col("grp").alias("lgrp"))  # fmt: skip
    b = kept.select("rule", "key", F.col("row").alias("right"), F.col("new").alias("rnew"),
                    F.col("grp").alias("rgrp"))  # fmt: skip
    joined = a.join(b, ["rule", "key"]).where(F.col("left") < F.col("right"))
    if encoded.new is not None:
        joined = joined.where(F.col("lnew") | F.col("rnew"))
    if encoded.groups is not None:
        joined = joined.where(F.col("lgrp") != F.col("rgrp"))
    by_rule = joined.select("rule", "left", "right").distinct()
    pairs = by_rule.groupBy("left", "right").agg(
        F.bit_or(F.expr("shiftleft(cast(1 as bigint), rule)")).alias("bits"),
        F.min("rule").alias("first_rule"),
    )
    pairs = plan.persist(pairs.withColumn("blocked", F.lit(True)))
    # Per rule, in one pass: its pairs (its bit set) and the pairs it made first.
    counted = pairs.agg(
        *(
            F.sum(F.expr(f"shiftright(bits, {i}) & 1")).alias(f"made_{i}")
            for i in range(len(rules))
        ),
        *(
            F.sum((F.col("first_rule") == i).cast("long")).alias(f"first_{i}")
            for i in range(len(rules))
        ),
    ).collect()[0]
    rule_pairs = {i: int(counted[f"made_{i}"] or 0) for i in range(len(rules))}
    firsts = {i: int(counted[f"first_{i}"] or 0) for i in range(len(rules))}
    reports = [
        BlockingReport(
            rule=rule.name,
            pairs=rule_pairs.get(index, 0),
            oversized_keys=oversized_by_rule.get(index, (0, 0))[0],
            skipped_pairs=oversized_by_rule.get(index, (0, 0))[1],
            new_pairs=firsts.get(index, 0),
        )
        for index, rule in enumerate(rules)
    ]
    return _Blocking(pairs, sum(firsts.values()), reports, warnings)


def _oversized_blocks(
    plan: _Plan, keys: DataFrame, oversized: DataFrame
) -> tuple[list[str], dict[int, tuple[int, int]]]:
    """The local engine's warning per oversized block, made from the two first records of
    each (all its warning reads); per rule, its oversized blocks and the pairs they skip."""
    from pyspark.sql import functions as F

    blocks = oversized.select("rule", "key", "size").toPandas()  # few: keys that common
    if blocks.empty:
        return [], {}
    found = plan.session.createDataFrame(blocks, "rule int, key string, size long")
    firsts = (
        keys.join(F.broadcast(found), ["rule", "key"])
        .groupBy("rule", "key", "size")
        .agg(F.slice(F.array_sort(F.collect_list("row")), 1, 2).alias("rows"))
        .toPandas()
    )
    if firsts.empty:
        return [], {}
    sizes = firsts["size"].to_numpy(dtype=np.int64)
    skipped = pd.Series(sizes * (sizes - 1) // 2).groupby(firsts["rule"].to_numpy()).sum()
    per_rule = firsts["rule"].value_counts()
    counts = {int(r): (int(per_rule[r]), int(skipped[r])) for r in per_rule.index}
    rules = blocking_rules(plan.spec)
    warnings: list[str] = []
    for index, rule in enumerate(rules):
        mine = firsts[firsts["rule"] == index].reset_index(drop=True)
        if mine.empty:
            continue
        rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in mine["rows"]])
        codes = np.repeat(np.arange(len(mine), dtype=np.int64), [len(r) for r in mine["rows"]])
        # The two records of each block, encoded as the local engine encodes them.
        unique_rows, at = np.unique(rows, return_inverse=True)
        subset = plan.records.where(F.col(ROW).isin(unique_rows.tolist())).toPandas()
        subset = subset.set_index(ROW).loc[unique_rows].reset_index(drop=True)
        subset = subset.astype(dict.fromkeys(plan.task.columns, "string"))
        encoded = encode(subset, dict.fromkeys(k.column for k in rule.keys))
        warnings += _oversized_warnings(
            encoded,
            plan.spec,
            rule,
            _Keys(at.astype(np.int64), codes),
            mine["size"].to_numpy(dtype=np.int64),
            np.arange(len(mine), dtype=np.int64),
        )
    return warnings, counts


def _candidates(plan: _Plan, blocking: _Blocking, constraints: Constraints) -> DataFrame:
    """The blocked pairs and the must-link pairs blocking did not make (``candidate_pairs``)."""
    if not len(constraints.must[0]):
        return blocking.pairs
    width = max(plan.size, 1)
    wanted = np.unique(constraints.must[0] * width + constraints.must[1])
    wanted_frame = plan.session.createDataFrame(
        pd.DataFrame({"left": wanted // width, "right": wanted % width}), "left long, right long"
    )
    found = blocking.pairs.join(wanted_frame, ["left", "right"]).select("left", "right")
    made = found.toPandas()
    made_keys = made["left"].to_numpy(dtype=np.int64) * width + made["right"].to_numpy(np.int64)
    missing = wanted[~isin_keys(wanted, made_keys)]
    extra = pd.DataFrame(
        {
            "left": missing // width,
            "right": missing % width,
            "bits": np.zeros(len(missing), dtype=np.int64),
            "first_rule": np.full(len(missing), -1, dtype=np.int32),
            "blocked": np.zeros(len(missing), dtype=bool),
        }
    )
    schema = "left long, right long, bits long, first_rule int, blocked boolean"
    return blocking.pairs.unionByName(plan.session.createDataFrame(extra, schema))


# ---- comparing ---------------------------------------------------------------------------------


def _compared(plan: _Plan, pairs: DataFrame, carry: dict[str, str]) -> DataFrame:
    """``pairs`` (``left``, ``right`` and the ``carry`` columns, name -> Spark type) with
    their levels, the rules' verdict and the left records' value shares."""
    from pyspark.sql import functions as F

    task = plan.task
    columns = [*task.columns, *(SHARE_PREFIX + f for f in task.tf_fields)]
    left = plan.records.select(
        F.col(ROW).alias("left"), *(F.col(f"`{c}`").alias(LEFT_PREFIX + c) for c in columns)
    )
    right = plan.records.select(
        F.col(ROW).alias("right"), *(F.col(f"`{c}`").alias(RIGHT_PREFIX + c) for c in columns)
    )
    both = pairs.join(left, "left").join(right, "right")
    schema = [f"`{name}` {kind}" for name, kind in carry.items()]
    schema += [f"{level_column(i)} tinyint" for i in range(len(task.comparisons))]
    schema += [f"{share_column(i)} double" for i in task.tf_comparisons]
    schema.append("verdict tinyint")
    return both.mapInPandas(
        partial(compare_batches, task=task, carry=list(carry)), ", ".join(schema)
    )


BATCH_ROWS = 100_000
PAIR_TYPES = {
    "left": "bigint",
    "right": "bigint",
    "bits": "bigint",
    "first_rule": "int",
    "blocked": "boolean",
}


# ---- training ----------------------------------------------------------------------------------


def _blocked_patterns(plan: _Plan, compared: DataFrame) -> tuple[Patterns, npt.NDArray[np.uint64]]:
    """The blocked pairs' distinct (levels, rule bits) with their counts, ordered as
    ``patterns(levels, extra=rule_bits)`` orders them: by the first pair (in pair order) of
    each level pattern, then by the first pair of each rule bits value."""
    from pyspark.sql import functions as F

    count = len(plan.comparisons)
    level_names = [level_column(i) for i in range(count)]
    width = max(plan.size, 1)
    found = (
        compared.where(F.col("blocked"))
        .groupBy(*level_names, "bits")
        .agg(
            F.count("*").alias("pairs"),
            F.min(F.col("left") * F.lit(width) + F.col("right")).alias("first"),
        )
        .toPandas()
    )
    if found.empty:
        empty = np.empty(0, np.int64)
        return Patterns(np.empty((0, count), np.int8), np.empty(0), empty), np.empty(0, np.uint64)
    first_levels = found.groupby(level_names)["first"].transform("min")
    first_bits = found.groupby("bits")["first"].transform("min")
    order = np.lexsort((first_bits.to_numpy(), first_levels.to_numpy()))
    found = found.iloc[order]
    levels = found[level_names].to_numpy(dtype=np.int8).reshape(len(found), count)
    patterns = Patterns(
        np.ascontiguousarray(levels),
        found["pairs"].to_numpy(dtype=np.float64),
        np.empty(0, np.int64),
    )
    return patterns, found["bits"].to_numpy(dtype=np.int64).astype(np.uint64)


def _trained(plan: _Plan, compared: DataFrame, blocked_count: int) -> FellegiSunterModel:
    """``probabilistic.trained_model``: the blocked pairs aggregated on Spark; the random
    samples for u (``u_sample_pairs`` at most, whatever the records) compared on the driver."""
    spec, encoded, comparisons = plan.spec, plan.encoded, plan.comparisons
    training = spec.training
    sample_left, sample_right = sample_pairs(
        encoded.record_ids, training.u_sample_pairs, training.seed, encoded.groups
    )
    blocked, pattern_bits = _blocked_patterns(plan, compared)
    metadata: dict[str, Any] = {
        "method": "u from random pairs, m by expectation-maximisation per blocking rule",
        "records": encoded.size,
        "candidate_pairs": blocked_count,
        "seed": training.seed,
    }
    model = train_on_patterns(
        str(spec.entity),
        comparisons,
        blocked,
        pattern_bits,
        blocking_rules(spec),
        compare_pairs(encoded, sample_left, sample_right, comparisons),
        pair_space(encoded),
        training,
        metadata,
        passive=spec.context_also,
    )
    return with_context_u(model, encoded, spec, comparisons, training)


def _refined(plan: _Plan, model: FellegiSunterModel, labels: pd.DataFrame) -> FellegiSunterModel:
    """``probabilistic.refined_model`` (a steward's few labelled pairs: compared on the driver)."""
    ids = labels[["left_record_id", "right_record_id"]].to_numpy(dtype=np.int64)
    index = pd.Index(plan.encoded.record_ids)
    rows = index.get_indexer(pd.Index(ids.reshape(-1))).reshape(-1, 2)
    found = (rows >= 0).all(axis=1) & (rows[:, 0] != rows[:, 1])
    is_match = labels["is_match"].to_numpy(dtype=bool)[found]
    rows = rows[found].astype(np.int64)
    return refine_with_labels(
        model, compare_pairs(plan.encoded, rows[:, 0], rows[:, 1], plan.comparisons), is_match
    )


# ---- the match ---------------------------------------------------------------------------------


def _match(
    plan: _Plan,
    constraints: Constraints,
    *,
    model: FellegiSunterModel | None,
    labels: pd.DataFrame | None,
    warnings: list[str],
) -> MatchResult:
    spec, comparisons, encoded = plan.spec, plan.comparisons, plan.encoded
    blocking = _block(plan)
    candidates = _candidates(plan, blocking, constraints)
    compared = plan.persist(_compared(plan, candidates.repartition(plan.partitions), PAIR_TYPES))
    if model is None:
        used = _trained(plan, compared, blocking.count)
    else:
        model.check(comparisons, context=spec.context, context_also=spec.context_also)
        used = model
    if labels is not None and len(labels):
        used = _refined(plan, used, labels)
    scored = plan.persist(_scored(plan, compared, used, constraints))
    histogram = _histogram(scored)
    kept = _pairs_that_cluster(plan, scored)
    left = kept["left"].to_numpy(dtype=np.int64)
    right = kept["right"].to_numpy(dtype=np.int64)
    levels = np.vstack(
        [kept[level_column(i)].to_numpy(dtype=np.int8) for i in range(len(comparisons))]
    ).reshape(len(comparisons), len(kept))
    scores = Scores(
        kept["weight"].to_numpy(dtype=np.float64), kept["probability"].to_numpy(dtype=np.float64)
    )
    blocked = Blocked(
        kept.loc[kept["blocked"], ["left", "right"]].reset_index(drop=True),
        kept.loc[kept["blocked"], "bits"].to_numpy(dtype=np.int64).astype(np.uint64),
        blocking_rules(spec),
        blocking.reports,
        blocking.warnings,
    )
    some = Candidates(left, right, blocked)
    decisions = decided(encoded, spec, comparisons, some, levels, scores, constraints)
    apart = kept_apart(encoded, spec, comparisons, used, some, decisions)
    clusters = clustered(encoded, spec, some, decisions, apart)
    judged = ScoredPairs(
        left, right, clusters.decision, scores.weights, scores.probability, decisions.rule, levels
    )
    matched = judged.decision == Decision.MATCH
    return MatchResult(
        record_ids=encoded.record_ids,
        labels=clusters.labels,
        links=links_frame(
            encoded.record_ids,
            left[matched],
            right[matched],
            judged.rule[matched],
            decisions.link_scores(scores.probability, matched),
        ),
        blocking=blocking.reports,
        warnings=[*blocking.warnings, *warnings],
        candidate_pairs=blocking.count,
        statistics=MatchStatistics(
            blocking=tuple(RulePairs(r.rule, r.pairs) for r in blocking.reports),
            levels=level_weights(used),
            scores=histogram,
            clusters=cluster_sizes(clusters.labels),
        ),
        pairs=pairs_frame(encoded.record_ids, comparisons, judged),
        model=used,
        trained=model is None,
        term_frequencies=term_frequencies(encoded, comparisons),
    )


def _scored(
    plan: _Plan, compared: DataFrame, model: FellegiSunterModel, constraints: Constraints
) -> DataFrame:
    """The compared pairs with their weight, probability and decision before clustering."""
    width = max(plan.size, 1)
    task = ScoreTask(
        spec=plan.spec,
        comparisons=tuple(plan.comparisons),
        model=model,
        tf_fields=tuple(
            c.field if i in plan.task.tf_comparisons else None
            for i, c in enumerate(plan.comparisons)
        ),
        size=plan.size,
        must=tuple((constraints.must[0] * width + constraints.must[1]).tolist()),
        cannot=tuple((constraints.cannot[0] * width + constraints.cannot[1]).tolist()),
    )
    schema = compared.schema.simpleString().removeprefix("struct<").removesuffix(">")
    schema += ",weight:double,probability:double,decision:tinyint"
    return compared.mapInPandas(partial(score_batches, task=task), schema.replace(":", " "))


def _histogram(scored: DataFrame) -> ScoreHistogram:
    """The blocked pairs' probabilities in the report's bins, counted per partition."""
    from pyspark.sql import functions as F

    counted = (
        scored.where(F.col("blocked"))
        .select("probability")
        .mapInPandas(histogram_batches, "bin int, pairs long")
        .groupBy("bin")
        .agg(F.sum("pairs").alias("pairs"))
        .toPandas()
    )
    counts = np.zeros(SCORE_BINS, dtype=np.int64)
    counts[counted["bin"].to_numpy(dtype=np.int64)] = counted["pairs"].to_numpy(dtype=np.int64)
    edges = tuple(i / SCORE_BINS for i in range(SCORE_BINS + 1))
    return ScoreHistogram(edges, tuple(int(c) for c in counts))


def _pairs_that_cluster(plan: _Plan, scored: DataFrame) -> pd.DataFrame:
    """The pairs clustering reads, in the local pair order (blocked pairs by row, then the
    must-link ones): every match and review pair, and every other pair whose two records are
    in one component of the matches (cannot-link repairs and the weak-bridge test read those;
    pairs across components change nothing)."""
    from pyspark.sql import functions as F

    columns = [
        "left",
        "right",
        "bits",
        "blocked",
        *(level_column(i) for i in range(len(plan.comparisons))),
        "weight",
        "probability",
        "decision",
    ]
    judged = scored.where(F.col("decision") != int(Decision.NON_MATCH)).select(*columns)
    decided_pairs = judged.toPandas()
    matched = decided_pairs[decided_pairs["decision"] == int(Decision.MATCH)]
    labels = connected_components(
        plan.size,
        matched["left"].to_numpy(dtype=np.int64),
        matched["right"].to_numpy(dtype=np.int64),
    )
    sizes = np.bincount(labels)
    joined_rows = np.flatnonzero(sizes[labels] >= 2)
    parts = [decided_pairs]
    if len(joined_rows):
        components = plan.session.createDataFrame(
            pd.DataFrame({"row": joined_rows, "label": labels[joined_rows]}),
            "row long, label long",
        )
        left = components.select(F.col("row").alias("left"), F.col("label").alias("l_label"))
        right = components.select(F.col("row").alias("right"), F.col("label").alias("r_label"))
        inside = (
            scored.where(F.col("decision") == int(Decision.NON_MATCH))
            .join(F.broadcast(left), "left")
            .join(F.broadcast(right), "right")
            .where(F.col("l_label") == F.col("r_label"))
            .select(*columns)
        )
        parts.append(inside.toPandas())
    kept = pd.concat(parts, ignore_index=True)
    kept = kept.astype({"left": "int64", "right": "int64", "blocked": "bool"})
    order = np.lexsort(
        (kept["right"].to_numpy(), kept["left"].to_numpy(), ~kept["blocked"].to_numpy())
    )
    return kept.iloc[order].reset_index(drop=True)
