"""iCalendar export: valid RFC 5545, reminders, explicit month-end dates, no drug or diagnosis in the feed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from icalendar import Calendar

from osteocare.services.appointments import book_appointment
from osteocare.services.calendar import calendar_for_token, calendar_token, patient_calendar
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.doses import record_dose
from osteocare.services.drugs import drug_ids, regimen
from osteocare.services.errors import NotFound
from osteocare.settings import get_settings

TODAY = dt.date(2025, 3, 3)
SECRETS = [*drug_ids(), *(regimen(d).name.lower() for d in drug_ids()), "osteoporosis", "bisphosphonate",
           "injection", "infusion", "fracture", "bone"]


def _events(data: bytes) -> list:  # type: ignore[type-arg]
    return [c for c in Calendar.from_ical(data).walk("VEVENT")]


@pytest.fixture
def busy(clinic: Clinic, patient: Callable[..., str]) -> str:
    rid = patient()
    dmab = start_course(clinic, rid, "denosumab", start_date=dt.date(2024, 8, 31))
    first = record_dose(clinic, course_id=dmab.id, given_on=dt.date(2024, 8, 31), lot_number="A")
    assert first.next_item is not None
    book_appointment(clinic, first.next_item.id, at=dt.datetime(2025, 3, 10, 9, 30), location="Room 2")
    start_course(clinic, rid, "alendronate", start_date=dt.date(2025, 3, 3), anchor_weekday=0)
    start_course(clinic, rid, "ibandronate", start_date=dt.date(2025, 1, 31))
    start_course(clinic, rid, "calcitriol", start_date=dt.date(2025, 3, 1))
    return rid


def test_the_export_is_valid_rfc_5545_with_reminders(clinic: Clinic, busy: str) -> None:
    data = patient_calendar(clinic, busy)
    cal = Calendar.from_ical(data)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    text = data.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # folded lines
    events = _events(data)
    assert events
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    for e in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "SUMMARY"):
            assert prop in e, (prop, e)
        alarms = e.walk("VALARM")
        assert alarms and all(a["ACTION"] == "DISPLAY" and "TRIGGER" in a and "DESCRIPTION" in a for a in alarms)
    used = set(re.findall(r";TZID=([^:;]+)", text))
    defined = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert used <= defined  # every TZID referenced has its VTIMEZONE


def test_a_clinic_in_another_time_zone_exports_local_times_with_their_vtimezone(clinic: Clinic, busy: str) -> None:
    hcm = clinic.__class__(clinic.db, get_settings({"OSTEOCARE_DATABASE_URL": clinic.db.url,
                                                    "OSTEOCARE_TIMEZONE": "Asia/Ho_Chi_Minh"}), "t", fixed_today=TODAY)
    text = patient_calendar(hcm, busy).decode()
    assert "TZID:Asia/Ho_Chi_Minh" in text and "DTSTART;TZID=Asia/Ho_Chi_Minh:" in text


def test_no_drug_name_or_diagnosis_appears_anywhere_in_the_feed(clinic: Clinic, busy: str) -> None:
    text = patient_calendar(clinic, busy).decode().lower()
    for word in SECRETS:
        assert word not in text, word
    summaries = {str(e["SUMMARY"]) for e in _events(patient_calendar(clinic, busy))}
    assert summaries <= {"Clinic appointment", "Blood test", "Medicine reminder"}


def test_clinic_doses_are_explicit_dates_from_the_last_dose_month_end_clamped(clinic: Clinic, busy: str) -> None:
    events = _events(patient_calendar(clinic, busy))
    booked = [e for e in events if "LOCATION" in e]
    assert len(booked) == 1 and booked[0]["DTSTART"].dt.date() == dt.date(2025, 3, 10)
    projected = sorted(e["DTSTART"].dt for e in events if str(e["UID"]).startswith("course-1-dose-")
                       and "LOCATION" not in e)  # the booked dose 2 carries its course UID too
    assert projected[0] == dt.date(2025, 9, 10)  # 6 months from the booked (planned) dose
    assert not [e for e in events if str(e["UID"]).startswith("course-1") and "RRULE" in e]


def test_home_pills_use_bounded_rules_and_day_31_becomes_explicit_dates(clinic: Clinic, busy: str) -> None:
    events = _events(patient_calendar(clinic, busy))
    rules = {str(e["UID"]): e["RRULE"] for e in events if "RRULE" in e}
    weekly = next(r for r in rules.values() if r["FREQ"] == ["WEEKLY"])
    assert weekly["BYDAY"] == ["MO"] and "UNTIL" in weekly
    daily = next(r for r in rules.values() if r["FREQ"] == ["DAILY"])
    assert daily["BYHOUR"] == [8, 20]  # twice daily
    assert not any(r["FREQ"] == ["MONTHLY"] for r in rules.values())  # ibandronate on the 31st
    monthly = sorted(e["DTSTART"].dt.date() for e in events if "-home-" in str(e["UID"]))
    assert monthly[:3] == [dt.date(2025, 3, 31), dt.date(2025, 4, 30), dt.date(2025, 5, 31)]


def test_the_feed_token_is_unguessable_and_can_be_rotated(clinic: Clinic, busy: str) -> None:
    token = calendar_token(clinic, busy)
    assert len(token) >= 40
    assert calendar_for_token(clinic, token).startswith(b"BEGIN:VCALENDAR")
    new = calendar_token(clinic, busy, rotate=True)
    assert new != token
    with pytest.raises(NotFound):
        calendar_for_token(clinic, token)


def test_the_export_horizon_must_be_a_representable_number_of_months(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    from osteocare.core.errors import InputError

    rid = patient("H1", labs=False)
    for months in (0, -1, 100_000):
        with pytest.raises(InputError, match="horizon_months"):
            patient_calendar(clinic, rid, horizon_months=months)
    assert patient_calendar(clinic, rid, horizon_months=1).startswith(b"BEGIN:VCALENDAR")
