"""The falls screen form after the advice review: brochure statements ticked without the box saying the patient
filled in the brochure are refused (422, the box named, in English and Vietnamese), never thrown away; the screen's
date is stored and shown; a partly answered screen and a recent fall read as the STEADI key questions say
(treatment.md 8.1: any yes - at risk; knowledge steadi: a fall within 12 months is a yes)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from osteocare.core.assessment import assess
from osteocare.core.records import parse_record
from osteocare.services.entries import add_entry
from osteocare.services.history import falls_screen_of
from osteocare.services.patients import add_patient, get_record

from .conftest import browser_for, csrf_of


def _patient(app: Any, rid: str) -> None:
    add_patient(app.state.clinic, parse_record({"id": rid, "sex": "female", "age": 72,
                                                "menopausal_status": "postmenopausal"}))


def _post(b: Any, rid: str, **data: str) -> Any:
    page = b.get(f"/patients/{rid}/falls-screen").text
    form = {"csrf_token": csrf_of(page), "q_fallen_past_year": "", "q_unsteady": "", "q_worries": "", **data}
    return b.post(f"/patients/{rid}/falls-screen", data=form)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"\s+", " ", page)))


def test_brochure_statements_without_the_brochure_box_are_refused_naming_the_box(own_app) -> None:  # type: ignore[no-untyped-def]
    _patient(own_app, "FFR-1")
    b = browser_for(own_app, "doctor")
    before = falls_screen_of(own_app.state.clinic, "FFR-1")
    r = _post(b, "FFR-1", q_worries="no", b_cane_or_walker="1", b_fallen_past_year="1")
    assert r.status_code == 422
    assert 'data-field="brochure"' in r.text and "The patient filled in the brochure" in _text(r.text)
    assert "Nothing was saved" in _text(r.text)
    assert falls_screen_of(own_app.state.clinic, "FFR-1") == before  # nothing stored
    # the form keeps what was sent (the statements and the answer), the brochure box left as it was: unticked
    assert re.search(r'name="b_cane_or_walker" value="1" checked', r.text)
    assert not re.search(r'name="brochure" value="1" checked', r.text)
    assert re.search(r'name="q_worries">.*?<option value="no" selected>', r.text, re.S)
    # with the box ticked it is recorded
    r = _post(b, "FFR-1", q_worries="no", brochure="1", b_cane_or_walker="1", b_fallen_past_year="1")
    assert r.status_code == 303
    assert falls_screen_of(own_app.state.clinic, "FFR-1").brochure_items == ["cane_or_walker", "fallen_past_year"]


def test_the_refusal_reads_in_vietnamese(own_app) -> None:  # type: ignore[no-untyped-def]
    _patient(own_app, "FFR-2")
    b = browser_for(own_app, "doctor")
    b.get("/lang/vi")
    r = _post(b, "FFR-2", b_worried="1")
    assert r.status_code == 422
    text = _text(r.text)
    assert "Bệnh nhân đã điền tờ hướng dẫn" in text and "Chưa có gì được lưu" in text
    assert "Nothing was saved" not in text


def test_the_screen_date_is_stored_and_shown(own_app) -> None:  # type: ignore[no-untyped-def]
    _patient(own_app, "FFR-3")
    b = browser_for(own_app, "nurse")
    clinic = own_app.state.clinic
    assert falls_screen_of(clinic, "FFR-3").answered_on is None
    assert 'data-testid="screen-date"' not in b.get("/patients/FFR-3/falls-screen").text  # no screen: no date
    assert _post(b, "FFR-3", q_fallen_past_year="no", q_unsteady="no", q_worries="no").status_code == 303
    seen = falls_screen_of(clinic, "FFR-3")
    assert seen.answered_on == clinic.today() and seen.age_days == 0
    page = _text(b.get("/patients/FFR-3/falls-screen").text)
    assert "Last recorded on" in page and "(0 days ago)" in page


def test_a_partly_answered_screen_is_not_negative_and_a_fall_20_days_ago_makes_it_positive(own_app) -> None:  # type: ignore[no-untyped-def]
    """The reviewer's web scenario (repro web_falls.py) through the store: the screen, then a fall entry."""
    _patient(own_app, "FFR-4")
    clinic = own_app.state.clinic
    b = browser_for(own_app, "doctor")

    def falls() -> tuple[str, str]:
        life = (assess(get_record(clinic, "FFR-4"), as_of=clinic.today()).recommendation or {})["lifestyle"]
        return life["falls_screen"], " | ".join(i["text"] for i in life["items"] if i["topic"] == "falls")

    assert _post(b, "FFR-4", q_worries="no").status_code == 303
    state, text = falls()
    assert state != "negative" and "negative" not in text and "Have you fallen in the past year?" in text
    assert _post(b, "FFR-4", q_fallen_past_year="no", q_unsteady="no", q_worries="no").status_code == 303
    assert falls()[0] == "negative"
    day = clinic.today() - dt.timedelta(days=20)
    add_entry(clinic, "FFR-4", "fall", {"date": day.isoformat(), "injurious": True})
    state, text = falls()
    assert state == "positive" and day.isoformat() in text
