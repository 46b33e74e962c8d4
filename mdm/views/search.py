"""Find golden records by what a steward has at hand: a name (or its start), an email, a phone,
a domain, a golden id (a merged-away one answers with its survivor) or a source record's key
(``SOURCE:KEY``, or the key alone in any source).

Every reading is by index: the query is standardized as each kind it may be (an address, a
number, a domain) and looked up by equality in ``search_key``, a name by a range of its
folded terms (``mdm.store.search``); a key by xref's primary key; a golden id by its redirects
one key at a time. Then the golden records of the hits, by id. Nothing is scanned.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import pandas as pd
from sqlalchemy import Connection

from mdm.schema import Entity
from mdm.standardize.domain import registrable_domain
from mdm.standardize.email_address import clean_email
from mdm.standardize.phone import match_phone
from mdm.store import golden
from mdm.store import search as search_keys
from mdm.views.base import ViewModel, plain_rows
from mdm.views.redirects import current_id

MatchedBy = Literal["golden id", "source key", "email", "phone", "domain", "name"]

# What a hit shows besides its name, per entity.
KEY_VALUES: Final = {
    Entity.ACCOUNT: ["domain", "phone", "city", "country"],
    Entity.CONTACT: ["email", "phone", "company", "account_id"],
}
_GOLDEN_ID: Final = re.compile(r"(?i)([ac])-([0-9a-z]+)")
# A phone: digits and the punctuation numbers are written with, an extension at most.
_PHONE: Final = re.compile(r"(?i)\+?[\d\s().\-/]+(?:\s*(?:ext\.?|x)\s*\d+)?")
_MIN_PHONE_DIGITS: Final = 6
_DOMAIN: Final = re.compile(r"(?i)(?:[a-z]+://)?[^\s@/]+\.[^\s@]+")


class SearchHit(ViewModel):
    golden_id: str
    entity: Entity
    status: str  # active | merged | retired
    display_name: str | None
    values: dict[str, str | None]  # a few key values (``KEY_VALUES``)
    matched_by: MatchedBy
    matched: str  # the value that matched: the golden id, SOURCE:KEY, the address, the term
    why: str  # why it matched, in a phrase
    resolved_from: str | None = None  # the merged-away id asked for


def search_golden(
    connection: Connection, q: str, limit: int = 20, *, region: str = "US"
) -> list[SearchHit]:
    """The golden records ``q`` finds, at most ``limit``, each once: by golden id, source key,
    email, phone, domain, then name (exact names before longer ones); ``region``: the country
    a phone number without one is read in."""
    text = " ".join(q.split())
    if not text or limit < 1:
        return []
    found: list[_Found] = []
    found += _by_golden_id(connection, text)
    found += _by_source_key(connection, text)
    found += _by_terms(connection, text, limit, region)
    return _hits(connection, found, limit)


class _Found(ViewModel):
    golden_id: str
    matched_by: MatchedBy
    matched: str
    why: str
    resolved_from: str | None = None


def _by_golden_id(connection: Connection, text: str) -> list[_Found]:
    parts = _GOLDEN_ID.fullmatch(text)
    if parts is None:
        return []
    asked = f"{parts.group(1).upper()}-{parts.group(2).lower()}"
    current = current_id(connection, asked)
    if current == asked:
        return [_Found(golden_id=asked, matched_by="golden id", matched=asked, why="golden id")]
    return [
        _Found(
            golden_id=current,
            matched_by="golden id",
            matched=asked,
            why=f"golden id {asked}, merged into {current}",
            resolved_from=asked,
        )
    ]


def _by_source_key(connection: Connection, text: str) -> list[_Found]:
    """SOURCE:KEY, or the key alone in each source (a key may hold colons itself)."""
    sources = search_keys.xref_sources(connection)
    rows = plain_rows(search_keys.xref_of_source_keys(connection, sources, text))
    source, colon, key = text.partition(":")
    if colon and key and source in sources:
        rows = plain_rows(search_keys.xref_of_source_keys(connection, [source], key)) + rows
    return [
        _Found(
            golden_id=row["golden_id"],
            matched_by="source key",
            matched=f"{row['source']}:{row['source_key']}",
            why=f"source record {row['source']}:{row['source_key']}",
        )
        for row in rows
    ]


def _by_terms(connection: Connection, text: str, limit: int, region: str) -> list[_Found]:
    """By the search keys: the text standardized as each kind it may be."""
    found: list[_Found] = []
    for kind, term in _exact_terms(text, region):
        hits = search_keys.find_terms(connection, kind, term, prefix=False, limit=limit)
        found += [
            _Found(golden_id=golden_id, matched_by=kind, matched=term, why=f"{kind} {term}")
            for golden_id in hits["golden_id"].astype(str)
        ]
    folded = search_keys.fold_terms(pd.Series([text], dtype="string")).iloc[0]
    if pd.notna(folded):
        # A golden record has several name terms: read more to fill the page.
        names = search_keys.find_terms(
            connection, "name", str(folded), prefix=True, limit=limit * 4
        )
        for golden_id, term in names[["golden_id", "term"]].astype(str).itertuples(index=False):
            why = f'name "{term}"' if term == folded else f'name "{term}" starts with "{folded}"'
            found.append(_Found(golden_id=golden_id, matched_by="name", matched=term, why=why))
    return found


def _exact_terms(text: str, region: str) -> list[tuple[search_keys.TermKind, str]]:
    """(kind, term) of the kinds ``text`` may be, standardized as the search keys are."""
    terms: list[tuple[search_keys.TermKind, str]] = []
    if "@" in text:
        address = clean_email(text)
        if address:
            terms.append(("email", address))
        return terms
    digits = sum(char.isdigit() for char in text)
    if digits >= _MIN_PHONE_DIGITS and _PHONE.fullmatch(text):
        number = match_phone(text, region)
        if number:
            terms.append(("phone", number))
    if _DOMAIN.fullmatch(text):
        domain = registrable_domain(text)
        if domain:
            terms.append(("domain", domain))
    return terms


def _hits(connection: Connection, found: list[_Found], limit: int) -> list[SearchHit]:
    """The first ``limit`` golden records of ``found``, each once (its first reason), with
    their values, read by id."""
    first: dict[str, _Found] = {}
    for item in found:
        first.setdefault(item.golden_id, item)
    chosen = list(first.values())
    records: dict[str, dict[str, Any]] = {}
    for entity, prefix in (("account", "A-"), ("contact", "C-")):
        ids = [item.golden_id for item in chosen if item.golden_id.startswith(prefix)]
        if ids:
            for row in plain_rows(golden.golden_in(connection, Entity(entity), ids)):
                records[str(row["golden_id"])] = row
    hits = [_hit(item, records[item.golden_id]) for item in chosen if item.golden_id in records]
    return hits[:limit]


def _hit(item: _Found, record: dict[str, Any]) -> SearchHit:
    entity = Entity.ACCOUNT if item.golden_id.startswith("A-") else Entity.CONTACT
    return SearchHit(
        golden_id=item.golden_id,
        entity=entity,
        status=str(record["status"]),
        display_name=display_name(entity, record),
        values={name: _text(record.get(name)) for name in KEY_VALUES[entity]},
        matched_by=item.matched_by,
        matched=item.matched,
        why=item.why,
        resolved_from=item.resolved_from,
    )


def display_name(entity: Entity, record: dict[str, Any]) -> str | None:
    """An account's name; a contact's names (else its email)."""
    if entity is Entity.ACCOUNT:
        return _text(record.get("name"))
    names = [_text(record.get(name)) for name in ("first_name", "middle_name", "last_name")]
    joined = " ".join(name for name in names if name)
    return joined or _text(record.get("email"))


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
