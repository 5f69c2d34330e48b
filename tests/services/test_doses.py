"""Clinic doses: checks before the dose, lot number, observation, one dose per appointment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from osteocare.core.errors import InputError
from osteocare.services.appointments import book_appointment
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.doses import confirm_check, doses_of, predose_checks, record_dose
from osteocare.services.errors import DoseAlreadyRecorded, InvalidState
from osteocare.services.facts import add_lab
from osteocare.services.patients import audit_trail
from osteocare.settings import get_settings

TODAY = dt.date(2025, 3, 3)


def _first_item(clinic: Clinic, rid: str, drug: str, reason: str | None = None) -> tuple[int, int]:
    c = start_course(clinic, rid, drug, start_date=TODAY, override_reason=reason)
    from osteocare.services.appointments import patient_schedule

    item = next(i for i in patient_schedule(clinic, rid) if i.kind == "dose" and i.course_id == c.id)
    return c.id, item.id


def _by_id(checks: list) -> dict:  # type: ignore[type-arg]
    return {c.check_id: c for c in checks}


def test_the_checks_before_an_infusion_follow_the_drug_file(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    _course, item = _first_item(clinic, rid, "zoledronic_acid")
    checks = _by_id(predose_checks(clinic, item))
    assert list(checks) == ["serum_calcium", "vitamin_d_25oh", "creatinine_crcl", "dental_review"]
    # Labs fine, but how recent they must be is local policy, not configured: shown for the clinician.
    assert checks["serum_calcium"].outcome == "not_configured"
    assert "2.1-2.6" in checks["serum_calcium"].detail and "not configured" in checks["serum_calcium"].detail
    assert checks["creatinine_crcl"].outcome == "not_configured" and "CrCl" in checks["creatinine_crcl"].detail
    assert checks["vitamin_d_25oh"].outcome == "not_configured"
    assert checks["dental_review"].outcome == "to_review"


def test_a_low_crcl_low_calcium_and_low_vitamin_d_fail_their_checks(clinic: Clinic,
                                                                    patient: Callable[..., str]) -> None:
    rid = patient(labs=False, age=88, weight_kg=40.0)
    day = TODAY - dt.timedelta(days=3)
    add_lab(clinic, rid, name="creatinine", value=150, unit="umol/L", date=day)
    add_lab(clinic, rid, name="calcium", value=1.95, unit="mmol/L", date=day, reference_low=2.1, reference_high=2.6)
    add_lab(clinic, rid, name="vitamin_d_25oh", value=30, unit="nmol/L", date=day)
    _course, item = _first_item(clinic, rid, "zoledronic_acid", "nephrology review")
    checks = _by_id(predose_checks(clinic, item))
    assert checks["creatinine_crcl"].outcome == "not_ok" and "below 35" in checks["creatinine_crcl"].detail
    assert checks["creatinine_crcl"].status == "secondary"  # the label kidney limit's status
    assert checks["serum_calcium"].outcome == "not_ok" and "low" in checks["serum_calcium"].detail
    assert checks["vitamin_d_25oh"].outcome == "not_ok"
    assert checks["vitamin_d_25oh"].status == "unverified"  # nmol/L -> ng/mL uses the unverified factor


def test_with_a_local_recency_policy_old_results_must_be_repeated(clinic: Clinic, patient: Callable[..., str]) -> None:
    strict = clinic.__class__(clinic.db, get_settings({"OSTEOCARE_DATABASE_URL": clinic.db.url,
                                                       "OSTEOCARE_PREDOSE_LAB_MAX_AGE_DAYS": "10"}),
                              "tester", fixed_today=TODAY)
    rid = patient()  # labs 20 days old
    _course, item = _first_item(strict, rid, "denosumab")
    checks = _by_id(predose_checks(strict, item))
    assert checks["serum_calcium"].outcome == "missing" and "10 days" in checks["serum_calcium"].detail
    add_lab(strict, rid, name="calcium", value=2.3, unit="mmol/L", date=TODAY, reference_low=2.1, reference_high=2.6)
    assert _by_id(predose_checks(strict, item))["serum_calcium"].outcome == "ok"


def test_the_clinician_confirms_a_check_and_it_is_kept_with_the_appointment(clinic: Clinic,
                                                                            patient: Callable[..., str]) -> None:
    rid = patient()
    _course, item = _first_item(clinic, rid, "denosumab")
    confirm_check(clinic, item, "dental_review", outcome="ok", detail="dentist 2025-02-20: no invasive work planned")
    dental = _by_id(predose_checks(clinic, item))["dental_review"]
    assert (dental.outcome, dental.confirmed_by) == ("ok", "tester")
    with pytest.raises(InputError):
        confirm_check(clinic, item, "not_a_check", outcome="ok", detail="x")


def test_a_clinic_dose_needs_its_lot_number_and_cannot_be_in_the_future(clinic: Clinic,
                                                                        patient: Callable[..., str]) -> None:
    rid = patient()
    _course, item = _first_item(clinic, rid, "denosumab")
    with pytest.raises(InputError, match="lot_number"):
        record_dose(clinic, item_id=item, given_on=TODAY)
    with pytest.raises(InputError, match="given_on"):
        record_dose(clinic, item_id=item, given_on=TODAY + dt.timedelta(days=1), lot_number="L")
    assert doses_of(clinic, rid) == []


def test_the_dose_is_recorded_once_with_lot_site_and_observation(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    course, item = _first_item(clinic, rid, "zoledronic_acid")
    res = record_dose(clinic, item_id=item, given_on=TODAY, lot_number="ZA-2291", body_site="left forearm",
                      observation_minutes=30, observation_notes="well, no reaction")
    d = res.dose
    assert (d.lot_number, d.body_site, d.observation_minutes, d.dose_value, d.dose_unit) == (
        "ZA-2291", "left forearm", 30, 5.0, "mg")
    assert any("dental_review" not in w for w in res.warnings) or res.warnings == []
    with pytest.raises(DoseAlreadyRecorded) as exc:
        record_dose(clinic, item_id=item, given_on=TODAY, lot_number="ZA-2292")
    assert exc.value.dose_id == d.id
    with pytest.raises(DoseAlreadyRecorded):  # the same course on the same day is a duplicate entry too
        record_dose(clinic, course_id=course, given_on=TODAY, lot_number="ZA-2293")
    assert len(doses_of(clinic, rid)) == 1
    assert [a["action"] for a in audit_trail(clinic, rid) if a["entity"] == "dose"] == ["create"]


def test_observation_shorter_than_local_policy_is_flagged(clinic: Clinic, patient: Callable[..., str]) -> None:
    policy = clinic.__class__(clinic.db, get_settings({"OSTEOCARE_DATABASE_URL": clinic.db.url,
                                                       "OSTEOCARE_OBSERVATION_MINUTES": "30"}),
                              "tester", fixed_today=TODAY)
    rid = patient()
    _course, item = _first_item(policy, rid, "zoledronic_acid")
    res = record_dose(policy, item_id=item, given_on=TODAY, lot_number="L", observation_minutes=10)
    assert any("local policy is 30 min" in w for w in res.warnings)


def test_appointments_are_booked_in_the_clinic_time_zone(clinic: Clinic, patient: Callable[..., str]) -> None:
    hcm = clinic.__class__(clinic.db, get_settings({"OSTEOCARE_DATABASE_URL": clinic.db.url,
                                                    "OSTEOCARE_TIMEZONE": "Asia/Ho_Chi_Minh"}),
                           "tester", fixed_today=TODAY)
    rid = patient()
    _course, item = _first_item(hcm, rid, "denosumab")
    booked = book_appointment(hcm, item, at=dt.datetime(2025, 3, 3, 9, 30), location="Room 2")
    assert booked.scheduled_at == dt.datetime(2025, 3, 3, 2, 30, tzinfo=dt.UTC)
    record_dose(hcm, item_id=item, given_on=TODAY, lot_number="L")
    with pytest.raises(InvalidState):
        book_appointment(hcm, item, at=dt.datetime(2025, 3, 4, 9, 30))


def test_home_doses_may_be_recorded_without_an_appointment(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "teriparatide", start_date=TODAY - dt.timedelta(days=2))
    res = record_dose(clinic, course_id=c.id, given_on=TODAY)
    assert res.dose.item_id is None and res.next_item is None
