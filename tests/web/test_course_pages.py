"""The course forms of the patient page say what the change said (a review found every warning of a dose, a course
start and a stop thrown away by the redirect): carried by a signed token bound to the session and the patient.
The dose form shows the checks due before each open dose; a reaction's outcome can be changed through the API."""

from __future__ import annotations

import datetime as dt
import html
import re

from osteocare.core.records import PatientRecord
from osteocare.services.courses import start_course
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient
from osteocare.services.reactions import record_reaction

from .conftest import browser_for, csrf_of


def _patient_with_low_calcium(app, rid: str) -> int:  # type: ignore[no-untyped-def]
    """A woman on denosumab whose calcium, two days ago, is 1.75 mmol/L against the laboratory's 2.1-2.6."""
    c = app.state.clinic
    add_patient(c, PatientRecord.model_validate({"id": rid, "sex": "female", "age": 70, "weight_kg": 55.0,
                                                 "height_cm": 155.0, "menopausal_status": "postmenopausal",
                                                 "femoral_neck_t_score": -2.8}))
    day = c.today() - dt.timedelta(days=2)
    add_lab(c, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(c, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)
    add_lab(c, rid, name="calcium", value=1.75, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    return start_course(c, rid, "denosumab").id


def _said(page: str) -> str:
    found = page[page.index('data-testid="said"'):]
    return html.unescape(re.sub(r"<[^>]+>", " ", found[:found.index("</div>")]))


def test_the_dose_form_shows_the_pre_dose_checks_and_a_low_calcium_holds_the_dose_back(app) -> None:  # type: ignore[no-untyped-def]
    rid = "WEB-CP-1"
    _patient_with_low_calcium(app, rid)
    today = app.state.clinic.today().isoformat()
    nurse = browser_for(app, "nurse")
    page = nurse.get(f"/patients/{rid}").text
    item = re.search(r'name="item_id"[^>]*><option value="(\d+)"', page)
    assert item, "no open dose"
    box = html.unescape(re.sub(r"\s+", " ", page[page.index(f'data-testid="predose-{item.group(1)}"'):][:3000]))
    assert "not OK" in box and "calcium 1.75 mmol/L" in box and "correct it before the dose" in box
    r = nurse.post(f"/patients/{rid}/doses", data={"csrf_token": csrf_of(page), "item_id": item.group(1),
                                                   "lot_number": "LOT9", "given_on": today})
    assert r.status_code == 409 and "PREDOSE-serum_calcium" in r.text  # a nurse's dose waits for a doctor
    doctor = browser_for(app, "doctor")
    page = doctor.get(f"/patients/{rid}").text
    r = doctor.post(f"/patients/{rid}/doses", data={"csrf_token": csrf_of(page), "item_id": item.group(1),
                                                    "lot_number": "LOT9", "override_reason": "calcium given IV",
                                                    "given_on": today})
    assert r.status_code == 303 and "said" not in r.headers["location"]  # no clinical text in the address
    token = r.cookies.get("osteocare_said")
    assert token and "calcium" not in token.lower()
    said = _said(doctor.get(r.headers["location"]).text)
    assert "PREDOSE-serum_calcium overridden for this dose (calcium given IV)" in said
    assert 'data-testid="said"' not in doctor.get(r.headers["location"]).text  # shown once
    # the same cookie in another session, or for another patient, says nothing
    other = browser_for(app, "doctor")
    other.cookies.set("osteocare_said", token, path=f"/patients/{rid}")
    assert 'data-testid="said"' not in other.get(f"/patients/{rid}").text
    doctor.cookies.set("osteocare_said", token, path="/patients/WEB-CP-X")
    assert 'data-testid="said"' not in doctor.get("/patients/WEB-CP-X").text


def test_a_course_start_and_stop_say_what_they_found_in_both_languages(app) -> None:  # type: ignore[no-untyped-def]
    rid = "WEB-CP-2"
    course = _patient_with_low_calcium(app, rid)
    today = app.state.clinic.today().isoformat()
    doctor = browser_for(app, "doctor")
    page = doctor.get(f"/patients/{rid}").text
    r = doctor.post(f"/patients/{rid}/courses/{course}/stop", data={"csrf_token": csrf_of(page),
                                                                     "reason": "to restart later",
                                                                     "stop_date": today})
    assert r.status_code == 303, r.text[:500]
    assert "No denosumab dose of this course was recorded" in _said(doctor.get(r.headers["location"]).text)
    doctor.get("/lang/vi")
    page = doctor.get(f"/patients/{rid}").text
    r = doctor.post(f"/patients/{rid}/courses", data={"csrf_token": csrf_of(page), "drug": "denosumab",
                                                       "start_date": today})
    assert r.status_code == 303, r.text[:500]
    shown = doctor.get(r.headers["location"]).text
    assert "Hãy đọc trước khi tiếp tục:" in html.unescape(shown)
    said = _said(shown)
    assert "Before the first dose: pre-dose check serum_calcium" in said
    assert 'lang="en"' in shown[shown.index('data-testid="said"'):][:600]


def test_a_reaction_outcome_is_changed_through_the_api_for_this_patient_only(app, records, tokens) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    rid = "WEB-CP-3"
    _patient_with_low_calcium(app, rid)
    c = app.state.clinic
    r = record_reaction(c, rid, kind="hypocalcaemia", severity="mild", drug="denosumab",
                        onset_on=c.today() - dt.timedelta(days=1))
    api = TestClient(app)
    url = f"/api/v1/patients/{rid}/reactions/{r.id}/outcome"
    done = api.post(url, json={"outcome": "resolved"}, headers=tokens["doctor"])
    assert done.status_code == 200 and done.json()["resolved_on"] == c.today().isoformat(), done.text
    assert api.post(url, json={"outcome": "resolved"}, headers=tokens["patient"]).status_code == 403
    other = f"/api/v1/patients/{records['patient2']}/reactions/{r.id}/outcome"
    assert api.post(other, json={"outcome": "ongoing"}, headers=tokens["doctor"]).status_code == 404
    bad = api.post(url, json={"outcome": "gone"}, headers=tokens["doctor"])
    assert bad.status_code == 422 and "outcome" in bad.text
