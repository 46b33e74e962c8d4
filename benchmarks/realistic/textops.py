"""Small array helpers of the generator: picks, typos, phone and date spellings, slugs.

Values are numpy object arrays of ``str`` ("" for missing). Everything random takes the
caller's ``numpy.random.Generator``, so a seed fixes every value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

ObjectArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Neighbouring keys on a QWERTY keyboard: most substitutions hit one of them.
_NEIGHBOURS = {
    "a": "qsz", "b": "vgn", "c": "xvd", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht",
    "h": "gjy", "i": "uok", "j": "hku", "k": "jli", "l": "ko", "m": "nj", "n": "bmh",
    "o": "ipl", "p": "ol", "q": "wa", "r": "etf", "s": "adw", "t": "ryg", "u": "yij",
    "v": "cbf", "w": "qes", "x": "zcs", "y": "tuh", "z": "xa",
}  # fmt: skip


def frame_of(columns: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame whose text columns stay numpy object arrays (pandas would make them Arrow
    strings, whose every ``to_numpy`` and element write copies the column)."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object)
            if isinstance(values, np.ndarray) and values.dtype == object
            else values
            for name, values in columns.items()
        }
    )


def objects(values: Sequence[object] | npt.ArrayLike) -> ObjectArray:
    out = np.empty(len(values), dtype=object)  # type: ignore[arg-type]
    out[:] = list(values)  # type: ignore[arg-type]
    return out


def pick(
    rng: np.random.Generator, items: Sequence[str], n: int, weights: npt.ArrayLike | None = None
) -> ObjectArray:
    """``n`` items drawn with replacement (by ``weights`` when given)."""
    table = objects(items)
    if weights is None:
        return table[rng.integers(0, len(table), n)]
    p = np.asarray(weights, dtype=np.float64)
    return table[rng.choice(len(table), size=n, p=p / p.sum())]


def zipf_weights(n: int, exponent: float = 1.0, offset: float = 3.0) -> npt.NDArray[np.float64]:
    """Weights falling off like a Zipf law: the first items are the common ones."""
    weights = 1.0 / (np.arange(n, dtype=np.float64) + offset) ** exponent
    return weights / weights.sum()


def where(mask: BoolArray, a: ObjectArray | str, b: ObjectArray | str) -> ObjectArray:
    return np.where(mask, a, b).astype(object)


def join(*parts: ObjectArray | str, sep: str = " ") -> ObjectArray:
    """Row-wise join of the non-empty parts."""
    n = max(len(p) for p in parts if not isinstance(p, str))
    columns = [[p] * n if isinstance(p, str) else p for p in parts]
    return objects([sep.join(x for x in row if x) for row in zip(*columns, strict=True)])


def upper(values: ObjectArray) -> ObjectArray:
    return objects([v.upper() for v in values])


def lower(values: ObjectArray) -> ObjectArray:
    return objects([v.lower() for v in values])


def typo(value: str, draw: float, position: float, letter: float) -> str:
    """One keying error: a dropped, doubled, swapped or mistyped letter (never the first)."""
    if len(value) < 4:
        return value
    i = 1 + int(position * (len(value) - 2))
    ch = value[i]
    if not ch.isalpha():
        return value
    near = _NEIGHBOURS.get(ch.lower(), _LETTERS)
    wrong = near[int(letter * len(near))]
    wrong = wrong.upper() if ch.isupper() else wrong
    if draw < 0.3:
        return value[:i] + value[i + 1 :]
    if draw < 0.45:
        return value[:i] + ch + value[i:]
    if draw < 0.7 and value[i + 1 : i + 2].isalpha() and value[i + 1] != ch:
        return value[:i] + value[i + 1] + ch + value[i + 2 :]
    return value[:i] + wrong + value[i + 1 :]


def typos(rng: np.random.Generator, values: ObjectArray, mask: BoolArray) -> ObjectArray:
    """``values`` with one keying error where ``mask``."""
    out = values.copy()
    rows = np.flatnonzero(mask & (values != ""))
    draws = rng.random((len(rows), 3))
    out[rows] = [typo(values[r], *d) for r, d in zip(rows.tolist(), draws.tolist(), strict=True)]
    return out


def digits_typo(value: str, position: float, digit: int) -> str:
    """One wrong digit (or two neighbours swapped, when the new digit equals the old)."""
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    if not positions:
        return value
    i = positions[int(position * len(positions))]
    new = str(digit)
    if new == value[i]:
        j = i + 1 if i + 1 < len(value) and value[i + 1].isdigit() else i - 1
        if j < 0 or value[j] == value[i]:
            new = str((digit + 1) % 10)
        else:
            a, b = sorted((i, j))
            return value[:a] + value[b] + value[a] + value[b + 1 :]
    return value[:i] + new + value[i + 1 :]


# ---- phones -----------------------------------------------------------------------------------

PHONE_STYLES = 6  # how a phone number may be written


def phone_text(digits: ObjectArray, styles: IntArray, extensions: ObjectArray) -> ObjectArray:
    """Ten-digit US numbers written in ``styles``: (203) 555-0143, 203-555-0143,
    203.555.0143, +1 203 555 0143, 2035550143, 1-203-555-0143; an extension after it."""
    out = []
    for number, style, ext in zip(
        digits.tolist(), styles.tolist(), extensions.tolist(), strict=True
    ):
        if not number:
            out.append("")
            continue
        a, b, c = number[:3], number[3:6], number[6:]
        text = (
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"{a}.{b}.{c}",
            f"+1 {a} {b} {c}",
            number,
            f"1-{a}-{b}-{c}",
        )[style]
        if ext:
            text += (" ext ", " x", " ext. ", " #")[len(ext) % 4] + ext
        out.append(text)
    return objects(out)


def phone_numbers(rng: np.random.Generator, area_codes: ObjectArray) -> ObjectArray:
    """Random numbers in the given area codes: an exchange 201-989 (no N11) and a line."""
    n = len(area_codes)
    exchange = rng.integers(201, 990, n)
    exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)
    line = rng.integers(0, 10000, n)
    area = np.asarray(area_codes, dtype=object).astype(np.int64)
    number = area * 10_000_000 + exchange * 10_000 + line
    return number.astype(str).astype(object)


# ---- names and web ----------------------------------------------------------------------------

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=1 << 16)
def slug(text: str) -> str:
    """A company name as a domain label: "Smith & Sons Plumbing" -> "smithsonsplumbing"."""
    folded = text.lower().replace("&", " ").replace("'", "")
    for accent, plain in (("é", "e"), ("ü", "u"), ("ø", "o"), ("ñ", "n"), ("ë", "e")):
        folded = folded.replace(accent, plain)
    return _NOT_SLUG.sub("", folded)


def ascii_fold(text: str) -> str:
    for accent, plain in (("é", "e"), ("ü", "u"), ("ø", "o"), ("ñ", "n"), ("ë", "e"), ("'", "")):
        text = text.replace(accent, plain).replace(accent.upper(), plain.upper())
    return text


# ---- times ------------------------------------------------------------------------------------


def iso_seconds(seconds: IntArray) -> npt.NDArray[np.str_]:
    """'2024-03-05T14:22:10' for epoch seconds."""
    return np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")


def time_text(seconds: IntArray, style: str) -> ObjectArray:
    """Epoch seconds written as a system writes them; "" where seconds < 0 (unknown)."""
    iso = iso_seconds(np.maximum(seconds, 0)).tolist()
    known = (np.asarray(seconds) >= 0).tolist()
    if style == "salesforce":  # 2024-03-05T14:22:10.000Z
        out = [f"{t}.000Z" for t in iso]
    elif style == "iso":
        out = [f"{t}Z" for t in iso]
    elif style == "compact":  # 20240305142210
        out = [t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19] for t in iso]
    elif style == "us_date":  # 03/05/2024
        out = [f"{t[5:7]}/{t[8:10]}/{t[0:4]}" for t in iso]
    elif style == "de":  # 05.03.2024 14:22
        out = [f"{t[8:10]}.{t[5:7]}.{t[0:4]} {t[11:16]}" for t in iso]
    elif style == "epoch":
        out = [str(int(s)) for s in np.asarray(seconds).tolist()]
    else:
        raise ValueError(style)
    return objects([t if k else "" for t, k in zip(out, known, strict=True)])


def day_seconds(text: str) -> int:
    """Epoch seconds of an ISO date."""
    return int(np.datetime64(text, "s").astype(np.int64))
