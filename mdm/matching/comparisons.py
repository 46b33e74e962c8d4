"""Comparisons: small declarative objects that give each candidate pair an ordered level.

A ``Comparison`` names a field and its levels, strongest first: exact equality, then fuzzy
tests at thresholds. A pair gets the first level whose test holds, else ``ELSE`` (0); a pair
with an empty side gets ``NULL`` (-1). Codes follow ``mdm.matching.compare``: the strongest
level (exact) has the highest code, so codes index the model's m and u arrays directly.

Tests run on whole arrays: derived values (phonetic codes, prefixes, dates, nickname groups)
once per distinct value; string similarities with rapidfuzz ``process.cpdist`` over the pairs
that are neither empty nor exact, and over each distinct pair of values only once when values
repeat enough for that to pay.

Presets (``ComparisonKind``) build the levels a competent user would pick for a kind of field;
``comparison_from_spec`` turns a rules-file entry into one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from mdm.config.match_spec import ComparisonGroupSpec, ComparisonKind, ComparisonSpec, MatchSpec
from mdm.matching import names
from mdm.matching import values as V
from mdm.matching.values import FieldValues, IntArray
from mdm.standardize.email_address import at_mail_provider

ELSE: Final = 0
NULL: Final = -1
# A comparison group's levels: every compared member differs, or at least one does not.
ALL_DIFFERENT: Final = 0
NOT_ALL_DIFFERENT: Final = 1
GROUP_LABELS: Final = ("all different", "not all different")
Int8Array = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Below this many pairs, or when most value pairs are distinct, values are compared per pair.
_DEDUPE_MIN_PAIRS = 20_000
_DEDUPE_SAMPLE = 8_192
_DEDUPE_MAX_DISTINCT_SHARE = 0.6


class Check(StrEnum):
    """What a level checks of a pair of values."""

    EXACT = "exact"
    NICKNAME = "nickname"  # first names of one nickname group
    JARO_WINKLER = "jaro_winkler"  # similarity >= threshold
    LEVENSHTEIN = "levenshtein"  # edit distance <= threshold
    DAMERAU_LEVENSHTEIN = "damerau_levenshtein"  # ... a transposition is one edit (OSA)
    TOKEN_SET = "token_set"  # rapidfuzz token_set_ratio / 100 >= threshold
    METAPHONE = "metaphone"  # same metaphone code
    PREFIX = "prefix"  # first ``threshold`` characters equal
    DIGITS_SUFFIX = "digits_suffix"  # last ``threshold`` digits equal
    SAME_DOMAIN_SIMILAR_LOCAL = "same_domain_similar_local"  # same first letter, jw >= t
    MAILBOX_KINDS_DIFFER = "mailbox_kinds_differ"  # one at a mail provider, one at an employer
    NAMES_MAIL_DOMAIN = "names_mail_domain"  # a company name ~ the other's work email domain
    DAYS = "days"  # dates at most ``threshold`` days apart
    DAY_MONTH_SWAPPED = "day_month_swapped"  # same year, day and month the other way round
    SWAPPED = "swapped"  # this field equals the other record's ``swap_with`` and vice versa


@dataclass(frozen=True)
class Level:
    test: Check
    threshold: float | None = None

    @property
    def label(self) -> str:
        t = self.threshold
        number = f"{t:g}" if t is not None else ""
        labels = {
            Check.EXACT: "exact",
            Check.NICKNAME: "nickname",
            Check.JARO_WINKLER: f"jaro_winkler >= {number}",
            Check.LEVENSHTEIN: f"levenshtein <= {number}",
            Check.DAMERAU_LEVENSHTEIN: "one edit" if t == 1 else f"damerau_levenshtein <= {number}",
            Check.TOKEN_SET: f"token_set >= {number}",
            Check.METAPHONE: "same sound",
            Check.PREFIX: f"first {number} characters",
            Check.DIGITS_SUFFIX: f"last {number} digits",
            Check.SAME_DOMAIN_SIMILAR_LOCAL: (
                f"same domain, similar mailbox (jaro_winkler >= {number})"
            ),
            Check.MAILBOX_KINDS_DIFFER: "one personal mailbox, one at an employer",
            Check.NAMES_MAIL_DOMAIN: f"the company names the other's mail domain (>= {number})",
            Check.DAYS: f"within {number} days",
            Check.DAY_MONTH_SWAPPED: "day and month swapped",
            Check.SWAPPED: "swapped",
        }
        return labels[self.test]


@dataclass(frozen=True)
class Comparison:
    """One field's levels, strongest first (the first is always exact)."""

    name: str
    field: str
    kind: ComparisonKind
    levels: tuple[Level, ...]
    tf_adjust: bool = False
    tf_minimum_u: float = 1e-6
    date_format: str | None = None
    swap_with: str | None = None  # the field of a SWAPPED level (always the second level)
    against: str | None = None  # the other record's email field (company_mail_domain)
    # A comparison group (``[[comparison_groups]]``): the names and fields of its member
    # comparisons. Its levels are ALL_DIFFERENT and NOT_ALL_DIFFERENT, from the members' levels.
    members: tuple[str, ...] = ()
    member_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.against is not None:
            if [level.test for level in self.levels] != [Check.NAMES_MAIL_DOMAIN]:
                raise ValueError(f"comparison {self.name!r}: against takes one level")
            return
        if not self.levels or self.levels[0].test is not Check.EXACT:
            raise ValueError(f"comparison {self.name!r}: the first level must be exact")
        tests = [level.test for level in self.levels]
        if (Check.SWAPPED in tests) != (self.swap_with is not None) or (
            Check.SWAPPED in tests and tests.index(Check.SWAPPED) != 1
        ):
            raise ValueError(
                f"comparison {self.name!r}: a swapped level is the second, with swap_with"
            )

    @property
    def fields(self) -> tuple[str, ...]:
        """The record fields this comparison reads."""
        if self.against is not None:
            return (self.field, self.against)
        return self.member_fields if self.members else (self.field,)

    @property
    def level_count(self) -> int:
        """Levels with a code (ELSE and every listed level; NULL has none)."""
        return len(self.levels) + 1

    @property
    def exact_code(self) -> int:
        return len(self.levels)

    @property
    def labels(self) -> tuple[str, ...]:
        """Level labels by code: ``labels[0]`` is "else", the last is "exact"."""
        if self.members:
            return GROUP_LABELS
        return ("else", *(level.label for level in reversed(self.levels)))

    def label_of(self, code: int) -> str:
        return "null" if code == NULL else self.labels[code]

    def compute(
        self,
        values: FieldValues,
        left: IntArray,
        right: IntArray,
        swapped: tuple[IntArray, IntArray] | None = None,
        against: FieldValues | None = None,
    ) -> Int8Array:
        """The level code of each pair of rows ``left[i]``, ``right[i]`` (int8).

        ``swapped``: row codes of this field and of ``swap_with`` in one shared numbering
        (needed when the comparison has a swapped level); ``against``: the values of the
        ``against`` field (company_mail_domain).
        """
        if self.against is not None:
            if against is None:
                raise ValueError(f"comparison {self.name!r} needs the values of {self.against!r}")
            threshold = self.levels[0].threshold or 0.0
            return company_mail_domain_levels(values, against, left, right, threshold)
        left_codes = values.codes[left]
        right_codes = values.codes[right]
        out = np.full(len(left), ELSE, dtype=np.int8)
        out[(left_codes < 0) | (right_codes < 0)] = NULL
        todo = np.flatnonzero(out == ELSE)
        same = left_codes[todo] == right_codes[todo]
        out[todo[same]] = self.exact_code
        todo = todo[~same]
        fuzzy = list(self.levels[1:])
        if fuzzy and fuzzy[0].test is Check.SWAPPED:
            if swapped is None:
                raise ValueError(f"comparison {self.name!r} needs the codes of {self.swap_with!r}")
            mine, other = swapped
            l_rows, r_rows = left[todo], right[todo]
            hit = (mine[l_rows] == other[r_rows]) & (other[l_rows] == mine[r_rows])
            hit &= (mine[l_rows] >= 0) & (other[l_rows] >= 0)
            out[todo[hit]] = self.exact_code - 1
            todo = todo[~hit]
            fuzzy = fuzzy[1:]
        if not fuzzy or not len(todo):
            return out
        a, b, inverse = _distinct_pairs(left_codes[todo], right_codes[todo], len(values.uniques))
        codes = np.full(len(a), ELSE, dtype=np.int8)
        metrics: dict[str, FloatArray] = {}
        for code, level in zip(range(len(fuzzy), 0, -1), fuzzy, strict=True):
            open_ = np.flatnonzero(codes == ELSE)
            if not len(open_):
                break
            hit = self._test(level, values, a, b, open_, metrics)
            codes[open_[hit]] = code
        out[todo] = codes if inverse is None else codes[inverse]
        return out

    def _test(
        self,
        level: Level,
        values: FieldValues,
        a: IntArray,
        b: IntArray,
        open_: IntArray,
        metrics: dict[str, FloatArray],
    ) -> BoolArray:
        """Whether ``level`` holds for the value pairs ``a[open_]``, ``b[open_]``."""
        t = level.threshold if level.threshold is not None else 0.0
        test = level.test
        if test in _SCORERS:
            # One similarity per pair serves every threshold of the same test.
            metric = metrics.get(test.value)
            if metric is None:
                metric = _similarity(test, values.uniques, a, b)
                metrics[test.value] = metric
            score = metric[open_]
            hit: BoolArray = score <= t if test in _DISTANCES else score >= t - 1e-9
            return hit
        ao, bo = a[open_], b[open_]
        if test is Check.NICKNAME:
            return names.equivalent(values.derived("nicknames", names.group_table), ao, bo)
        if test is Check.METAPHONE:
            return _same(values.derived("metaphone", lambda u: V.mapped(u, V.metaphone)), ao, bo)
        if test is Check.PREFIX:
            n = int(t)
            return _same(values.derived(f"prefix{n}", lambda u: V.mapped(u, V.prefix(n))), ao, bo)
        if test is Check.DIGITS_SUFFIX:
            n = int(t)
            return _same(values.derived(f"digits{n}", lambda u: _digit_suffixes(u, n)), ao, bo)
        if test is Check.SAME_DOMAIN_SIMILAR_LOCAL:
            domains = values.derived("domain", lambda u: V.mapped(u, V.email_domain))
            same_domain = _same(domains, ao, bo)
            locals_ = values.derived("local_text", _local_texts)
            # Mailboxes that start alike: "j.smith" ~ "j.smiht", but not "a.lehmann" and
            # "j.lehmann", colleagues whose addresses follow one pattern.
            initials = values.derived("local_initial", lambda u: _local_initials(u))
            hit = np.zeros(len(ao), dtype=bool)
            check = np.flatnonzero(same_domain & _same(initials, ao, bo))
            if len(check):
                similarity = _cpdist(locals_[ao[check]], locals_[bo[check]], JaroWinkler)
                hit[check] = similarity >= t - 1e-9
            # "heather.morgan2" beside "heather.morgan", "ismith200" beside "ismith205": the
            # number is how a mail system tells namesakes apart, not a typo.
            letters = values.derived("local_letters", lambda u: V.mapped(u, _local_letters))
            numbers = values.derived("local_digits", lambda u: V.mapped(u, _local_digits))
            numbered: BoolArray = _same(letters, ao, bo) & (numbers[ao] != numbers[bo])
            similar: BoolArray = hit & ~numbered
            return similar
        if test is Check.MAILBOX_KINDS_DIFFER:
            personal = values.derived("personal_mailbox", _personal_mailboxes)
            kinds_a, kinds_b = personal[ao], personal[bo]
            differ: BoolArray = (kinds_a >= 0) & (kinds_b >= 0) & (kinds_a != kinds_b)
            return differ
        if test is Check.DAYS:
            days = values.derived("days", lambda u: V.day_numbers(u, self.date_format))
            da, db = days[ao], days[bo]
            valid: BoolArray = (da != V.NO_DAY) & (db != V.NO_DAY)
            return valid & (np.abs(np.where(valid, da - db, 0)) <= t)
        if test is Check.DAY_MONTH_SWAPPED:
            ymd = values.derived("ymd", lambda u: V.year_month_day(u, self.date_format))
            ya, ma, da_ = ymd[0][ao], ymd[1][ao], ymd[2][ao]
            yb, mb, db_ = ymd[0][bo], ymd[1][bo], ymd[2][bo]
            swap: BoolArray = (ya > 0) & (ya == yb) & (ma == db_) & (da_ == mb) & (ma != da_)
            return swap
        raise AssertionError(f"unhandled test {test}")


_SCORERS = frozenset(
    {Check.JARO_WINKLER, Check.LEVENSHTEIN, Check.DAMERAU_LEVENSHTEIN, Check.TOKEN_SET}
)
_DISTANCES = frozenset({Check.LEVENSHTEIN, Check.DAMERAU_LEVENSHTEIN})


def _similarity(test: Check, uniques: V.ObjectArray, a: IntArray, b: IntArray) -> FloatArray:
    left, right = uniques[a], uniques[b]
    if test is Check.JARO_WINKLER:
        return _cpdist(left, right, JaroWinkler)
    if test is Check.LEVENSHTEIN:
        return _cpdist(left, right, Levenshtein, distance=True)
    if test is Check.DAMERAU_LEVENSHTEIN:
        return _cpdist(left, right, OSA, distance=True)
    scores = process.cpdist(left, right, scorer=fuzz.token_set_ratio, workers=-1, dtype=np.float64)
    return np.asarray(scores, dtype=np.float64) / 100.0


def _cpdist(
    left: V.ObjectArray, right: V.ObjectArray, metric: object, *, distance: bool = False
) -> FloatArray:
    scorer = getattr(metric, "distance" if distance else "normalized_similarity")
    dtype = np.int64 if distance else np.float64
    scores = process.cpdist(left, right, scorer=scorer, workers=-1, dtype=dtype)
    return np.asarray(scores, dtype=np.float64)


def _same(codes: IntArray, a: IntArray, b: IntArray) -> BoolArray:
    left, right = codes[a], codes[b]
    same: BoolArray = (left >= 0) & (left == right)
    return same


def _digit_suffixes(uniques: V.ObjectArray, length: int) -> IntArray:
    def last_digits(value: str) -> str | None:
        found = V.digits(value)
        return found[-length:] if found and len(found) >= length else None

    return V.mapped(uniques, last_digits)


def _local_initials(uniques: V.ObjectArray) -> IntArray:
    return V.mapped(uniques, lambda value: (V.email_local(value) or "")[:1] or None)


def company_mail_domain_levels(
    companies: FieldValues, emails: FieldValues, left: IntArray, right: IntArray, threshold: float
) -> Int8Array:
    """Where exactly one record of a pair names a company and the other has no company but a
    work email address: 1 when the company, squeezed ("frontierdental"), is like the
    address's domain label (normalized Levenshtein >= ``threshold``, digits aside), else 0. NULL
    elsewhere: two company names are the company comparison's, two addresses the email's."""
    out = np.full(len(left), NULL, dtype=np.int8)
    company_l, company_r = companies.codes[left], companies.codes[right]
    labels = emails.derived("work_domain_label", _work_domain_labels)
    if not len(labels):  # no record here has an email address: nothing to compare
        return out
    # Flags per distinct address, gathered per pair: texts only for the pairs compared.
    labelled = emails.derived("has_work_domain_label", lambda _: labels != "")
    email_l, email_r = emails.codes[left], emails.codes[right]
    labelled_l = (email_l >= 0) & labelled[np.maximum(email_l, 0)]
    labelled_r = (email_r >= 0) & labelled[np.maximum(email_r, 0)]
    left_named = (company_l >= 0) & (company_r < 0) & labelled_r
    right_named = (company_r >= 0) & (company_l < 0) & labelled_l
    todo = np.flatnonzero(left_named | right_named)
    if not len(todo):
        return out
    squeezed = companies.derived("squeezed", _squeezed)
    named = left_named[todo]
    names = np.where(
        named,
        squeezed[np.maximum(company_l[todo], 0)],
        squeezed[np.maximum(company_r[todo], 0)],
    )
    domains = np.where(
        named, labels[np.maximum(email_r[todo], 0)], labels[np.maximum(email_l[todo], 0)]
    )
    # Levenshtein, not Jaro-Winkler: "emberlegal" and "emberdental" share a brand, not a firm.
    similarity = _cpdist(names.astype(object), domains.astype(object), Levenshtein)
    out[todo] = np.where(similarity >= threshold - 1e-9, 1, ELSE)
    return out


def _squeezed(uniques: V.ObjectArray) -> V.ObjectArray:
    """Company names as a domain spells them: "frontier dental" -> "frontierdental"."""
    out = np.empty(len(uniques), dtype=object)
    out[:] = [V.letters(value) for value in uniques]
    return out


def _work_domain_labels(uniques: V.ObjectArray) -> V.ObjectArray:
    """The first label of each address's domain, letters only; "" at a mail provider."""

    def label(value: str) -> str:
        domain = V.email_domain(value)
        if domain is None or at_mail_provider(value):
            return ""
        return V.letters(domain.partition(".")[0])

    out = np.empty(len(uniques), dtype=object)
    out[:] = [label(value) for value in uniques]
    return out


def _local_letters(value: str) -> str | None:
    return V.letters(V.email_local(value) or "") or None


def _local_digits(value: str) -> str:
    return V.digit_characters(V.email_local(value) or "")


def _personal_mailboxes(uniques: V.ObjectArray) -> Int8Array:
    """Per address: 1 at a mail provider (personal), 0 elsewhere (an employer's), -1 no domain."""

    kinds = (at_mail_provider(value) for value in uniques)
    return np.fromiter((-1 if k is None else int(k) for k in kinds), np.int8, len(uniques))


def _local_texts(uniques: V.ObjectArray) -> V.ObjectArray:
    out = np.empty(len(uniques), dtype=object)
    out[:] = [V.email_local(value) or "" for value in uniques]
    return out


def _distinct_pairs(
    left: IntArray, right: IntArray, width: int
) -> tuple[IntArray, IntArray, IntArray | None]:
    """The value pairs to test, and how to spread their results back (None: one per pair).

    Values are compared once per distinct (left, right) pair when a sample says that most
    pairs repeat one already seen (a state, a city, a common first name); else per pair, since
    finding the distinct ones would cost as much as comparing them.
    """
    if len(left) < _DEDUPE_MIN_PAIRS:
        return left, right, None
    keys = left * max(width, 1) + right
    step = max(len(keys) // _DEDUPE_SAMPLE, 1)
    sample = keys[::step]
    if len(V.sorted_unique(sample)) > _DEDUPE_MAX_DISTINCT_SHARE * len(sample):
        return left, right, None
    codes, unique = pd.factorize(keys)
    unique = np.asarray(unique, dtype=np.int64)
    return unique // max(width, 1), unique % max(width, 1), np.asarray(codes, dtype=np.int64)


# Presets --------------------------------------------------------------------------------------

_DEFAULT_THRESHOLDS: dict[ComparisonKind, tuple[float, ...]] = {
    ComparisonKind.LEVENSHTEIN: (1, 2),
    ComparisonKind.DAMERAU_LEVENSHTEIN: (1, 2),
    ComparisonKind.JARO_WINKLER: (0.92, 0.8),
    ComparisonKind.TOKEN_SET: (0.9, 0.7),
    ComparisonKind.FIRST_NAME: (0.92, 0.8),
    ComparisonKind.LAST_NAME: (0.92, 0.8),
    ComparisonKind.COMPANY_NAME: (0.9, 0.75),
    ComparisonKind.STREET: (0.9, 0.7),
    ComparisonKind.POSTCODE: (3,),
    ComparisonKind.CITY: (0.9,),
    ComparisonKind.DATE: (31, 366),
}

EXACT_LEVEL = Level(Check.EXACT)


def preset_levels(
    kind: ComparisonKind, thresholds: tuple[float, ...] | None = None
) -> tuple[Level, ...]:
    """The levels of a kind, strongest first, with its default thresholds unless given."""
    t = thresholds if thresholds is not None else _DEFAULT_THRESHOLDS.get(kind, ())

    def each(test: Check, values: tuple[float, ...] = t) -> list[Level]:
        return [Level(test, value) for value in values]

    match kind:
        case ComparisonKind.EXACT:
            fuzzy: list[Level] = []
        case ComparisonKind.LEVENSHTEIN:
            fuzzy = each(Check.LEVENSHTEIN)
        case ComparisonKind.DAMERAU_LEVENSHTEIN:
            fuzzy = each(Check.DAMERAU_LEVENSHTEIN)
        case ComparisonKind.JARO_WINKLER | ComparisonKind.CITY:
            fuzzy = each(Check.JARO_WINKLER)
        case ComparisonKind.TOKEN_SET | ComparisonKind.COMPANY_NAME | ComparisonKind.STREET:
            fuzzy = each(Check.TOKEN_SET)
        case ComparisonKind.FIRST_NAME:
            fuzzy = [Level(Check.NICKNAME), *each(Check.JARO_WINKLER)]
        case ComparisonKind.LAST_NAME:
            fuzzy = [
                *each(Check.JARO_WINKLER, t[:1]),
                Level(Check.METAPHONE),
                *each(Check.JARO_WINKLER, t[1:]),
            ]
        case ComparisonKind.EMAIL:
            # No "same mailbox at another domain" level: mailboxes are made of names
            # ("mhayes"), so across companies it is the namesakes' level, evidence the name
            # comparisons have already counted. A personal address against a work address is
            # its own level: one person keeps both, so it is weak evidence against, where two
            # different work addresses (two employers) are strong evidence.
            fuzzy = [
                Level(Check.SAME_DOMAIN_SIMILAR_LOCAL, 0.88),
                Level(Check.MAILBOX_KINDS_DIFFER),
            ]
        case ComparisonKind.PHONE:
            fuzzy = [Level(Check.DIGITS_SUFFIX, 7)]
        case ComparisonKind.POSTCODE:
            fuzzy = each(Check.PREFIX)
        case ComparisonKind.DATE:
            fuzzy = [
                Level(Check.DAMERAU_LEVENSHTEIN, 1),
                Level(Check.DAY_MONTH_SWAPPED),
                *each(Check.DAYS),
            ]
        case ComparisonKind.ID:
            fuzzy = [Level(Check.DAMERAU_LEVENSHTEIN, 1)]
        case ComparisonKind.COMPANY_MAIL_DOMAIN:
            return (Level(Check.NAMES_MAIL_DOMAIN, 0.85),)
    return (EXACT_LEVEL, *fuzzy)


def comparison_from_spec(spec: ComparisonSpec) -> Comparison:
    thresholds = tuple(spec.thresholds) if spec.thresholds is not None else None
    levels = preset_levels(spec.kind, thresholds)
    if spec.swap_with:
        levels = (levels[0], Level(Check.SWAPPED), *levels[1:])
    return Comparison(
        name=spec.key,
        field=spec.field,
        kind=spec.kind,
        levels=levels,
        swap_with=spec.swap_with,
        against=spec.against,
        tf_adjust=spec.tf_adjust,
        tf_minimum_u=spec.tf_minimum_u,
        date_format=spec.date_format,
    )


def comparisons_from_spec(spec: MatchSpec) -> list[Comparison]:
    """The spec's comparisons in file order, then its comparison groups."""
    comparisons = [comparison_from_spec(c) for c in spec.comparisons]
    by_name = {c.name: c for c in comparisons}
    return comparisons + [group_from_spec(g, by_name) for g in spec.comparison_groups]


def group_from_spec(spec: ComparisonGroupSpec, by_name: dict[str, Comparison]) -> Comparison:
    members = tuple(spec.comparisons)
    fields = tuple(by_name[name].field for name in members)
    return Comparison(
        name=spec.name,
        field=" + ".join(fields),
        kind=ComparisonKind.EXACT,
        levels=(EXACT_LEVEL,),
        members=members,
        member_fields=fields,
    )


def group_levels(member_levels: Int8Array) -> tuple[Int8Array, BoolArray]:
    """A group's level per pair from its members' levels (members, pairs), and where every
    member differs (those members' own levels then give no evidence: the group's does).

    The group has evidence where at least two members were compared: ALL_DIFFERENT where each
    of them is at ELSE, else NOT_ALL_DIFFERENT; with fewer, NULL and the members count alone.
    """
    present = member_levels != NULL
    compared = present.sum(axis=0) >= 2
    all_different = compared & ((member_levels == ELSE) | ~present).all(axis=0)
    out = np.full(member_levels.shape[1], NULL, dtype=np.int8)
    out[compared] = NOT_ALL_DIFFERENT
    out[all_different] = ALL_DIFFERENT
    return out, all_different
