"""A small demo clinic on a temporary SQLite file, with one account per role, shared by the web tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from osteocare.services.context import Clinic
from osteocare.services.demo import load_demo
from osteocare.settings import get_settings
from osteocare.store import models as m
from osteocare.web import accounts
from osteocare.web.app import WebOptions, create_app

PASSWORD = "correct horse battery"
USERS = {"doctor": "dr_an", "nurse": "nurse_binh", "admin": "admin_chi", "patient": "patient_one",
         "patient2": "patient_two"}


def build_clinic(db_path: Path, patients: int = 25) -> tuple[Clinic, dict[str, str]]:
    """A demo clinic and its accounts; returns the clinic and the two patients' record ids."""
    clinic = Clinic.open(get_settings({"OSTEOCARE_DATABASE_URL": f"sqlite:///{db_path}"}), actor="test-setup")
    load_demo(clinic, patients=patients, seed=7)
    with clinic.db.read() as s:
        # a patient on a clinic-given course (denosumab or zoledronic acid) with an open dose, and any other
        rows = s.execute(select(m.Patient.record_id, m.TreatmentCourse.drug).join(m.TreatmentCourse)
                         .join(m.ScheduleItem, m.ScheduleItem.course_id == m.TreatmentCourse.id)
                         .where(m.TreatmentCourse.status == "active", m.ScheduleItem.kind == "dose",
                                m.ScheduleItem.status == "open").order_by(m.Patient.record_id)).all()
    clinic_drug = next(r for r, d in rows if d in ("zoledronic_acid", "denosumab"))
    oral = next((r for r, d in rows if d in ("alendronate", "risedronate", "ibandronate") and r != clinic_drug), None)
    other = oral or next(r for r, _ in rows if r != clinic_drug)
    records = {"patient": clinic_drug, "patient2": other}
    for role, name in USERS.items():
        accounts.create_user(clinic, username=name, password=PASSWORD,
                             role="patient" if role.startswith("patient") else role,
                             record_id=records.get(role))
    return clinic, records


@pytest.fixture(scope="session")
def clinic_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clinic, dict[str, str]]:
    return build_clinic(tmp_path_factory.mktemp("web") / "clinic.sqlite3")


@pytest.fixture(scope="session")
def app(clinic_setup):  # type: ignore[no-untyped-def]
    clinic, _ = clinic_setup
    return create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0, questions_per_window=1000))


@pytest.fixture(scope="session")
def records(clinic_setup) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return clinic_setup[1]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def browser_for(app, role: str | None) -> TestClient:  # type: ignore[no-untyped-def]
    """A TestClient signed in (session cookie) as ``role`` (None = anonymous)."""
    c = TestClient(app, follow_redirects=False)
    if role is None:
        return c
    r = c.get("/login")
    r = c.post("/login", data={"username": USERS[role], "password": PASSWORD, "csrf_token": csrf_of(r.text), "next": "/"})
    assert r.status_code == 303, r.text[:500]
    return c


def token_for(app, role: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    c = TestClient(app)
    r = c.post("/api/v1/auth/token", json={"username": USERS[role], "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="session")
def tokens(app) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return {role: token_for(app, role) for role in USERS}


@pytest.fixture
def api(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def own_setup(tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> tuple[Clinic, dict[str, str]]:
    """A demo clinic of the test module's own (a module that changes records the shared clinic's tests read)."""
    return build_clinic(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "clinic.sqlite3")


@pytest.fixture(scope="module")
def own_app(own_setup):  # type: ignore[no-untyped-def]
    return create_app(own_setup[0].settings, clinic=own_setup[0], options=WebOptions(login_delay_s=0.0))


@pytest.fixture(scope="module")
def own_tokens(own_app) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return {role: token_for(own_app, role) for role in USERS}
