"""Schedules: every drug interval from its knowledge file, month-end dates, leap days, late doses moving the plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.knowledge import load
from osteocare.core.schedule import (
    Interval,
    add_interval,
    add_months,
    days_covered,
    dose_dates_between,
    monthly_on,
    next_due,
    planned_due_dates,
    timeliness,
    weekly_on,
)
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.doses import record_dose
from osteocare.services.drugs import course_drug_ids, regimen

D = dt.date

# --- pure date arithmetic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "months", "expected"), [
    (D(2025, 8, 31), 6, D(2026, 2, 28)),   # codes.md 6: the denosumab month-end case
    (D(2023, 8, 31), 6, D(2024, 2, 29)),   # ... into a leap February
    (D(2026, 2, 28), 6, D(2026, 8, 28)),   # an injection on 28 Feb -> next due 28 Aug
    (D(2025, 1, 31), 1, D(2025, 2, 28)),
    (D(2024, 1, 31), 1, D(2024, 2, 29)),
    (D(2025, 3, 31), 1, D(2025, 4, 30)),
    (D(2025, 12, 15), 1, D(2026, 1, 15)),
    (D(2025, 11, 30), 3, D(2026, 2, 28)),
    (D(2025, 5, 31), -3, D(2025, 2, 28)),
])
def test_calendar_months_clamp_to_the_end_of_a_short_month(start: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(start, months) == expected


def test_a_yearly_dose_on_a_leap_day_falls_on_28_february_and_back_to_29_in_the_next_leap_year() -> None:
    yearly = Interval(12, "month")
    assert next_due(D(2024, 2, 29), yearly) == D(2025, 2, 28)
    assert add_interval(D(2024, 2, 29), yearly, times=4) == D(2028, 2, 29)
    assert next_due(D(2027, 2, 28), yearly) == D(2028, 2, 28)


def test_six_monthly_doses_never_skip_a_short_month_unlike_an_rrule() -> None:
    dates = planned_due_dates(D(2025, 8, 31), Interval(6, "month"), 4)
    assert dates == [D(2026, 2, 28), D(2026, 8, 28), D(2027, 2, 28), D(2027, 8, 28)]
    gaps = [(b - a).days for a, b in zip([D(2025, 8, 31), *dates], dates, strict=False)]
    assert max(gaps) <= 184


def test_weekly_and_daily_intervals_are_exact_days_across_a_leap_day() -> None:
    assert next_due(D(2024, 2, 26), Interval(7, "day")) == D(2024, 3, 4)
    assert next_due(D(2024, 2, 28), Interval(1, "day")) == D(2024, 2, 29)
    assert next_due(D(2023, 2, 28), Interval(1, "day")) == D(2023, 3, 1)


def test_home_pills_fall_on_the_patients_weekday_and_day_of_the_month() -> None:
    assert weekly_on(0, D(2025, 3, 5)) == D(2025, 3, 10)
    assert weekly_on(2, D(2025, 3, 5)) == D(2025, 3, 5)
    assert monthly_on(31, D(2025, 2, 1)) == D(2025, 2, 28)
    assert monthly_on(15, D(2025, 2, 16)) == D(2025, 3, 15)
    monthly = list(dose_dates_between(D(2024, 1, 31), D(2024, 6, 30), Interval(1, "month")))
    assert monthly == [D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30), D(2024, 5, 31), D(2024, 6, 30)]
    weekly = list(dose_dates_between(D(2025, 3, 1), D(2025, 3, 31), Interval(7, "day"), anchor=0))
    assert weekly == [D(2025, 3, 3), D(2025, 3, 10), D(2025, 3, 17), D(2025, 3, 24), D(2025, 3, 31)]


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)), st.integers(min_value=1, max_value=36))
def test_a_monthly_step_lands_in_the_right_month_never_later_than_the_same_day(day: dt.date, months: int) -> None:
    nxt = add_months(day, months)
    assert (nxt.year * 12 + nxt.month) - (day.year * 12 + day.month) == months
    assert nxt.day <= day.day
    assert nxt.day == day.day or nxt.month != (nxt + dt.timedelta(days=1)).month


def test_timeliness_is_due_on_the_day_overdue_after_and_urgent_only_with_a_window() -> None:
    due = D(2025, 1, 10)
    assert timeliness(due, D(2025, 1, 9)) == "not_yet_due"
    assert timeliness(due, due) == "due"
    assert timeliness(due, D(2025, 3, 10)) == "overdue"
    assert timeliness(due, D(2025, 2, 6), urgent_after_days=28) == "overdue"
    assert timeliness(due, D(2025, 2, 7), urgent_after_days=28) == "urgent"


def test_days_covered_counts_overlapping_courses_once() -> None:
    assert days_covered([(D(2024, 1, 1), D(2024, 1, 10)), (D(2024, 1, 5), D(2024, 1, 20))]) == 20
    assert days_covered([(D(2024, 1, 1), D(2024, 1, 1)), (D(2024, 1, 2), D(2024, 1, 2))]) == 2
    assert days_covered([]) == 0


# --- every drug's interval comes from its knowledge file -------------------------------------------------------


def _interval_fact(drug: str) -> tuple[int, str]:
    kf = next(f for f in __import__("osteocare.core.knowledge", fromlist=["all_files"]).all_files().values()
              if f.kind == "drug" and f.data.get("drug") == drug)
    for name, unit in (("interval_days", "day"), ("interval_months", "month"), ("doses_per_day", "day")):
        if name in kf.facts:
            return (int(kf.value(name)) if name != "doses_per_day" else 1), unit
    raise AssertionError(drug)


@pytest.mark.parametrize("drug", course_drug_ids())
def test_every_drug_schedule_uses_the_interval_of_its_knowledge_file(drug: str) -> None:
    reg = regimen(drug)
    count, unit = _interval_fact(drug)
    assert reg.interval == Interval(count, unit)  # type: ignore[arg-type]
    assert reg.knowledge_id.startswith("drug-")


@pytest.mark.parametrize(("drug", "setting", "interval", "first", "second"), [
    ("alendronate", "home", Interval(7, "day"), D(2025, 2, 24), D(2025, 3, 3)),
    ("risedronate", "home", Interval(7, "day"), D(2025, 2, 24), D(2025, 3, 3)),
    ("ibandronate", "home", Interval(1, "month"), D(2025, 1, 31), D(2025, 2, 28)),
    ("raloxifene", "home", Interval(1, "day"), D(2024, 2, 28), D(2024, 2, 29)),
    ("teriparatide", "home", Interval(1, "day"), D(2024, 2, 29), D(2024, 3, 1)),
    ("abaloparatide", "home", Interval(1, "day"), D(2023, 2, 28), D(2023, 3, 1)),
    ("calcitriol", "home", Interval(1, "day"), D(2025, 12, 31), D(2026, 1, 1)),
    ("denosumab", "hospital", Interval(6, "month"), D(2025, 8, 31), D(2026, 2, 28)),
    ("zoledronic_acid", "hospital", Interval(12, "month"), D(2024, 2, 29), D(2025, 2, 28)),
    ("romosozumab", "hospital", Interval(1, "month"), D(2025, 1, 31), D(2025, 2, 28)),
])
def test_each_drug_is_given_where_and_as_often_as_its_file_says(drug: str, setting: str, interval: Interval,
                                                                first: dt.date, second: dt.date) -> None:
    reg = regimen(drug)
    assert reg.setting == setting
    assert reg.interval == interval
    assert next_due(first, reg.interval) == second


def test_the_denosumab_urgency_window_and_romosozumab_dose_limit_come_from_knowledge() -> None:
    seq = load("treatment-sequencing")
    assert regimen("denosumab").urgent_after_days == seq.value("dmab_urgent_days_after_due")
    assert regimen("denosumab").urgent_status == "unverified"
    assert regimen("romosozumab").max_doses == load("drug-romosozumab").value("max_doses")
    assert regimen("zoledronic_acid").urgent_after_days is None


# --- the service: due dates follow the doses actually given ----------------------------------------------------


def _next_due(clinic: Clinic, course_id: int) -> dt.date | None:
    from osteocare.services.courses import get_course

    return get_course(clinic, course_id).next_due


def test_a_late_denosumab_dose_moves_the_next_due_date(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic.on(D(2024, 8, 31)), rid, "denosumab", start_date=D(2024, 8, 31),
                     override_reason="test: the baseline labs are dated after this start")
    assert c.next_due == D(2024, 8, 31)
    r1 = record_dose(clinic, course_id=c.id, given_on=D(2024, 8, 31), lot_number="A1")
    assert r1.next_item is not None and r1.next_item.due_on == D(2025, 2, 28)  # month end, not 31 Aug + 12 months
    r2 = record_dose(clinic, item_id=r1.next_item.id, given_on=D(2025, 3, 3), lot_number="A2")  # 3 days late
    assert r2.next_item is not None and r2.next_item.due_on == D(2025, 9, 3)  # from the dose given, not the plan
    assert _next_due(clinic, c.id) == D(2025, 9, 3)


def test_a_yearly_infusion_given_on_a_leap_day_is_next_due_on_28_february(clinic: Clinic,
                                                                          patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "zoledronic_acid", start_date=D(2024, 2, 29))
    res = record_dose(clinic, course_id=c.id, given_on=D(2024, 2, 29), lot_number="Z1")
    assert res.next_item is not None and res.next_item.due_on == D(2025, 2, 28)


def test_an_early_dose_brings_the_next_one_forward(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "romosozumab", start_date=D(2025, 1, 2))
    r1 = record_dose(clinic, course_id=c.id, given_on=D(2025, 1, 2), lot_number="R1")
    assert r1.next_item is not None and r1.next_item.due_on == D(2025, 2, 2)
    r2 = record_dose(clinic, item_id=r1.next_item.id, given_on=D(2025, 1, 30), lot_number="R2")
    assert r2.next_item is not None and r2.next_item.due_on == D(2025, 2, 28)  # 30 Jan + 1 month, clamped


def test_a_dose_entered_late_for_an_earlier_date_does_not_move_the_plan_backwards(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "denosumab", start_date=D(2024, 1, 10))
    r1 = record_dose(clinic, course_id=c.id, given_on=D(2024, 1, 10), lot_number="A")
    assert r1.next_item is not None
    r2 = record_dose(clinic, item_id=r1.next_item.id, given_on=D(2024, 7, 12), lot_number="B")
    assert r2.next_item is not None and r2.next_item.due_on == D(2025, 1, 12)


def test_home_courses_have_no_dose_appointments_but_keep_the_patients_day(clinic: Clinic,
                                                                          patient: Callable[..., str]) -> None:
    from osteocare.services.appointments import patient_schedule

    rid = patient()
    c = start_course(clinic, rid, "alendronate", start_date=D(2025, 3, 5), anchor_weekday=0)
    assert c.setting == "home" and c.next_due is None
    kinds = {(i.kind, i.rule_id) for i in patient_schedule(clinic, rid)}
    assert ("dose", None) not in kinds and ("review", "BP-HOLIDAY-1") in kinds
    m = start_course(clinic, rid, "ibandronate", start_date=D(2025, 1, 31))
    assert m.setting == "home"


# --- hostile checks: a switch keeps the follow-up DXA, alerts say how late and cite, bad input is refused -------


def test_switching_drugs_keeps_the_follow_up_dxa_with_the_new_course(clinic: Clinic,
                                                                     patient: Callable[..., str]) -> None:
    from osteocare.services.appointments import patient_schedule
    from osteocare.services.courses import stop_course

    rid = patient()
    old = start_course(clinic, rid, "alendronate", start_date=D(2024, 1, 1))
    new = start_course(clinic, rid, "zoledronic_acid", start_date=D(2025, 3, 1))  # started before the old stops
    stop_course(clinic, old.id, reason="switch to an infusion", stop_date=D(2025, 3, 1))
    dxa = [i for i in patient_schedule(clinic, rid) if i.kind == "dxa"]
    assert len(dxa) == 1 and dxa[0].course_id == new.id  # not cancelled with the old course
    stop_course(clinic, new.id, reason="stopped", stop_date=D(2025, 3, 3))
    # off every treatment, the patient is not dropped from the schedule: the follow-up DXA stays, and the
    # drug-holiday reassessment (BP-HOLIDAY-3) books a review and a DXA
    left = sorted((i.kind, i.rule_id) for i in patient_schedule(clinic, rid) if i.status == "open")
    assert ("review", "BP-HOLIDAY-3") in left and ("dxa", "BP-HOLIDAY-3") in left, left
    assert ("dxa", "BHOF-MON") in left, left


def _late_denosumab(clinic: Clinic, rid: str, days_late: int) -> int:
    from osteocare.store import models as m

    c = start_course(clinic, rid, "denosumab", start_date=D(2024, 6, 1))
    res = record_dose(clinic, course_id=c.id, given_on=D(2024, 6, 1), lot_number="A")
    assert res.next_item is not None
    with clinic.db.write() as s:
        s.get(m.ScheduleItem, res.next_item.id).due_on = clinic.today() - dt.timedelta(days=days_late)  # type: ignore[union-attr]
    return res.next_item.id


def test_a_late_denosumab_alert_says_how_late_cites_its_source_and_shows_an_unverified_threshold(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.services.alerts import patient_alerts

    urgent_days = int(load("treatment-sequencing").value("dmab_urgent_days_after_due"))
    rid = patient("one")
    item = _late_denosumab(clinic, rid, 1)
    late = next(a for a in patient_alerts(clinic, rid) if a.item_id == item)
    assert late.severity == "warning" and "is 1 day late" in late.text
    assert "(DMAB-LATE; source: PROLIA" in late.text  # the rule and its source, in the text shown
    rid = patient("urgent")
    item = _late_denosumab(clinic, rid, urgent_days)
    urgent = next(a for a in patient_alerts(clinic, rid) if a.item_id == item)
    assert urgent.severity == "urgent" and f"is {urgent_days} days late" in urgent.text
    assert urgent.status == "unverified" and "(status: unverified)" in urgent.text  # visible, not only a field
    assert "(DMAB-URGENT; source: OsteoCare knowledge brief" in urgent.text
    assert len([a for a in patient_alerts(clinic, rid) if a.kind == "dose_overdue"]) == 1  # one alert per dose


@pytest.mark.parametrize(("at", "field", "zone"), [
    (dt.datetime(2025, 3, 30, 1, 30), "at", "Europe/London"),  # skipped when the clocks go forward
    (dt.datetime(2025, 3, 2, 9, 0), "at", "UTC"),  # yesterday
    (dt.datetime(9999, 12, 31, 23, 30), "at", "UTC"),  # past what the calendar export can carry
    (dt.datetime(9999, 12, 31, 23, 30, tzinfo=dt.UTC), "at", "Asia/Ho_Chi_Minh"),  # overflows the local zone
])
def test_a_booking_at_an_impossible_time_names_the_field_and_range(
        clinic: Clinic, patient: Callable[..., str], at: dt.datetime, field: str, zone: str) -> None:
    from osteocare.core.errors import InputError
    from osteocare.services.appointments import book_appointment, patient_schedule
    from osteocare.settings import get_settings

    rid = patient()
    local = Clinic(clinic.db, get_settings({"OSTEOCARE_DATABASE_URL": clinic.db.url, "OSTEOCARE_TIMEZONE": zone}),
                   "t", fixed_today=D(2025, 3, 3))
    start_course(local, rid, "zoledronic_acid", start_date=D(2025, 3, 3))
    item = next(i for i in patient_schedule(local, rid) if i.kind == "dose")
    with pytest.raises(InputError, match=field) as err:
        book_appointment(local, item.id, at=at)
    assert err.value.field == field


@pytest.mark.parametrize("location", ["Room 2\x00", "Room\n2", "x" * 121])
def test_a_booking_location_must_be_one_short_line(clinic: Clinic, patient: Callable[..., str],
                                                   location: str) -> None:
    from osteocare.core.errors import InputError
    from osteocare.services.appointments import book_appointment, patient_schedule

    rid = patient()
    start_course(clinic, rid, "zoledronic_acid", start_date=D(2025, 3, 3))
    item = next(i for i in patient_schedule(clinic, rid) if i.kind == "dose")
    with pytest.raises(InputError, match="location"):
        book_appointment(clinic, item.id, at=dt.datetime(2025, 3, 10, 9, 0), location=location)
    ok = book_appointment(clinic, item.id, at=dt.datetime(2025, 3, 10, 9, 0), location="  Phòng 2, tầng 3  ")
    assert ok.location == "Phòng 2, tầng 3"


def test_a_reaction_must_agree_with_its_dose_course_and_dates(clinic: Clinic, patient: Callable[..., str]) -> None:
    from osteocare.core.errors import InputError
    from osteocare.services.errors import NotFound
    from osteocare.services.reactions import reactions_of, record_reaction, update_reaction_outcome

    rid, other = patient("R1"), patient("R2")
    zol = start_course(clinic, rid, "zoledronic_acid", start_date=D(2025, 2, 3))
    dose = record_dose(clinic, course_id=zol.id, given_on=D(2025, 2, 3), lot_number="Z").dose
    alen = start_course(clinic, rid, "alendronate", start_date=D(2025, 2, 10))
    foreign = record_dose(clinic, course_id=start_course(clinic, other, "zoledronic_acid", start_date=D(2025, 2, 3)).id,
                          given_on=D(2025, 2, 3), lot_number="F").dose
    bad: list[tuple[str, dict[str, object]]] = [
        ("drug", {"dose_id": dose.id, "drug": "alendronate"}),  # the dose was zoledronic acid
        ("course_id", {"dose_id": dose.id, "course_id": alen.id}),  # the dose belongs to another course
        ("drug", {"course_id": alen.id, "drug": "zoledronic_acid"}),
        ("onset_on", {"course_id": alen.id, "onset_on": D(2025, 2, 9)}),  # before the course started
        ("onset_on", {"dose_id": dose.id, "onset_on": D(2025, 2, 2)}),  # before the dose
        ("resolved_on", {"dose_id": dose.id, "onset_on": D(2025, 2, 4), "outcome": "resolved",
                         "resolved_on": D(2025, 3, 4)}),  # after today
        ("resolved_on", {"dose_id": dose.id, "outcome": "ongoing", "resolved_on": D(2025, 2, 5)}),
        ("severity", {"dose_id": dose.id, "severity": "Severe"}),
        ("severity", {"dose_id": dose.id, "severity": "life-threatening"}),
    ]
    for field, kwargs in bad:
        args: dict[str, object] = {"kind": "fever", "severity": "mild", **kwargs}
        with pytest.raises(InputError) as err:
            record_reaction(clinic, rid, **args)  # type: ignore[arg-type]
        assert err.value.field == field, (field, kwargs, err.value)
        assert str(kwargs.get(field, "")) in str(err.value) or field in str(err.value)
    with pytest.raises(NotFound):
        record_reaction(clinic, rid, kind="fever", severity="mild", dose_id=foreign.id)
    assert reactions_of(clinic, rid) == []  # nothing half-recorded
    ok = record_reaction(clinic, rid, kind="fever", severity="mild", dose_id=dose.id, course_id=zol.id,
                         drug="zoledronic_acid", onset_on=D(2025, 2, 4))
    with pytest.raises(InputError, match="resolved_on"):
        update_reaction_outcome(clinic, ok.id, outcome="resolved", resolved_on=D(2025, 3, 4))
    with pytest.raises(InputError, match="resolved_on"):
        update_reaction_outcome(clinic, ok.id, outcome="resolving", resolved_on=D(2025, 2, 6))
    done = update_reaction_outcome(clinic, ok.id, outcome="resolved", resolved_on=D(2025, 2, 6))
    assert done.resolved_on == D(2025, 2, 6)
