"""Security: script payloads render inert, forms need their CSRF token, failed logins are slowed then refused,
questions are rate-limited, and every error is a clear JSON problem."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from osteocare.web import accounts
from osteocare.web.app import WebOptions, create_app
from osteocare.web.models import User

from .conftest import PASSWORD, USERS, browser_for, csrf_of

PAYLOADS = ['<script>alert("x")</script>', '<img src=x onerror="alert(1)">', '"><svg onload=alert(1)>',
            "<a href=\"javascript:alert(1)\">click</a>"]


def test_script_payloads_in_questions_render_inert(app, tokens) -> None:  # type: ignore[no-untyped-def]
    reader = browser_for(app, None)
    token = csrf_of(reader.get("/ask").text)
    body = "Is it safe? " + " ".join(PAYLOADS)
    r = reader.post("/ask", data={"csrf_token": token, "topic": "XSS " + PAYLOADS[0], "body": body, "name": PAYLOADS[1]})
    assert r.status_code == 303
    follow = reader.get(r.headers["location"]).text
    doctor = browser_for(app, "doctor")
    queue = doctor.get("/doctor/questions").text
    for html in (follow, queue):
        assert "<script>alert" not in html and "onerror=" not in html and "<svg onload" not in html
        assert "javascript:alert" not in html
    qid = int(queue.split('id="q')[-1].split('"')[0])
    t = csrf_of(queue)
    doctor.post(f"/doctor/questions/{qid}/answer", data={"csrf_token": t, "answer": "No <script>alert(2)</script> worries"})
    doctor.post(f"/doctor/questions/{qid}/publish", data={"csrf_token": t})
    page = reader.get(f"/qa/{qid}").text
    assert "<script>alert" not in page and "onerror" not in page
    assert "Content-Security-Policy" in reader.get("/qa").headers


def test_a_form_without_its_csrf_token_is_refused(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "doctor")
    url = f"/patients/{records['patient']}/labs"
    data = {"name": "calcium", "value": "2.3", "unit": "mmol/L", "date": "2026-01-01"}
    assert b.post(url, data=data).status_code == 403
    assert b.post(url, data={**data, "csrf_token": "forged"}).status_code == 403
    other = browser_for(app, "nurse")  # a valid token of another session does not work either
    assert b.post(url, data={**data, "csrf_token": csrf_of(other.get("/worklist").text)}).status_code == 403
    assert b.post(url, data={**data, "csrf_token": csrf_of(b.get("/worklist").text)}).status_code == 303
    anon = TestClient(app, follow_redirects=False)
    assert anon.post("/login", data={"username": USERS["doctor"], "password": PASSWORD}).status_code == 403
    assert anon.post("/ask", data={"topic": "t", "body": "b"}).status_code == 403


def test_the_saved_language_changes_only_through_the_switchers_form(app) -> None:  # type: ignore[no-untyped-def]
    """Another site can make a browser follow a link (GET) or post a form without this session's token: neither
    may change what is stored for the account. A link still switches what this browser shows."""
    clinic = app.state.clinic
    accounts.create_user(clinic, username="lang_switcher", password=PASSWORD, role="nurse")

    def saved() -> str:
        with clinic.db.read() as s:
            return str(s.scalar(select(User.locale).where(User.username == "lang_switcher")))

    b = TestClient(app, follow_redirects=False)
    r = b.post("/login", data={"username": "lang_switcher", "password": PASSWORD, "next": "/",
                               "csrf_token": csrf_of(b.get("/login").text)})
    assert r.status_code == 303 and saved() == "en"
    r = b.get("/lang/vi", params={"next": "/worklist"})
    assert r.status_code == 303 and r.headers["location"] == "/worklist" and "oc_lang=vi" in r.headers["set-cookie"]
    assert saved() == "en"
    assert b.post("/lang/vi", data={"next": "/worklist"}).status_code == 403
    assert b.post("/lang/vi", data={"next": "/worklist", "csrf_token": "forged"}).status_code == 403
    assert saved() == "en"
    page = b.get("/worklist").text
    assert 'action="/lang/vi"' in page and 'href="/lang/' not in page  # the switcher posts its form
    r = b.post("/lang/vi", data={"next": "/worklist", "csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/worklist" and "oc_lang=vi" in r.headers["set-cookie"]
    assert saved() == "vi"
    anon = TestClient(app, follow_redirects=False)  # a visitor switches with the same form (anonymous token)
    r = anon.post("/lang/vi", data={"next": "/qa", "csrf_token": csrf_of(anon.get("/qa").text)})
    assert r.status_code == 303 and r.headers["location"] == "/qa" and 'lang="vi"' in anon.get("/qa").text
    assert anon.post("/lang/xx", data={"csrf_token": csrf_of(anon.get("/qa").text)}).status_code == 404


def test_repeated_failed_logins_are_slowed_then_refused(clinic_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_failures=3, login_delay_s=0.2))
    c = TestClient(app)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        r = c.post("/api/v1/auth/token", json={"username": USERS["nurse"], "password": "wrong password"})
        times.append(time.perf_counter() - t0)
        assert r.status_code == 401
    assert times[-1] >= 0.55  # the third failure waits 3 x 0.2 s
    r = c.post("/api/v1/auth/token", json={"username": USERS["nurse"], "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # even the right password, for a while
    assert r.json()["title"] == "Too many failed sign-ins"
    ok = c.post("/api/v1/auth/token", json={"username": USERS["doctor"], "password": PASSWORD})
    assert ok.status_code == 200  # another account is not locked out
    page = TestClient(app)
    r = page.post("/login", data={"username": USERS["nurse"], "password": PASSWORD,
                                  "csrf_token": csrf_of(page.get("/login").text)})
    assert r.status_code == 429


def test_the_sign_in_page_refuses_an_overlong_username_or_password_before_any_work(clinic_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))
    page = TestClient(app)
    token = csrf_of(page.get("/login").text)
    r = page.post("/login", data={"username": "a" * 900_000, "password": "x", "csrf_token": token})
    assert r.status_code == 422 and "The username is too long: 900,000 characters; at most 80." in r.text
    assert "a" * 81 not in r.text  # not echoed back
    r = page.post("/login", data={"username": USERS["nurse"], "password": "p" * 1025, "csrf_token": token})
    assert r.status_code == 422 and "The password is too long" in r.text
    assert len(app.state.login_limiter) == 0  # nothing kept for either
    r = page.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token})
    assert r.status_code == 401
    assert all(len(k) == 64 for k in app.state.login_limiter._events)  # a fixed-size digest, whatever was typed
    api = TestClient(app)
    r = api.post("/api/v1/auth/token", json={"username": "a" * 81, "password": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "username"


def test_the_rate_limiter_forgets_old_keys_and_keeps_at_most_max_keys() -> None:
    limiter = accounts.RateLimiter(2, 0.05, max_keys=100)
    assert limiter.retry_after("never-hit") == 0 and len(limiter) == 0  # a look-up stores nothing
    for i in range(1000):
        limiter.hit(f"key-{i}")
        assert len(limiter) <= 100
    limiter.hit("key-999")
    assert limiter.failures("key-999") == 2 and limiter.retry_after("key-999") > 0  # the latest keys are kept
    time.sleep(0.06)
    assert limiter.failures("key-999") == 0 and limiter.retry_after("key-999") == 0
    limiter.hit("fresh")
    assert len(limiter) <= 100 and "key-999" not in limiter._events  # an emptied key is dropped
    for _ in range(50):
        limiter.hit("fresh")
    assert len(limiter._events["fresh"]) == 2  # only the events that decide anything are kept


def test_questions_are_rate_limited(clinic_setup) -> None:  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(questions_per_window=2))
    c = TestClient(app)
    codes = [c.post("/api/v1/questions", json={"topic": "t", "body": f"question {i}"}).status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_errors_are_problems_naming_field_value_and_allowed(api, tokens, records) -> None:  # type: ignore[no-untyped-def]
    h = tokens["doctor"]
    r = api.post(f"/api/v1/patients/{records['patient']}/labs", headers=h,
                 json={"name": "creatinine", "value": -5, "unit": "umol/L", "date": "2026-01-01"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    err = r.json()["errors"][0]
    assert err["field"] == "value" and err["value"] == -5 and err["allowed"]
    r = api.get("/api/v1/patients", headers=h, params={"limit": 1000})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit" and r.json()["errors"][0]["value"] == "1000"
    r = api.get("/api/v1/patients/NOPE", headers=h)
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    r = api.post(f"/api/v1/patients/{records['patient']}/dxa", headers=h, json={"exam_date": "yesterday", "sites": []})
    fields = {e["field"] for e in r.json()["errors"]}
    assert r.status_code == 422 and {"exam_date", "sites"} <= fields


def test_form_validation_messages_are_shown_by_field(app, records) -> None:  # type: ignore[no-untyped-def]
    b = browser_for(app, "nurse")
    url = f"/patients/{records['patient']}"
    t = csrf_of(b.get(url).text)
    r = b.post(url + "/labs", data={"csrf_token": t, "name": "calcium", "value": "abc", "unit": "mmol/L",
                                    "date": "2026-01-01"})
    assert r.status_code == 422 and 'data-field="value"' in r.text
    r = b.post(url + "/dxa", data={"csrf_token": t, "exam_date": "2026-01-01", "total_hip_t": "-19"})
    assert r.status_code == 422 and "field-error" in r.text


def test_lists_are_paged(api, tokens) -> None:  # type: ignore[no-untyped-def]
    r = api.get("/api/v1/patients", headers=tokens["doctor"], params={"limit": 10, "offset": 5}).json()
    assert r["limit"] == 10 and r["offset"] == 5 and len(r["items"]) == 10 and r["total"] >= 25
