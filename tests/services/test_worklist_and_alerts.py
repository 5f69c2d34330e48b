"""Alerts and the clinic worklist: late denosumab is urgent, other late doses overdue, reviews, DXA and labs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from osteocare.core.knowledge import load
from osteocare.services.alerts import clinic_alerts, patient_alerts
from osteocare.services.appointments import book_appointment, complete_item, patient_schedule
from osteocare.services.context import Clinic
from osteocare.services.courses import start_course
from osteocare.services.doses import record_dose
from osteocare.services.facts import DxaExamIn, SiteResult, add_dxa_exam, add_lab
from osteocare.services.worklist import worklist

TODAY = dt.date(2025, 3, 3)
URGENT_DAYS = int(load("treatment-sequencing").value("dmab_urgent_days_after_due"))


def _denosumab_due(clinic: Clinic, rid: str, due: dt.date) -> int:
    c = start_course(clinic, rid, "denosumab", start_date=due - dt.timedelta(days=200))
    res = record_dose(clinic, course_id=c.id, given_on=due - dt.timedelta(days=200), lot_number="A")
    assert res.next_item is not None
    from osteocare.store import models as m

    with clinic.db.write() as s:  # put the next due date where the test wants it
        s.get(m.ScheduleItem, res.next_item.id).due_on = due  # type: ignore[union-attr]
    return res.next_item.id


def test_a_denosumab_dose_is_overdue_after_its_due_date_and_urgent_from_the_knowledge_window(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    on_time = _denosumab_due(clinic, patient("due"), TODAY)
    late = _denosumab_due(clinic, patient("late"), TODAY - dt.timedelta(days=URGENT_DAYS - 1))
    urgent = _denosumab_due(clinic, patient("urgent"), TODAY - dt.timedelta(days=URGENT_DAYS))
    alerts = {a.item_id: a for a in clinic_alerts(clinic)}
    assert on_time not in alerts  # due today is not late
    assert (alerts[late].severity, alerts[late].rule_id, alerts[late].days_late) == ("warning", "DMAB-LATE",
                                                                                      URGENT_DAYS - 1)
    assert (alerts[urgent].severity, alerts[urgent].rule_id) == ("urgent", "DMAB-URGENT")
    assert alerts[urgent].status == "unverified"  # the urgency threshold is unverified: the alert says so
    assert "zoledronic acid" in alerts[urgent].text
    first = clinic_alerts(clinic)[0]
    assert first.item_id == urgent


def test_other_late_clinic_doses_are_overdue_but_never_urgent(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    c = start_course(clinic, rid, "zoledronic_acid", start_date=TODAY - dt.timedelta(days=400))
    alert = next(a for a in patient_alerts(clinic, rid) if a.kind == "dose_overdue")
    assert c.next_due == TODAY - dt.timedelta(days=400)
    assert (alert.severity, alert.days_late) == ("warning", 400)
    assert "no late-dose window" in alert.text


def test_the_worklist_has_todays_appointments_due_this_week_and_overdue(clinic: Clinic,
                                                                       patient: Callable[..., str]) -> None:
    a = _denosumab_due(clinic, patient("A"), TODAY)
    b = _denosumab_due(clinic, patient("B"), TODAY + dt.timedelta(days=5))
    c = _denosumab_due(clinic, patient("C"), TODAY + dt.timedelta(days=8))
    d = _denosumab_due(clinic, patient("D"), TODAY - dt.timedelta(days=60))
    book_appointment(clinic, b, at=dt.datetime(2025, 3, 3, 10, 0))
    w = worklist(clinic)
    assert [i.id for i in w.appointments_today] == [b]
    assert a in [i.id for i in w.due_today]
    assert b in [i.id for i in w.due_this_week] and c not in [i.id for i in w.due_this_week]
    assert w.overdue[0].item_id == d and w.overdue[0].severity == "urgent"
    assert w.appointments_today[0].patient_name == "Lan Nguyen"
    assert w.counts["overdue_doses"] == 1 and w.counts["appointments_today"] == 1
    assert not w.truncated


def test_late_doses_head_the_overdue_list(clinic: Clinic, patient: Callable[..., str]) -> None:
    """Even a year-late review of the same drug does not push a late denosumab dose down the list (the worklist
    page shows this order as it is)."""
    late_dose = _denosumab_due(clinic, patient("L"), TODAY - dt.timedelta(days=16))
    start_course(clinic, patient("R"), "denosumab", start_date=TODAY - dt.timedelta(days=800))
    w = worklist(clinic)
    kinds = [a.kind for a in w.overdue]
    assert {"review", "dose_overdue"} <= set(kinds)
    first_other = next(i for i, k in enumerate(kinds) if k != "dose_overdue")
    assert all(k != "dose_overdue" for k in kinds[first_other:]), kinds
    assert late_dose in [a.item_id for a in w.overdue[:first_other]]


def test_follow_up_dxa_and_reviews_fall_due_and_are_closed_by_what_answers_them(clinic: Clinic,
                                                                               patient: Callable[..., str]) -> None:
    rid = patient()
    start_course(clinic, rid, "alendronate", start_date=dt.date(2024, 1, 15))
    alerts = {a.kind: a for a in patient_alerts(clinic, rid)}
    assert alerts["dxa"].rule_id == "BHOF-MON" and alerts["dxa"].status == "secondary"
    assert alerts["review"].rule_id == "MON-ANNUAL"
    add_dxa_exam(clinic, rid, DxaExamIn(exam_date=dt.date(2025, 2, 1), sites=[SiteResult(site="femoral_neck",
                                                                                          t_score=-2.6)]))
    review = next(i for i in patient_schedule(clinic, rid) if i.rule_id == "MON-ANNUAL")
    complete_item(clinic, review.id, done_on=dt.date(2025, 2, 10))
    left = {(i.kind, i.rule_id): i for i in patient_schedule(clinic, rid)}
    assert ("dxa", "BHOF-MON") not in left
    assert left[("review", "MON-ANNUAL")].due_on == dt.date(2026, 2, 10)  # the next annual review


def test_calcitriol_labs_at_1_3_6_months_then_every_6_months(clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient()
    start_course(clinic, rid, "calcitriol", start_date=dt.date(2024, 1, 31))
    labs = sorted((i.lab_name, i.due_on) for i in patient_schedule(clinic, rid) if i.kind == "lab")
    assert [d for n, d in labs if n == "calcium"] == [dt.date(2024, 2, 29), dt.date(2024, 4, 30), dt.date(2024, 7, 31)]
    for day in (dt.date(2024, 2, 29), dt.date(2024, 4, 30), dt.date(2024, 7, 31)):
        add_lab(clinic, rid, name="calcium", value=2.4, unit="mmol/L", date=day)
    nxt = [i for i in patient_schedule(clinic, rid) if i.kind == "lab" and i.lab_name == "calcium"]
    assert [i.due_on for i in nxt] == [dt.date(2025, 1, 31)]


def test_denosumab_in_a_patient_predisposed_to_hypocalcaemia_schedules_labs_after_each_dose(
        clinic: Clinic, patient: Callable[..., str]) -> None:
    rid = patient(conditions=[{"code": "hypoparathyroidism", "onset": "2010-01-01"}])
    c = start_course(clinic, rid, "denosumab", start_date=dt.date(2025, 2, 3), override_reason="calcium monitored")
    assert "DMAB-PREDISPOSED" in {f.rule_id for f in c.check.findings}
    record_dose(clinic, course_id=c.id, given_on=dt.date(2025, 2, 3), lot_number="P")
    labs = sorted((i.lab_name, i.due_on, i.rule_id) for i in patient_schedule(clinic, rid) if i.kind == "lab")
    assert labs == [(n, dt.date(2025, 2, 13), "MON-LAB-DMAB") for n in ("calcium", "magnesium", "phosphate")]
