"""core.text: what typed text may hold, and text with its control characters left out (hand-worked cases)."""

from __future__ import annotations

import pytest

from osteocare.core.errors import InputError
from osteocare.core.text import bad_character, checked_text, without_controls


def test_control_characters_are_left_out_and_spacing_ones_become_spaces() -> None:
    assert without_controls("a\x00b\x1b[31m\x85c\td\re\nf\ud800") == "ab[31m c\td\re\nf"
    assert without_controls("line\rover", keep="\n\t") == "line over"  # a terminal report keeps no CR
    assert without_controls("Nguyễn Thị 🦴") == "Nguyễn Thị 🦴"


def test_typed_text_refuses_controls_and_bidi_overrides_and_fits_its_column() -> None:
    assert bad_character("Lê\u202eAdmin") == "\u202e" and bad_character("tab\tok") is None
    assert checked_text("phone", "  0912  ", max_length=40) == "0912"
    assert checked_text("phone", "   ", max_length=40) is None
    with pytest.raises(InputError, match=r"^given_name: .*at most 5 characters"):
        checked_text("given_name", "abcdef", max_length=5)
    with pytest.raises(InputError, match=r"^location: .*one line"):
        checked_text("location", "a\nb", max_length=50)
