"""Standardization: raw canonical values -> a clean (display) form and a match (key) form.

* ``clean_values`` gives what a golden record shows: trimmed, whitespace collapsed, shouting
  fixed, phones in E.164, countries as ISO codes. Where a value cannot be standardized the
  trimmed original is kept, so nothing is lost.
* ``match_values`` gives the key that blocking and comparison use: casefolded, accent-free,
  punctuation-free, with noise (titles, legal forms, street-type spellings) removed or made
  uniform. Where no key can be made (an impossible phone, an unknown country) it is NA.

Both return nullable ``string`` Series (``pd.NA`` for missing) with the input's index and name.
Work is done once per distinct value (or per distinct value and phone region) and mapped back,
so a million rows with repeats cost what their distinct values cost.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers
import pycountry
import tldextract

from mdm.matching.legal_forms import LEGAL_FORMS
from mdm.schema import ATTRIBUTES, Entity, Kind

__all__ = [
    "RegionLike",
    "clean_frame",
    "clean_values",
    "is_valid",
    "match_frame",
    "match_values",
]

RegionLike = str | pd.Series
"""Default ISO alpha-2 region for phone numbers: one for all values, or one per value."""

_R = TypeVar("_R")
# A per-value standardizer: (text, phone region or None) -> result.
_ValueFn = Callable[[str, str | None], _R]
_ObjectArray = npt.NDArray[np.object_]

# --------------------------------------------------------------------------------------------
# Text primitives
# --------------------------------------------------------------------------------------------

# Control characters split words (a NUL between names is a separator); invisible format
# characters that sneak in from copy-paste are dropped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Apostrophes and dots join (O'Neill -> oneill, S.A. -> sa); other punctuation separates.
_JOINERS = re.compile(r"['\u2018\u2019\u02bc`\u00b4.]")
_NON_WORD = re.compile(r"[\W_]+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# Letters without a decomposition that Latin-script keys spell with plain letters.
_FOLD_LETTERS = str.maketrans(
    {
        "\u00f8": "o",  # ø
        "\u00e6": "ae",  # æ
        "\u0153": "oe",  # œ
        "\u0142": "l",  # ł
        "\u0111": "d",  # đ
        "\u00f0": "d",  # ð
        "\u00fe": "th",  # þ
        "\u0131": "i",  # dotless i
        "\u0127": "h",  # ħ
        "\u0167": "t",  # ŧ
    }
)


def _as_text(value: object) -> str:
    """A cell as text: numbers as read from spreadsheets (``2125551234.0``) lose the ``.0``."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    else:
        text = str(value)
    # Lone surrogates cannot be stored as UTF-8 (Arrow strings, databases).
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _collapse(text: str) -> str:
    """Trimmed, control characters out, runs of whitespace as one space."""
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
    return " ".join(_CONTROL.sub(" ", text).split())


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _fold(text: str) -> str:
    """The match-key base: casefolded, accent-free, punctuation-free, single-spaced."""
    if text.isascii():
        folded = text.lower()
    else:
        # Twice: compatibility forms can decompose to capitals (U+210C -> H) and casefolding can
        # add marks (İ -> i + dot), so one pass does not always reach the fixed point.
        folded = text
        for _ in range(2):
            folded = _strip_marks(folded.casefold()).translate(_FOLD_LETTERS)
    return " ".join(_NON_WORD.sub(" ", _JOINERS.sub("", folded)).split())


# --------------------------------------------------------------------------------------------
# Casing: fixing values that arrived in all capitals or all lower case
# --------------------------------------------------------------------------------------------

_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th", "er", "e", "eme", "re"})


@dataclass(frozen=True)
class _Casing:
    """How one kind re-cases a shouted or whispered value, word by word."""

    # Lower-case function words when not the first word ("Bank of America").
    lower_words: frozenset[str] = frozenset()
    # Fixed spellings by letters key ("phd" -> "PhD", "gmbh" -> "GmbH").
    spellings: Mapping[str, str] = field(default_factory=dict)
    # Keep words of at most three letters upper case (acronyms: "IBM"), except these.
    short_upper: bool = False
    short_words: frozenset[str] = frozenset()


def _recase(text: str, casing: _Casing) -> str:
    words = text.split(" ")
    return " ".join(_recase_word(word, casing, first=i == 0) for i, word in enumerate(words))


def _recase_word(word: str, casing: _Casing, *, first: bool) -> str:
    core_start, core_end = _core_bounds(word)
    prefix, core, suffix = word[:core_start], word[core_start:core_end], word[core_end:]
    return prefix + _recase_core(core, casing, first=first) + suffix


def _core_bounds(word: str) -> tuple[int, int]:
    """Where a word's letters and digits start and end, leaving outer punctuation aside."""
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not word[end - 1].isalnum():
        end -= 1
    return start, end


def _recase_core(core: str, casing: _Casing, *, first: bool) -> str:
    if not core:
        return core
    folded = core.casefold()
    if folded in casing.lower_words:
        return _LETTER_RUN.sub(_title_run, core) if first else core.lower()
    spelled = _spelling(core, casing.spellings)
    if spelled is not None:
        return spelled
    upper = core.upper()  # counted after upper-casing: "ß" becomes two letters
    if casing.short_upper and _letter_count(upper) <= 3 and folded not in casing.short_words:
        return upper
    return _LETTER_RUN.sub(_title_run, core)


def _spelling(core: str, spellings: Mapping[str, str]) -> str | None:
    """The fixed spelling of a word, dotted only when the source dotted it too ("S.p.A")."""
    spelled = spellings.get(core.casefold().replace(".", ""))
    if spelled is None:
        return None
    if ("." in core) == ("." in spelled):
        return spelled
    # "L.L.C." has no dotted spelling: leave it as given; "SPA" could be a spa: not spelled.
    return core.upper() if "." in core else None


def _title_run(match: re.Match[str]) -> str:
    run, start, text = match.group(), match.start(), match.string
    before = text[start - 1] if start else ""
    if before.isdigit():  # "1ST" -> "1st", "21B" -> "21B"
        return run.lower() if run.casefold() in _ORDINAL_SUFFIXES else run.upper()
    if before and before in "'\u2019" and len(run) == 1:  # "JOHN'S" -> "John's"
        return run.lower()
    if len(run) > 3 and run[:2].casefold() == "mc":  # "MCDONALD" -> "McDonald"
        return "Mc" + run[2].title() + run[3:].lower()
    # title(), not upper(): "ß" starts a word as "Ss", which stays mixed case when cleaned again.
    return run[:1].title() + run[1:].lower()


def _letter_count(text: str) -> int:
    return sum(char.isalpha() for char in text)


def _needs_recase(text: str, *, lower_too: bool) -> bool:
    # "ß" has no single-letter capital in common use: "STRAßE" is shouted too.
    return text.replace("\u00df", "").isupper() or (lower_too and text.islower())


# Only particles that are not also common given names or surnames ("Van", "Le", "Di" are).
_NAME_PARTICLES = frozenset(
    {"de", "del", "della", "der", "den", "von", "du", "dos", "das", "ter", "ten", "zu"}
)
_CONNECTORS = frozenset({"and", "of", "the", "for", "in", "on", "at", "by", "to", "und", "et"})
_ROMANCE_ARTICLES = frozenset({"de", "la", "le", "du", "des", "del", "der", "den", "les", "von"})

_PERSON_CASING = _Casing(
    lower_words=_NAME_PARTICLES,
    spellings={"ii": "II", "iii": "III", "iv": "IV", "phd": "PhD", "md": "MD"},
)


def _company_spellings() -> dict[str, str]:
    spellings: dict[str, str] = {}
    for form in LEGAL_FORMS:
        words = form.split()
        for word in words:
            # Words of multi-word forms only when they are words in their own right ("Bhd").
            if len(words) == 1 or _letter_count(word) >= 3:
                spellings.setdefault(word.casefold().replace(".", ""), word)
    return spellings


_COMPANY_CASING = _Casing(
    lower_words=_CONNECTORS | _ROMANCE_ARTICLES,
    spellings=_company_spellings(),
    short_upper=True,
    # Plain short words common in company names; other short words are taken as acronyms.
    short_words=frozenset(
        {"new", "one", "two", "top", "big", "sun", "sky", "red", "art", "bay", "ace", "all"}
        | {"fox", "oak", "pro", "web", "net", "air", "car", "bio", "eco", "max", "hub", "lab"}
        | {"box", "bar", "inn", "pub", "key", "tea", "gas", "oil", "law", "tax", "day", "spa"}
        | {"bed", "fit", "fun", "my", "our", "pet", "toy", "go", "zoo", "ice", "sea", "joy"}
    ),
)
_STREET_CASING = _Casing(
    lower_words=_CONNECTORS | _ROMANCE_ARTICLES,
    spellings={"ne": "NE", "nw": "NW", "se": "SE", "sw": "SW", "po": "PO"},
)
_PLACE_CASING = _Casing(lower_words=_CONNECTORS | _ROMANCE_ARTICLES)
_JOB_ACRONYMS = frozenset(
    {"ceo", "cfo", "cto", "coo", "cio", "cmo", "cso", "cpo", "cro", "cdo", "vp", "svp", "evp"}
    | {"avp", "hr", "it", "pr", "qa", "ui", "ux", "gm", "ai", "bi", "crm", "erp", "seo", "sem"}
    | {"emea", "apac", "us", "uk", "eu", "usa", "b2b", "b2c", "saas", "r&d", "ehs", "hse"}
)
_TEXT_CASING = _Casing(
    lower_words=_CONNECTORS | _ROMANCE_ARTICLES,
    spellings={word: word.upper() for word in _JOB_ACRONYMS},
)


# --------------------------------------------------------------------------------------------
# Per-kind standardizers of one value: None when nothing is left (empty, blank)
# --------------------------------------------------------------------------------------------


def _none_if_empty(text: str) -> str | None:
    return text or None


def _recased(text: str, casing: _Casing, *, lower_too: bool) -> str | None:
    text = _collapse(text)
    if _needs_recase(text, lower_too=lower_too):
        return _recase(text, casing)
    return _none_if_empty(text)


def _clean_person(text: str) -> str | None:
    return _recased(text, _PERSON_CASING, lower_too=True)


def _clean_company(text: str) -> str | None:
    return _recased(text, _COMPANY_CASING, lower_too=False)


def _clean_street(text: str) -> str | None:
    return _recased(text, _STREET_CASING, lower_too=True)


def _clean_city(text: str) -> str | None:
    return _recased(text, _PLACE_CASING, lower_too=True)


def _clean_region(text: str) -> str | None:
    text = _collapse(text)
    is_code = " " not in text and 0 < _letter_count(text.upper()) <= 3
    if is_code and _needs_recase(text, lower_too=True):
        return text.upper()  # state and province codes: "NY", "nsw"
    return _recased(text, _PLACE_CASING, lower_too=True)


def _clean_text(text: str) -> str | None:
    return _recased(text, _TEXT_CASING, lower_too=True)


def _clean_key(text: str) -> str | None:
    return _none_if_empty(text.strip())


# Person names ------------------------------------------------------------------------------

_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "jr", "sr", "ii", "iii"}
    | {"iv", "phd", "md", "esq"}
)


def _match_person(text: str) -> str | None:
    words = _fold(text).split()
    kept = [word for word in words if word not in _HONORIFICS]
    return " ".join(kept or words) or None


# Company names -----------------------------------------------------------------------------

_AMPERSAND = re.compile(r"[&+]")


def _company_words(text: str) -> list[str]:
    return _fold(_AMPERSAND.sub(" and ", text)).split()


@functools.cache
def _legal_form_keys() -> tuple[frozenset[str], int]:
    """Legal forms by their letters ("sdnbhd", "andco"), and the length of the longest.

    Keys are letters only because spaced variants ("S. A.", "A/S") spread one form over several
    words; a run of trailing words is a form when its letters, joined, are a key.
    """
    keys = {"".join(_company_words(form)) for form in LEGAL_FORMS}
    return frozenset(keys), max(len(key) for key in keys)


def _match_company(text: str) -> str | None:
    words = _company_words(text)
    while len(words) > 1 and words[0] == "the":
        words = words[1:]
    kept = _drop_legal_forms(words)
    if not kept:  # nothing but legal forms ("Company Inc"): the whole name is the key
        kept = _company_words(text)
    return " ".join(kept) or None


def _drop_legal_forms(words: list[str]) -> list[str]:
    keys, longest = _legal_form_keys()
    end = len(words)
    while end:
        span = _legal_form_span(words, end, keys, longest)
        if not span:
            break
        end -= span
    return words[:end]


def _legal_form_span(words: list[str], end: int, keys: frozenset[str], longest: int) -> int:
    """How many words before ``end`` spell one legal form (longest first), else 0."""
    joined = ""
    best = 0
    for span in range(1, end + 1):
        joined = words[end - span] + joined
        if len(joined) > longest:
            break
        if joined in keys:
            best = span
    return best


# Email -------------------------------------------------------------------------------------

_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"<([^<>]*@[^<>]*)>")
_EMAIL_EDGE_JUNK = "\"'<>()[],;:"
_EMAIL_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")
_EMAIL_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]{1,64}")


def _clean_email(text: str) -> str | None:
    # An address has no whitespace: "John Smith <JS@x.org>" still yields its address.
    address = "".join(_collapse(text).split()).lower()
    previous = None
    while address != previous:  # peel until stable, so cleaning a clean address is a no-op
        previous = address
        address = _peel_email(address)
    return _none_if_empty(address)


def _peel_email(address: str) -> str:
    """One layer of wrapping off: angle brackets, a mailto: link, list punctuation."""
    bracketed = _ANGLE_ADDRESS.search(address)
    if bracketed:
        address = bracketed.group(1)
    if _MAILTO.match(address):
        address = _MAILTO.sub("", address).split("?", 1)[0]
    return address.strip(_EMAIL_EDGE_JUNK).rstrip(".")  # "john@acme.com." ends a sentence


def _valid_email(text: str) -> bool:
    address = _clean_email(text)
    if address is None or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    labels = domain.split(".")
    return (
        _EMAIL_LOCAL.fullmatch(local) is not None
        and ".." not in local
        and not local.startswith(".")
        and not local.endswith(".")
        and len(labels) >= 2
        and all(_EMAIL_LABEL.fullmatch(label) for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


# Phone -------------------------------------------------------------------------------------


# The display form, the match key and the validity of a number each parse it; a delta parses
# its records' numbers again when it rebuilds their golden records. Callers only read the result.
@functools.lru_cache(maxsize=1 << 16)
def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _clean_phone(text: str, region: str | None) -> str | None:
    number = _parse_phone(text, region)
    if number is None:
        return _none_if_empty(_collapse(text))  # kept as given: nothing is lost
    extension = f" ext. {number.extension}" if number.extension else ""
    return _e164(number) + extension


def _match_phone(text: str, region: str | None) -> str | None:
    number = _parse_phone(text, region)
    return None if number is None else _e164(number)


def _valid_phone(text: str, region: str | None) -> bool:
    number = _parse_phone(text, region)
    return number is not None and bool(phonenumbers.is_valid_number(number))


# Domain ------------------------------------------------------------------------------------


@functools.cache
def _domain_extractor() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: never fetch, never write a cache.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _registrable_domain(text: str) -> str | None:
    host = _MAILTO.sub("", "".join(_collapse(text).split())).lower()
    # Emails: the host follows the last "@" (tldextract reads "@" only as URL user info).
    if "@" in host and "/" not in host:
        host = host.rsplit("@", 1)[1]
    domain = _domain_extractor()(host).top_domain_under_public_suffix
    return str(domain) if domain else None


def _clean_domain(text: str) -> str | None:
    return _registrable_domain(text) or _none_if_empty(_collapse(text).lower())


# Street ------------------------------------------------------------------------------------

_STREET_WORDS: dict[str, str] = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "suite": "ste",
    "strasse": "str",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "highway": "hwy",
    "parkway": "pkwy",
    "terrace": "ter",
    "circle": "cir",
    "apartment": "apt",
    "building": "bldg",
    "floor": "fl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}
_STRASSE = "strasse"


def _street_word(word: str) -> str:
    if word.endswith(_STRASSE):  # "hauptstrasse" -> "hauptstr": compounds too
        return word[: -len(_STRASSE)] + "str"
    return _STREET_WORDS.get(word, word)


def _match_street(text: str) -> str | None:
    return " ".join(_street_word(word) for word in _fold(text).split()) or None


# Postcode ----------------------------------------------------------------------------------

_UK_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
_ZIP_PLUS_FOUR = re.compile(r"([0-9]{5})(?: ?- ?| )?[0-9]{4}")


def _clean_postcode(text: str) -> str | None:
    text = _collapse(text).upper()
    compact = text.replace(" ", "")
    if compact.isalnum() and _UK_POSTCODE.fullmatch(compact):
        return f"{compact[:-3]} {compact[-3:]}"  # UK: outward and inward code
    return _none_if_empty(text)


def _match_postcode(text: str) -> str | None:
    zip_plus_four = _ZIP_PLUS_FOUR.fullmatch(_collapse(text))
    if zip_plus_four:
        return zip_plus_four.group(1)
    return _none_if_empty(_fold(text).replace(" ", "").upper())


# Country -----------------------------------------------------------------------------------

_COUNTRY_ALIASES: dict[str, str] = {
    "USA": "US",
    "U.S.": "US",
    "United States of America": "US",
    "America": "US",
    "UK": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Deutschland": "DE",
    "Holland": "NL",
    "Nederland": "NL",
    "Netherlands": "NL",
    "Espana": "ES",
    "Brasil": "BR",
    "Italia": "IT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Osterreich": "AT",
    "Belgique": "BE",
    "Belgie": "BE",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Suomi": "FI",
    "Polska": "PL",
    "Magyarorszag": "HU",
    "Hellas": "GR",
    "Turkey": "TR",
    "South Korea": "KR",
    "Korea": "KR",
    "Republic of Korea": "KR",
    "North Korea": "KP",
    "Russia": "RU",
    "Czech Republic": "CZ",
    "Vietnam": "VN",
    "Iran": "IR",
    "Syria": "SY",
    "Laos": "LA",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Burma": "MM",
    "Swaziland": "SZ",
    "Cape Verde": "CV",
    "Vatican": "VA",
    "UAE": "AE",
    "Emirates": "AE",
    "PRC": "CN",
    "Mainland China": "CN",
    "Hong Kong SAR": "HK",
    "Macao": "MO",
}


@functools.cache
def _country_table() -> dict[str, str]:
    """Every name and code pycountry and the aliases know, by folded key -> alpha-2."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for attribute in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if isinstance(name, str):
                table.setdefault(_country_key(name), code)
    for alias, code in _COUNTRY_ALIASES.items():
        table.setdefault(_country_key(alias), code)
    return table


def _country_key(text: str) -> str:
    key = _fold(text)
    return key[4:] if key.startswith("the ") else key


def _country_code(text: str) -> str | None:
    return _country_table().get(_country_key(text))


def _clean_country(text: str) -> str | None:
    return _country_code(text) or _none_if_empty(_collapse(text))


# Identifier --------------------------------------------------------------------------------

_IDENTIFIER_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015]+")


def _clean_identifier(text: str) -> str | None:
    return _none_if_empty(_IDENTIFIER_SEPARATORS.sub("", _collapse(text)).upper())


def _match_identifier(text: str) -> str | None:
    # VAT numbers keep their country prefix ("DE123456789"): it is part of the number.
    return _none_if_empty(_fold(text).replace(" ", "").upper())


# --------------------------------------------------------------------------------------------
# Dispatch tables
# --------------------------------------------------------------------------------------------


def _any_region(fn: Callable[[str], _R]) -> _ValueFn[_R]:
    """A standardizer that does not depend on the phone region."""

    def call(text: str, _region: str | None) -> _R:
        return fn(text)

    return call


def _match_plain(text: str) -> str | None:
    return _none_if_empty(_fold(text))


_CLEAN: dict[Kind, _ValueFn[str | None]] = {
    Kind.PERSON_NAME: _any_region(_clean_person),
    Kind.COMPANY_NAME: _any_region(_clean_company),
    Kind.EMAIL: _any_region(_clean_email),
    Kind.PHONE: _clean_phone,
    Kind.DOMAIN: _any_region(_clean_domain),
    Kind.STREET: _any_region(_clean_street),
    Kind.CITY: _any_region(_clean_city),
    Kind.REGION: _any_region(_clean_region),
    Kind.POSTCODE: _any_region(_clean_postcode),
    Kind.COUNTRY: _any_region(_clean_country),
    Kind.IDENTIFIER: _any_region(_clean_identifier),
    Kind.TEXT: _any_region(_clean_text),
    Kind.KEY: _any_region(_clean_key),
}

_MATCH: dict[Kind, _ValueFn[str | None]] = {
    Kind.PERSON_NAME: _any_region(_match_person),
    Kind.COMPANY_NAME: _any_region(_match_company),
    Kind.EMAIL: _any_region(_clean_email),
    Kind.PHONE: _match_phone,
    Kind.DOMAIN: _any_region(_registrable_domain),
    Kind.STREET: _any_region(_match_street),
    Kind.CITY: _any_region(_match_plain),
    Kind.REGION: _any_region(_match_plain),
    Kind.POSTCODE: _any_region(_match_postcode),
    Kind.COUNTRY: _any_region(_country_code),
    Kind.IDENTIFIER: _any_region(_match_identifier),
    Kind.TEXT: _any_region(_match_plain),
    Kind.KEY: _any_region(_clean_key),
}


def _valid_by(standardizer: _ValueFn[str | None]) -> _ValueFn[bool]:
    def call(text: str, region: str | None) -> bool:
        return standardizer(text, region) is not None

    return call


_VALID: dict[Kind, _ValueFn[bool]] = {
    **{kind: _valid_by(clean) for kind, clean in _CLEAN.items()},
    Kind.EMAIL: _any_region(_valid_email),
    Kind.PHONE: _valid_phone,
    Kind.DOMAIN: _valid_by(_MATCH[Kind.DOMAIN]),
    Kind.POSTCODE: _valid_by(_MATCH[Kind.POSTCODE]),
    Kind.COUNTRY: _valid_by(_MATCH[Kind.COUNTRY]),
}

# --------------------------------------------------------------------------------------------
# Once per distinct value, mapped back to every row
# --------------------------------------------------------------------------------------------


def _factorize(values: pd.Series) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Row codes (-1 for missing) and the distinct values as text."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): told apart by their text
        codes, uniques = pd.factorize(values.map(_as_text, na_action="ignore"))
    return np.asarray(codes, dtype=np.intp), [_as_text(unique) for unique in uniques]


def _object_array(items: list[Any]) -> _ObjectArray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _per_distinct(
    values: pd.Series, regions: str | _ObjectArray | None, fn: _ValueFn[_R]
) -> _ObjectArray:
    """``fn`` over each distinct (value, region), spread back over the rows; None where NA."""
    codes, texts = _factorize(values)
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    if regions is None or isinstance(regions, str):
        results = _object_array([fn(text, regions) for text in texts])
        out[present] = results[codes[present]]
        return out
    region_codes, region_values = pd.factorize(regions, use_na_sentinel=True)
    width = len(region_values) + 1  # slot 0: no region
    pairs = codes[present].astype(np.int64) * width + (region_codes[present] + 1)
    distinct_pairs, inverse = np.unique(pairs, return_inverse=True)
    results = _object_array(
        [
            fn(texts[pair // width], str(region_values[pair % width - 1]) if pair % width else None)
            for pair in distinct_pairs.tolist()
        ]
    )
    out[present] = results[inverse]
    return out


def _phone_regions(region: RegionLike, values: pd.Series) -> str | _ObjectArray | None:
    """The ISO alpha-2 phone region of every value (None where unknown)."""
    if isinstance(region, str):
        return _country_code(region)
    aligned = region if region.index.equals(values.index) else region.reindex(values.index)
    return _per_distinct(aligned, None, _any_region(_country_code))


def _standardize(
    kind: Kind, values: pd.Series, region: RegionLike, table: Mapping[Kind, _ValueFn[_R]]
) -> _ObjectArray:
    regions = _phone_regions(region, values) if kind is Kind.PHONE else None
    return _per_distinct(values, regions, table[kind])


def _string_series(data: _ObjectArray, like: pd.Series) -> pd.Series:
    return pd.Series(data, index=like.index, name=like.name, dtype=pd.StringDtype())


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def clean_values(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Display forms of ``values`` (a nullable ``string`` Series, NA where missing)."""
    return _string_series(_standardize(kind, values, region, _CLEAN), values)


def match_values(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Match keys of ``values`` (a nullable ``string`` Series, NA where no key can be made)."""
    return _string_series(_standardize(kind, values, region, _MATCH), values)


def is_valid(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Whether each value is a well-formed value of its kind (bool; missing is not valid)."""
    valid = _standardize(kind, values, region, _VALID).astype(bool)  # None (missing) -> False
    return pd.Series(valid, index=values.index, name=values.name, dtype=bool)


def clean_frame(entity: Entity, frame: pd.DataFrame, region: RegionLike = "US") -> pd.DataFrame:
    """``frame`` with every attribute column of ``entity`` in display form; others as given."""
    return _standardize_frame(entity, frame, region, clean_values)


def match_frame(entity: Entity, frame: pd.DataFrame, region: RegionLike = "US") -> pd.DataFrame:
    """``frame`` with every attribute column of ``entity`` as match keys; others as given."""
    return _standardize_frame(entity, frame, region, match_values)


def _standardize_frame(
    entity: Entity,
    frame: pd.DataFrame,
    region: RegionLike,
    standardize: Callable[[Kind, pd.Series, RegionLike], pd.Series],
) -> pd.DataFrame:
    kinds = {attribute.name: attribute.kind for attribute in ATTRIBUTES[entity]}
    phone_region = _frame_phone_region(frame, kinds, region)
    out = frame.copy()
    for position, name in enumerate(frame.columns):
        kind = kinds.get(name)
        if kind is not None:
            column_region = phone_region if kind is Kind.PHONE else region
            out.isetitem(position, standardize(kind, frame.iloc[:, position], column_region).array)
    return out


def _frame_phone_region(
    frame: pd.DataFrame, kinds: Mapping[str, Kind], region: RegionLike
) -> RegionLike:
    """Each row's own country where it is known, else ``region``: phones are dialled locally."""
    if kinds.get("country") is not Kind.COUNTRY or "country" not in frame.columns:
        return region
    countries = match_values(Kind.COUNTRY, frame["country"])
    if isinstance(region, str):
        return countries.fillna(region)
    aligned = region if region.index.equals(frame.index) else region.reindex(frame.index)
    return countries.fillna(aligned.astype(pd.StringDtype()))
