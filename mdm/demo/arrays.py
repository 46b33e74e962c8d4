"""Small helpers over whole arrays of values: random picks, keys, timestamps, typos."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from mdm.demo.shares import DAY, DUPLICATE_NOISE, WINDOW_SECONDS, WINDOW_START
from mdm.demo.vocabulary import TRANSLITERATIONS

Strs = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


# ---- small array helpers --------------------------------------------------------------------


def strs(values: Sequence[Any] | npt.NDArray[Any]) -> Strs:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def pick_from(rng: np.random.Generator, options: Sequence[str], n: int) -> Strs:
    return strs(options)[rng.integers(0, len(options), size=n)]


def chance(rng: np.random.Generator, p: float | npt.NDArray[np.float64], n: int) -> Bools:
    return rng.random(n) < p


def noisy(p: float, dup: Bools) -> npt.NDArray[np.float64]:
    """Per-row probability: duplicates (re-keyed by someone else, later) are noisier."""
    return np.minimum(np.where(dup, p * DUPLICATE_NOISE, p), 0.9)


def digit_strings(rng: np.random.Generator, n: int, length: int, first: str = "123456789") -> Strs:
    """Random digit strings whose first digit is one of ``first`` (never a trunk "0")."""
    codes = rng.integers(ord("0"), ord("9") + 1, size=(n, length), dtype=np.uint8)
    allowed = np.frombuffer(first.encode(), dtype=np.uint8)
    codes[:, 0] = allowed[rng.integers(0, len(allowed), size=n)]
    return strs(np.ascontiguousarray(codes).view(f"S{length}").ravel().astype(str))


def sequential_keys(prefix: str, start: int, n: int, width: int) -> Strs:
    # Systems number records in creation order; a file sorted by key is in that order too.
    return strs([f"{prefix}{start + i:0{width}d}" for i in range(n)])


def timestamps(rng: np.random.Generator, n: int, latest_days: int = 0) -> Ints:
    """Seconds since the window start, leaving ``latest_days`` free at its end."""
    return rng.integers(0, WINDOW_SECONDS - latest_days * DAY, size=n, dtype=np.int64)


def iso_seconds(offsets: Ints) -> Strs:
    stamps = np.datetime_as_string(WINDOW_START + offsets.astype("timedelta64[s]"), unit="s")
    return strs([f"{stamp}Z" for stamp in stamps])


def iso_dates(offsets: Ints) -> Strs:
    return strs(np.datetime_as_string(WINDOW_START + offsets.astype("timedelta64[s]"), unit="D"))


def _duplicate_count(rows: int, rate: float) -> int:
    """Extra rows such that ``rate`` of all rows repeat an entity already present."""
    return round(rows * rate / (1 - rate))


def entity_rows(rng: np.random.Generator, present: Bools, rate: float) -> tuple[Ints, Bools]:
    """Entity index per row (each present entity once, plus duplicates), in shuffled order."""
    first = np.flatnonzero(present).astype(np.int64)
    extra_count = _duplicate_count(len(first), rate) if len(first) else 0
    extra = rng.choice(first, size=extra_count) if extra_count else first[:0]
    rows = np.concatenate([first, extra])
    dup = np.concatenate([np.zeros(len(first), bool), np.ones(len(extra), bool)])
    order = rng.permutation(len(rows))
    return rows[order], dup[order]


# ---- text helpers ---------------------------------------------------------------------------


# Names come from a small vocabulary: caching makes these per-row helpers cheap at scale.
@lru_cache(maxsize=1 << 16)
def fold_accents(text: str) -> str:
    """Accents dropped, as an ASCII keyboard or system writes a name: "José" -> "Jose"."""
    text = text.replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 16)
def transliterate(text: str) -> str:
    """German umlauts written out, then any other accent dropped: "Müller" -> "Mueller"."""
    return fold_accents("".join(TRANSLITERATIONS.get(c, c) for c in text))


@lru_cache(maxsize=1 << 16)
def ascii_token(text: str, german: bool) -> str:
    """Lower-case letters and digits only, for domains and mailbox names."""
    plain = transliterate(text) if german else fold_accents(text)
    return "".join(c for c in plain.lower() if c.isascii() and (c.isalnum() or c == "-"))


def with_typos(rng: np.random.Generator, values: Strs) -> Strs:
    """One keying error per value: a dropped, doubled, swapped or wrong letter."""
    kinds = rng.integers(0, 4, size=len(values))
    spots = rng.random(len(values))
    letters = pick_from(rng, "abcdefghiklmnoprstu", len(values))
    out = []
    for text, kind, spot, letter in zip(values, kinds, spots, letters, strict=True):
        if len(text) < 4:
            out.append(text)
            continue
        i = 1 + int(spot * (len(text) - 2))  # keep the first letter: people rarely miss it
        if kind == 0:
            out.append(text[:i] + text[i + 1 :])
        elif kind == 1:
            out.append(text[:i] + text[i] + text[i:])
        elif kind == 2:
            out.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])
        else:
            out.append(text[:i] + letter + text[i + 1 :])
    return strs(out)
