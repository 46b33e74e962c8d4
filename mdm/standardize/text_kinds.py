"""Free text (job titles) and keys (references into a source's own systems).

Free text fixes shouting ("VP OF SALES" -> "VP of Sales", with the usual job acronyms) and keys
as folded text; a key is only trimmed, in both forms: it is compared exactly.
"""

from __future__ import annotations

from mdm.standardize.casing import CONNECTORS, ROMANCE_ARTICLES, Casing, recased
from mdm.standardize.text import none_if_empty

_JOB_ACRONYMS = frozenset(
    {"ceo", "cfo", "cto", "coo", "cio", "cmo", "cso", "cpo", "cro", "cdo", "vp", "svp", "evp"}
    | {"avp", "hr", "it", "pr", "qa", "ui", "ux", "gm", "ai", "bi", "crm", "erp", "seo", "sem"}
    | {"emea", "apac", "us", "uk", "eu", "usa", "b2b", "b2c", "saas", "r&d", "ehs", "hse"}
)
_TEXT_CASING = Casing(
    lower_words=CONNECTORS | ROMANCE_ARTICLES,
    spellings={word: word.upper() for word in _JOB_ACRONYMS},
)


def clean_text(text: str) -> str | None:
    return recased(text, _TEXT_CASING, lower_too=True)


def clean_key(text: str) -> str | None:
    return none_if_empty(text.strip())
