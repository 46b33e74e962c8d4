"""Splink 5 on the realistic project, configured as a competent user would.

The same live records mdm holds after the last night (``records.match_records``: read by mdm's
readers, so columns joined and full names parsed, and standardized by mdm's ``match_frame``;
not timed), deduplicated accounts first, then contacts with their account's Splink cluster
(through the account key) as evidence.

Accounts: blocking on a name word + city, domain, phone, tax id, postcode + name prefix;
Jaro-Winkler name (term frequencies), exact domain, phone and tax id (TF: a brand's shared
switchboard or EIN weighs little), Jaro-Winkler street, exact city (TF), postcode exact (TF) or
one edit. Contacts: derived first (not timed) the employer's name and domain (the account's,
through the account key and source, else the company text and a work email domain, free mail
excluded) and the email without role mailboxes (ap@, billing@, ...); blocking on email, phone,
mobile, first + last name, the two swapped, last name + account cluster, last name + employer,
last name + employer domain, first name + account cluster; ``ForenameSurnameComparison`` (TF on
the full name), exact email (TF), exact phone (TF) and mobile, and one employer comparison
(same account cluster, same company name or work domain, Jaro-Winkler 0.92, 0.8 or Jaccard 0.5,
else). Each: the chance of a match from deterministic rules (recall 0.7), u by random sampling
(10M pairs), EM on two blocking rules, ``predict``, clusters at 0.5; and, untimed, F1 at other
thresholds (chosen with the labels: an oracle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import Meter, Record, labels_from_edges, pairwise_scores
from benchmarks.realistic.project import read_truth
from benchmarks.realistic.records import match_records

THRESHOLD = 0.5
SWEEP = (0.5, 0.8, 0.9, 0.95, 0.99)
U_PAIRS = 1e7

ACCOUNT_COLUMNS = ["name", "domain", "phone", "street", "city", "postcode", "tax_id"]
CONTACT_COLUMNS = [
    "first_name", "last_name", "forename_surname", "email", "phone", "mobile", "employer",
    "employer_domain",
]  # fmt: skip
# What a user sees at the top of the email domains: free mail and ISPs (not an employer).
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "msn.com",
        "live.com",
        "ymail.com",
        "mail.com",
        "protonmail.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "optonline.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "bellsouth.net",
    ]
)
# Role mailboxes (ERP billing contacts share them): not a person's identifier.
ROLE_MAILBOXES = frozenset(
    [
        "ap",
        "ar",
        "billing",
        "invoices",
        "invoice",
        "finance",
        "accounts",
        "accounting",
        "payables",
        "receivables",
        "info",
        "sales",
        "admin",
        "office",
        "orders",
        "purchasing",
    ]
)


def _account_blocking() -> list[Any]:
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    return [
        CustomRule("split_part(l.name, ' ', 1) = split_part(r.name, ' ', 1) and l.city = r.city"),
        block_on("domain"),
        block_on("phone"),
        block_on("tax_id"),
        CustomRule("l.postcode = r.postcode and substr(l.name, 1, 3) = substr(r.name, 1, 3)"),
    ]


def _contact_blocking() -> list[Any]:
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    return [
        block_on("email"),
        block_on("phone"),
        block_on("mobile"),
        block_on("first_name", "last_name"),
        CustomRule("l.first_name = r.last_name and l.last_name = r.first_name"),
        block_on("last_name", "account_cluster"),
        block_on("last_name", "employer"),
        block_on("last_name", "employer_domain"),
        block_on("first_name", "account_cluster"),
    ]


def _account_settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        unique_id_column_name="row",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=_account_blocking(),
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("domain").configure(term_frequency_adjustments=True),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.ExactMatch("tax_id").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds("postcode", [1]).configure(term_frequency_adjustments=True),
        ],
    )


def _employer_comparison() -> Any:
    """One comparison for the employer, so that the account cluster, the company name and the
    work domain (which say the same thing) are not counted two or three times."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def missing(column: str) -> str:
        return f"({column}_l is null or {column}_r is null)"

    return cl.CustomComparison(
        output_column_name="employer",
        comparison_levels=[
            cll.CustomLevel(
                " and ".join(missing(c) for c in ("account_cluster", "employer", "employer_domain"))
            ).configure(is_null_level=True),
            cll.ExactMatchLevel("account_cluster"),
            cll.CustomLevel(
                "employer_l = employer_r or employer_domain_l = employer_domain_r",
                "same company name or work domain",
            ),
            cll.JaroWinklerLevel("employer", 0.92),
            cll.Or(cll.JaroWinklerLevel("employer", 0.8), cll.JaccardLevel("employer", 0.5)),
            cll.ElseLevel(),
        ],
    )


def _contact_settings() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        unique_id_column_name="row",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=_contact_blocking(),
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "last_name", forename_surname_concat_col_name="forename_surname"
            ),
            cl.ExactMatch("email").configure(term_frequency_adjustments=True),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.ExactMatch("mobile"),
            _employer_comparison(),
        ],
    )


def _em(linker: Any, rules: list[Any], wanted: int = 2) -> list[str]:
    """EM on the first ``wanted`` of ``rules`` that train. Splink 5 refuses an m probability
    that underflows to 0 (a level EM drives out of its blocked pairs) with a ValueError; a
    user would then block EM on another rule, and so does this. The rules used, by SQL."""
    used: list[str] = []
    for rule in rules:
        if len(used) == wanted:
            break
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except ValueError as error:
            if "m_probability" not in str(error):
                raise
            continue
        used.append(_rule_sql(rule))
    return used


def _train_accounts(linker: Any) -> list[str]:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("tax_id"), block_on("name", "postcode")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=1)
    return _em(
        linker, [block_on("postcode"), block_on("name"), block_on("phone"), block_on("domain")]
    )


def _train_contacts(linker: Any) -> list[str]:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "last_name", "employer_domain")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=1)
    return _em(
        linker,
        [block_on("email"), block_on("first_name", "last_name"), block_on("phone")],
    )


def _dedupe(
    connection: Any,
    frame: pd.DataFrame,
    settings: Any,
    train: Callable[[Any], list[str]],
    name: str,
) -> tuple[np.ndarray, dict[str, Any], float, list[str]]:
    """Splink clusters of ``frame``'s rows: a label per row, the predicted pairs, seconds and
    the blocking rules EM trained on."""
    import pyarrow as pa
    from splink import DuckDBAPI, Linker

    started = time.perf_counter()
    db_api = DuckDBAPI(connection=connection)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    linker = Linker(
        db_api.register(table, dataset_display_name=name), settings, log_level=logging.WARNING
    )
    em_rules = train(linker)
    predictions = linker.inference.predict(threshold_match_probability=min(SWEEP))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    found = clusters.as_duckdbpyrelation().select("row, cluster_id").fetchnumpy()
    seconds = time.perf_counter() - started
    labels = np.array([f"alone-{row}" for row in frame["row"].to_numpy()], dtype=object)
    labels[np.asarray(found["row"], dtype=np.int64)] = np.asarray(found["cluster_id"]).astype(str)
    edges = predictions.as_duckdbpyrelation().select("row_l, row_r, match_probability")
    return labels, edges.fetchnumpy(), seconds, em_rules


def _sweep(n: int, edges: dict[str, Any], truth: np.ndarray) -> dict[str, float]:
    left = np.asarray(edges["row_l"], dtype=np.int64)
    right = np.asarray(edges["row_r"], dtype=np.int64)
    probability = np.asarray(edges["match_probability"], dtype=np.float64)
    out = {}
    for threshold in SWEEP:
        keep = probability >= threshold
        labels = labels_from_edges(n, left[keep], right[keep])
        out[str(threshold)] = round(pairwise_scores(labels, truth).f1, 6)
    return out


def _blocking_stats(connection: Any, frame: pd.DataFrame, rules: list[Any]) -> dict[str, float]:
    """Candidate pairs of the rules (each once) and the share of true pairs among them."""
    connection = connection.cursor()
    connection.register("bench_input", frame)
    joins = " union ".join(
        f"select l.row as l_row, r.row as r_row, l.entity_id = r.entity_id as same "
        f"from bench_input l join bench_input r on ({_rule_sql(rule)}) and l.row < r.row"
        for rule in rules
    )
    total, same = connection.execute(
        f"select count(*), coalesce(sum(same::int), 0) from ({joins})"
    ).fetchone()
    counts = frame["entity_id"].value_counts().to_numpy(dtype=np.int64)
    true_pairs = int((counts * (counts - 1) // 2).sum())
    connection.close()
    return {
        "candidate_pairs": int(total),
        "blocking_recall": round(int(same) / true_pairs, 6) if true_pairs else 1.0,
    }


def _rule_sql(rule: Any) -> str:
    sql: str = rule.get_blocking_rule("duckdb").blocking_rule_sql
    return sql


def _input(project: Any, entity: str, nights: int, truth: pd.DataFrame) -> pd.DataFrame:
    from mdm.schema import Entity

    frame = match_records(project, Entity(entity), nights)
    frame = frame.merge(truth[["source", "source_key", "entity_id"]], on=["source", "source_key"])
    frame.insert(0, "row", np.arange(len(frame), dtype=np.int64))
    return frame


def _contact_features(contacts: pd.DataFrame, accounts: pd.DataFrame) -> None:
    """What a user derives before linking contacts (not timed, like the standardization): the
    employer's name and domain, from the contact's account through its key (an account key and
    the account's source identify an account) or else from the company text and a work email
    domain; the email without role mailboxes; first and last name joined (for the full name's
    term frequencies)."""
    account = accounts.set_index(["source", "source_key"])[["name", "domain"]]
    keys = pd.MultiIndex.from_arrays(
        [
            contacts["account_source"].astype(object).to_numpy(),
            contacts["raw_account_key"].astype(object).to_numpy(),
        ]
    )
    keyed = account[~account.index.duplicated()].reindex(keys)
    email = contacts["email"].astype(object)
    local = email.str.split("@").str[0]
    domain = email.str.split("@").str[1]
    work_domain = domain.where(~domain.isin(FREE_MAIL))
    contacts["email"] = email.where(~local.isin(ROLE_MAILBOXES))
    contacts["employer"] = pd.Series(keyed["name"].to_numpy(dtype=object), index=contacts.index)
    contacts["employer"] = contacts["employer"].fillna(contacts["company"].astype(object))
    contacts["employer_domain"] = work_domain.fillna(
        pd.Series(keyed["domain"].to_numpy(dtype=object), index=contacts.index)
    )
    contacts["forename_surname"] = (
        contacts["first_name"].astype(object) + " " + contacts["last_name"].astype(object)
    )


def splink_job(project_dir: str, nights: int) -> Record:
    """Accounts, then contacts (with their account's Splink cluster), in Splink on DuckDB."""
    import duckdb
    import splink

    from mdm.config.load import load_project

    directory = Path(project_dir)
    project = load_project(directory)
    truth = read_truth(directory)
    accounts = _input(project, "account", nights, truth["accounts"][truth["accounts"]["live"]])
    contacts = _input(project, "contact", nights, truth["contacts"][truth["contacts"]["live"]])
    _contact_features(contacts, accounts)
    for frame, columns in ((accounts, ACCOUNT_COLUMNS), (contacts, CONTACT_COLUMNS)):
        for column in columns:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    meter = Meter()
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    account_labels, account_edges, account_seconds, account_em = _dedupe(
        connection, accounts[["row", *ACCOUNT_COLUMNS]], _account_settings(), _train_accounts,
        "accounts",
    )  # fmt: skip
    # A competent user links each contact to its account's cluster through the account key.
    cluster_of = pd.Series(
        account_labels,
        index=pd.MultiIndex.from_arrays([accounts["source"], accounts["source_key"]]),
    )
    keys = pd.MultiIndex.from_arrays(
        [
            contacts["account_source"].astype(object).to_numpy(),
            contacts["raw_account_key"].astype(object).to_numpy(),
        ]
    )
    contacts["account_cluster"] = cluster_of.reindex(keys).to_numpy(dtype=object)
    contacts["account_cluster"] = contacts["account_cluster"].where(
        contacts["account_cluster"].notna(), None
    )
    contact_labels, contact_edges, contact_seconds, contact_em = _dedupe(
        connection, contacts[["row", *CONTACT_COLUMNS, "account_cluster"]], _contact_settings(),
        _train_contacts, "contacts",
    )  # fmt: skip
    measured = meter.stop()
    out: Record = {**measured, "threshold": THRESHOLD}
    for entity, frame, labels, edges, seconds, rules, columns, em in (
        ("account", accounts, account_labels, account_edges, account_seconds,
         _account_blocking(), ACCOUNT_COLUMNS, account_em),
        ("contact", contacts, contact_labels, contact_edges, contact_seconds,
         _contact_blocking(), [*CONTACT_COLUMNS, "account_cluster"], contact_em),
    ):  # fmt: skip
        truth_labels = frame["entity_id"].to_numpy()
        scores = pairwise_scores(labels, truth_labels)
        stats = _blocking_stats(connection, frame[["row", "entity_id", *columns]], rules)
        out[entity] = {
            "records": len(frame),
            **scores.as_dict(),
            **stats,
            "entity_seconds": round(seconds, 3),
            "em_blocking_rules": em,
            "f1_by_threshold": _sweep(len(frame), edges, truth_labels),
        }
    out["splink_input"] = "mdm read_source + match_frame match keys (standardization not timed)"
    out["splink_version"] = splink.__version__
    return out
