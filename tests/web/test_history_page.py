"""Registering a patient and keeping the clinical history in the web app: saved and shown on the patient page,
refused field by field, never overwriting a change someone else saved in between, and in Vietnamese."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from osteocare.services.history import HISTORY_FIELDS, history_of
from osteocare.services.patients import get_patient, phone_of
from osteocare.web.history import _CHOICES, GROUPS, IDENTITY_CHANGED, LABELS
from osteocare.web.translations.vi_source import VI

from .conftest import browser_for, csrf_of


def _form_of(page: str) -> dict[str, str]:
    """The history form as the browser would post it: every field's shown value (checked boxes only)."""
    out = {"csrf_token": csrf_of(page), "version": re.search(r'name="version" value="([^"]*)"', page)[1]}  # type: ignore[index]
    for name, value in re.findall(r'<input name="([a-z0-9_]+)" inputmode="decimal" value="([^"]*)"', page):
        out[name] = html.unescape(value)
    for name, value in re.findall(r'<input name="([a-z0-9_]+)" value="([^"]*)"', page):
        out[name] = html.unescape(value)
    for name in re.findall(r'<input type="checkbox" name="([a-z0-9_]+)" value="1" checked', page):
        out[name] = "1"
    for name, options in re.findall(r'<select name="([a-z0-9_]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        out[name] = chosen[1] if chosen else ""
    return out


def _register(b: TestClient, rid: str, **fields: str) -> Any:
    page = b.get("/new-patient")
    assert page.status_code == 200
    data = {"csrf_token": csrf_of(page.text), "record_id": rid, "given_name": "Mai", "family_name": "Tran",
            "sex": "female", "birth_date": "1953-04-02", **fields}
    return b.post("/new-patient", data=data)


def test_a_nurse_registers_a_patient_then_records_the_history_which_the_patient_page_shows(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    r = _register(b, "WEB-H-1")
    assert r.status_code == 303 and r.headers["location"] == "/patients/WEB-H-1/history?new=1"
    clinic = app.state.clinic
    p = get_patient(clinic, "WEB-H-1")
    assert (p.given_name, p.family_name, p.sex, str(p.birth_date)) == ("Mai", "Tran", "female", "1953-04-02")
    page = b.get(r.headers["location"]).text
    assert "Patient registered." in page
    form = _form_of(page)
    assert set(HISTORY_FIELDS) - set(form) <= {f for f in HISTORY_FIELDS if form.get(f) is None}
    form.update({"weight_kg": "48,5", "height_cm": "151", "smoking": "ex_smoker", "ra_sle": "1",
                 "corticosteroids": "1", "glucocorticoid_mg_per_day": "7.5", "glucocorticoid_months": "6",
                 "frax_mof_percent": "18", "frax_hip_percent": "4.2", "frax_country": "Vietnam",
                 "frax_with_bmd": "no", "menopausal_status": "postmenopausal"})
    r = b.post("/patients/WEB-H-1/history", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/patients/WEB-H-1?done=history#history", r.text[:400]
    v = history_of(clinic, "WEB-H-1").values
    assert (v["weight_kg"], v["height_cm"], v["smoking"], v["ra_sle"], v["corticosteroids"], v["falls"]) == (
        48.5, 151.0, "ex_smoker", True, True, False)
    assert (v["glucocorticoid_mg_per_day"], v["frax_mof_percent"], v["frax_hip_percent"], v["frax_with_bmd"]) == (
        7.5, 18.0, 4.2, False)
    shown = b.get("/patients/WEB-H-1").text
    card = html.unescape(re.sub(r"\s+", " ", shown[shown.index('data-testid="history"'):]))
    card = card[:card.index("</dl>")]
    assert "48.5 kg · 151 cm" in card and "Ex-smoker" in card
    assert "Corticosteroid use; Rheumatoid arthritis or SLE" in card
    assert "major osteoporotic 18.0 % · hip 4.2 % · Vietnam" in card
    # unticking a box saves "no" (an unticked checkbox is not sent at all)
    form = _form_of(b.get("/patients/WEB-H-1/history").text)
    del form["ra_sle"]
    assert b.post("/patients/WEB-H-1/history", data=form).status_code == 303
    assert history_of(clinic, "WEB-H-1").values["ra_sle"] is False


def test_bad_values_come_back_on_the_form_naming_the_field_and_nothing_is_saved(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    assert _register(b, "WEB-H-2").status_code == 303
    clinic = app.state.clinic
    before = history_of(clinic, "WEB-H-2")
    for change, field in (({"weight_kg": "heavy"}, "weight_kg"),
                          ({"weight_kg": "nan"}, "weight_kg"),
                          ({"frax_mof_percent": "5", "frax_hip_percent": "9"}, "frax_hip_percent"),
                          ({"smoking": "sometimes"}, "smoking"),
                          ({"glucocorticoid_months": "1200"}, "glucocorticoid_months")):
        form = {**_form_of(b.get("/patients/WEB-H-2/history").text), "ra_sle": "1", **change}
        r = b.post("/patients/WEB-H-2/history", data=form)
        assert r.status_code == 422, (change, r.status_code)
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', r.text), (change, field)
        assert f'data-field="{field}"' in r.text
        # what was typed is shown again, to be corrected
        assert 'name="ra_sle" value="1" checked' in r.text
        assert history_of(clinic, "WEB-H-2") == before


def test_a_change_saved_by_someone_else_in_between_is_not_overwritten(app) -> None:  # type: ignore[no-untyped-def]
    doctor, nurse = browser_for(app, "doctor"), browser_for(app, "nurse")
    assert _register(doctor, "WEB-H-3").status_code == 303
    nurse_form = _form_of(nurse.get("/patients/WEB-H-3/history").text)
    doctor_form = _form_of(doctor.get("/patients/WEB-H-3/history").text)
    assert doctor.post("/patients/WEB-H-3/history", data={**doctor_form, "cvd": "1"}).status_code == 303
    r = nurse.post("/patients/WEB-H-3/history", data={**nurse_form, "weight_kg": "61", "height_cm": "158"})
    assert r.status_code == 409
    assert "Someone else changed this history after you opened it." in html.unescape(r.text)
    unsaved = r.text[r.text.index('data-testid="unsaved"'):]
    unsaved = unsaved[:unsaved.index("</div>")]
    assert "Weight (kg): <strong>61</strong>" in unsaved and "Height (cm): <strong>158</strong>" in unsaved
    assert "Cardiovascular" not in unsaved
    assert 'name="cvd" value="1" checked' in r.text  # the form now shows what is stored
    v = history_of(app.state.clinic, "WEB-H-3").values
    assert v["cvd"] is True and v["weight_kg"] is None
    # on the form as it came back, the nurse's change goes through
    again = {**_form_of(r.text), "weight_kg": "61", "height_cm": "158"}
    r = nurse.post("/patients/WEB-H-3/history", data=again)
    assert r.status_code == 303, re.findall(r'class="field-error"[^>]*>([^<]*)', r.text)
    assert history_of(app.state.clinic, "WEB-H-3").values["weight_kg"] == 61.0


@pytest.mark.parametrize(("fields", "field", "status"), [
    ({"record_id": "A/1"}, "record_id", 422),
    ({"record_id": ""}, "record_id", 422),
    ({"sex": "x"}, "sex", 422),
    ({"birth_date": "2999-01-01"}, "birth_date", 422),
    ({"birth_date": ""}, "birth_date", 422),
    ({"birth_date": "", "age": "old"}, "age", 422),
    ({"birth_date": "", "age": "\u00b2"}, "age", 422),  # a superscript two: a digit to str.isdigit, not to int()
    ({"birth_date": "", "age": "\u0661\u0662"}, "age", 422),  # Arabic-Indic digits
    ({"birth_date": "1953-04-02", "age": "50"}, "age", 422),  # both typed, and they disagree
])
def test_registering_refuses_bad_fields_by_name(app, fields: dict[str, str], field: str, status: int) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    r = _register(b, "WEB-BAD-1", **fields)
    assert r.status_code == status, r.text[:300]
    assert f'data-field="{field}"' in r.text, r.text[r.text.find("field-error") - 200:][:600]
    with pytest.raises(Exception, match="no patient"):
        get_patient(app.state.clinic, fields.get("record_id") or "WEB-BAD-1")


def test_registering_refuses_hidden_characters_naming_the_field(app) -> None:  # type: ignore[no-untyped-def]
    r = _register(browser_for(app, "nurse"), "WEB-BAD-2", given_name="Mai\u202e")
    assert r.status_code == 422 and "given_name" in r.text
    with pytest.raises(Exception, match="no patient"):
        get_patient(app.state.clinic, "WEB-BAD-2")


def test_registering_an_id_in_use_is_refused_on_its_field(app, records) -> None:  # type: ignore[no-untyped-def]
    r = _register(browser_for(app, "nurse"), records["patient"])
    assert r.status_code == 409 and 'data-field="record_id"' in r.text and "already exists" in r.text


def test_registering_with_an_age_but_no_birth_date(app) -> None:  # type: ignore[no-untyped-def]
    r = _register(browser_for(app, "doctor"), "WEB-H-4", birth_date="", age="67", sex="male")
    assert r.status_code == 303
    p = get_patient(app.state.clinic, "WEB-H-4")
    assert (p.age, p.birth_date, p.sex) == (67, None, "male")


def test_every_label_choice_and_section_of_the_history_has_a_vietnamese_translation(app, records) -> None:  # type: ignore[no-untyped-def]
    wanted = {*LABELS.values(), *(t for t, _ in GROUPS), *(v for d in _CHOICES.values() for v in d.values())}
    assert not sorted(w for w in wanted if w not in VI)
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    page = b.get(f"/patients/{records['patient']}/history").text
    assert "Tiền sử lâm sàng" in page and "Viêm khớp dạng thấp hoặc lupus ban đỏ hệ thống" in page
    for english in ("Rheumatoid arthritis", "Body measures", "Heavy smoker", "Save clinical history"):
        assert english not in page, english


def test_the_falls_screen_is_recorded_on_its_page_and_shown_on_the_patient_page(app) -> None:  # type: ignore[no-untyped-def]
    from osteocare.services.history import falls_screen_of

    b = browser_for(app, "nurse")
    assert _register(b, "WEB-FS-1").status_code == 303
    page = b.get("/patients/WEB-FS-1").text
    card = html.unescape(re.sub(r"\s+", " ", page[page.index('data-testid="history"'):]))
    assert "Falls screen</dt><dd>not done</dd>" in card
    page = b.get("/patients/WEB-FS-1/falls-screen").text
    assert "Do you feel unsteady when standing or walking?" in page and "status: unverified" in page
    r = b.post("/patients/WEB-FS-1/falls-screen", data={
        "csrf_token": csrf_of(page), "q_fallen_past_year": "no", "q_unsteady": "yes", "q_worries": "",
        "brochure": "1", "b_cane_or_walker": "1", "b_worried": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/patients/WEB-FS-1?done=history#history"
    screen = falls_screen_of(app.state.clinic, "WEB-FS-1")
    assert screen.key_questions == {"fallen_past_year": False, "unsteady": True}
    assert screen.brochure_items == ["cane_or_walker", "worried"]
    page = b.get("/patients/WEB-FS-1").text
    card = html.unescape(re.sub(r"\s+", " ", page[page.index('data-testid="history"'):]))
    assert ("Falls screen</dt><dd>at risk: Do you feel unsteady when standing or walking? · brochure: 2 statements "
            "answered yes</dd>") in card
    # the form shows what is recorded; a brochure not filled in is None (not an empty list)
    page = b.get("/patients/WEB-FS-1/falls-screen").text
    assert re.search(r'name="q_unsteady">.*?<option value="yes" selected>', page, re.S)
    r = b.post("/patients/WEB-FS-1/falls-screen", data={"csrf_token": csrf_of(page), "q_worries": "no"})
    assert r.status_code == 303
    screen = falls_screen_of(app.state.clinic, "WEB-FS-1")
    assert screen.key_questions == {"worries": False} and screen.brochure_items is None
    # unknown answers and ids are refused on the form; nothing changes
    for data in ({"q_worries": "maybe"}, {"q_dizzy": "yes"}, {"brochure": "1", "b_juggles": "1"}):
        r = b.post("/patients/WEB-FS-1/falls-screen", data={"csrf_token": csrf_of(page), **data})
        assert r.status_code == 422, data
        assert 'class="field-error"' in r.text
    assert falls_screen_of(app.state.clinic, "WEB-FS-1") == screen


def test_an_empty_falls_screen_post_changes_nothing(app) -> None:  # type: ignore[no-untyped-def]
    from osteocare.services.history import falls_screen_of, set_falls_screen

    b = browser_for(app, "doctor")
    assert _register(b, "WEB-FS-2").status_code == 303
    set_falls_screen(app.state.clinic, "WEB-FS-2", key_questions={"worries": True}, brochure_items=None)
    before = falls_screen_of(app.state.clinic, "WEB-FS-2")
    r = b.post("/patients/WEB-FS-2/falls-screen", data={"csrf_token": csrf_of(b.get("/ask").text)})
    assert r.status_code == 422 and falls_screen_of(app.state.clinic, "WEB-FS-2") == before


def test_the_identity_is_corrected_from_the_history_page(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    assert _register(b, "WEB-ID-1", phone="0912 345 678").status_code == 303
    page = b.get("/patients/WEB-ID-1/history").text
    assert 'name="phone" type="tel" value="0912 345 678"' in page and 'value="1953-04-02"' in page
    version = re.search(r'name="identity_version" value="([0-9a-f]+)"', page)
    assert version
    data = {"csrf_token": csrf_of(page), "given_name": "Mai", "family_name": "Trần", "sex": "female",
            "birth_date": "1953-04-12", "age": "", "phone": "0912 345 679", "identity_version": version.group(1)}
    r = b.post("/patients/WEB-ID-1/identity", data=data)
    assert r.status_code == 303 and r.headers["location"] == "/patients/WEB-ID-1?done=identity&recheck=1"
    p = get_patient(app.state.clinic, "WEB-ID-1")
    assert (p.family_name, str(p.birth_date)) == ("Trần", "1953-04-12")
    r = b.post("/patients/WEB-ID-1/identity", data={**data, "birth_date": "2999-01-01"})
    assert r.status_code == 422 and re.search(r'name="birth_date"[^>]*aria-invalid="true"', r.text)
    assert '<details id="identity" open>' in r.text and 'value="2999-01-01"' in r.text
    assert str(get_patient(app.state.clinic, "WEB-ID-1").birth_date) == "1953-04-12"


def test_an_identity_corrected_by_someone_else_in_between_is_not_overwritten(app) -> None:  # type: ignore[no-untyped-def]
    nurse, doctor = browser_for(app, "nurse"), browser_for(app, "doctor")
    assert _register(nurse, "WEB-ID-2").status_code == 303
    seen_by_nurse, seen_by_doctor = (b.get("/patients/WEB-ID-2/history").text for b in (nurse, doctor))
    base = {"given_name": "Mai", "family_name": "Tran", "sex": "female", "birth_date": "1953-04-02", "age": "",
            "phone": ""}

    def post(b, page, **change):  # type: ignore[no-untyped-def]
        version = re.search(r'name="identity_version" value="([0-9a-f]+)"', page)
        assert version
        return b.post("/patients/WEB-ID-2/identity", data={**base, **change, "csrf_token": csrf_of(page),
                                                           "identity_version": version.group(1)})

    assert post(doctor, seen_by_doctor, family_name="Trần").status_code == 303
    r = post(nurse, seen_by_nurse, phone="0912 000 111")
    assert r.status_code == 409
    assert "Someone else corrected this identity after you opened the form; nothing was saved." in html.unescape(r.text)
    assert 'value="Trần"' in r.text  # the form shows what is stored now
    p = get_patient(app.state.clinic, "WEB-ID-2")
    assert p.family_name == "Trần" and phone_of(app.state.clinic, "WEB-ID-2") is None
    assert post(nurse, r.text, family_name="Trần", phone="0912 000 111").status_code == 303  # again, on what is stored
    assert phone_of(app.state.clinic, "WEB-ID-2") == "0912 000 111"
    assert IDENTITY_CHANGED in VI


def test_a_birth_date_typed_beside_the_age_the_form_showed_replaces_that_age(app) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    assert _register(b, "WEB-ID-3", birth_date="", age="67").status_code == 303
    page = b.get("/patients/WEB-ID-3/history").text
    assert 'name="age" inputmode="numeric" value="67"' in page and 'name="age_shown" value="67"' in page
    version = re.search(r'name="identity_version" value="([0-9a-f]+)"', page)
    assert version
    data = {"csrf_token": csrf_of(page), "identity_version": version.group(1), "age_shown": "67", "given_name": "Mai",
            "family_name": "Tran", "sex": "female", "birth_date": "1950-02-03", "age": "67", "phone": ""}
    r = b.post("/patients/WEB-ID-3/identity", data=data)
    assert r.status_code == 303, r.text[:300]
    assert str(get_patient(app.state.clinic, "WEB-ID-3").birth_date) == "1950-02-03"
