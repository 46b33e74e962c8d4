"""The two engines on person records (Febrl and the synthetic people): one job each.

A job runs in its own process (``harness.run_isolated``): it reads its input from a Parquet
file (``rec_id``, ``source``, ``entity_id`` and Febrl's columns; ``row`` is the row position),
times the engine's work with a ``Meter`` and scores the clusters against ``entity_id``,
which the engine never sees.

mdm uses the Febrl rules the matching engine ships in ``benchmarks/rules/febrl/`` when they
are there, else ``DEFAULT_SPEC`` below. Splink gets the model of Splink's own Febrl examples:
the model a competent user writes.
"""

from __future__ import annotations

import inspect
import logging
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from benchmarks.harness import (
    ROOT,
    IntArray,
    Meter,
    Record,
    blocking_recall,
    labels_from_edges,
    pairwise_scores,
)
from benchmarks.people import FEBRL_COLUMNS

if TYPE_CHECKING:
    from mdm.config import MatchSpec

FEBRL_RULES = ROOT / "benchmarks" / "rules" / "febrl"
Profile = Literal["febrl", "scale"]
SPLINK_THRESHOLD = 0.5
SWEEP = (0.5, 0.8, 0.9, 0.95, 0.99)

# Canonical contact attributes (or other names a rules file may use) -> the Febrl column.
FIELD_ALIASES: dict[str, str] = {
    "first_name": "given_name",
    "given": "given_name",
    "last_name": "surname",
    "family_name": "surname",
    "dob": "date_of_birth",
    "birth_date": "date_of_birth",
    "ssn": "soc_sec_id",
    "street": "address_1",
    "city": "suburb",
    "region": "state",
}

# Used only when the matching engine has no Febrl rules of its own: people as contacts, the
# Febrl-only columns as extra fields, blocked and compared as a person matcher would be.
DEFAULT_SPEC: dict[str, Any] = {
    "entity": "contact",
    "method": "probabilistic",
    "extra_fields": [
        "date_of_birth",
        "soc_sec_id",
        "street_number",
        "address_1",
        "suburb",
        "postcode",
        "state",
    ],
    "blocking": [
        {"name": "names", "keys": ["first_name", "last_name"]},
        {"name": "surname_dob", "keys": ["last_name", "date_of_birth"]},
        {"name": "given_dob", "keys": ["first_name", "date_of_birth"]},
        {"name": "ssn", "keys": ["soc_sec_id"]},
        {"name": "address", "keys": ["postcode", "street_number"]},
    ],
    "comparisons": [
        {"field": "first_name", "kind": "first_name", "tf_adjust": True},
        {"field": "last_name", "kind": "last_name", "tf_adjust": True},
        {"field": "date_of_birth", "kind": "date", "date_format": "%Y%m%d"},
        {"field": "soc_sec_id", "kind": "id"},
        {"field": "street_number", "kind": "exact"},
        {"field": "address_1", "kind": "street"},
        {"field": "suburb", "kind": "city"},
        {"field": "postcode", "kind": "postcode"},
    ],
}


# ---- mdm --------------------------------------------------------------------------------------


def person_spec_files() -> list[Path]:
    """The Febrl rules files of the matching engine, if it wrote any."""
    return sorted(FEBRL_RULES.glob("*.toml")) if FEBRL_RULES.is_dir() else []


def load_person_spec() -> tuple[MatchSpec, str]:
    """The mdm spec for person records, and where it came from."""
    from mdm.config import MatchSpec

    files = person_spec_files()
    if not files:
        return MatchSpec.model_validate(DEFAULT_SPEC), "benchmarks/person_engines.py DEFAULT_SPEC"
    file = files[0]
    with file.open("rb") as handle:
        raw = tomllib.load(handle)
    entity = raw.pop("entity", "contact")
    return MatchSpec.model_validate({"entity": entity, **raw}), str(file.relative_to(ROOT))


def spec_fields(spec: MatchSpec) -> list[str]:
    """Every field the spec blocks, compares or rules on, in order of first use."""
    fields: list[str] = []
    for rule in getattr(spec, "rules", []):
        fields += list(rule.fields)
    for blocking in getattr(spec, "blocking", []):
        fields += [key.field for key in blocking.keys]
    for comparison in getattr(spec, "comparisons", []):
        fields.append(comparison.field)
    return list(dict.fromkeys(fields))


def spec_method(spec: MatchSpec) -> str:
    method = getattr(spec, "method", "rules")
    return str(getattr(method, "value", method))


def person_records(frame: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
    """Febrl-like records as the engine wants them: its fields, standardized, and record_id.

    Fields that are attributes of the spec's entity go through ``mdm.standardize``
    (as the pipeline's ``load_members`` does); other (extra) fields are Febrl's own clean,
    lower-case values and are passed as they are.
    """
    from mdm.standardize import match_frame

    columns: dict[str, pd.Series] = {}
    unknown = []
    for field in spec_fields(spec):
        column = field if field in FEBRL_COLUMNS else FIELD_ALIASES.get(field)
        if column is None:
            unknown.append(field)
        else:
            columns[field] = frame[column]
    if unknown:
        raise ValueError(
            f"the person spec uses {', '.join(map(repr, unknown))}, which no Febrl column "
            f"feeds; known: {', '.join([*FEBRL_COLUMNS, *FIELD_ALIASES])}"
        )
    raw = pd.DataFrame(columns).reset_index(drop=True).astype("string")
    records = match_frame(spec.entity, raw)
    records.insert(0, "record_id", np.arange(len(frame), dtype=np.int64))
    if "source" not in records.columns:
        records["source"] = frame["source"].to_numpy()
    return records


def _linkage_options(function: Any, frame: pd.DataFrame, link: bool) -> dict[str, Any]:
    """``groups`` (the file of each record) for a linkage task, where the engine takes it."""
    if link and "groups" in inspect.signature(function).parameters:
        return {"groups": frame["source"].to_numpy()}
    return {}


def _mdm_blocked_pairs(
    records: pd.DataFrame, spec: MatchSpec, options: dict[str, Any]
) -> tuple[IntArray, IntArray]:
    """The engine's candidate pairs as row positions (for blocking recall, after timing)."""
    from mdm.matching.block import block

    pairs = block(records, spec, **options).pairs
    left = np.asarray(pairs["left"], dtype=np.int64)
    right = np.asarray(pairs["right"], dtype=np.int64)
    return left, right


def mdm_person_job(input_path: str, link: bool = False) -> Record:
    """Standardize and match the people with mdm; score the clusters.

    For a linkage task (``link``) the engine gets each record's file as ``groups``, so only
    pairs across the files are made (when the engine supports it; else it deduplicates the
    union, and any pair within one file counts against its precision).
    """
    from mdm.matching.block import block
    from mdm.matching.protocol import DEFAULT_ENGINE, engine_named

    frame = pd.read_parquet(input_path)
    spec, spec_source = load_person_spec()
    engine = engine_named(DEFAULT_ENGINE)
    options = _linkage_options(engine.match, frame, link)
    meter = Meter()
    records = person_records(frame, spec)
    result = engine.match(records, spec, **options)
    measured = meter.stop()
    truth = frame["entity_id"].to_numpy()
    scores = pairwise_scores(result.labels, truth)
    left, right = _mdm_blocked_pairs(records, spec, _linkage_options(block, frame, link))
    return {
        **scores.as_dict(),
        "candidate_pairs": int(result.candidate_pairs),
        "blocking_recall": blocking_recall(left, right, truth),
        **measured,
        "rules": spec_source,
        "method": spec_method(spec),
        "linkage_groups": bool(options),
        "model_trained": bool(getattr(result, "trained", False)),
        "warnings": len(getattr(result, "warnings", [])),
    }


# ---- Splink -----------------------------------------------------------------------------------


def _splink_blocking(profile: Profile, link: bool) -> list[Any]:
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    if profile == "febrl":
        # Splink's own Febrl examples: single columns are cheap at 10k records.
        rules: list[Any] = [
            block_on("given_name", "surname"),
            CustomRule("l.given_name = r.surname and l.surname = r.given_name"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
        return rules
    # At a million records a single column (a date of birth, a postcode) makes tens of
    # millions of pairs: pairs of columns instead, so that a typo in one still leaves another.
    return [
        block_on("given_name", "surname"),
        CustomRule("l.given_name = r.surname and l.surname = r.given_name"),
        block_on("surname", "date_of_birth"),
        block_on("given_name", "date_of_birth"),
        block_on("soc_sec_id"),
        block_on("postcode", "street_number"),
        block_on("address_1", "suburb"),
    ]


def splink_person_settings(profile: Profile, link: bool) -> Any:
    """The Splink model: Splink's Febrl example, the comparisons a competent user writes."""
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        unique_id_column_name="row",
        link_type="link_only" if link else "dedupe_only",
        blocking_rules_to_generate_predictions=_splink_blocking(profile, link),
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _splink_train(linker: Any, profile: Profile) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    if profile == "febrl":
        em_rules = [block_on("date_of_birth"), block_on("postcode")]
        em_pairs = None
    else:
        # At a million records blocking on the date of birth alone gives 14M pairs: EM on a
        # sample of 3M learns the same m (the F1 is identical) in a tenth of the time.
        em_rules = [block_on("date_of_birth"), block_on("postcode", "street_number")]
        em_pairs = 3e6
    for rule in em_rules:
        # As Splink's Febrl 4 example does: EM without term frequencies, much faster.
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=em_pairs
        )


def splink_person_job(input_path: str, profile: Profile, link: bool) -> Record:
    """Train, predict and cluster the people with Splink 5 on DuckDB; score the clusters."""
    import duckdb
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import splink
    from splink import DuckDBAPI, Linker

    table = pq.read_table(input_path)
    truth = table.column("entity_id").to_numpy()
    inputs = table.drop_columns(["entity_id", "rec_id"])
    meter = Meter()
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    db_api = DuckDBAPI(connection=connection)
    if link:
        source = inputs.column("source")
        tables: Any = [
            db_api.register(inputs.filter(pc.equal(source, name)), dataset_display_name=name)
            for name in ("A", "B")
        ]
    else:
        tables = db_api.register(inputs, dataset_display_name="people")
    linker = Linker(tables, splink_person_settings(profile, link), log_level=logging.WARNING)
    _splink_train(linker, profile)
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_THRESHOLD
    )
    labels = _cluster_labels(clusters, len(truth))
    measured = meter.stop()

    scores = pairwise_scores(labels, truth)
    edges = predictions.as_duckdbpyrelation().select("row_l, row_r, match_probability")
    sweep = _threshold_sweep(edges.fetchnumpy(), truth)
    candidates, recall = _splink_blocking_stats(
        connection, table, _splink_blocking(profile, link), link
    )
    return {
        **scores.as_dict(),
        "candidate_pairs": candidates,
        "blocking_recall": recall,
        **measured,
        "threshold": SPLINK_THRESHOLD,
        "f1_by_threshold": sweep,
        "splink_version": splink.__version__,
        "duckdb_version": duckdb.__version__,
    }


def _cluster_labels(clusters: Any, n: int) -> IntArray:
    """One cluster label per input row (rows are numbered 0..n-1 in column ``row``)."""
    found = clusters.as_duckdbpyrelation().select("row, cluster_id").fetchnumpy()
    codes, _ = pd.factorize(pd.Series(np.asarray(found["cluster_id"], dtype=object)))
    labels = np.arange(n, dtype=np.int64) + n  # rows Splink did not return: alone
    labels[np.asarray(found["row"], dtype=np.int64)] = codes
    return labels


def _threshold_sweep(edges: dict[str, Any], truth: IntArray) -> dict[str, float]:
    """F1 had clusters been cut at other thresholds (not timed; from the same predictions)."""
    left = np.asarray(edges["row_l"], dtype=np.int64)
    right = np.asarray(edges["row_r"], dtype=np.int64)
    probability = np.asarray(edges["match_probability"], dtype=np.float64)
    out = {}
    for threshold in SWEEP:
        keep = probability >= threshold
        labels = labels_from_edges(len(truth), left[keep], right[keep])
        out[str(threshold)] = round(pairwise_scores(labels, truth).f1, 6)
    return out


def _splink_blocking_stats(
    connection: Any, table: Any, rules: Iterable[Any], link: bool
) -> tuple[int, float]:
    """Candidate pairs of Splink's blocking rules and the share of true pairs among them.

    The same SQL Splink joins on, run here as a union of self-joins (each pair once).
    """
    connection.register("bench_people", table)
    side = "l.source = 'A' and r.source = 'B'" if link else "l.row < r.row"
    joins = " union ".join(
        f"select l.row as l_row, r.row as r_row, l.entity_id = r.entity_id as same "
        f"from bench_people l join bench_people r on ({_rule_sql(rule)}) and {side}"
        for rule in rules
    )
    total, same = connection.execute(
        f"select count(*), coalesce(sum(same::int), 0) from ({joins})"
    ).fetchone()
    truth = table.column("entity_id").to_numpy()
    counts = np.unique(truth, return_counts=True)[1].astype(np.int64)
    true_pairs = int((counts * (counts - 1) // 2).sum())
    return int(total), (int(same) / true_pairs if true_pairs else 1.0)


def _rule_sql(rule: Any) -> str:
    if isinstance(rule, str):
        return rule
    sql: str = rule.get_blocking_rule("duckdb").blocking_rule_sql
    return sql


# ---- shared by the person benchmarks ----------------------------------------------------------


def write_input(frame: pd.DataFrame, path: Path) -> str:
    """The job input: the frame with its row positions in ``row``, as Parquet."""
    out = frame.reset_index(drop=True)
    out.insert(0, "row", np.arange(len(out), dtype=np.int64))
    out.to_parquet(path, index=False)
    return str(path)
