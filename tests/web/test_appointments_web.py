"""Review, DXA and lab appointments over the API and on the patient page: complete, book and cancel them as the
CLI does (``osteocare appointment complete|book|cancel``). Completing the annual review (MON-ANNUAL) schedules the
next one; cancelling the follow-on review after denosumab (DMAB-SWITCH) without a doctor's written override reason
is refused as a dose's override is (409, nothing changed); only a doctor may give that reason; a patient may not
touch appointments; another patient's appointment is 404 through this patient's path.

A clinic of its own (the shared one stays as the other web tests expect it)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from osteocare.core.records import PatientRecord
from osteocare.services.appointments import patient_schedule
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.services.facts import add_lab
from osteocare.services.patients import add_patient

from .conftest import browser_for, csrf_of

_ids = itertools.count(1)


@pytest.fixture
def client(own_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(own_app) as c:
        yield c


@pytest.fixture
def clinic(own_setup) -> Clinic:  # type: ignore[no-untyped-def]
    return own_setup[0]  # type: ignore[no-any-return]


def _patient(clinic: Clinic) -> str:
    rid = f"APPT-{next(_ids)}"
    add_patient(clinic, PatientRecord.model_validate({
        "id": rid, "sex": "female", "age": 70, "weight_kg": 55.0, "height_cm": 155.0,
        "menopausal_status": "postmenopausal", "femoral_neck_t_score": -2.8}), given_name="Lan", family_name="Nguyen")
    day = clinic.today() - dt.timedelta(days=20)
    add_lab(clinic, rid, name="creatinine", value=70, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=2.35, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=35, unit="ng/mL", date=day)
    return rid


def _annual(clinic: Clinic) -> tuple[str, int]:
    """A patient on alendronate for two years, with the annual review (MON-ANNUAL) open."""
    rid = _patient(clinic)
    start_course(clinic, rid, "alendronate", start_date=clinic.today() - dt.timedelta(days=700))
    item = next(i for i in patient_schedule(clinic, rid) if i.rule_id == "MON-ANNUAL")
    return rid, item.id


def _switch(clinic: Clinic) -> tuple[str, int]:
    """A patient whose denosumab was stopped, with the follow-on review (DMAB-SWITCH) open."""
    rid = _patient(clinic)
    start = clinic.today() - dt.timedelta(days=120)
    d = start_course(clinic, rid, "denosumab", start_date=start)
    record_dose(clinic, course_id=d.id, given_on=start, lot_number="A1")
    stop_course(clinic, d.id, reason="stopping", stop_date=clinic.today() - dt.timedelta(days=30))
    item = next(i for i in patient_schedule(clinic, rid) if i.rule_id == "DMAB-SWITCH")
    return rid, item.id


def _open_reviews(clinic: Clinic, rid: str, rule: str) -> list[tuple[int, dt.date]]:
    return [(i.id, i.due_on) for i in patient_schedule(clinic, rid) if i.rule_id == rule]


def test_completing_the_annual_review_over_the_api_schedules_the_next_one(client, clinic, own_tokens) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    r = client.post(f"/api/v1/patients/{rid}/appointments/{item}/complete", headers=own_tokens["nurse"],
                    json={"note": "seen in clinic"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["id"] == item
    nxt = _open_reviews(clinic, rid, "MON-ANNUAL")
    assert len(nxt) == 1 and nxt[0][0] != item
    assert nxt[0][1] > clinic.today()  # the next one is ahead, from the day this one was done
    again = client.post(f"/api/v1/patients/{rid}/appointments/{item}/complete", headers=own_tokens["nurse"], json={})
    assert again.status_code == 409  # done already


def test_booking_a_review_over_the_api(client, clinic, own_tokens) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    at = dt.datetime.combine(clinic.today() + dt.timedelta(days=3), dt.time(9, 30)).isoformat()
    r = client.post(f"/api/v1/patients/{rid}/appointments/{item}/book", headers=own_tokens["doctor"],
                    json={"at": at, "location": "Room 2"})
    assert r.status_code == 200, r.text
    assert r.json()["location"] == "Room 2" and r.json()["scheduled_at"]
    past = dt.datetime.combine(clinic.today() - dt.timedelta(days=3), dt.time(9, 30)).isoformat()
    bad = client.post(f"/api/v1/patients/{rid}/appointments/{item}/book", headers=own_tokens["doctor"], json={"at": past})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "at"


def test_cancelling_the_follow_on_review_needs_a_doctors_override(client, clinic, own_tokens) -> None:  # type: ignore[no-untyped-def]
    rid, item = _switch(clinic)
    url = f"/api/v1/patients/{rid}/appointments/{item}/cancel"
    # without an override: refused as a dose with a finding and no override is (the same status and title)
    r = client.post(url, headers=own_tokens["doctor"], json={"reason": "patient declines"})
    assert r.status_code == 409 and r.json()["title"] == "Override required", r.text
    assert r.json()["errors"][0]["field"] == "override_reason"
    assert "DMAB-SWITCH" in r.json()["detail"]
    assert _open_reviews(clinic, rid, "DMAB-SWITCH") == [(item, _open_reviews(clinic, rid, "DMAB-SWITCH")[0][1])]
    # a nurse may not give the override reason
    r = client.post(url, headers=own_tokens["nurse"], json={"reason": "x", "override_reason": "patient declines"})
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "override_reason"
    assert len(_open_reviews(clinic, rid, "DMAB-SWITCH")) == 1
    # a doctor may
    r = client.post(url, headers=own_tokens["doctor"], json={"reason": "declines", "override_reason": "informed refusal"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert _open_reviews(clinic, rid, "DMAB-SWITCH") == []


def test_cancelling_the_annual_review_schedules_the_next_one(client, clinic, own_tokens) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    r = client.post(f"/api/v1/patients/{rid}/appointments/{item}/cancel", headers=own_tokens["nurse"],
                    json={"reason": "cannot come"})
    assert r.status_code == 200, r.text
    assert len(_open_reviews(clinic, rid, "MON-ANNUAL")) == 1


@pytest.mark.parametrize("action,body", [("complete", {}), ("book", {"at": "2030-01-01T09:00"}),
                                         ("cancel", {"reason": "x"})])
def test_a_patient_may_not_change_appointments(client, clinic, own_setup, own_tokens, action, body) -> None:  # type: ignore[no-untyped-def]
    rid = own_setup[1]["patient"]  # the patient account's own record
    item = next(i.id for i in patient_schedule(clinic, rid))
    r = client.post(f"/api/v1/patients/{rid}/appointments/{item}/{action}", headers=own_tokens["patient"], json=body)
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("action,body", [("complete", {}), ("book", {"at": "2030-01-01T09:00"}),
                                         ("cancel", {"reason": "x"})])
def test_another_patients_appointment_is_not_found(client, clinic, own_tokens, action, body) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    other = _patient(clinic)
    r = client.post(f"/api/v1/patients/{other}/appointments/{item}/{action}", headers=own_tokens["doctor"], json=body)
    assert r.status_code == 404, r.text
    assert _open_reviews(clinic, rid, "MON-ANNUAL") == [(item, _open_reviews(clinic, rid, "MON-ANNUAL")[0][1])]


def test_the_patient_page_completes_a_review_and_says_when_the_next_is_due(own_app, clinic) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    b = browser_for(own_app, "nurse")
    page = b.get(f"/patients/{rid}")
    assert f'action="/patients/{rid}/appointments/{item}/complete"' in page.text
    r = b.post(f"/patients/{rid}/appointments/{item}/complete", data={"csrf_token": csrf_of(page.text), "note": "ok"})
    assert r.status_code == 303, r.text[:500]
    nxt = _open_reviews(clinic, rid, "MON-ANNUAL")
    assert len(nxt) == 1 and nxt[0][0] != item
    shown = b.get(r.headers["location"])
    assert "The next review is due on" in shown.text
    assert shown.text.count('data-testid="said"') == 1


def test_the_patient_page_in_vietnamese_asks_a_doctor_for_the_override(own_app, clinic) -> None:  # type: ignore[no-untyped-def]
    rid, item = _switch(clinic)
    b = browser_for(own_app, "doctor")
    b.cookies.set("oc_lang", "vi")
    page = b.get(f"/patients/{rid}")
    assert f'action="/patients/{rid}/appointments/{item}/cancel"' in page.text
    r = b.post(f"/patients/{rid}/appointments/{item}/cancel", data={"csrf_token": csrf_of(page.text), "reason": "x"})
    assert r.status_code == 409
    assert 'data-testid="cancel-override-needed"' in r.text and "DMAB-SWITCH" in r.text
    assert len(_open_reviews(clinic, rid, "DMAB-SWITCH")) == 1
    r = b.post(f"/patients/{rid}/appointments/{item}/cancel",
               data={"csrf_token": csrf_of(page.text), "reason": "x", "override_reason": "informed refusal"})
    assert r.status_code == 303
    assert _open_reviews(clinic, rid, "DMAB-SWITCH") == []


def test_a_nurse_on_the_page_cannot_override(own_app, clinic) -> None:  # type: ignore[no-untyped-def]
    rid, item = _switch(clinic)
    b = browser_for(own_app, "nurse")
    page = b.get(f"/patients/{rid}")
    assert 'name="override_reason"' not in page.text.split(f"/appointments/{item}/cancel")[1].split("</form>")[0]
    r = b.post(f"/patients/{rid}/appointments/{item}/cancel",
               data={"csrf_token": csrf_of(page.text), "reason": "x", "override_reason": "I say so"})
    assert r.status_code == 409  # the reason of a nurse is not taken: refused, nothing changed
    assert len(_open_reviews(clinic, rid, "DMAB-SWITCH")) == 1


def test_the_next_review_is_said_in_vietnamese_on_vietnamese_pages(own_app, clinic) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    b = browser_for(own_app, "nurse")
    b.cookies.set("oc_lang", "vi")
    page = b.get(f"/patients/{rid}")
    assert "Lịch hẹn: tái khám, đo DXA và xét nghiệm" in page.text
    r = b.post(f"/patients/{rid}/appointments/{item}/cancel", data={"csrf_token": csrf_of(page.text), "reason": "bận"})
    assert r.status_code == 303
    assert "Lần tái khám tiếp theo đến hạn vào" in b.get(r.headers["location"]).text


def test_a_refused_page_form_keeps_what_was_typed_and_names_the_field(own_app, clinic) -> None:  # type: ignore[no-untyped-def]
    rid, item = _annual(clinic)
    b = browser_for(own_app, "nurse")
    page = b.get(f"/patients/{rid}")
    r = b.post(f"/patients/{rid}/appointments/{item}/book",
               data={"csrf_token": csrf_of(page.text), "at": "not a time", "location": "Room 7"})
    assert r.status_code == 422
    assert f'id="err-appt-{item}-at"' in r.text and 'value="Room 7"' in r.text
