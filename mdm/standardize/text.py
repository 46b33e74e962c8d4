"""Text primitives every kind builds on: a cell as text, whitespace collapsed, the folded key."""

from __future__ import annotations

import re
import unicodedata

# Control characters split words (a NUL between names is a separator); invisible format
# characters that sneak in from copy-paste are dropped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Apostrophes and dots join (O'Neill -> oneill, S.A. -> sa); other punctuation separates.
_JOINERS = re.compile(r"['\u2018\u2019\u02bc`\u00b4.]")
_NON_WORD = re.compile(r"[\W_]+")
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


def as_text(value: object) -> str:
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


def collapse(text: str) -> str:
    """Trimmed, control characters out, runs of whitespace as one space."""
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
    return " ".join(_CONTROL.sub(" ", text).split())


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
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


def none_if_empty(text: str) -> str | None:
    return text or None


def letter_count(text: str) -> int:
    return sum(char.isalpha() for char in text)


def match_plain(text: str) -> str | None:
    """The folded text itself: the key of kinds without noise words to remove."""
    return none_if_empty(fold(text))
