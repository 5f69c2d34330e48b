"""iCalendar changes reach a calendar that imported the file once: SEQUENCE grows with every change and stays put
while nothing changes (RFC 5545 3.8.7.4), and what was cancelled comes back as STATUS:CANCELLED with its UID."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from icalendar import Calendar
from sqlalchemy import update
from test_calendar_hostile import check_calendar

from osteocare.services.appointments import book_appointment, cancel_item, patient_schedule
from osteocare.services.calendar import patient_calendar
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course, stop_course
from osteocare.services.doses import record_dose
from osteocare.store import models as m

TODAY = dt.date(2025, 3, 3)
AN_HOUR_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def _events(data: bytes) -> dict[str, dict[str, object]]:
    """UID -> {start, sequence, status} of every event, read back with the ``icalendar`` library."""
    check_calendar(data)  # the strict RFC 5545 reader; UIDs unique
    out: dict[str, dict[str, object]] = {}
    for e in Calendar.from_ical(data).walk("VEVENT"):
        out[str(e["UID"])] = {"start": e["DTSTART"].dt, "sequence": int(e["SEQUENCE"]),
                              "status": str(e.get("STATUS", "CONFIRMED"))}
    return out


def _written_at(clinic: Clinic, when: dt.datetime = AN_HOUR_AGO) -> None:
    """The schedule as it is, but last changed at ``when`` (so the next change is later by the clock)."""
    with clinic.db.write() as s:
        s.execute(update(m.ScheduleItem).values(updated_at=when))


def _denosumab_after_one_dose(clinic: Clinic, rid: str) -> tuple[int, int]:
    course = start_course(clinic, rid, "denosumab", start_date=dt.date(2024, 9, 10))
    first = record_dose(clinic, course_id=course.id, given_on=dt.date(2024, 9, 10), lot_number="A")
    assert first.next_item is not None
    return course.id, first.next_item.id


def test_every_event_keeps_its_sequence_while_nothing_changes(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    _denosumab_after_one_dose(clinic, rid)
    start_course(clinic, rid, "alendronate", start_date=TODAY, anchor_weekday=0)
    start_course(clinic, rid, "ibandronate", start_date=dt.date(2025, 1, 31))  # explicit month-end dates
    first, again = _events(patient_calendar(clinic, rid)), _events(patient_calendar(clinic, rid))
    assert len(first) > 10 and first == again
    assert all(0 < e["sequence"] < 2**31 for e in first.values())  # type: ignore[operator]


def test_moving_an_appointment_raises_the_sequence_of_it_and_of_the_doses_projected_from_it(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    course_id, item_id = _denosumab_after_one_dose(clinic, rid)
    book_appointment(clinic, item_id, at=dt.datetime(2025, 3, 10, 9, 30))
    _written_at(clinic)
    before = _events(patient_calendar(clinic, rid))
    book_appointment(clinic, item_id, at=dt.datetime(2025, 3, 17, 9, 30))  # a week later
    after = _events(patient_calendar(clinic, rid))
    dose2, dose3 = (f"course-{course_id}-dose-{n}@osteocare.invalid" for n in (2, 3))
    assert after[dose2]["start"] != before[dose2]["start"] and after[dose3]["start"] != before[dose3]["start"]
    for uid in (dose2, dose3):
        assert after[uid]["sequence"] > before[uid]["sequence"], uid  # type: ignore[operator]
    unchanged = [uid for uid in before if uid not in (dose2, dose3) and before[uid]["start"] == after[uid]["start"]]
    assert unchanged and all(after[uid]["sequence"] == before[uid]["sequence"] for uid in unchanged)


def test_an_overdue_item_shown_on_the_export_day_moves_on_with_a_higher_sequence(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    course_id, _item = _denosumab_after_one_dose(clinic, rid)  # dose 2 due 10 Mar 2025
    _written_at(clinic, dt.datetime(2025, 3, 3, 10, tzinfo=dt.UTC))  # and exported on later days
    dose2 = f"course-{course_id}-dose-2@osteocare.invalid"
    later = [_events(patient_calendar(clinic, rid, today=day))[dose2]
             for day in (dt.date(2025, 4, 1), dt.date(2025, 4, 1), dt.date(2025, 4, 2))]
    assert [e["start"] for e in later] == [dt.date(2025, 4, 1), dt.date(2025, 4, 1), dt.date(2025, 4, 2)]
    assert later[0]["sequence"] == later[1]["sequence"] < later[2]["sequence"]  # type: ignore[operator]


def test_a_cancelled_appointment_is_exported_as_cancelled_with_its_uid_and_a_higher_sequence(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    start_course(clinic, rid, "alendronate", start_date=TODAY, anchor_weekday=0)
    dxa = next(i for i in patient_schedule(clinic, rid) if i.kind == "dxa")
    before = _events(patient_calendar(clinic, rid))
    uid = f"item-{dxa.id}@osteocare.invalid"
    assert before[uid]["status"] == "CONFIRMED"
    cancel_item(clinic, dxa.id, reason="Done at another hospital")
    after = _events(patient_calendar(clinic, rid))
    assert after[uid]["status"] == "CANCELLED" and after[uid]["sequence"] > before[uid]["sequence"]  # type: ignore[operator]
    assert [u for u, e in after.items() if e["status"] == "CANCELLED"] == [uid]
    # Cancelled longer ago than the horizon: no imported copy can still hold it in the future.
    assert uid not in _events(patient_calendar(clinic, rid, today=dt.date.today() + dt.timedelta(days=400)))


def test_stopping_a_course_cancels_its_appointment_its_projected_doses_and_its_home_reminders(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    dmab, _item = _denosumab_after_one_dose(clinic, rid)
    pills = start_course(clinic, rid, "alendronate", start_date=TODAY, anchor_weekday=0)
    month_end = start_course(clinic, rid, "ibandronate", start_date=dt.date(2025, 1, 31))
    before = _events(patient_calendar(clinic, rid))
    doses = {u for u in before if u.startswith(f"course-{dmab}-dose-")}
    home = {u for u in before if u.startswith((f"course-{pills.id}-home", f"course-{month_end.id}-home"))}
    assert len(doses) >= 2 and len(home) >= 10
    for c in (dmab, pills.id, month_end.id):
        stop_course(clinic, c, reason="Stopped for the test", stop_date=TODAY)
    after = _events(patient_calendar(clinic, rid))
    for uid in doses | home:
        assert after[uid]["status"] == "CANCELLED", uid
        assert after[uid]["sequence"] > before[uid]["sequence"], uid  # type: ignore[operator]
    live = {u for u, e in after.items() if e["status"] != "CANCELLED"}
    assert not live & (doses | home)
