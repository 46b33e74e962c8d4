"""Survivorship: literal member tables with their exact golden values and lineage, then
properties on random tables checked against a plain-Python reading of the rules."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.schema import Entity, Kind, survived_attribute_names
from mdm.schema import attribute as schema_attribute
from mdm.standardize import is_valid, match_values
from mdm.standardize.email_address import FREE_MAIL_DOMAINS
from mdm.survivorship import LINEAGE_DTYPES, RULES, TIE_BREAK, Golden, build_golden, compile_rule

RULES_DIR = Path(__file__).resolve().parents[1] / "mdm" / "rules" / "survivorship"
SP = SurvivorshipRule.SOURCE_PRIORITY
MR = SurvivorshipRule.MOST_RECENT

# A member: (golden_id, record_id, source, system, last_modified, {attribute: value}).
Member = tuple[str, int, str, str, str | None, Mapping[str, str | None]]
# A lineage row: (golden_id, attribute, value, record_id, rule, candidates).
Row = tuple[str, str, str, int, str, int]


def load_spec(entity: Entity) -> SurvivorshipSpec:
    with (RULES_DIR / f"{entity}.toml").open("rb") as f:
        return SurvivorshipSpec.model_validate({"entity": entity.value, **tomllib.load(f)})


def make_spec(
    priority: Sequence[str], default: Sequence[SurvivorshipRule], **chains: list[SurvivorshipRule]
) -> SurvivorshipSpec:
    return SurvivorshipSpec(
        entity=Entity.ACCOUNT,
        source_priority=list(priority),
        default=list(default),
        attributes=chains,
    )


def make_members(
    rows: Sequence[Member], entity: Entity = Entity.ACCOUNT, unit: str = "ns"
) -> pd.DataFrame:
    attributes = survived_attribute_names(entity)
    stamps = pd.Series([row[4] for row in rows], dtype=object)
    frame = pd.DataFrame(
        {
            "golden_id": pd.array([row[0] for row in rows], dtype="string"),
            "record_id": pd.array([row[1] for row in rows], dtype="int64"),
            "source": pd.array([row[2] for row in rows], dtype="string"),
            "system": pd.array([row[3] for row in rows], dtype="string"),
            "last_modified": pd.to_datetime(stamps, utc=True, format="ISO8601").dt.as_unit(unit),
        }
    )
    for attribute in attributes:
        cells = [row[5].get(attribute) for row in rows]
        frame[attribute] = pd.array(cells, dtype="string")
    return frame


ROW_COLUMNS = ["golden_id", "attribute", "value", "record_id", "rule", "candidates"]


def lineage_rows(golden: Golden) -> list[Row]:
    return list(golden.lineage[ROW_COLUMNS].itertuples(index=False, name=None))


def golden_cells(golden: Golden) -> dict[tuple[str, str], str]:
    """The non-NA golden values by (golden_id, attribute)."""
    stacked = golden.values.stack()
    return {key: value for key, value in stacked.items() if not pd.isna(value)}


# ---- literal cases -------------------------------------------------------------------------


def test_priority_by_source_name_before_system() -> None:
    spec = make_spec(["crm_eu", "ERP", "CRM", "legacy_crm"], [SP])
    golden = build_golden(
        spec,
        make_members(
            [
                # A listed source name outranks every system.
                ("G1", 1, "crm_us", "CRM", None, {"name": "Acme US"}),
                ("G1", 2, "erp", "ERP", None, {"name": "Acme ERP"}),
                ("G1", 3, "crm_eu", "CRM", None, {"name": "Acme EU"}),
                # An unlisted source name falls back to its system.
                ("G2", 4, "crm_us", "CRM", None, {"name": "Beta CRM"}),
                ("G2", 5, "erp", "ERP", None, {"name": "Beta ERP"}),
                # A listed source name wins over its own system's place: a demoted source.
                ("G3", 6, "legacy_crm", "CRM", None, {"name": "Gamma old"}),
                ("G3", 7, "crm_us", "CRM", None, {"name": "Gamma"}),
            ]
        ),
    )
    assert lineage_rows(golden) == [
        ("G1", "name", "Acme EU", 3, "source_priority", 3),
        ("G2", "name", "Beta ERP", 5, "source_priority", 2),
        ("G3", "name", "Gamma", 7, "source_priority", 2),
    ]


def test_unlisted_sources_rank_last() -> None:
    spec = make_spec(["ERP"], [SP, MR])
    golden = build_golden(
        spec,
        make_members(
            [
                ("G1", 1, "web", "Web", "2024-05-01", {"name": "Newest"}),
                ("G1", 2, "erp", "ERP", "2020-01-01", {"name": "Old ERP"}),
                # Both unlisted: equal rank, recency decides.
                ("G2", 3, "web", "Web", "2024-01-01", {"name": "a"}),
                ("G2", 4, "mkt", "Marketing", "2024-03-01", {"name": "b"}),
            ]
        ),
    )
    assert lineage_rows(golden) == [
        ("G1", "name", "Old ERP", 2, "source_priority", 2),
        ("G2", "name", "b", 4, "most_recent", 2),
    ]


def test_most_recent_ranks_unknown_times_last() -> None:
    spec = make_spec([], [MR])
    golden = build_golden(
        spec,
        make_members(
            [
                ("G1", 1, "s", "S", None, {"name": "unknown"}),
                ("G1", 2, "s", "S", "2023-01-01", {"name": "old"}),
                ("G1", 3, "s", "S", "2024-01-01", {"name": "new"}),
                ("G2", 4, "s", "S", None, {"name": "x"}),
                ("G2", 5, "s", "S", "1970-01-01", {"name": "epoch"}),
                # Only unknown times: nothing to tell them apart.
                ("G3", 7, "s", "S", None, {"name": "p"}),
                ("G3", 6, "s", "S", None, {"name": "q"}),
                # One nanosecond is a difference.
                ("G4", 8, "s", "S", "2024-01-01T00:00:00", {"name": "earlier"}),
                ("G4", 9, "s", "S", "2024-01-01T00:00:00.000000001", {"name": "later"}),
            ]
        ),
    )
    assert lineage_rows(golden) == [
        ("G1", "name", "new", 3, "most_recent", 3),
        ("G2", "name", "epoch", 5, "most_recent", 2),
        ("G3", "name", "q", 6, TIE_BREAK, 2),
        ("G4", "name", "later", 9, "most_recent", 2),
    ]


def test_most_recent_takes_far_dates_in_their_own_unit() -> None:
    # "9999-12-31" does not fit nanoseconds; pandas keeps it in microseconds.
    members = make_members(
        [
            ("G1", 1, "s", "S", "2024-01-01", {"name": "now"}),
            ("G1", 2, "s", "S", "9999-12-31", {"name": "forever"}),
        ],
        unit="us",
    )
    assert lineage_rows(build_golden(make_spec([], [MR]), members)) == [
        ("G1", "name", "forever", 2, "most_recent", 2)
    ]


def test_account_rules_file() -> None:
    spec = load_spec(Entity.ACCOUNT)
    assert spec.chain("name") == [SurvivorshipRule.MOST_FREQUENT, SurvivorshipRule.LONGEST, SP, MR]
    assert spec.chain("phone") == [SurvivorshipRule.VALID_FIRST, MR, SP]
    assert spec.group_of("city") == "address"
    erp_address = {"street": "1 Main St", "city": "Springfield", "postcode": "12345"}
    golden = build_golden(
        spec,
        make_members(
            [
                (
                    "A1",
                    10,
                    "erp",
                    "ERP",
                    "2023-01-01",
                    {"name": "Acme Corp", "domain": "acme.com", "phone": "+12125550123"},
                ),
                (
                    "A1",
                    11,
                    "crm",
                    "CRM",
                    "2024-06-01",
                    {"name": "ACME Corporation", "domain": "acme.net", "phone": "+1 555 0199"},
                ),
                ("A1", 12, "mkt", "Marketing", None, {"name": "Acme", "city": "Shelbyville"}),
                ("A1", 13, "erp_eu", "ERP", "2024-01-01", {"domain": "acme.io", **erp_address}),
                ("A2", 20, "crm", "CRM", None, {"name": "Beta Ltd", "phone": "+44 20 7946 0000"}),
            ]
        ),
    )
    assert lineage_rows(golden) == [
        # "Acme Corp", "ACME Corporation" and "Acme" are one name in match form: the longest.
        ("A1", "name", "ACME Corporation", 11, "longest", 3),
        # Trust, halved every year to the latest change (2024-06-01): CRM 0.8 fresh beats
        # ERP 0.9 five months old (0.67) and ERP 0.9 seventeen months old (0.34).
        ("A1", "domain", "acme.net", 11, "trust", 3),
        # The newer number is not a valid one.
        ("A1", "phone", "+12125550123", 10, "valid_first", 2),
        # The fuller address wins whole: street, city and postcode from one record.
        ("A1", "street", "1 Main St", 13, "most_complete", 2),
        ("A1", "city", "Springfield", 13, "most_complete", 2),
        ("A1", "postcode", "12345", 13, "most_complete", 2),
        # A single candidate is credited to the first rule of its chain.
        ("A2", "name", "Beta Ltd", 20, "most_frequent", 1),
        ("A2", "phone", "+44 20 7946 0000", 20, "valid_first", 1),
    ]
    assert golden_cells(golden) == {(row[0], row[1]): row[2] for row in lineage_rows(golden)}
    grouped = golden.lineage.set_index(["golden_id", "attribute"])["group_name"]
    assert grouped.loc[("A1", "city")] == "address"
    assert pd.isna(grouped.loc[("A1", "name")])


def test_ties_on_the_whole_chain() -> None:
    spec = make_spec(["ERP"], [SP, MR])
    t1, t2 = "2024-01-01", "2024-02-01"
    golden = build_golden(
        spec,
        make_members(
            [
                # Different values tie: the lowest record_id, and lineage says so.
                ("G1", 2, "erp", "ERP", t1, {"name": "x"}),
                ("G1", 1, "erp", "ERP", t1, {"name": "y"}),
                # Equal values tie: the value was decided by the last rule that dropped anyone.
                ("G2", 3, "erp", "ERP", t1, {"name": "same"}),
                ("G2", 4, "erp", "ERP", t1, {"name": "same"}),
                ("G2", 5, "crm", "CRM", t2, {"name": "other"}),
                ("G3", 8, "erp", "ERP", t2, {"name": "a"}),
                ("G3", 9, "erp", "ERP", t1, {"name": "b"}),
                ("G3", 10, "erp", "ERP", t2, {"name": "a"}),
                # ...or by nothing at all: every candidate agrees, as with a single one.
                ("G4", 6, "erp", "ERP", t1, {"name": "same"}),
                ("G4", 7, "erp", "ERP", t1, {"name": "same"}),
                # One tied candidate with another value is enough for a tie-break.
                ("G5", 11, "erp", "ERP", t2, {"name": "a"}),
                ("G5", 12, "erp", "ERP", t2, {"name": "b"}),
                ("G5", 13, "erp", "ERP", t2, {"name": "a"}),
            ]
        ),
    )
    assert lineage_rows(golden) == [
        ("G1", "name", "y", 1, TIE_BREAK, 2),
        ("G2", "name", "same", 3, "source_priority", 3),
        ("G3", "name", "a", 8, "most_recent", 3),
        ("G4", "name", "same", 6, "source_priority", 2),
        ("G5", "name", "a", 11, TIE_BREAK, 3),
    ]


def test_empty_values_are_not_candidates() -> None:
    golden = build_golden(
        load_spec(Entity.ACCOUNT),
        make_members(
            [
                ("G1", 1, "erp", "ERP", "2024-01-01", {"name": "", "domain": None}),
                ("G1", 2, "crm", "CRM", "2023-01-01", {"name": None, "domain": "b.com"}),
                ("G2", 3, "erp", "ERP", None, {}),
            ]
        ),
    )
    assert lineage_rows(golden) == [("G1", "domain", "b.com", 2, "valid_first", 1)]
    assert golden.values.index.tolist() == ["G1", "G2"]
    assert golden_cells(golden) == {("G1", "domain"): "b.com"}
    assert golden.values.isna().sum().sum() == golden.values.size - 1


def test_plain_str_columns() -> None:
    # As read from a file: pandas' default "str" dtype, NaN for missing.
    members = make_members(
        [
            ("G1", 1, "crm", "CRM", "2024-01-01", {"name": "a"}),
            ("G1", 2, "erp", "ERP", "2023-01-01", {}),
        ]
    )
    members = members.astype({"name": str, "golden_id": str, "source": str, "system": str})
    golden = build_golden(load_spec(Entity.ACCOUNT), members)
    assert lineage_rows(golden) == [("G1", "name", "a", 1, "most_frequent", 1)]
    assert (golden.values.dtypes == "string").all()


def test_output_shape_for_contacts() -> None:
    members = make_members(
        [
            ("C2", 2, "crm", "CRM", "2024-01-01", {"first_name": "Ann", "title": "CTO"}),
            ("C1", 1, "erp", "ERP", "2024-01-01", {"last_name": "Lee"}),
        ],
        entity=Entity.CONTACT,
    )
    members["account_key"] = pd.array(["k1", "k2"], dtype="string")  # related, not survived
    members["extra"] = [1, 2]
    golden = build_golden(load_spec(Entity.CONTACT), members)
    values = golden.values
    assert list(values.columns) == survived_attribute_names(Entity.CONTACT)
    assert "account_key" not in values.columns
    assert values.index.name == "golden_id"
    assert values.index.dtype == "string"
    assert values.index.tolist() == ["C1", "C2"]
    assert (values.dtypes == "string").all()
    assert golden.lineage.dtypes.astype(str).to_dict() == LINEAGE_DTYPES
    assert lineage_rows(golden) == [
        ("C1", "last_name", "Lee", 1, "source_priority", 1),
        ("C2", "first_name", "Ann", 2, "source_priority", 1),
        ("C2", "title", "CTO", 2, "most_recent", 1),
    ]


def test_no_members() -> None:
    golden = build_golden(load_spec(Entity.ACCOUNT), make_members([]))
    assert golden.values.empty
    assert list(golden.values.columns) == survived_attribute_names(Entity.ACCOUNT)
    assert (golden.values.dtypes == "string").all()
    assert golden.lineage.empty
    assert golden.lineage.dtypes.astype(str).to_dict() == LINEAGE_DTYPES


def test_members_contract() -> None:
    members = make_members([("G1", 1, "erp", "ERP", None, {"name": "a"})])
    spec = load_spec(Entity.ACCOUNT)
    with pytest.raises(ValueError, match="last_modified"):
        build_golden(spec, members.drop(columns="last_modified"))
    with pytest.raises(ValueError, match="unique"):
        build_golden(spec, pd.concat([members, members], ignore_index=True))


def test_every_rule_name_has_a_rule() -> None:
    spec = load_spec(Entity.ACCOUNT)
    assert set(RULES) == set(SurvivorshipRule)
    for name in SurvivorshipRule:
        assert compile_rule(spec, name).name is name


# ---- properties ----------------------------------------------------------------------------

ATTRIBUTES = survived_attribute_names(Entity.ACCOUNT)
SOURCES = [("erp", "ERP"), ("erp_eu", "ERP"), ("crm", "CRM"), ("crm_eu", "CRM"), ("web", "Web")]
STAMPS = [None, "2023-01-01", "2024-01-01", "2024-01-01T00:00:00.000000001", "2024-03-05"]
# Values that make every rule work: match-form twins, numbers, dates, a valid phone and country.
VALUES = [None, "", "x", "y", "Acme Inc", "ACME Inc.", "9", "10", "2023-12-31", "2024-01-02"]
VALUES += ["+12125550123", "DE", "ann@acme.com", "ann77@gmail.com"]
RANKING = [rule for rule in SurvivorshipRule if rule is not SurvivorshipRule.KEEP_ALL]
HALF_LIFE = 100.0
TRUST = {"ERP": 0.9, "crm_eu": 0.5, "CRM": 0.3}
TRUST_BY_ATTRIBUTE = {"phone": {"crm": 0.7, "Web": 0.95}}


@st.composite
def member_tables(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(0, 12))
    ids = draw(
        st.lists(st.integers(-(10**12), 10**12), min_size=count, max_size=count, unique=True)
    )
    rows: list[Member] = []
    for record_id in ids:
        source, system = draw(st.sampled_from(SOURCES))
        values = {a: draw(st.sampled_from(VALUES)) for a in ATTRIBUTES}
        golden_id = draw(st.sampled_from(["A1", "A2", "A3"]))
        rows.append((golden_id, record_id, source, system, draw(st.sampled_from(STAMPS)), values))
    return make_members(rows)


def make_ranking_spec(
    priority: Sequence[str],
    default: Sequence[SurvivorshipRule],
    half_life: float | None,
    **chains: list[SurvivorshipRule],
) -> SurvivorshipSpec:
    return SurvivorshipSpec.model_validate(
        {
            "entity": Entity.ACCOUNT,
            "source_priority": list(priority),
            "default": list(default),
            "attributes": chains,
            "trust": {**TRUST, "attributes": TRUST_BY_ATTRIBUTE},
            "trust_half_life_days": half_life,
        }
    )


chains = st.lists(st.sampled_from(RANKING), min_size=1, max_size=3)
specs = st.builds(
    make_ranking_spec,
    st.lists(st.sampled_from(["ERP", "CRM", "crm_eu", "web", "Support"]), max_size=4),
    # The default chain covers six attributes: keep it to the cheap rules.
    st.lists(st.sampled_from([SP, MR, SurvivorshipRule.OLDEST]), min_size=1, max_size=2),
    st.sampled_from([None, HALF_LIFE]),
    **{a: chains for a in ["name", "phone", "country"]},
)


def oracle(spec: SurvivorshipSpec, members: pd.DataFrame) -> list[Row]:
    """The rules read literally: narrow the candidates rule by rule, one group at a time."""
    stamps = [t for t in members["last_modified"] if not pd.isna(t)]
    now = max(stamps).value // 1000 if stamps else None  # microseconds

    def rank(row: Any, attribute: str, rows: list[Any]) -> Any:
        for name in (row.source, row.system):
            if name in spec.source_priority:
                return spec.source_priority.index(name)
        return len(spec.source_priority)

    def recency(row: Any, attribute: str, rows: list[Any]) -> Any:
        return (1, 0) if pd.isna(row.last_modified) else (0, -row.last_modified.value)

    def age(row: Any, attribute: str, rows: list[Any]) -> Any:
        return (1, 0) if pd.isna(row.last_modified) else (0, row.last_modified.value)

    def trust(row: Any, attribute: str, rows: list[Any]) -> Any:
        own = spec.trust.attributes.get(attribute, {})
        tables = [(own, row.source), (own, row.system)]
        tables += [(spec.trust.scores, row.source), (spec.trust.scores, row.system)]
        score = next((table[name] for table, name in tables if name in table), 0.0)
        if spec.trust_half_life_days is None:
            return -score
        if pd.isna(row.last_modified) or now is None:
            return 0.0
        days = max(now - row.last_modified.value // 1000, 0) / 86_400_000_000
        return -score * 2 ** (-days / spec.trust_half_life_days)

    def kind(attribute: str) -> Kind:
        return schema_attribute(Entity.ACCOUNT, attribute).kind

    def match_key(value: str, attribute: str) -> str:
        key = match_values(kind(attribute), pd.Series([value], dtype="string")).iloc[0]
        return "raw:" + value if pd.isna(key) else "key:" + str(key)

    def frequency(row: Any, attribute: str, rows: list[Any]) -> Any:
        mine = match_key(getattr(row, attribute), attribute)
        return -sum(match_key(getattr(r, attribute), attribute) == mine for r in rows)

    def completeness(row: Any, attribute: str, rows: list[Any]) -> Any:
        return -sum(not pd.isna(getattr(row, a)) and getattr(row, a) != "" for a in ATTRIBUTES)

    def length(row: Any, attribute: str, rows: list[Any]) -> Any:
        return len(getattr(row, attribute))

    def order(row: Any, attribute: str, rows: list[Any]) -> Any:
        texts = [getattr(r, attribute) for r in rows]
        text = getattr(row, attribute)
        if all(_number(t) is not None for t in texts):
            return _number(text)
        if all(_date(t) is not None for t in texts):
            return _date(text)
        return (text.casefold(), text)

    def validity(row: Any, attribute: str, rows: list[Any]) -> Any:
        value = pd.Series([getattr(row, attribute)], dtype="string")
        return 0 if is_valid(kind(attribute), value).iloc[0] else 1

    def personal(row: Any, attribute: str, rows: list[Any]) -> Any:
        _, at, domain = str(getattr(row, attribute)).rpartition("@")
        return 1 if at and domain.strip().lower() in FREE_MAIL_DOMAINS else 0

    def negated(key: Any) -> Any:
        def negative(row: Any, attribute: str, rows: list[Any]) -> Any:
            return _Reversed(key(row, attribute, rows))

        return negative

    key = {
        SP: rank,
        MR: recency,
        SurvivorshipRule.OLDEST: age,
        SurvivorshipRule.TRUST: trust,
        SurvivorshipRule.MOST_FREQUENT: frequency,
        SurvivorshipRule.MOST_COMPLETE: completeness,
        SurvivorshipRule.LONGEST: negated(length),
        SurvivorshipRule.SHORTEST: length,
        SurvivorshipRule.MAX: negated(order),
        SurvivorshipRule.MIN: order,
        SurvivorshipRule.VALID_FIRST: validity,
        SurvivorshipRule.WORK_EMAIL_FIRST: personal,
    }
    expected: list[Row] = []
    for golden_id, group in sorted(members.groupby("golden_id"), key=lambda item: str(item[0])):
        records = list(group.itertuples())
        for attribute in ATTRIBUTES:
            rows = [r for r in records if not pd.isna(getattr(r, attribute))]
            rows = [r for r in rows if getattr(r, attribute) != ""]
            if not rows:
                continue
            chain = spec.chain(attribute)
            remaining, narrowed, rule = rows, -1, None
            for position, name in enumerate(chain):
                ranked = [key[name](r, attribute, rows) for r in remaining]
                best = min(ranked)
                kept = [r for r, k in zip(remaining, ranked, strict=True) if k == best]
                narrowed = position if len(kept) < len(remaining) else narrowed
                remaining = kept
                if len(remaining) == 1:
                    rule = name.value
                    break
            winner = min(remaining, key=lambda r: r.record_id)
            value = getattr(winner, attribute)
            if rule is None:
                agree = all(getattr(r, attribute) == value for r in remaining)
                rule = chain[max(narrowed, 0)].value if agree else TIE_BREAK
            expected.append((str(golden_id), attribute, value, winner.record_id, rule, len(rows)))
    return expected


class _Reversed:
    """Orders the other way round: max and longest as a minimum."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.key == other.key)

    def __hash__(self) -> int:
        return hash(self.key)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@settings(max_examples=120, deadline=None)
@given(spec=specs, members=member_tables())
def test_matches_the_rules_read_literally(spec: SurvivorshipSpec, members: pd.DataFrame) -> None:
    assert lineage_rows(build_golden(spec, members)) == oracle(spec, members)


def test_valid_first_judges_a_tax_id_in_its_records_country() -> None:
    spec = make_spec(["ERP"], [SP], tax_id=[SurvivorshipRule.VALID_FIRST, MR])
    golden = build_golden(
        spec,
        make_members(
            [
                # Nine digits are a US number but no German one: the older German VAT wins.
                ("G1", 1, "erp", "ERP", "2024-02-01", {"country": "DE", "tax_id": "123456789"}),
                ("G1", 2, "erp", "ERP", "2024-01-01", {"country": "DE", "tax_id": "136695976"}),
                # Without a country a bare number is read as a US one; a bad check digit loses.
                ("G2", 3, "erp", "ERP", "2024-01-01", {"tax_id": "042103594"}),
                ("G2", 4, "erp", "ERP", "2024-02-01", {"country": "US", "tax_id": "DE136695977"}),
            ]
        ),
    )
    rows = [row for row in lineage_rows(golden) if row[1] == "tax_id"]
    assert rows == [
        ("G1", "tax_id", "136695976", 2, "valid_first", 2),
        ("G2", "tax_id", "042103594", 3, "valid_first", 2),
    ]


def test_work_email_first_keeps_the_work_address_over_a_newer_private_one() -> None:
    spec = SurvivorshipSpec(
        entity=Entity.CONTACT,
        default=[MR],
        attributes={"email": [SurvivorshipRule.WORK_EMAIL_FIRST, MR]},
    )
    old, new = "2023-01-01", "2024-06-01"
    golden = build_golden(
        spec,
        make_members(
            [
                ("C1", 10, "crm", "CRM", old, {"email": "ann.lee@acme.com"}),
                ("C1", 11, "support", "Support", new, {"email": "annlee77@gmail.com"}),
                ("C1", 12, "leads", "Marketing", new, {"email": "ann@comcast.net"}),
                ("C2", 20, "support", "Support", old, {"email": "bob@yahoo.com"}),
                ("C2", 21, "leads", "Marketing", new, {"email": "bob.b@hotmail.com"}),
            ],
            Entity.CONTACT,
        ),
    )
    rows = [row for row in lineage_rows(golden) if row[1] == "email"]
    assert rows == [
        ("C1", "email", "ann.lee@acme.com", 10, "work_email_first", 3),
        # Only private addresses: the next rule decides among them.
        ("C2", "email", "bob.b@hotmail.com", 21, "most_recent", 2),
    ]
