"""Starting and stopping a treatment course from the patient page: doctors only, the contraindication check asks
for a written reason before anything is written, the stop needs a reason, every form needs its CSRF token."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from osteocare.services.courses import courses_of
from osteocare.web.i18n import Lang

from .conftest import browser_for, csrf_of


def _new_patient(api, tokens, sex: str = "female", age: int = 72) -> str:  # type: ignore[no-untyped-def]
    """A patient of its own for each test (the demo clinic is shared by the tests of a worker)."""
    rid = f"WEB-{uuid.uuid4().hex[:10].upper()}"
    r = api.post("/api/v1/patients", headers=tokens["doctor"], json={"record": {
        "id": rid, "sex": sex, "age": age, "weight_kg": 60, "height_cm": 160,
        "creatinine_umol_l": 70}})  # the kidney rules can be decided (undecided, they block a start)
    assert r.status_code == 201, r.text
    return rid


def _today(app) -> dt.date:  # type: ignore[no-untyped-def]
    return app.state.clinic.today()  # type: ignore[no-any-return]


def _start(b, rid: str, drug: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_of(b.get(f"/patients/{rid}").text)
    return b.post(f"/patients/{rid}/courses", data={"csrf_token": token, "drug": drug,
                                                    "start_date": _today(b.app).isoformat(), **extra})


def test_the_doctor_sees_the_start_form_with_the_recommended_drugs_first(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    html = browser_for(app, "doctor").get(f"/patients/{rid}").text
    assert f'action="/patients/{rid}/courses"' in html
    assert 'name="start_date" value="' + _today(app).isoformat() + '"' in html
    assert 'name="override_reason"' in html
    nurse = browser_for(app, "nurse").get(f"/patients/{rid}").text  # the nurse's page has neither form
    assert "/courses" not in nurse and 'name="override_reason"' not in nurse


def test_a_doctor_starts_a_course_and_the_next_dose_due_appears(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    b = browser_for(app, "doctor")
    r = _start(b, rid, "zoledronic_acid")
    assert r.status_code == 303, r.text[:500]
    assert r.headers["location"] == f"/patients/{rid}?done=course#course"
    page = b.get(r.headers["location"]).text
    assert "Saved." in page
    [course] = courses_of(app.state.clinic, rid)
    assert course.drug == "zoledronic_acid" and course.status == "active" and course.origin == "clinician"
    assert course.next_due == _today(app) and course.override_reason is None  # a clinic drug: dose 1 is due
    due = re.search(r'data-testid="next-due">[^<]*<strong>([^<]+)</strong>', page)
    assert due and due.group(1) == Lang("en").date(_today(app))
    assert 'data-testid="course-zoledronic_acid"' in page
    assert f'action="/patients/{rid}/courses/{course.id}/stop"' in page
    again = _start(b, rid, "zoledronic_acid")  # one active course of a drug at a time
    assert again.status_code == 409 and "already has an active course" in again.text
    assert len(courses_of(app.state.clinic, rid)) == 1


def test_a_contraindicated_drug_asks_for_the_written_reason_and_writes_nothing(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens, sex="male", age=70)  # raloxifene: not for men (a "must not")
    b = browser_for(app, "doctor")
    r = _start(b, rid, "raloxifene")
    assert r.status_code == 409
    assert 'data-testid="override-needed"' in r.text and "RLX-NOT-FOR" in r.text
    assert 'data-field="override_reason"' in r.text and "Write your reason for starting" in r.text
    assert '<option value="raloxifene" selected' in r.text  # the form keeps the doctor's choice
    assert courses_of(app.state.clinic, rid) == []
    r = _start(b, rid, "raloxifene", override_reason="   ")  # blank is no reason
    assert r.status_code == 409 and courses_of(app.state.clinic, rid) == []
    r = _start(b, rid, "raloxifene", override_reason="Discussed with the patient; no alternative tolerated.")
    assert r.status_code == 303
    [course] = courses_of(app.state.clinic, rid)
    assert course.override_reason == "Discussed with the patient; no alternative tolerated."
    assert [f.rule_id for f in course.check.findings] == ["RLX-NOT-FOR"]
    assert "no alternative tolerated" in b.get(f"/patients/{rid}").text


def test_the_vietnamese_page_asks_for_the_reason_in_vietnamese(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens, sex="male", age=70)
    b = browser_for(app, "doctor")
    b.get("/lang/vi")
    r = _start(b, rid, "raloxifene")
    assert r.status_code == 409 and "Hãy ghi rõ lý do bạn vẫn bắt đầu raloxifen" in r.text
    assert "Bắt đầu một đợt điều trị" in r.text and "Lý do ngừng" not in r.text


def test_a_bad_start_is_shown_by_field(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    b = browser_for(app, "doctor")
    r = _start(b, rid, "")
    assert r.status_code == 422 and 'data-field="drug"' in r.text
    r = _start(b, rid, "alendronate", start_date="yesterday")
    assert r.status_code == 422 and 'data-field="start_date"' in r.text
    r = _start(b, rid, "no_such_drug")
    assert r.status_code == 422 and 'data-field="drug"' in r.text
    assert courses_of(app.state.clinic, rid) == []


def test_a_doctor_stops_a_course_with_a_reason(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    b = browser_for(app, "doctor")
    assert _start(b, rid, "risedronate").status_code == 303
    [course] = courses_of(app.state.clinic, rid)
    url = f"/patients/{rid}/courses/{course.id}/stop"
    token = csrf_of(b.get(f"/patients/{rid}").text)
    r = b.post(url, data={"csrf_token": token, "reason": "  ", "stop_date": _today(app).isoformat()})
    assert r.status_code == 422 and 'data-field="reason"' in r.text
    assert courses_of(app.state.clinic, rid)[0].status == "active"
    r = b.post(url, data={"csrf_token": token, "reason": "Upper GI intolerance", "stop_date": _today(app).isoformat()})
    assert r.status_code == 303 and r.headers["location"] == f"/patients/{rid}?done=course-{course.id}#course-{course.id}"
    [stopped] = courses_of(app.state.clinic, rid)
    assert stopped.status == "stopped" and stopped.stop_reason == "Upper GI intolerance"
    assert stopped.stop_date == _today(app)
    page = b.get(f"/patients/{rid}").text
    assert "Upper GI intolerance" in page and url not in page  # no stop form for a stopped course
    r = b.post(url, data={"csrf_token": token, "reason": "again", "stop_date": _today(app).isoformat()})
    assert r.status_code == 409  # not active any more


def test_a_course_of_another_patient_cannot_be_stopped_through_this_page(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid, other = _new_patient(api, tokens), _new_patient(api, tokens)
    b = browser_for(app, "doctor")
    assert _start(b, other, "alendronate").status_code == 303
    [course] = courses_of(app.state.clinic, other)
    token = csrf_of(b.get(f"/patients/{rid}").text)
    r = b.post(f"/patients/{rid}/courses/{course.id}/stop", data={"csrf_token": token, "reason": "wrong patient",
                                                                  "stop_date": _today(app).isoformat()})
    assert r.status_code == 404
    assert courses_of(app.state.clinic, other)[0].status == "active"


@pytest.mark.parametrize("role", ("nurse", "patient", "patient2", "admin"))
def test_only_doctors_start_or_stop_courses(app, api, tokens, records, role) -> None:  # type: ignore[no-untyped-def]
    rid = records["patient"] if role != "patient2" else records["patient2"]
    before = [(c.id, c.status) for c in courses_of(app.state.clinic, rid)]
    active = next(c for c in courses_of(app.state.clinic, rid) if c.status == "active")
    b = browser_for(app, role)
    token = csrf_of(b.get("/ask").text)
    r = b.post(f"/patients/{rid}/courses", data={"csrf_token": token, "drug": "alendronate",
                                                 "start_date": _today(app).isoformat(),
                                                 "override_reason": "because"})
    assert r.status_code == 403
    r = b.post(f"/patients/{rid}/courses/{active.id}/stop", data={"csrf_token": token, "reason": "because",
                                                                  "stop_date": _today(app).isoformat()})
    assert r.status_code == 403
    assert [(c.id, c.status) for c in courses_of(app.state.clinic, rid)] == before


def test_course_forms_without_their_csrf_token_are_refused(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _new_patient(api, tokens)
    b = browser_for(app, "doctor")
    data = {"drug": "alendronate", "start_date": _today(app).isoformat()}
    assert b.post(f"/patients/{rid}/courses", data=data).status_code == 403
    assert b.post(f"/patients/{rid}/courses", data={**data, "csrf_token": "forged"}).status_code == 403
    other = csrf_of(browser_for(app, "doctor").get("/worklist").text)  # another session's token
    assert b.post(f"/patients/{rid}/courses", data={**data, "csrf_token": other}).status_code == 403
    assert courses_of(app.state.clinic, rid) == []
    assert _start(b, rid, "alendronate").status_code == 303
    [course] = courses_of(app.state.clinic, rid)
    stop = {"reason": "forged stop", "stop_date": _today(app).isoformat()}
    assert b.post(f"/patients/{rid}/courses/{course.id}/stop", data=stop).status_code == 403
    assert b.post(f"/patients/{rid}/courses/{course.id}/stop", data={**stop, "csrf_token": other}).status_code == 403
    assert courses_of(app.state.clinic, rid)[0].status == "active"
