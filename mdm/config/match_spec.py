"""Match rules of one entity: ``rules/match/<entity>.toml``.

Two methods:

* ``method = "rules"`` (the default): deterministic ``[[rules]]``; records that agree exactly on
  every field of one rule are the same entity. Each rule blocks on its own fields.
* ``method = "probabilistic"``: ``[[blocking]]`` rules make candidate pairs, ``[[comparisons]]``
  give each pair a level per field, a Fellegi-Sunter model (learned without labels) turns the
  levels into a match weight and probability, and ``[thresholds]`` decide. ``[[rules]]`` may
  still force a match (``action = "match"``) or a non-match (``action = "non_match"``).

Everything here is checked when the file loads: unknown fields, transforms, comparison kinds
and thresholds that make no sense fail with the key that is wrong, never mid-run.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from mdm.config.base import Strict
from mdm.schema import Entity, attribute_names

# Columns the pipeline adds to an entity's records besides its attributes (match form).
DERIVED_FIELDS: dict[Entity, tuple[str, ...]] = {
    Entity.ACCOUNT: (),
    # The golden account that the contact's own account key maps to (NA when unknown).
    Entity.CONTACT: ("account_id",),
}

_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class Method(StrEnum):
    RULES = "rules"  # deterministic rules only
    PROBABILISTIC = "probabilistic"  # Fellegi-Sunter over blocked pairs, plus optional rules


class MatchMethod(StrEnum):
    """How a deterministic rule tests its fields."""

    EXACT = "exact"  # every field equal after standardization, none empty
    DIFFERENT = "different"  # every field present on both sides and different
    # Every field present on both sides and unlike: its comparison finds no level for them
    # (not exact, nor a nickname, a similar spelling or a swap), neither is an initial of the
    # other ("J" is not unlike "John"), and they do not start with the same three letters (a
    # short form: "Andi" is not unlike "Andreas").
    UNLIKE = "unlike"


class RuleAction(StrEnum):
    MATCH = "match"  # a pair the rule holds for is the same entity, whatever its score
    NON_MATCH = "non_match"  # ... is never the same entity (beats a forced match)


class MatchRuleSpec(Strict):
    name: str = Field(pattern=_NAME)
    method: MatchMethod = MatchMethod.EXACT
    fields: list[str] = Field(min_length=1)
    action: RuleAction = RuleAction.MATCH
    # The rule does not hold for a pair that agrees exactly on any of these fields (two
    # spellings of one person with one email address).
    unless: list[str] = Field(default_factory=list)

    @property
    def all_fields(self) -> list[str]:
        return list(dict.fromkeys([*self.fields, *self.unless]))


class KeyTransform(StrEnum):
    """How a field's value becomes a blocking key."""

    EXACT = "exact"  # the standardized value itself
    PREFIX = "prefix"  # its first ``length`` characters
    SUFFIX = "suffix"  # its last ``length`` characters (phones: the subscriber number)
    METAPHONE = "metaphone"  # jellyfish phonetic codes
    NYSIIS = "nysiis"
    SOUNDEX = "soundex"
    TOKEN = "token"  # each word is a key of its own: a record may have several
    SORTED_TOKENS = "sorted_tokens"  # the words in sorted order ("carre elodie" = "elodie carre")


class BlockingKeySpec(Strict):
    field: str
    # Several fields joined by spaces into one value: ``fields = ["given_name", "surname"]``
    # (``field`` is then the first). With the token transform each of their words is a key,
    # so swapped first and last names still share one.
    fields: list[str] | None = Field(default=None, min_length=1)
    transform: KeyTransform = KeyTransform.EXACT
    length: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _first_of_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("fields") and "field" not in data:
            return {**data, "field": data["fields"][0]}
        return data

    @property
    def inputs(self) -> list[str]:
        """Every field the key reads."""
        return list(self.fields) if self.fields else [self.field]

    @property
    def column(self) -> str:
        """The name of the key's value: the field, or the joined fields ("a+b")."""
        return "+".join(self.inputs)

    @model_validator(mode="after")
    def _check_length(self) -> BlockingKeySpec:
        if self.fields and self.field != self.fields[0]:
            raise ValueError("give either 'field' or 'fields', not both")
        needs_length = self.transform in (KeyTransform.PREFIX, KeyTransform.SUFFIX)
        if needs_length and self.length is None:
            raise ValueError(f"transform {self.transform.value!r} needs 'length'")
        if not needs_length and self.length is not None:
            raise ValueError(f"transform {self.transform.value!r} takes no 'length'")
        return self

    @property
    def label(self) -> str:
        """How the key is named in reports: ``name``, ``prefix4(name)``, ``metaphone(name)``."""
        if self.transform is KeyTransform.EXACT:
            return self.column
        suffix = str(self.length) if self.length is not None else ""
        return f"{self.transform.value}{suffix}({self.column})"


class BlockingRuleSpec(Strict):
    """Records whose keys all agree (AND) are candidate pairs; rules are united (OR)."""

    name: str = Field(pattern=_NAME)
    keys: list[BlockingKeySpec] = Field(min_length=1)

    @field_validator("keys", mode="before")
    @classmethod
    def _plain_field_names(cls, value: Any) -> Any:
        # "postcode" is short for {field = "postcode"} (an exact key).
        if isinstance(value, list):
            return [{"field": item} if isinstance(item, str) else item for item in value]
        return value


class ComparisonKind(StrEnum):
    """Comparison presets and generic comparisons; see ``mdm.matching.comparisons``."""

    EXACT = "exact"
    LEVENSHTEIN = "levenshtein"  # thresholds: edit distances, ascending (e.g. [1, 2])
    DAMERAU_LEVENSHTEIN = "damerau_levenshtein"  # ... transpositions count as one edit
    JARO_WINKLER = "jaro_winkler"  # thresholds: similarities, descending (e.g. [0.92, 0.8])
    TOKEN_SET = "token_set"  # thresholds: token-set ratios in 0..1, descending
    FIRST_NAME = "first_name"  # exact, nickname, jaro-winkler thresholds
    LAST_NAME = "last_name"  # exact, jaro-winkler thresholds, same sound (metaphone)
    COMPANY_NAME = "company_name"  # exact, token-set thresholds
    EMAIL = "email"  # exact, same domain and a similar mailbox
    PHONE = "phone"  # exact E.164, same last 7 digits
    STREET = "street"  # exact, token-set thresholds
    POSTCODE = "postcode"  # exact, prefix lengths, descending (e.g. [3])
    CITY = "city"  # exact, jaro-winkler thresholds
    DATE = "date"  # exact, one edit, within N days (thresholds: days, ascending)
    ID = "id"  # exact, one edit (a transposition counts as one)
    # A company name against the other record's work email domain ("Frontier Dental" and
    # "@frontierdental.com"), where one record has the name and the other only the address.
    COMPANY_MAIL_DOMAIN = "company_mail_domain"


class ComparisonSpec(Strict):
    """One comparison: a field and the ordered levels of a kind (and a swapped level)."""

    name: str | None = Field(default=None, pattern=_NAME)  # defaults to the field
    field: str
    kind: ComparisonKind = ComparisonKind.EXACT
    thresholds: list[float] | None = None  # the kind's default when absent
    # Term-frequency adjustment: an exact match on a common value is weaker evidence.
    tf_adjust: bool = False
    tf_minimum_u: float = Field(default=1e-6, gt=0, lt=1)
    # Dates: the format of the values (strptime), else ISO 8601 and YYYYMMDD are tried.
    date_format: str | None = None
    # A level for values entered in each other's field ("Last, First" split the wrong way):
    # this field of one record equals ``swap_with`` of the other, and the other way round.
    swap_with: str | None = None
    # company_mail_domain: the other record's field holding email addresses.
    against: str | None = None

    @model_validator(mode="after")
    def _against_fits_the_kind(self) -> ComparisonSpec:
        problems = _against_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        return self.name or self.field


class ComparisonGroupSpec(Strict):
    """Comparisons of fields that change together, such as the parts of an address after a
    move: when every compared field of the group differs, that is one piece of evidence (the
    group's "all different" level, learned as its own m and u), not several independent
    disagreements that would each count against the pair."""

    name: str = Field(pattern=_NAME)
    comparisons: list[str] = Field(min_length=2)


class ThresholdsSpec(Strict):
    """Two thresholds on the match probability: match at or above ``match``, review from
    ``review`` up to it, non-match below ``review``."""

    match: float = Field(default=0.95, gt=0, lt=1)
    review: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsSpec:
        if self.review > self.match:
            raise ValueError(
                f"review ({self.review}) must not exceed match ({self.match}): pairs between "
                "them go to review"
            )
        return self


class TrainingSpec(Strict):
    """How the model is learned when no model is given."""

    seed: int = 42
    # Random record pairs for the u probabilities (all pairs when there are fewer).
    u_sample_pairs: int = Field(default=500_000, ge=1_000)
    max_iterations: int = Field(default=100, ge=1)
    tolerance: float = Field(default=1e-6, gt=0)


class ClusteringSpec(Strict):
    # Cut a bridge (a match whose removal splits a cluster) when the pairs compared across it
    # are, on average, below the review threshold: see ``mdm.matching.cluster``.
    split_weak_bridges: bool = True
    # Two records whose own comparison is a confident non-match (match probability below
    # this) never end in one cluster through other records: every pair inside a cluster is
    # checked, the pairs blocking never made included, and the weakest links give way. 0 turns
    # the check off. See ``mdm.matching.cluster``.
    apart_below: float = Field(default=0.001, ge=0, lt=1)
    # Clusters larger than this are not checked pair by pair (their pairs grow as the square).
    apart_check_max_size: int = Field(default=200, ge=3)


class MatchSpec(Strict):
    """Match rules of one entity (``rules/match/<entity>.toml``)."""

    entity: Entity
    method: Method = Method.RULES
    rules: list[MatchRuleSpec] = Field(default_factory=list)
    blocking: list[BlockingRuleSpec] = Field(default_factory=list)
    comparisons: list[ComparisonSpec] = Field(default_factory=list)
    comparison_groups: list[ComparisonGroupSpec] = Field(default_factory=list)
    thresholds: ThresholdsSpec = Field(default_factory=ThresholdsSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    clustering: ClusteringSpec = Field(default_factory=ClusteringSpec)
    # A blocking key shared by more records than this is too common to be evidence
    # (a placeholder email, a switchboard number): its pairs are skipped with a warning.
    max_block_size: int = Field(default=500, ge=2)
    # Columns beyond the entity's attributes that the records carry (other data sets).
    extra_fields: list[str] = Field(default_factory=list)
    # A comparison whose exact agreement is the context of the others (a contact's employer):
    # where a pair agrees on it, the other comparisons weigh against the non-matches that
    # share it (colleagues), not against random pairs. See ``mdm.matching.model``.
    context: str | None = None
    # Comparisons that stand for the context where the context comparison has nothing to say
    # (a side without it): the first of them in full agreement puts the pair in the context. It
    # weighs as the context does; the pair's other comparisons weigh within the context.
    context_also: list[str] = Field(default_factory=list)

    @property
    def known_fields(self) -> list[str]:
        return [*attribute_names(self.entity), *DERIVED_FIELDS[self.entity], *self.extra_fields]

    @model_validator(mode="after")
    def _check(self) -> MatchSpec:
        problems = [*self._method_problems(), *self._field_problems(), *self._name_problems()]
        problems += self._group_problems()
        problems += self._context_problems()
        problems += self._unlike_problems()
        problems += [p for c in self.comparisons for p in _threshold_problems(c)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _method_problems(self) -> list[str]:
        if self.method is Method.RULES:
            problems = [] if self.rules else ["method 'rules' needs at least one [[rules]]"]
            if self.blocking or self.comparisons or self.comparison_groups:
                problems.append(
                    "[[blocking]], [[comparisons]] and [[comparison_groups]] are only used with "
                    "method = 'probabilistic'"
                )
            problems += [
                f"rule {rule.name!r}: method 'rules' only takes exact rules that match"
                for rule in self.rules
                if rule.method is not MatchMethod.EXACT or rule.action is not RuleAction.MATCH
            ]
            return problems
        problems = []
        if not self.comparisons:
            problems.append("method 'probabilistic' needs at least one [[comparisons]]")
        if not self.blocking and not any(r.action is RuleAction.MATCH for r in self.rules):
            problems.append("method 'probabilistic' needs at least one [[blocking]] rule")
        return problems

    def _field_problems(self) -> list[str]:
        known = self.known_fields
        used: list[tuple[str, str]] = [
            *((f"rule {rule.name!r}", field) for rule in self.rules for field in rule.all_fields),
            *((f"blocking {b.name!r}", f) for b in self.blocking for k in b.keys for f in k.inputs),
            *((f"comparison {c.key!r}", c.field) for c in self.comparisons),
            *((f"comparison {c.key!r}", c.swap_with) for c in self.comparisons if c.swap_with),
            *((f"comparison {c.key!r}", c.against) for c in self.comparisons if c.against),
        ]
        return [
            f"{where} uses {field!r}, not a field of a {self.entity}; known: {', '.join(known)} "
            "(other columns must be listed in extra_fields)"
            for where, field in used
            if field not in known
        ]

    def _name_problems(self) -> list[str]:
        problems = []
        for what, names in [
            ("match rule", [rule.name for rule in self.rules]),
            ("blocking rule", [b.name for b in self.blocking]),
            ("comparison", [c.key for c in self.comparisons]),
        ]:
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                problems.append(f"{what} names must be unique: {', '.join(map(repr, repeated))}")
        return problems

    def _unlike_problems(self) -> list[str]:
        compared = {c.field for c in self.comparisons}
        return [
            f"rule {rule.name!r}: method 'unlike' needs a comparison of {field!r}"
            for rule in self.rules
            if rule.method is MatchMethod.UNLIKE
            for field in rule.fields
            if field not in compared
        ]

    def _context_problems(self) -> list[str]:
        names = [c.key for c in self.comparisons]
        problems = []
        if self.context is not None and self.context not in names:
            problems.append(
                f"context {self.context!r} names no comparison; comparisons: {', '.join(names)}"
            )
        if self.context_also and self.context is None:
            problems.append("context_also needs a context")
        for name in self.context_also:
            if name not in names or name == self.context:
                problems.append(
                    f"context_also {name!r} names no other comparison; comparisons: "
                    f"{', '.join(names)}"
                )
        return problems

    def _group_problems(self) -> list[str]:
        names = [c.key for c in self.comparisons]
        problems = []
        seen: dict[str, str] = {}
        for group in self.comparison_groups:
            where = f"comparison group {group.name!r}"
            if group.name in names:
                problems.append(f"{where}: the name is already a comparison's")
            unknown = [name for name in group.comparisons if name not in names]
            if unknown:
                problems.append(
                    f"{where} names no comparison {', '.join(map(repr, unknown))}; "
                    f"comparisons: {', '.join(names)}"
                )
            if len(set(group.comparisons)) != len(group.comparisons):
                problems.append(f"{where} lists a comparison twice")
            for name in dict.fromkeys(group.comparisons):
                if name in seen:
                    problems.append(f"{where}: {name!r} is already in group {seen[name]!r}")
                seen.setdefault(name, group.name)
        groups = [group.name for group in self.comparison_groups]
        repeated = sorted({name for name in groups if groups.count(name) > 1})
        if repeated:
            problems.append(f"comparison group names must be unique: {', '.join(repeated)}")
        return problems


def _threshold_problems(spec: ComparisonSpec) -> list[str]:
    values = spec.thresholds
    if values is None:
        return []
    where = f"comparison {spec.key!r} ({spec.kind.value})"
    kind = spec.kind
    if kind in (
        ComparisonKind.EXACT,
        ComparisonKind.EMAIL,
        ComparisonKind.PHONE,
        ComparisonKind.ID,
        ComparisonKind.COMPANY_MAIL_DOMAIN,
    ):
        return [f"{where} takes no thresholds"]
    if not values:
        return [f"{where}: thresholds must not be empty (leave them out for the defaults)"]
    if kind in (ComparisonKind.LEVENSHTEIN, ComparisonKind.DAMERAU_LEVENSHTEIN):
        return _ascending_integers(where, values, "edit distances", minimum=1)
    if kind is ComparisonKind.DATE:
        return _ascending_integers(where, values, "days", minimum=1)
    if kind is ComparisonKind.POSTCODE:
        if any(v != int(v) or v < 1 for v in values) or values != sorted(values, reverse=True):
            return [f"{where}: thresholds are prefix lengths, whole numbers >= 1, descending"]
        return []
    if any(not 0 < v <= 1 for v in values) or values != sorted(set(values), reverse=True):
        return [f"{where}: thresholds are similarities in (0, 1], descending, each once"]
    return []


def _against_problems(spec: ComparisonSpec) -> list[str]:
    where = f"comparison {spec.key!r} ({spec.kind.value})"
    crossed = spec.kind is ComparisonKind.COMPANY_MAIL_DOMAIN
    if crossed and spec.against is None:
        return [f'{where} needs against = the field of email addresses (e.g. "email")']
    if not crossed and spec.against is not None:
        return [f"{where}: against is for kind company_mail_domain only"]
    if crossed and (spec.tf_adjust or spec.swap_with):
        return [f"{where} takes neither tf_adjust nor swap_with"]
    return []


def _ascending_integers(where: str, values: list[float], what: str, minimum: int) -> list[str]:
    if any(v != int(v) or v < minimum for v in values) or values != sorted(set(values)):
        return [f"{where}: thresholds are {what}, whole numbers >= {minimum}, ascending"]
    return []
