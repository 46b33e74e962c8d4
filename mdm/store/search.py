"""Search keys: the terms a steward finds a golden record by, read by index.

``search_key`` holds, per active golden record, the terms of its golden values (revision
0009):

* ``name``: an account's name and a contact's "first middle last", folded (``fold_terms``:
  lower case, accents and punctuation out, single spaces), each again from every later word
  on ("acme tools inc", "tools inc", "inc"), so that a prefix of any word of a name finds it;
  a contact's "first last" and "last first" too, so that both ways of writing a name do;
* ``email``: a contact's address (its display form is the lower-case address);
* ``phone``: phones and mobiles in E.164 (an extension left out);
* ``domain``: an account's registrable domain.

The run that writes a golden record writes its terms (``replace_search_keys``), in bulk, from
the values it has in memory; a merged or retired record loses them. A term is read by
equality or by prefix: a range of the primary key (kind, term), which compares bytes (see
``BYTEWISE_TEXT``), so a read never scans the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, false, select

from mdm.schema import Entity
from mdm.store.bulk import delete_in, insert_frame, read_frame, table_of
from mdm.store.tables import SearchKey, Xref

TermKind = Literal["name", "email", "phone", "domain"]
MAX_TERM: Final = 200  # characters of a term kept: a longer name is found by its start
MAX_WORDS: Final = 8  # a name is kept from each of its first words on, at most this many
COLUMNS = ["kind", "term", "golden_id"]
# The highest code point: a prefix followed by it is above every term with that prefix (UTF-8
# and the bytes of the "C" collation keep code point order).
_TOP: Final = "\U0010ffff"

# Apostrophes and dots join (O'Neill -> oneill, S.A. -> sa) as the match keys' fold does;
# anything else that is not a letter or a digit separates words.
_JOINERS: Final = r"['\x{2018}\x{2019}\x{02bc}`\x{00b4}.]"
_SEPARATORS: Final = r"[^\p{L}\p{N}]+"
# Letters without a decomposition, spelt with plain letters (as the match keys' fold does).
_FOLD_LETTERS: Final = {
    "\u00f8": "o",
    "\u00e6": "ae",
    "\u0153": "oe",
    "\u0142": "l",
    "\u0111": "d",
    "\u00f0": "d",
    "\u00fe": "th",
    "\u0131": "i",
    "\u0127": "h",
    "\u0167": "t",
}


def fold_terms(values: pd.Series) -> pd.Series:
    """Names as search terms, by the index of ``values``: Unicode-decomposed, lower case, marks
    (accents) out, apostrophes and dots out, other punctuation and runs of spaces as one
    space, trimmed; NA for none. Arrow compute over the whole column, no Python per value;
    a query is folded by the same function."""
    text = _arrow_text(values)
    text = pc.utf8_normalize(text, "NFKD")
    text = pc.utf8_lower(text)
    text = pc.replace_substring_regex(text, r"\p{Mn}", "")
    text = pc.replace_substring_regex(text, _JOINERS, "")
    text = pc.replace_substring_regex(text, _SEPARATORS, " ")
    text = pc.utf8_trim_whitespace(text)
    for letter, plain in _FOLD_LETTERS.items():
        text = pc.replace_substring(text, letter, plain)
    return _series(_none_if_empty(text), values.index)


def search_rows(entity: Entity, values: pd.DataFrame) -> pd.DataFrame:
    """kind, term, golden_id of the golden records ``values`` (golden values by attribute,
    index golden_id), distinct."""
    golden_ids = pd.Series(values.index.astype(str), index=values.index)
    parts: list[pd.DataFrame] = []
    if entity is Entity.ACCOUNT:
        parts.append(_name_rows(fold_terms(_column(values, "name")), golden_ids))
        parts.append(_rows("domain", _lower(_column(values, "domain")), golden_ids))
        parts.append(_rows("phone", _e164(_column(values, "phone")), golden_ids))
    else:
        first = fold_terms(_column(values, "first_name"))
        middle = fold_terms(_column(values, "middle_name"))
        last = fold_terms(_column(values, "last_name"))
        parts.append(_name_rows(_joined(first, middle, last), golden_ids))
        parts.append(_rows("name", _joined(first, last), golden_ids))
        parts.append(_rows("name", _joined(last, first), golden_ids))
        parts.append(_rows("email", _lower(_column(values, "email")), golden_ids))
        parts.append(_rows("phone", _e164(_column(values, "phone")), golden_ids))
        parts.append(_rows("phone", _e164(_column(values, "mobile")), golden_ids))
    rows = pd.concat(parts, ignore_index=True).drop_duplicates()
    # In primary-key order: a B-tree fills fastest from sorted rows.
    return rows.sort_values(COLUMNS, ignore_index=True)


def _column(values: pd.DataFrame, name: str) -> pd.Series:
    if name in values.columns:
        return values[name].astype("string")
    return pd.Series(pd.NA, index=values.index, dtype="string")


def _arrow_text(values: pd.Series) -> pa.Array:
    text = pa.array(values.astype("string"), type=pa.large_string())
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def _series(text: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(text.to_pandas().to_numpy(), index=index, dtype="string")


def _none_if_empty(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)


def _lower(values: pd.Series) -> pd.Series:
    text = pc.utf8_trim_whitespace(pc.utf8_lower(_arrow_text(values)))
    return _series(_none_if_empty(text), values.index)


def _e164(values: pd.Series) -> pd.Series:
    """The E.164 number a phone's display form starts with (NA for a number kept as given)."""
    found = pc.extract_regex(_arrow_text(values), r"^(?P<number>\+[0-9]{4,15})(?:$|\s)")
    return _series(pc.struct_field(found, "number"), values.index)


def _joined(*parts: pd.Series) -> pd.Series:
    """The parts present, joined by one space, row by row (NA when none is)."""
    arrays = [_arrow_text(part) for part in parts]
    # Missing parts as empty text, then the spaces they leave squeezed: pyarrow's own
    # null_handling="skip" drops the rows where every part is missing (pyarrow 26).
    joined = pc.binary_join_element_wise(
        *arrays, pa.scalar(" ", pa.large_string()), null_handling="replace", null_replacement=""
    )
    joined = pc.replace_substring_regex(joined, "  +", " ")
    return _series(_none_if_empty(pc.utf8_trim_whitespace(joined)), parts[0].index)


def _name_rows(names: pd.Series, golden_ids: pd.Series) -> pd.DataFrame:
    """A name's terms: the whole name, then from each later word on."""
    parts = []
    text = _arrow_text(names)
    for _ in range(MAX_WORDS):
        parts.append(_rows("name", _series(text, names.index), golden_ids))
        # The rest after the first word; none when there is no other word.
        spaced = pc.fill_null(pc.match_substring(text, " "), False)
        if not pc.any(spaced).as_py():
            break
        rest = pc.replace_substring_regex(text, r"^\S+ ", "", max_replacements=1)
        text = pc.if_else(spaced, rest, pa.scalar(None, pa.large_string()))
    return pd.concat(parts, ignore_index=True)


def _rows(kind: TermKind, terms: pd.Series, golden_ids: pd.Series) -> pd.DataFrame:
    present = terms.notna().to_numpy(dtype=bool)
    kept = terms[present].astype(str).str.slice(0, MAX_TERM)
    kept = kept[kept.str.len().to_numpy() > 0]
    return pd.DataFrame(
        {
            "kind": np.full(len(kept), kind, dtype=object),
            "term": kept.to_numpy(dtype=object),
            "golden_id": golden_ids.reindex(kept.index).to_numpy(dtype=object),
        }
    )


# ---- writing -----------------------------------------------------------------------------


def replace_search_keys(
    connection: Connection, entity: Entity, gone: Sequence[str], values: pd.DataFrame
) -> None:
    """The search keys of the golden ids ``gone`` (changed, merged or retired) are deleted;
    those of ``values`` (the golden values of the records written, index golden_id) are
    written."""
    delete_in(connection, SearchKey, "golden_id", list(gone))
    # By term: the index by golden id takes them in random order.
    insert_frame(connection, SearchKey, search_rows(entity, values), indexes_after=True)


# ---- reading by index -------------------------------------------------------------------------


def find_terms(
    connection: Connection, kind: TermKind, term: str, *, prefix: bool, limit: int
) -> pd.DataFrame:
    """golden_id, term of the search keys of ``kind`` equal to ``term`` (or, ``prefix``,
    starting with it), by term, at most ``limit``: one range of the primary key."""
    table = table_of(SearchKey)
    statement = select(table.c.golden_id, table.c.term).where(table.c.kind == kind)
    if prefix:
        statement = statement.where(table.c.term >= term, table.c.term < term + _TOP)
    else:
        statement = statement.where(table.c.term == term)
    statement = statement.order_by(table.c.term, table.c.golden_id).limit(limit)
    return read_frame(connection, statement)


def xref_sources(connection: Connection) -> list[str]:
    """The sources with a live record, each found by one seek of xref's primary key (a loose
    index scan), not by reading xref."""
    xref = table_of(Xref).name
    found = connection.exec_driver_sql(
        f"WITH RECURSIVE s(source) AS ("
        f" SELECT MIN(source) FROM {xref}"
        f" UNION ALL SELECT (SELECT MIN(source) FROM {xref} WHERE source > s.source)"
        " FROM s WHERE s.source IS NOT NULL"
        ") SELECT source FROM s WHERE source IS NOT NULL"
    )
    return [str(row[0]) for row in found]


def xref_of_source_keys(
    connection: Connection, sources: Sequence[str], source_key: str
) -> pd.DataFrame:
    """source, source_key, entity, golden_id of the live records called ``source_key`` in any
    of ``sources``: seeks of xref's primary key."""
    table = table_of(Xref)
    statement = select(table.c.source, table.c.source_key, table.c.entity, table.c.golden_id)
    if not sources:
        return read_frame(connection, statement.where(false()))
    statement = statement.where(
        table.c.source.in_(list(sources)), table.c.source_key == source_key
    ).order_by(table.c.source)
    return read_frame(connection, statement)
