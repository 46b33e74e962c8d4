"""Company names: "MÜLLER GMBH & CO. KG" shows as "Müller GmbH & Co. KG" and keys as "muller".

Legal forms (``legal_forms.LEGAL_FORMS``) get their canonical spelling in the display form and
leave the key when they trail the name; a leading "The" leaves the key too; abbreviations an ERP
makes to fit a field ("INTL", "MFG", "BROS") key as the words they stand for.
"""

from __future__ import annotations

import functools
import re

from mdm.standardize.casing import CONNECTORS, ROMANCE_ARTICLES, Casing, recased
from mdm.standardize.legal_forms import LEGAL_FORMS
from mdm.standardize.text import fold, letter_count

_AMPERSAND = re.compile(r"[&+]")


def _company_spellings() -> dict[str, str]:
    spellings: dict[str, str] = {}
    for form in LEGAL_FORMS:
        words = form.split()
        for word in words:
            # Words of multi-word forms only when they are words in their own right ("Bhd").
            if len(words) == 1 or letter_count(word) >= 3:
                spellings.setdefault(word.casefold().replace(".", ""), word)
    return spellings


_COMPANY_CASING = Casing(
    lower_words=CONNECTORS | ROMANCE_ARTICLES,
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


def clean_company_name(text: str) -> str | None:
    return recased(text, _COMPANY_CASING, lower_too=False)


# Words that finance and ERP systems abbreviate to fit a 35-character field, keyed in full so
# that "ACME INTL MFG" and "Acme International Manufacturing" share a key. Only abbreviations
# that are not words of their own ("Tech", "Labs", "Co" stay as written).
ABBREVIATIONS: dict[str, str] = {
    "assoc": "associates",
    "assocs": "associates",
    "assn": "association",
    "bros": "brothers",
    "ctr": "center",
    "ctrs": "centers",
    "dept": "department",
    "dist": "distribution",
    "distr": "distribution",
    "elec": "electric",
    "engg": "engineering",
    "engr": "engineering",
    "engrg": "engineering",
    "ent": "enterprises",
    "ents": "enterprises",
    "equip": "equipment",
    "fin": "financial",
    "grp": "group",
    "hldg": "holdings",
    "hldgs": "holdings",
    "hlth": "health",
    "hosp": "hospital",
    "inds": "industries",
    "indus": "industries",
    "ins": "insurance",
    "intl": "international",
    "mfg": "manufacturing",
    "mfrs": "manufacturers",
    "mgmt": "management",
    "mgt": "management",
    "mktg": "marketing",
    "natl": "national",
    "prods": "products",
    "props": "properties",
    "rlty": "realty",
    "svc": "service",
    "svcs": "services",
    "sys": "systems",
    "sup": "supply",
    "supp": "supply",
    "univ": "university",
    "whse": "warehouse",
}


def match_company_name(text: str) -> str | None:
    words = [ABBREVIATIONS.get(word, word) for word in _company_words(text)]
    while len(words) > 1 and words[0] == "the":
        words = words[1:]
    kept = _drop_legal_forms(words)
    if not kept:  # nothing but legal forms ("Company Inc"): the whole name is the key
        kept = _company_words(text)
    return " ".join(kept) or None


def _company_words(text: str) -> list[str]:
    return fold(_AMPERSAND.sub(" and ", text)).split()


@functools.cache
def _legal_form_keys() -> tuple[frozenset[str], int]:
    """Legal forms by their letters ("sdnbhd", "andco"), and the length of the longest.

    Keys are letters only because spaced variants ("S. A.", "A/S") spread one form over several
    words; a run of trailing words is a form when its letters, joined, are a key.
    """
    keys = {"".join(_company_words(form)) for form in LEGAL_FORMS}
    return frozenset(keys), max(len(key) for key in keys)


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
