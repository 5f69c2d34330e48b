"""A record id written with a look-alike of another (a full-width digit, a letter decomposed as NFD, a ligature)
would be a second patient: it is refused, naming the plain form (a review stored ``HN-ca4b-1`` and ``HN-ca4b-１``,
and the NFC and NFD spellings of ``HN-ca4b-Bùi``, as four patients)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.errors import InputError
from osteocare.core.records import check_record_id


@pytest.mark.parametrize(("given_id", "plain"), [
    ("HN-ca4b-\uff11", "HN-ca4b-1"),
    (unicodedata.normalize("NFD", "HN-ca4b-Bùi"), "HN-ca4b-Bùi"),
    ("\ufb01le-7", "file-7"),
])
def test_a_look_alike_id_is_refused_naming_its_plain_form(given_id: str, plain: str) -> None:
    with pytest.raises(InputError) as exc:
        check_record_id(given_id)
    assert exc.value.field == "id" and repr(plain) in exc.value.allowed


def test_vietnamese_ids_in_their_usual_form_are_kept() -> None:
    for v in ("HN-Nguyễn-Thị-Ánh-1", "BN 2024/ab".replace("/", "-"), "DEMO-0001"):
        assert check_record_id(v) == v


@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Pd"]), min_size=1, max_size=20))
def test_no_two_accepted_ids_look_alike(text: str) -> None:
    """Whatever is accepted is its own NFKC form, so two accepted ids that normalise alike are the same string."""
    try:
        v = check_record_id(text)
    except InputError:
        return
    assert unicodedata.normalize("NFKC", v) == v
