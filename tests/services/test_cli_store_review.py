"""Review of the clinic commands over the store (SQLite and PostgreSQL): a reaction dated before the patient was
born, ids past a 32-bit INTEGER column, the observation time after a dose, and names typed decomposed (NFD)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from osteocare.core.errors import InputError
from osteocare.core.records import parse_record
from osteocare.services import appointments as sa
from osteocare.services import assessments as sas
from osteocare.services import courses as sc
from osteocare.services import doses as sd
from osteocare.services import entries as se
from osteocare.services import facts as sf
from osteocare.services import patients as sp
from osteocare.services import reactions as sr
from osteocare.services.context import Clinic
from osteocare.services.errors import NotFound
from osteocare.store.db import Database

TODAY = dt.date(2025, 3, 3)  # the clinic fixture's today (tests/services/conftest.py)

#: One past the largest value of PostgreSQL's INTEGER (int4), the type of every id column.
PAST_INT4 = 2**31


def _born_1950(clinic: Clinic, rid: str) -> str:
    sp.add_patient(clinic, parse_record({"id": rid, "sex": "female", "age": 74}), birth_date=dt.date(1950, 5, 1))
    return rid


# --- a reaction cannot begin (or resolve) before the patient was born ------------------------------------------

def test_a_reaction_dated_before_birth_is_refused_as_entry_add_refuses_it(clinic: Clinic) -> None:
    rid = _born_1950(clinic, "B1")
    # the reviewer's scenario: an intolerance dated 1901 is refused by `entry add` ...
    with pytest.raises(InputError) as by_entry:
        se.add_entry(clinic, rid, "intolerance", {"drug": "alendronate", "reaction": "heartburn", "date": "1901-01-01"})
    # ... and by `reaction record --intolerance`, with the same words (the range from the birth date to today)
    with pytest.raises(InputError) as by_reaction:
        sr.record_reaction(clinic, rid, kind="digestive_irritation", severity="moderate", drug="alendronate",
                           onset_on=dt.date(1901, 1, 1), intolerance=True)
    assert by_reaction.value.field == "onset_on" and "1950-05-01" in str(by_reaction.value)
    assert by_reaction.value.allowed == by_entry.value.allowed
    assert sr.reactions_of(clinic, rid) == []
    # the day of birth itself is allowed
    ok = sr.record_reaction(clinic, rid, kind="digestive_irritation", severity="mild", drug="alendronate",
                            onset_on=dt.date(1950, 5, 1))
    assert ok.onset_on == dt.date(1950, 5, 1)


def test_a_resolution_dated_before_birth_is_refused(clinic: Clinic) -> None:
    rid = _born_1950(clinic, "B2")
    r = sr.record_reaction(clinic, rid, kind="headache", severity="mild", drug="alendronate")
    with pytest.raises(InputError) as exc:
        sr.update_reaction_outcome(clinic, r.id, outcome="resolved", resolved_on=dt.date(1901, 1, 1))
    assert exc.value.field == "resolved_on" and "1950-05-01" in str(exc.value)
    with pytest.raises(InputError):
        sr.record_reaction(clinic, rid, kind="headache", severity="mild", drug="alendronate", outcome="resolved",
                           resolved_on=dt.date(1901, 1, 1))


def test_a_reaction_onset_before_the_earliest_birth_of_a_recorded_age_is_refused(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient("B3", labs=False)  # age 70, no birth date: born in 1954 at the earliest
    with pytest.raises(InputError) as exc:
        sr.record_reaction(clinic, rid, kind="headache", severity="mild", drug="alendronate",
                           onset_on=dt.date(1901, 1, 1))
    assert exc.value.field == "onset_on" and "age 70" in str(exc.value)


# --- ids past INTEGER: "not found" on both stores, never a driver error --------------------------------------

def _calls(rid: str) -> list[tuple[str, Callable[[Clinic], Any]]]:
    big = PAST_INT4
    return [
        ("lab delete", lambda c: sf.delete_lab(c, big, reason="x")),
        ("course stop", lambda c: sc.stop_course(c, big, reason="x")),
        ("course show", lambda c: sc.get_course(c, big)),
        ("dose checks", lambda c: sd.predose_checks(c, big)),
        ("dose confirm", lambda c: sd.confirm_check(c, big, "dental_review", outcome="ok", detail="done")),
        ("dose record --appointment", lambda c: sd.record_dose(c, item_id=big, lot_number="L1")),
        ("dose record --course", lambda c: sd.record_dose(c, course_id=big, lot_number="L1")),
        ("appointment book", lambda c: sa.book_appointment(c, big, at=dt.datetime.combine(TODAY, dt.time(9)))),
        ("appointment complete", lambda c: sa.complete_item(c, big)),
        ("appointment cancel", lambda c: sa.cancel_item(c, big, reason="x")),
        ("reaction outcome", lambda c: sr.update_reaction_outcome(c, big, outcome="ongoing")),
        ("reaction record --course", lambda c: sr.record_reaction(c, rid, kind="headache", severity="mild",
                                                                  course_id=big)),
        ("reaction record --dose", lambda c: sr.record_reaction(c, rid, kind="headache", severity="mild",
                                                                dose_id=big)),
        ("entry end", lambda c: se.end_entry(c, "condition", big, TODAY)),
        ("entry delete", lambda c: se.delete_entry(c, "condition", big, reason="x")),
        ("course start --from-assessment", lambda c: sc.start_course(c, rid, "alendronate", origin="recommendation",
                                                                     assessment_id=big)),
        ("assessment show", lambda c: sas.get_assessment(c, big)),
    ]


def test_an_id_past_a_32_bit_integer_is_not_found_on_either_store(clinic: Clinic,
                                                                  patient: Callable[..., str]) -> None:
    rid = patient("I1")
    for what, call in _calls(rid):
        with pytest.raises(NotFound):
            call(clinic)
        assert what  # (named for the failure message)


def test_observation_minutes_past_a_day_are_refused_naming_the_limit(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    rid = patient("O1")
    c = sc.start_course(clinic, rid, "zoledronic_acid", start_date=TODAY)
    for minutes in (PAST_INT4, 1441):  # the reviewer's 2147483648 (4,000 years; an int4 overflow on PostgreSQL)
        with pytest.raises(InputError) as exc:
            sd.record_dose(clinic, course_id=c.id, lot_number="L1", observation_minutes=minutes, given_on=TODAY,
                           override_reason="x")
        assert exc.value.field == "observation_minutes" and "1440" in str(exc.value)
        assert "not a clinical" in str(exc.value)
    done = sd.record_dose(clinic, course_id=c.id, lot_number="L1", observation_minutes=1440, given_on=TODAY,
                          override_reason="x")
    assert done.dose.observation_minutes == 1440


# --- names typed decomposed (NFD) are stored composed and found -----------------------------------------------

GIVEN, FAMILY = "Trần Thị", "Ánh"


def _nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def test_names_typed_decomposed_are_stored_composed(clinic: Clinic) -> None:
    assert _nfd(FAMILY) != FAMILY  # the test means something
    sp.add_patient(clinic, parse_record({"id": "N1", "sex": "female", "age": 68}), given_name=_nfd(GIVEN),
                   family_name=_nfd(FAMILY), phone=_nfd("０９１２"))
    got = sp.get_patient(clinic, "N1")
    assert (got.given_name, got.family_name) == (GIVEN, FAMILY)
    sp.update_identity(clinic, "N1", sex="female", given_name=_nfd("Đặng Thị"), family_name=_nfd("Ấu"),
                       birth_date=None, phone=None, age=68)
    got = sp.get_patient(clinic, "N1")
    assert (got.given_name, got.family_name) == ("Đặng Thị", "Ấu")
    sp.import_patients(clinic, [{"id": "N2", "sex": "female", "age": 70, "given_name": _nfd(GIVEN),
                                 "family_name": _nfd(FAMILY)}])
    assert (sp.get_patient(clinic, "N2").given_name, sp.get_patient(clinic, "N2").family_name) == (GIVEN, FAMILY)
    # `patient search` (its text composed too; SQLite's lower() folds only ASCII, so the case of Ầ is kept)
    assert [p.record_id for p in sp.find_patients(clinic, _nfd("trần"))] == ["N2"]


def test_the_api_search_finds_a_name_typed_decomposed_by_its_composed_form(clinic: Clinic, db: Database) -> None:
    """The API reviewer's scenario (repro_nfd_search.py): a patient created over the API with an NFD name is found
    by the family name typed composed (NFC), or decomposed, or in lower case."""
    from fastapi.testclient import TestClient

    from osteocare.web import accounts
    from osteocare.web.app import WebOptions, create_app

    accounts.create_user(clinic, username="dr_nfd", password="correct horse battery", role="doctor")
    app = create_app(clinic.settings, clinic=clinic, options=WebOptions(login_delay_s=0.0))
    with TestClient(app) as api:
        tok = api.post("/api/v1/auth/token", json={"username": "dr_nfd", "password": "correct horse battery"})
        auth = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        r = api.post("/api/v1/patients", headers=auth, json={"record": {"id": "NFD-1", "sex": "female", "age": 68},
                                                             "given_name": _nfd(GIVEN), "family_name": _nfd(FAMILY)})
        assert r.status_code == 201, r.text
        for q in (FAMILY, _nfd(FAMILY), "ánh", "ÁNH", "Trần"):
            items = api.get("/api/v1/patients", headers=auth, params={"q": q}).json()["items"]
            assert [i["record_id"] for i in items] == ["NFD-1"], q


def test_the_search_folds_a_decomposed_name_stored_before_the_migration(clinic: Clinic, db: Database) -> None:
    """A name written straight into the table (as before 0013) is found whichever form is typed."""
    from osteocare.web.queries import patients_page

    sp.add_patient(clinic, parse_record({"id": "OLD-1", "sex": "female", "age": 70}), family_name="x")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE patients SET family_name = :f WHERE record_id = 'OLD-1'"), {"f": _nfd("Đặng")})
    for q in ("Đặng", "đặng", _nfd("đặng")):
        rows, total = patients_page(clinic, q)
        assert total == 1 and rows[0]["record_id"] == "OLD-1", q


def test_migration_0013_composes_the_stored_names(clinic: Clinic, db: Database) -> None:
    from osteocare.store.migrate import downgrade, upgrade

    sp.add_patient(clinic, parse_record({"id": "M1", "sex": "female", "age": 70}), given_name="x", family_name="y")
    downgrade(db, "0012")
    try:
        with db.engine.begin() as conn:  # names written decomposed, as before 0013
            conn.execute(text("UPDATE patients SET given_name = :g, family_name = :f, phone = :p"),
                         {"g": _nfd(GIVEN), "f": _nfd(FAMILY), "p": _nfd("Ánh 0912")})
    finally:
        upgrade(db)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT given_name, family_name, phone FROM patients")).one()
    assert tuple(row) == (GIVEN, FAMILY, "Ánh 0912")
