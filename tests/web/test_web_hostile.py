"""A hostile user against the web app and the API: usernames that differ only in case, ids beyond any
integer column, numbers that are not finite or beyond what a page can print, control characters and
bidirectional overrides, oversized bodies, errors raised deep in a service, script in patient names on the
English and Vietnamese pages, and open redirects. Every answer is a clear 4xx naming the field, never a 500."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from osteocare.core.text import BAD_CHARACTER_RULE
from osteocare.services.errors import Conflict
from osteocare.store.db import Database
from osteocare.store.migrate import current_revision, head_revision, upgrade
from osteocare.web import accounts
from osteocare.web.i18n import Lang

from .conftest import PASSWORD, USERS, browser_for, csrf_of

BAD_TEXT = "text without control characters"
BAD_TEXT_RULE = BAD_CHARACTER_RULE


def _patient(api: TestClient, tokens, record_id: str, **names: str) -> str:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/patients", headers=tokens["doctor"],
                 json={"record": {"id": record_id, "sex": "female", "age": 70}, **names})
    assert r.status_code in (201, 409), r.text
    return record_id


# --- usernames regardless of case ------------------------------------------------------------------------------

def test_it_refuses_a_username_that_differs_from_another_only_in_case(clinic_setup, api, tokens) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    for twin in (USERS["doctor"].upper(), "Dr_An", "ＤＲ_ＡＮ"):  # the last in full-width letters
        with pytest.raises(Conflict, match="regardless of case"):
            accounts.create_user(clinic, username=twin, password=PASSWORD, role="nurse")
    r = api.post("/api/v1/users", headers=tokens["admin"],
                 json={"username": USERS["nurse"].upper(), "password": "long enough pw", "role": "doctor"})
    assert r.status_code == 409, r.text
    assert USERS["nurse"] in r.json()["detail"]


def test_it_signs_in_whatever_the_case_of_the_username(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/auth/token", json={"username": " " + USERS["doctor"].upper(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert me["username"] == USERS["doctor"]  # the name as it was made, not as it was typed


def test_the_migration_refuses_usernames_that_differ_only_in_case_and_keeps_sessions(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade(db, "0003")
        with db.engine.begin() as conn:
            for uid, name in ((1, "Admin"), (2, "admin"), (3, "nurse")):
                conn.execute(text("INSERT INTO web_users (id, username, password_hash, role, locale, active, "
                                  "created_at) VALUES (:i, :n, 'x', 'admin', 'en', 1, '2026-01-01')"), {"i": uid, "n": name})
            conn.execute(text("INSERT INTO web_sessions (token_sha256, kind, user_id, created_at, expires_at) "
                              "VALUES ('t', 'cookie', 3, '2026-01-01', '2099-01-01')"))
        with pytest.raises(Conflict) as err:
            upgrade(db)
        assert "'Admin' (id 1)" in str(err.value) and "'admin' (id 2)" in str(err.value)
        assert current_revision(db) == "0003"  # nothing changed
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE web_users SET username = 'admin2' WHERE id = 2"))
        upgrade(db)
        assert current_revision(db) == head_revision()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar() == 1  # the table was not copied
            keys = dict(conn.execute(text("SELECT username, username_key FROM web_users")).all())
        assert keys == {"Admin": "admin", "admin2": "admin2", "nurse": "nurse"}
    finally:
        db.dispose()


# --- ids, numbers, dates ----------------------------------------------------------------------------------------

def test_a_question_id_beyond_any_integer_column_is_a_422_not_a_500(app) -> None:  # type: ignore[no-untyped-def]
    doctor = browser_for(app, "doctor")
    b = TestClient(app, follow_redirects=False, raise_server_exceptions=False, cookies=doctor.cookies)
    token = csrf_of(b.get("/worklist").text)
    for action in ("answer", "publish"):
        r = b.post(f"/doctor/questions/99999999999999999999/{action}", data={"csrf_token": token, "answer": "x"})
        assert r.status_code == 422, (action, r.status_code)
        assert "question_id" in r.text and "2147483647" in r.text


def test_numbers_that_are_not_finite_are_refused_naming_the_field(app, api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/patients/{records['patient2']}/labs"
    for body, field in ((b'{"name":"calcium","value":NaN,"unit":"mmol/L","date":"2026-01-05"}', "value"),
                        (b'{"name":"calcium","value":2.3,"unit":"mmol/L","date":"2026-01-05","reference_low":-Infinity}',
                         "reference_low")):
        r = api.post(url, content=body, headers={**tokens["doctor"], "content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field and r.json()["errors"][0]["allowed"] == "a finite number"
    b = browser_for(app, "doctor")
    b.cookies.set("oc_lang", "en")
    token = csrf_of(b.get("/worklist").text)
    r = b.post(f"/patients/{records['patient2']}/labs",
               data={"csrf_token": token, "name": "calcium", "value": "1e999", "unit": "mmol/L", "date": "2026-01-01"})
    assert r.status_code == 422 and "1e999 is not allowed: expected a finite number" in r.text


def test_a_huge_lab_value_does_not_break_the_patient_page(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    rid = _patient(api, tokens, "HOSTILE-BIGLAB")
    r = api.post(f"/api/v1/patients/{rid}/labs", headers=tokens["doctor"],
                 json={"name": "calcium", "value": 1e30, "unit": "mmol/L", "date": "2026-01-05"})
    assert r.status_code in (201, 422), r.text  # a plausibility range may refuse it; if not, the page must show it
    b = browser_for(app, "doctor")
    for lang in ("en", "vi"):
        b.cookies.set("oc_lang", lang)
        assert b.get(f"/patients/{rid}").status_code == 200
    assert Lang("vi").num(1e30, 1) == "1e+30" and Lang("en").num(float("nan")) == "NaN"


def test_errors_raised_inside_a_service_name_the_field(api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    rid = records["patient2"]
    r = api.post(f"/api/v1/patients/{rid}/assessments", headers=tokens["doctor"], json={"as_of": "9999-12-31"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of", r.text
    assert "pydantic" not in r.json()["detail"]
    r = api.get(f"/api/v1/patients/{rid}/assessment?as_of=0001-01-01", headers=tokens["doctor"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of", r.text


def test_a_stored_assessment_is_not_dated_after_today_and_as_of_is_blamed_not_the_record(
        api, tokens, app) -> None:  # type: ignore[no-untyped-def]
    """A review: a stored assessment dated 2031 was accepted (201) into the chart; an ``as_of`` at which the patient
    would be 250 was answered "the stored record needs correcting: import it with --update"."""
    c = app.state.clinic
    h = tokens["doctor"]
    rid = "ASOF-1"
    born = dt.date(1950, 1, 2)
    age = c.today().year - born.year - ((c.today().month, c.today().day) < (born.month, born.day))
    r = api.post("/api/v1/patients", headers=h, json={"record": {"id": rid, "sex": "female", "age": age},
                                                      "birth_date": born.isoformat()})
    assert r.status_code == 201, r.text
    tomorrow = (c.today() + dt.timedelta(days=1)).isoformat()
    r = api.post(f"/api/v1/patients/{rid}/assessments", headers=h, json={"as_of": tomorrow})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of", r.text
    assert api.get(f"/api/v1/patients/{rid}/assessments", headers=h).json()["items"] == []
    for day in ("2200-01-01", "1949-12-31"):
        r = api.get(f"/api/v1/patients/{rid}/assessment?as_of={day}", headers=h)
        assert r.status_code == 422, r.text
        err = r.json()["errors"][0]
        assert err["field"] == "as_of" and "1950-01-02 (the patient's birth date)" in err["allowed"], r.text
        assert "needs correcting" not in r.text
    assert api.get(f"/api/v1/patients/{rid}/assessment?as_of=2020-01-01", headers=h).status_code == 200


# --- text: control characters, bidi overrides, sizes -------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({"topic": "Calcium\x00", "body": "How much?"}, "topic"),
    ({"topic": "Calcium", "body": "pay \u202eevil\u202c here"}, "body"),
    ({"topic": "Calcium", "body": "ok", "name": "A\x1b[31m"}, "name"),
])
def test_the_api_refuses_control_characters_naming_the_field(api, body, field) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/questions", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and BAD_TEXT in r.json()["errors"][0]["allowed"]


def test_a_lone_surrogate_or_nul_in_a_patient_is_a_422_not_a_500(app, tokens) -> None:  # type: ignore[no-untyped-def]
    api = TestClient(app, raise_server_exceptions=False)
    for record, extra, field in (({"id": "HOSTILE-\\u0000", "sex": "female", "age": 70}, "", "record.id"),
                                 ({"id": "HOSTILE-SUR", "sex": "female", "age": 70}, ', "given_name": "A\\ud800"',
                                  "given_name")):
        import json

        body = '{"record": ' + json.dumps(record).replace("\\\\u", "\\u") + extra + "}"
        r = api.post("/api/v1/patients", content=body.encode(),
                     headers={**tokens["doctor"], "content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field


def test_a_password_with_a_control_character_is_never_echoed(api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/auth/token", json={"username": "x", "password": "secret\x00pw"})
    assert r.status_code == 422 and "secret" not in r.text


def test_forms_refuse_control_characters_naming_the_field(app) -> None:  # type: ignore[no-untyped-def]
    reader = browser_for(app, None)
    token = csrf_of(reader.get("/ask").text)
    r = reader.post("/ask", data={"csrf_token": token, "topic": "Calcium", "body": "x\x00y"})
    assert r.status_code == 422 and "body" in r.text and "U+0000" in r.text


def test_oversized_bodies_are_refused_with_413(app, api) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/questions", json={"topic": "t", "body": "x" * 2_000_000})
    assert r.status_code == 413 and r.json()["title"] == "Request too large"
    reader = browser_for(app, None)
    token = csrf_of(reader.get("/ask").text)
    r = reader.post("/ask", data={"csrf_token": token, "topic": "t", "body": "x" * 2_000_000})
    assert r.status_code == 413 and "Request too large" in r.text

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 65536

    r = api.post("/api/v1/questions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_a_delete_body_is_limited_and_checked_like_any_other(api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/patients/{records['patient2']}/entries/condition/2147483647"
    big = b'{"reason": "' + b"a" * 5_000_000 + b'"}'
    for headers in ({}, tokens["doctor"]):  # refused before anything reads it, signed in or not
        r = api.request("DELETE", url, content=big, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 413 and r.json()["title"] == "Request too large"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 65536

    r = api.request("DELETE", url, content=chunks(), headers={**tokens["doctor"], "content-type": "application/json"})
    assert r.status_code == 413
    r = api.request("DELETE", url, json={"reason": "typo\u202egnp.exe"}, headers=tokens["doctor"])
    assert r.status_code == 422 and "U+202E" in r.json()["detail"]
    assert r.json()["errors"][0] == {"field": "reason", "value": "typo\\u202egnp.exe", "allowed": BAD_TEXT_RULE}


@pytest.mark.parametrize("content_type", ["application/JSON", "Application/Json; charset=utf-8",
                                          "application/problem+JSON"])
def test_a_json_body_is_checked_whatever_the_case_of_its_media_type(api, tokens, content_type) -> None:  # type: ignore[no-untyped-def]
    import json

    name = "zz_case_" + "".join(c for c in content_type if c.isalpha())[-8:]
    body = json.dumps({"username": name, "password": "p" * 12, "role": "nurse", "display_name": "abc\u202e"})
    r = api.post("/api/v1/users", content=body.encode(), headers={**tokens["admin"], "content-type": content_type})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "display_name" and "U+202E" in r.json()["detail"]


# --- output: script in names on both languages' pages; redirects --------------------------------------------------

SCRIPT = '<script>alert("x")</script>'


def test_script_in_patient_names_renders_inert_in_english_and_vietnamese(app, api, tokens) -> None:  # type: ignore[no-untyped-def]
    """A regression guard (the templates escape already): the names a clinician types are shown as text."""
    rid = _patient(api, tokens, "HOSTILE-XSS", given_name=SCRIPT, family_name='"><img src=x onerror=alert(1)>')
    b = browser_for(app, "doctor")
    for lang in ("en", "vi"):
        b.cookies.set("oc_lang", lang)
        for url in (f"/patients/{rid}", "/patients?q=HOSTILE-XSS"):
            page = b.get(url)
            assert page.status_code == 200 and "HOSTILE-XSS" in page.text
            assert "<script>alert" not in page.text and "<img src=x" not in page.text


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example", "/\t/evil.example",
                                    "/%5Cevil.example", "/\r\nSet-Cookie: x=1"])
def test_sign_in_and_language_never_redirect_off_the_site(app, target) -> None:  # type: ignore[no-untyped-def]
    """``next`` that a browser could read as another host (``/\\host`` is ``//host`` to most browsers; a tab
    or line break is dropped) goes home instead."""
    c = TestClient(app, follow_redirects=False)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": USERS["nurse"], "password": PASSWORD, "csrf_token": token, "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert f'value="{target}"' not in c.get("/login", params={"next": target}).text
    r = c.get("/lang/en", params={"next": target})  # (English: the shared nurse account's language stays as it was)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = c.post("/lang/en", data={"next": target, "csrf_token": csrf_of(c.get("/worklist").text)})
    assert r.status_code == 303 and r.headers["location"] == "/"
