"""Free text that people type (names, phone numbers, locations, notes): which characters it may not contain.

C0/C1 control characters but tab and line breaks, unpaired surrogates (they cannot be stored as UTF-8), and the
bidirectional overrides and isolates that make text read differently from what it is ("Trojan source").
PostgreSQL refuses NUL in text outright.
"""

from __future__ import annotations

import unicodedata

from .errors import InputError

BAD_CHARACTER_RULE = ("text without control characters (U+0000-U+001F but tab and line breaks, U+007F-U+009F), "
                      "unpaired surrogates or bidirectional overrides (U+202A-U+202E, U+2066-U+2069)")


def bad_character(text: str) -> str | None:
    """The first character of ``text`` that typed text may not contain, or None."""
    for ch in text:
        cat = unicodedata.category(ch)
        if (cat == "Cc" and ch not in "\t\n\r") or cat == "Cs" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069":
            return ch
    return None


def checked_text(field: str, value: str | None, *, max_length: int, one_line: bool = True) -> str | None:
    """``value`` stripped (``None`` if empty), or :class:`InputError` naming ``field`` if it holds a character
    :func:`bad_character` refuses, a line break where one line is expected, or more than ``max_length``
    characters (the store's column width)."""
    if value is None:
        return None
    text = value.strip()
    ch = bad_character(text)
    if ch is not None or (one_line and any(c in text for c in "\n\r")):
        what = "one line of " if one_line else ""
        raise InputError(field, value, f"{what}{BAD_CHARACTER_RULE}")
    if len(text) > max_length:
        raise InputError(field, f"{text[:40]}... ({len(text)} characters)", f"at most {max_length} characters")
    return text or None


def without_controls(text: str, *, keep: str = "\t\r\n") -> str:
    """``text`` for display or export with its control characters (and lone surrogates) left out: those in ``keep``
    stay, a spacing one (vertical tab, U+0085 ...) becomes a space, any other (NUL, ESC, BEL ...) goes."""
    return "".join(ch if ch in keep or unicodedata.category(ch) not in ("Cc", "Cs") else " " if ch.isspace() else ""
                   for ch in text)
