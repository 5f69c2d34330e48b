"""The access matrix: every route, every role. Anonymous -> 401 (API) or a redirect to sign in (pages);
a role without access -> 403; a patient only ever reaches their own record."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.routing import APIRoute

from .conftest import browser_for, csrf_of

ANY = ("doctor", "nurse", "patient", "patient2", "admin")
STAFF = ("doctor", "nurse")
ROLES = (None, *ANY)

# (method, path, json body, roles allowed); {own} = patient_one's record, {other} = patient_two's record.
API = [
    ("GET", "/api/v1/ping", None, "public"),
    ("GET", "/api/v1/me", None, ANY),
    ("GET", "/api/v1/patients", None, STAFF),
    ("POST", "/api/v1/patients", {"record": {"id": "NEW-{role}", "sex": "female", "age": 70}}, STAFF),
    ("GET", "/api/v1/patients/{own}", None, (*STAFF, "patient")),
    ("GET", "/api/v1/patients/{other}", None, (*STAFF, "patient2")),
    ("GET", "/api/v1/patients/{own}/assessment", None, (*STAFF, "patient")),
    ("POST", "/api/v1/patients/{own}/assessments", {}, ("doctor",)),
    ("GET", "/api/v1/patients/{own}/assessments", None, (*STAFF, "patient")),
    ("POST", "/api/v1/patients/{own}/dxa", {"exam_date": "2026-01-05", "sites": [{"site": "total_hip", "t_score": -2.6}]},
     STAFF),
    ("POST", "/api/v1/patients/{own}/labs", {"name": "calcium", "value": 2.3, "unit": "mmol/L", "date": "2026-01-05"},
     STAFF),
    ("POST", "/api/v1/patients/{own}/fractures", {"site": "wrist", "date": "2025-01-05"}, STAFF),
    ("GET", "/api/v1/patients/{own}/history", None, STAFF),
    ("PATCH", "/api/v1/patients/{own}/history", {}, STAFF),  # no If-Match: 428 for staff, nothing written
    ("GET", "/api/v1/patients/{own}/entries", None, STAFF),
    # the {kind}/{entry_id} routes by the concrete rows below (a path left as {kind} would be 422 for every role)
    ("POST", "/api/v1/patients/{own}/entries/{kind}", None, "skip"),
    ("POST", "/api/v1/patients/{own}/entries/{kind}/{entry_id}/end", None, "skip"),
    ("DELETE", "/api/v1/patients/{own}/entries/{kind}/{entry_id}", None, "skip"),
    ("POST", "/api/v1/patients/{own}/entries/condition", {}, STAFF),  # no code: 422 for staff, nothing written
    ("POST", "/api/v1/patients/{own}/entries/condition/2147483647/end", {"on": "2025-01-05"}, STAFF),  # 404
    ("DELETE", "/api/v1/patients/{own}/entries/condition/2147483647", {"reason": "access matrix"}, STAFF),  # 404
    ("POST", "/api/v1/patients/{own}/reactions", {"kind": "headache", "severity": "mild"}, (*STAFF, "patient")),
    ("POST", "/api/v1/patients/{other}/reactions", {"kind": "headache", "severity": "mild"}, (*STAFF, "patient2")),
    ("POST", "/api/v1/patients/{own}/reactions/{reaction_id}/outcome", None, "skip"),  # by the concrete row below
    ("POST", "/api/v1/patients/{own}/reactions/2147483647/outcome", {"outcome": "resolved"}, STAFF),  # 404
    ("POST", "/api/v1/patients/{own}/doses", {"course_id": 999999}, STAFF),
    # the appointment routes by the concrete rows below: no such appointment, 404 for staff, nothing written
    ("POST", "/api/v1/patients/{own}/appointments/{item_id}/complete", None, "skip"),
    ("POST", "/api/v1/patients/{own}/appointments/{item_id}/book", None, "skip"),
    ("POST", "/api/v1/patients/{own}/appointments/{item_id}/cancel", None, "skip"),
    ("POST", "/api/v1/patients/{own}/appointments/2147483647/complete", {}, STAFF),
    ("POST", "/api/v1/patients/{own}/appointments/2147483647/book", {"at": "2030-01-01T09:00"}, STAFF),
    ("POST", "/api/v1/patients/{own}/appointments/2147483647/cancel", {"reason": "access matrix"}, STAFF),
    ("GET", "/api/v1/patients/{own}/calendar.ics", None, (*STAFF, "patient")),
    ("GET", "/api/v1/patients/{own}/audit", None, ("admin",)),
    ("GET", "/api/v1/worklist", None, STAFF),
    ("GET", "/api/v1/audit", None, ("admin",)),
    ("GET", "/api/v1/users", None, ("admin",)),
    ("POST", "/api/v1/users", {"username": "u-{role}", "password": "long enough pw", "role": "nurse"}, ("admin",)),
    ("POST", "/api/v1/questions", {"topic": "Calcium", "body": "How much calcium?"}, "public"),
    ("GET", "/api/v1/questions", None, ("doctor",)),
    ("GET", "/api/v1/questions/1", None, ("doctor",)),
    ("POST", "/api/v1/questions/1/answer", {"answer": "About 1200 mg a day."}, ("doctor",)),
    ("PUT", "/api/v1/questions/1/answer", {"answer": "About 1000 mg a day."}, ("doctor",)),  # no If-Match: 428
    ("POST", "/api/v1/questions/1/publish", {}, ("doctor",)),
    ("POST", "/api/v1/questions/1/unpublish", None, ("doctor",)),
    ("GET", "/api/v1/qa", None, "public"),
    ("GET", "/cds-services", None, "public"),
    ("POST", "/cds-services/osteocare-patient-view", {"hook": "x"}, STAFF),
    ("POST", "/api/v1/auth/logout", None, "skip"),
    ("POST", "/api/v1/auth/token", None, "skip"),
    ("GET", "/api/v1/questions/follow/{token}", None, "skip"),  # secret-token routes: tested in test_questions
    ("GET", "/api/v1/qa/{question_id}", None, "skip"),
]

PAGES = [
    ("/patients", STAFF),
    ("/patients/{own}", STAFF),  # the patient's own page redirects to /me
    ("/patients/{other}", STAFF),
    ("/patients/{own}/history", STAFF),
    ("/patients/{own}/falls-screen", STAFF),
    ("/new-patient", STAFF),
    ("/worklist", STAFF),
    ("/me", ("patient", "patient2")),
    ("/me/calendar.ics", ("patient", "patient2")),
    ("/doctor/questions", ("doctor",)),
    ("/doctor/questions?page=2", ("doctor",)),
    ("/admin", ("admin",)),
    ("/qa", "public"),
    ("/qa/999999", "open"),  # public, but no such published answer: 404 for everyone
    ("/follow/not-a-token", "open"),  # the secret-token page itself is tested in test_questions_i18n
    ("/ask", "public"),
    ("/login", "public"),
    ("/lang/en?next=/", "public"),
    ("/", "public"),
]

# Every form of the pages, posted with the session's own CSRF token and an empty form (a course or question id
# that does not exist), so that a role allowed in gets a validation answer (422, 404, a page again) and never
# 401/403, and nothing clinical is written (except that the doctor's empty "assess" form stores an assessment).
FORMS = [
    ("/patients/{own}/history", STAFF),  # an empty form names no version: refused as changed since, nothing saved
    ("/patients/{own}/falls-screen", STAFF),  # an empty form (no questions sent): 422, nothing written
    ("/patients/{own}/identity", STAFF),  # no sex: 422, nothing written
    ("/patients/{own}/entries/condition", STAFF),  # an empty condition: 422
    ("/patients/{own}/entries/condition/2147483647/end", STAFF),  # no such entry: 404
    ("/patients/{own}/entries/condition/2147483647/delete", STAFF),
    ("/new-patient", STAFF),
    ("/patients/{own}/dxa", STAFF),
    ("/patients/{own}/labs", STAFF),
    ("/patients/{own}/fractures", STAFF),
    ("/patients/{own}/doses", STAFF),
    ("/patients/{own}/appointments/2147483647/complete", STAFF),  # no such appointment: 404
    ("/patients/{own}/appointments/2147483647/book", STAFF),
    ("/patients/{own}/appointments/2147483647/cancel", STAFF),
    ("/patients/{own}/reactions", STAFF),
    ("/patients/{own}/assess", ("doctor",)),
    ("/patients/{own}/courses", ("doctor",)),
    ("/patients/{own}/courses/2147483647/stop", ("doctor",)),
    ("/patients/{other}/courses", ("doctor",)),
    ("/me/reactions", ("patient", "patient2")),
    ("/doctor/questions/2147483647/answer", ("doctor",)),
    ("/doctor/questions/2147483647/edit", ("doctor",)),  # no version: refused, nothing written
    ("/doctor/questions/2147483647/publish", ("doctor",)),
    ("/doctor/questions/2147483647/unpublish", ("doctor",)),
    ("/admin/users", ("admin",)),
    ("/ask", "public"),
    ("/login", "public"),
    ("/lang/en", "public"),  # the language switcher (the account's saved language: English, as it was)
    ("/logout", "public"),  # last: it ends the session
]


def _fill(path: str, records: dict[str, str], role: str | None) -> str:
    return path.replace("{own}", records["patient"]).replace("{other}", records["patient2"]).replace("{role}", str(role))


def _routes(routes, prefix: str = ""):  # type: ignore[no-untyped-def]
    """(path, methods, in the schema) of every route, also inside included routers (FastAPI >= 0.16x keeps them
    nested in ``app.routes``)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix + r.path, r.methods - {"HEAD"}, r.include_in_schema
        elif hasattr(r, "original_router"):
            yield from _routes(r.original_router.routes, prefix + r.include_context.prefix)


def test_it_covers_every_api_route(app) -> None:  # type: ignore[no-untyped-def]
    listed = {(m, p) for m, p, _, _ in API}
    seen = 0
    for path, methods, in_schema in _routes(app.routes):
        if in_schema:
            for method in methods:
                seen += 1
                generic = (path.replace("{record_id}", "{own}").replace("{question_id}", "1")
                           .replace("{service_id}", "osteocare-patient-view"))
                assert (method, generic) in listed or (method, path) in listed, f"{method} {path} not in the matrix"
    assert seen >= 25, f"the route walk found only {seen} API routes"


def _generic(path: str) -> str:
    """A matrix path with its ids as ``{}``: /patients/{own}/courses/2147483647/stop -> /patients/{}/courses/{}/stop."""
    return re.sub(r"/(\{own\}|\{other\}|2147483647|999999|not-a-token|en|condition)(?=/|$)", "/{}", path.split("?")[0])


def test_it_covers_every_page_and_form(app) -> None:  # type: ignore[no-untyped-def]
    pages = {_generic(p) for p, _ in PAGES}
    forms = {_generic(p) for p, _ in FORMS}
    seen = 0
    for path, methods, in_schema in _routes(app.routes):
        if in_schema:
            continue
        generic = re.sub(r"\{[a-z_]+\}", "{}", path)
        for method in methods:
            seen += 1
            assert generic in (pages if method == "GET" else forms), f"{method} {path} not in the page matrix"
    assert seen >= 25, f"the route walk found only {seen} page routes"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: str(r))
def test_api_access_matrix(app, api, tokens, records, role) -> None:  # type: ignore[no-untyped-def]
    headers = tokens[role] if role else {}
    for method, path, body, allowed in API:
        if allowed == "skip":
            continue
        url = _fill(path, records, role)
        js = None if body is None else {k: (_fill(v, records, role) if isinstance(v, str) else v) for k, v in body.items()}
        if js and isinstance(js.get("record"), dict):
            js["record"] = {**js["record"], "id": f"NEW-{role}"}
        r = api.request(method, url, json=js, headers=headers)
        if allowed == "public":
            assert r.status_code not in (401, 403), (role, method, url, r.text)
        elif role is None:
            assert r.status_code == 401, (method, url, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
        elif role in allowed:
            assert r.status_code not in (401, 403), (role, method, url, r.text)
            assert r.status_code < 500
        else:
            assert r.status_code == 403, (role, method, url, r.status_code, r.text)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: str(r))
def test_page_access_matrix(app, records, role) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, role)
    for path, allowed in PAGES:
        url = _fill(path, records, role)
        r = b.get(url)
        if allowed == "public":
            assert r.status_code in (200, 303), (role, url, r.status_code)
        elif allowed == "open":
            assert r.status_code in (200, 404), (role, url, r.status_code)
        elif role is None:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (url, r.status_code)
        elif role in allowed:
            assert r.status_code == 200, (role, url, r.status_code, r.text[:300])
        elif role == "patient" and url == f"/patients/{records['patient']}":
            assert r.status_code == 303 and r.headers["location"] == "/me"
        elif role == "patient2" and url == f"/patients/{records['patient2']}":
            assert r.status_code == 303 and r.headers["location"] == "/me"
        else:
            assert r.status_code == 403, (role, url, r.status_code)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: str(r))
def test_form_access_matrix(app, records, role) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, role)
    token = csrf_of(b.get("/ask").text)
    for path, allowed in FORMS:
        url = _fill(path, records, role)
        r = b.post(url, data={"csrf_token": token})
        if allowed == "public":  # (an empty sign-in is answered 401 "wrong username or password" on the form)
            assert r.status_code != 403 and r.status_code < 500, (role, url, r.status_code)
            assert not r.headers.get("location", "").startswith("/login"), (role, url)
        elif role is None:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (url, r.status_code)
        elif role in allowed:
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, url, r.status_code, r.text[:300])
        else:
            assert r.status_code == 403, (role, url, r.status_code)


@pytest.mark.parametrize("role", ("patient", "admin", None))
def test_it_refuses_clinical_forms_to_other_roles(app, records, role) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, role)
    token = csrf_of(b.get("/ask").text)
    for form in ("dxa", "labs", "fractures", "doses", "reactions", "assess", "courses", "courses/1/stop", "history",
                 "entries/condition", "entries/condition/1/end", "entries/condition/1/delete", "identity",
                 "falls-screen", "appointments/1/complete", "appointments/1/book", "appointments/1/cancel"):
        r = b.post(f"/patients/{records['patient']}/{form}",
                   data={"csrf_token": token, "exam_date": dt.date.today().isoformat()})
        assert r.status_code in (303, 403), (form, r.status_code)
        if r.status_code == 303:
            assert r.headers["location"].startswith("/login")


def test_a_patient_cannot_report_for_another_patients_course(app, api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    from osteocare.services.courses import courses_of

    clinic = app.state.clinic
    other_course = courses_of(clinic, records["patient2"])[0].id
    r = api.post(f"/api/v1/patients/{records['patient']}/reactions", headers=tokens["patient"],
                 json={"kind": "headache", "severity": "mild", "course_id": other_course})
    assert r.status_code == 404


def test_every_patient_read_is_audited_and_the_admin_sees_it(app, api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    rid = records["patient"]
    before = api.get(f"/api/v1/patients/{rid}/audit", headers=tokens["admin"]).json()["total"]
    api.get(f"/api/v1/patients/{rid}", headers=tokens["nurse"])
    api.get(f"/api/v1/patients/{rid}/assessments", headers=tokens["patient"])
    r = api.get(f"/api/v1/patients/{rid}/audit", headers=tokens["admin"], params={"limit": 5})
    assert r.json()["total"] >= before + 2
    actors = [e["actor"] for e in r.json()["items"]]
    assert "nurse:nurse_binh" in actors and "patient:patient_one" in actors
