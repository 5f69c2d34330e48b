"""The course schedule: what falls due, and when, from the drug's knowledge file and the doses actually given.

* Clinic drugs (injections, infusions): one open dose appointment at a time. The first is due on the start date
  (or ``first_due``); each later one is due one interval after the **last dose actually given** (a late dose
  moves every later date; see :mod:`osteocare.core.schedule`). A drug with a maximum number of doses
  (romosozumab) completes its course at the last dose, and the follow-on decision falls due.
* Home drugs (pills, daily injections): no per-dose appointments; the calendar export carries the reminders.
* Every course: its review points (holiday decision, re-evaluation, end of an anabolic course), the annual
  review, the follow-up DXA and the drug's monitoring labs.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.drugs.sequencing import BISPHOSPHONATES
from ..core.schedule import add_months, days_covered, next_due
from ..core.status import Status, lowest
from ..store import models as m
from ..store.models import utcnow
from .drugs import (
    Regimen,
    annual_review,
    calcitriol_labs,
    course_drug_ids,
    dmab_predisposed_labs,
    dmab_switch,
    followon_classes,
    followup_dxa,
    regimen,
)
from .textparts import dumps, part, text_of
from .views import TextPart

# --- the reasons the schedule writes, as parts (their English is the item's ``reason``) --------------------------

def dose_reason(drug: str, seq: int) -> list[TextPart]:
    """"Denosumab dose 2"."""
    return [part("{drug} dose {seq}", {"drug": "drug"}, drug=drug, seq=seq)]


def dxa_reason(text: str, start: dt.date, end: dt.date) -> list[TextPart]:
    """The follow-up DXA's knowledge sentence, and its window."""
    return [part(text), part("Due from {start}, by {end}.", {"start": "date", "end": "date"},
                             start=start.isoformat(), end=end.isoformat())]


def calcitriol_first_reason(lab: str, months: int) -> list[TextPart]:
    return [part("Calcitriol monitoring: {lab} at {months}", {"lab": "lab", "months": "months"}, lab=lab,
                 months=months)]


def calcitriol_repeat_reason(lab: str, months: int) -> list[TextPart]:
    return [part("Calcitriol monitoring: {lab} every {n} months", {"lab": "lab"}, lab=lab, n=months)]


def dmab_lab_reason(lab: str, lo: int, hi: int, injection: dt.date) -> list[TextPart]:
    return [part("{lab} {lo}-{hi} days after the denosumab injection of {date} (predisposed to hypocalcaemia)",
                 {"lab": "lab", "date": "date"}, lab=lab, lo=lo, hi=hi, date=injection.isoformat())]


#: The follow-up items tied to a dose (a lab some days or weeks after an injection): OsteoCare's convention
#: ITEM-EVENT (see :func:`item_event`) dates them from the course's dose they follow.
DOSE_TIED_RULES = frozenset({"MON-LAB-DMAB"})
#: The drug-holiday reassessment after a bisphosphonate course stopped (treatment-sequencing BP-HOLIDAY-3).
HOLIDAY_RULE = "BP-HOLIDAY-3"
#: Drug classes (drugs/*.yaml ``class``) whose stop starts a drug holiday, and the actions (``action``) that are
#: osteoporosis treatment (a supplement course is not).
BISPHOSPHONATE_CLASSES = frozenset(BISPHOSPHONATES)
TREATMENT_ACTIONS = frozenset({"antiresorptive", "anabolic"})


def item_event(session: Session, it: m.ScheduleItem) -> dt.date | None:
    """The day of the event a follow-up item follows (OsteoCare convention ITEM-EVENT, course-monitoring
    ``item_event``): for a lab tied to a dose (:data:`DOSE_TIED_RULES`), the course's last dose given on or before
    the item's due date; for the holiday reassessment (:data:`HOLIDAY_RULE`), the day the course stopped; for any
    other item of a course (follow-up DXA, calcitriol labs, reviews), the course's start. ``None`` for an item of
    no course. A result answers the item only if it is dated *after* that day (:func:`answers`)."""
    course = session.get(m.TreatmentCourse, it.course_id) if it.course_id is not None else None
    if course is None:
        return None
    if it.rule_id in DOSE_TIED_RULES:
        dose = session.scalar(select(func.max(m.AdministeredDose.given_on)).where(
            m.AdministeredDose.course_id == course.id, m.AdministeredDose.given_on <= it.due_on))
        return dose if dose is not None else course.start_date
    if it.rule_id == HOLIDAY_RULE and course.stop_date is not None:
        return course.stop_date
    return course.start_date


def answers(session: Session, it: m.ScheduleItem, day: dt.date) -> bool:
    """Whether a result dated ``day`` can answer ``it``: dated after the day of the event the item follows
    (:func:`item_event`). Results carry a day, not a time: one from the event's own day may be the pre-dose sample
    or the baseline scan, so it does not answer what follows the event (OsteoCare convention ITEM-EVENT; the
    knowledge gives no early window)."""
    event = item_event(session, it)
    return event is None or day > event


def dmab_ckd_reason(lab: str, when: int, unit: str, injection: dt.date) -> list[TextPart]:
    """"calcium 7 days after the denosumab injection of ... (advanced CKD ...)" (``unit``: days or months)."""
    return [part("{lab} {when} after the denosumab injection of {date} (advanced CKD: weekly for the first month, "
                 "then monthly; DMAB-CKD)", {"lab": "lab", "when": "days" if unit == "days" else "months",
                                             "date": "date"}, lab=lab, when=when, date=injection.isoformat())]


def holiday_reason(text: str, drug: str, stop: dt.date) -> list[TextPart]:
    """BP-HOLIDAY-3's knowledge sentence, and when which bisphosphonate stopped."""
    return [part(text), part("{drug} stopped on {date}.", {"drug": "drug", "date": "date"}, drug=drug,
                             date=stop.isoformat())]


def add_item(session: Session, course: m.TreatmentCourse | None, *, patient_id: int, kind: str, due_on: dt.date,
          reason: str | list[TextPart], rule_id: str | None, status: Status, seq: int | None = None,
          lab_name: str | None = None) -> m.ScheduleItem:
    """A new open item. ``reason``: parts (generated), or a knowledge sentence (stored as one verbatim part)."""
    parts = [part(reason)] if isinstance(reason, str) else reason
    it = m.ScheduleItem(patient_id=patient_id, course_id=course.id if course is not None else None, kind=kind,
                        seq=seq, lab_name=lab_name, due_on=due_on, reason=text_of(parts), reason_parts=dumps(parts),
                        rule_id=rule_id, fact_status=status, status="open")
    session.add(it)
    return it


def open_items(session: Session, course_id: int, kind: str | None = None) -> list[m.ScheduleItem]:
    stmt = select(m.ScheduleItem).where(m.ScheduleItem.course_id == course_id, m.ScheduleItem.status == "open")
    if kind is not None:
        stmt = stmt.where(m.ScheduleItem.kind == kind)
    return list(session.scalars(stmt.order_by(m.ScheduleItem.due_on, m.ScheduleItem.id)))


def pth_days_used(session: Session, patient_id: int, group: tuple[str, ...], *, before: dt.date,
                  exclude_course: int | None = None) -> tuple[int, list[str]]:
    """Days of PTH-analogue treatment before ``before`` (courses, and medication history with dates)."""
    periods: list[tuple[dt.date, dt.date]] = []
    notes: list[str] = []
    last_day = before - dt.timedelta(days=1)
    for c in session.scalars(select(m.TreatmentCourse).where(m.TreatmentCourse.patient_id == patient_id,
                                                             m.TreatmentCourse.drug.in_(group))):
        if c.id == exclude_course or c.start_date > last_day:
            continue
        periods.append((c.start_date, min(c.stop_date or last_day, last_day)))
    for med in session.scalars(select(m.Medication).where(m.Medication.patient_id == patient_id,
                                                          m.Medication.drug.in_(group))):
        end = med.end or med.last_dose
        if med.start is None or end is None:
            notes.append(f"{med.drug} in the medication history without start and end dates: not counted")
            continue
        periods.append((med.start, min(end, last_day)))
    return days_covered(periods), notes


def last_dose_before(session: Session, patient_id: int, drug: str, day: dt.date, *,
                     exclude_course: int | None = None) -> tuple[dt.date, str] | None:
    """The patient's last dose of ``drug`` on or before ``day``, and where it is recorded: a dose given in an
    earlier course, or the last dose of the medication history (given elsewhere, before the clinic's courses)."""
    found: list[tuple[dt.date, str]] = []
    given = session.scalar(select(func.max(m.AdministeredDose.given_on)).where(
        m.AdministeredDose.patient_id == patient_id, m.AdministeredDose.drug == drug,
        m.AdministeredDose.given_on <= day,
        m.AdministeredDose.course_id != (exclude_course if exclude_course is not None else -1)))
    if given is not None:
        found.append((given, "a dose recorded by the clinic"))
    history = session.scalar(select(func.max(m.Medication.last_dose)).where(
        m.Medication.patient_id == patient_id, m.Medication.drug == drug, m.Medication.last_dose <= day))
    if history is not None:
        found.append((history, "the last dose in the medication history"))
    return max(found) if found else None


def plan_course_start(session: Session, course: m.TreatmentCourse, reg: Regimen, *,
                      first_due: dt.date | None = None) -> list[str]:
    """Create the first items of a new course; returns notes to show."""
    notes: list[str] = []
    start = course.start_date
    pid = course.patient_id
    if reg.given_in_clinic and first_due is None and reg.interval is not None:
        last = last_dose_before(session, pid, reg.drug, start, exclude_course=course.id)
        if last is not None and next_due(last[0], reg.interval) > start:
            first_due = next_due(last[0], reg.interval)
            notes.append(f"First dose due {first_due.isoformat()}: {reg.name} is given {reg.interval}, and the last "
                         f"dose was on {last[0].isoformat()} ({last[1]}).")
    for it in session.scalars(select(m.ScheduleItem).where(  # treatment again: the holiday's reassessment is moot
            m.ScheduleItem.patient_id == pid, m.ScheduleItem.kind.in_(("review", "dxa")),
            m.ScheduleItem.status == "open", m.ScheduleItem.rule_id == HOLIDAY_RULE,
            m.ScheduleItem.course_id != course.id)
            if reg.action in TREATMENT_ACTIONS else ()):
        # cancelled, not done: no reassessment took place (its review and its DXA both go)
        it.status, it.closed_at = "cancelled", utcnow()
        notes.append(f"The drug-holiday reassessment {'scan' if it.kind == 'dxa' else 'review'} due "
                     f"{it.due_on.isoformat()} ({HOLIDAY_RULE}) is cancelled: {reg.name} is started.")
    if reg.given_in_clinic:
        add_item(session, course, patient_id=pid, kind="dose", seq=1, due_on=first_due or start,
              reason=dose_reason(reg.drug, 1), rule_id=reg.overdue_rule, status=reg.interval_status)
    reviews: list[tuple[dt.date, str, str, Status]] = []
    for point in reg.reviews:
        if point.months is not None:
            reviews.append((add_months(start, point.months), point.rule_id, point.text, point.status))
        elif point.rule_id == "ANAB-COURSE-END" and reg.lifetime_days is not None:
            used, more = pth_days_used(session, pid, reg.lifetime_group, before=start, exclude_course=course.id)
            notes += more
            left = max(reg.lifetime_days - used, 0)
            end = start + dt.timedelta(days=max(left - 1, 0))
            if used:
                notes.append(f"{used} days of PTH-analogue treatment already used; {left} days left")
            reviews.append((end, point.rule_id, point.text, point.status))
    for due, rule, text, status in reviews:
        add_item(session, course, patient_id=pid, kind="review", due_on=due, reason=text, rule_id=rule, status=status)
    if reviews:
        first = min(reviews, key=lambda r: r[0])
        course.review_on, course.review_rule = first[0], first[1]
    months, text, status = annual_review()
    add_item(session, course, patient_id=pid, kind="review", seq=1, due_on=add_months(start, months),
          reason=text, rule_id="MON-ANNUAL", status=status)
    lo, hi, text, status = followup_dxa()
    has_dxa = session.scalar(select(func.count()).select_from(m.ScheduleItem).where(
        m.ScheduleItem.patient_id == pid, m.ScheduleItem.kind == "dxa", m.ScheduleItem.status == "open"))
    if not has_dxa:
        add_item(session, course, patient_id=pid, kind="dxa", due_on=add_months(start, lo),
              reason=dxa_reason(text, add_months(start, lo), add_months(start, hi)),
              rule_id="BHOF-MON", status=status)
    if reg.drug == "calcitriol":
        first_months, _repeat, labs, status = calcitriol_labs()
        for lab in labs:
            for k, mo in enumerate(first_months, start=1):
                add_item(session, course, patient_id=pid, kind="lab", seq=k, lab_name=lab,
                      due_on=add_months(start, mo), rule_id="MON-LAB-CTR", status=status,
                      reason=calcitriol_first_reason(lab, mo))
    session.flush()
    return notes


def _predisposed(course: m.TreatmentCourse) -> bool:
    return _started_with_finding(course, "DMAB-PREDISPOSED")


def _started_with_finding(course: m.TreatmentCourse, rule_id: str) -> bool:
    """Whether the course's start check found ``rule_id`` (a 'must not' one: the course started on a clinician's
    written override)."""
    try:
        report = json.loads(course.check_json)
    except (ValueError, TypeError):
        return False
    return any(f.get("rule_id") == rule_id for f in report.get("findings", []))


#: The ``override`` pre-dose snapshot's detail (``services.doses.record_dose``): "RULE, RULE" + this + the reason.
OVERRIDDEN = " overridden: "


def overridden_rules(detail: str | None) -> set[str]:
    """The rule ids an ``override`` pre-dose snapshot's detail names."""
    if not detail or OVERRIDDEN not in detail:
        return set()
    return {r.strip() for r in detail.split(OVERRIDDEN, 1)[0].split(",")}


def _dose_overrode(session: Session, item: m.ScheduleItem | None, rule_id: str) -> bool:
    """Whether the dose of ``item`` was given on an override of ``rule_id`` (the dose's 'override' snapshot)."""
    if item is None:
        return False
    for detail in session.scalars(select(m.PreDoseCheck.detail).where(m.PreDoseCheck.item_id == item.id,
                                                                      m.PreDoseCheck.check_id == "override")):
        if rule_id in overridden_rules(detail):
            return True
    return False


def _monitoring(name: str) -> tuple[object, Status]:
    from ..core.knowledge import load

    f = load("course-monitoring").fact(name)
    return f.value, lowest([f.status])


def _dmab_ckd_labs(session: Session, course: m.TreatmentCourse, reg: Regimen, dose: m.AdministeredDose) -> None:
    """Advanced CKD (DMAB-CKD overridden): serum calcium weekly for the first month, then monthly (MON-LAB-DMAB,
    the boxed warning; course-monitoring ``dmab_ckd_*``). The weekly month follows the first dose given under the
    finding; the monthly checks of one dosing interval are scheduled at each dose."""
    weeks, s1 = _monitoring("dmab_ckd_calcium_weekly_weeks")
    every, s2 = _monitoring("dmab_ckd_calcium_then_months")
    labs, s3 = _monitoring("dmab_ckd_labs")
    status = lowest([s1, s2, s3])
    earlier = session.scalar(select(func.count()).select_from(m.ScheduleItem).where(
        m.ScheduleItem.course_id == course.id, m.ScheduleItem.kind == "lab",
        m.ScheduleItem.rule_id == "MON-LAB-DMAB", m.ScheduleItem.reason.like("%DMAB-CKD%")))
    months = reg.interval.count if reg.interval is not None and reg.interval.unit == "month" else 0
    step = int(str(every))
    first_month = not earlier
    for lab in (str(x) for x in list(labs)):  # type: ignore[call-overload]
        if first_month:
            for k in range(1, int(str(weeks)) + 1):
                add_item(session, course, patient_id=course.patient_id, kind="lab", lab_name=lab,
                         due_on=dose.given_on + dt.timedelta(weeks=k), rule_id="MON-LAB-DMAB", status=status,
                         reason=dmab_ckd_reason(lab, 7 * k, "days", dose.given_on))
        for mo in range(step * (2 if first_month else 1), months + 1, step):
            add_item(session, course, patient_id=course.patient_id, kind="lab", lab_name=lab,
                     due_on=add_months(dose.given_on, mo), rule_id="MON-LAB-DMAB", status=status,
                     reason=dmab_ckd_reason(lab, mo, "months", dose.given_on))


def after_dose(session: Session, course: m.TreatmentCourse, dose: m.AdministeredDose,
               item: m.ScheduleItem | None) -> tuple[m.ScheduleItem | None, bool]:
    """Close the appointment, schedule the next dose from the last dose given; (next item, course completed)."""
    reg = regimen(course.drug)
    now = utcnow()
    if item is not None:
        item.status = "done"
        item.closed_at = now
    session.flush()
    given = list(session.scalars(select(m.AdministeredDose.given_on)
                                 .where(m.AdministeredDose.course_id == course.id)))
    last = max(given)
    if reg.max_doses is not None and len(given) >= reg.max_doses:
        for it in open_items(session, course.id, "dose"):
            it.status, it.closed_at = "cancelled", now
        course.status = "completed"
        course.stop_date = max(last, course.start_date)
        course.stop_reason = f"maximum of {reg.max_doses} doses given"
        for point in reg.reviews:
            if point.months is None and point.rule_id != "ANAB-COURSE-END":
                add_item(session, course, patient_id=course.patient_id, kind="review", due_on=last,
                      reason=point.text, rule_id=point.rule_id, status=point.status)
                course.review_on, course.review_rule = last, point.rule_id
        session.flush()
        return None, True
    nxt: m.ScheduleItem | None = None
    if reg.given_in_clinic and reg.interval is not None:
        due = next_due(last, reg.interval)
        pending = open_items(session, course.id, "dose")
        if pending:
            nxt = pending[0]
            nxt.due_on = due
            for extra in pending[1:]:
                extra.status, extra.closed_at = "cancelled", now
        else:
            top = session.scalar(select(func.max(m.ScheduleItem.seq)).where(
                m.ScheduleItem.course_id == course.id, m.ScheduleItem.kind == "dose")) or 0
            nxt = add_item(session, course, patient_id=course.patient_id, kind="dose", seq=top + 1, due_on=due,
                        reason=dose_reason(reg.drug, top + 1), rule_id=reg.overdue_rule, status=reg.interval_status)
    if reg.drug_class == "denosumab" and _predisposed(course):
        lo, hi, labs, status = dmab_predisposed_labs()
        for lab in labs:
            add_item(session, course, patient_id=course.patient_id, kind="lab", lab_name=lab,
                  due_on=dose.given_on + dt.timedelta(days=lo), rule_id="MON-LAB-DMAB", status=status,
                  reason=dmab_lab_reason(lab, lo, hi, dose.given_on))
    if reg.drug_class == "denosumab" and (_started_with_finding(course, "DMAB-CKD")
                                          or _dose_overrode(session, item, "DMAB-CKD")):
        _dmab_ckd_labs(session, course, reg, dose)
    session.flush()
    return nxt, False


def after_monitoring_lab(session: Session, patient_id: int, name: str, on: dt.date) -> None:
    """Calcitriol: once the first checks of a lab are done, the next falls due a repeat interval after it."""
    courses = list(session.scalars(select(m.TreatmentCourse).where(
        m.TreatmentCourse.patient_id == patient_id, m.TreatmentCourse.status == "active",
        m.TreatmentCourse.drug == "calcitriol")))
    if not courses:
        return
    _first, repeat, labs, status = calcitriol_labs()
    if name not in labs:
        return
    for c in courses:
        still_open = session.scalar(select(func.count()).select_from(m.ScheduleItem).where(
            m.ScheduleItem.course_id == c.id, m.ScheduleItem.kind == "lab", m.ScheduleItem.lab_name == name,
            m.ScheduleItem.status == "open"))
        if still_open:
            continue
        top = session.scalar(select(func.max(m.ScheduleItem.seq)).where(
            m.ScheduleItem.course_id == c.id, m.ScheduleItem.kind == "lab", m.ScheduleItem.lab_name == name)) or 0
        add_item(session, c, patient_id=patient_id, kind="lab", seq=top + 1, lab_name=name,
              due_on=add_months(on, repeat), rule_id="MON-LAB-CTR", status=status,
              reason=calcitriol_repeat_reason(name, repeat))
    session.flush()


def _sequencing_rule(rule_id: str) -> tuple[str, Status]:
    from ..core.knowledge import load

    f = load("treatment-sequencing").fact(rule_id)
    return str(f.value), lowest([f.status])


def close_followon_reviews(session: Session, course: m.TreatmentCourse, reg: Regimen) -> list[tuple[int, str]]:
    """The patient's open follow-on reviews (DMAB-SWITCH after denosumab, ANAB-THEN-AR-* after an anabolic) that
    the new ``course`` fulfils (``followon_classes``), closed as done; (item id, rule id) of each."""
    fulfils, _status = followon_classes()
    rules = [r for r, classes in fulfils.items() if reg.drug_class in classes]
    if not rules:
        return []
    closed = []
    for it in session.scalars(select(m.ScheduleItem).where(
            m.ScheduleItem.patient_id == course.patient_id, m.ScheduleItem.kind == "review",
            m.ScheduleItem.status == "open", m.ScheduleItem.rule_id.in_(rules),
            m.ScheduleItem.course_id != course.id).with_for_update()):
        it.status, it.closed_at = "done", utcnow()
        closed.append((it.id, str(it.rule_id)))
    return closed


def reopen_followon_reviews(session: Session, course: m.TreatmentCourse) -> list[str]:
    """When ``course`` stops: every follow-on review of the patient that a course start closed
    (:func:`close_followon_reviews`, named in the starts' audit entries) opens again, with its first due date, if
    no other active course fulfils it and no dose of a drug that fulfils it was given since the course it follows
    stopped (a follow-on started and stopped without a dose is no follow-on). Returns a warning per review opened again."""
    fulfils, _status = followon_classes()
    closed: set[int] = set()
    for detail in session.scalars(select(m.AuditEntry.detail).where(
            m.AuditEntry.entity == "course", m.AuditEntry.action == "create",
            m.AuditEntry.patient_id == course.patient_id)):
        try:
            closed |= {int(c["item"]) for c in json.loads(detail or "{}").get("closed_reviews", [])}
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    if not closed:
        return []
    active = {regimen(c.drug).drug_class for c in session.scalars(select(m.TreatmentCourse).where(
        m.TreatmentCourse.patient_id == course.patient_id, m.TreatmentCourse.status == "active",
        m.TreatmentCourse.id != course.id))}
    warnings = []
    for it in session.scalars(select(m.ScheduleItem).where(
            m.ScheduleItem.id.in_(sorted(closed)), m.ScheduleItem.status == "done").order_by(m.ScheduleItem.id)):
        classes = fulfils.get(str(it.rule_id), frozenset())
        if active & classes:
            continue
        drugs = [d for d in course_drug_ids() if regimen(d).drug_class in classes]
        stopped = session.get(m.TreatmentCourse, it.course_id) if it.course_id is not None else None
        since = stopped.stop_date if stopped is not None and stopped.stop_date is not None else it.due_on
        given = session.scalar(select(func.count()).select_from(m.AdministeredDose).where(
            m.AdministeredDose.patient_id == course.patient_id, m.AdministeredDose.drug.in_(drugs),
            m.AdministeredDose.given_on >= since,
            m.AdministeredDose.course_id != (it.course_id if it.course_id is not None else -1)))
        if given:
            continue
        it.status, it.closed_at = "open", None
        warnings.append(f"The follow-on review {it.rule_id} (appointment {it.id}, due {it.due_on.isoformat()}) is "
                        f"open again: {regimen(course.drug).name} is stopped and no follow-on drug was given.")
    return warnings


def holiday_reassessment() -> tuple[int, str, Status]:
    """Months from a bisphosphonate's stop (or the last reassessment) to the next reassessment (BP-HOLIDAY-3's
    lower bound, ``holiday_reassess_years``), the rule's text and the lower status of the two (unverified)."""
    from ..core.knowledge import load

    f = load("treatment-sequencing").fact("holiday_reassess_years")
    text, status = _sequencing_rule(HOLIDAY_RULE)
    lo = f.value[0] if isinstance(f.value, list) else f.value
    return round(12 * float(lo)), text, lowest([f.status, status])


def _plan_holiday(session: Session, course: m.TreatmentCourse, reg: Regimen, stop: dt.date) -> str:
    """A bisphosphonate stopped with no other osteoporosis treatment running: the holiday's reassessment (BMD and
    risk, BP-HOLIDAY-3) falls due the knowledge's interval after the stop, as a review and a DXA."""
    months, text, status = holiday_reassessment()
    due = add_months(stop, months)
    for kind in ("review", "dxa"):
        add_item(session, course, patient_id=course.patient_id, kind=kind, due_on=due, rule_id=HOLIDAY_RULE,
                 status=status, reason=holiday_reason(text, reg.drug, stop))
    return (f"{reg.name} stopped with no other osteoporosis treatment: the drug-holiday reassessment (BMD and risk) "
            f"is due {due.isoformat()} ({HOLIDAY_RULE}: {text} Status: {status}); a new fracture, a fall in BMD or new "
            "risk factors end the holiday sooner (BP-HOLIDAY-4).")


def stored_reason(it: m.ScheduleItem) -> list[TextPart]:
    """The item's reason as parts (as stored)."""
    from .textparts import stored_parts

    return stored_parts(it.reason, it.reason_parts)


def on_course_stop(session: Session, course: m.TreatmentCourse, *, stop_date: dt.date) -> list[str]:
    """Cancel what the course had pending; for denosumab, schedule the follow-on decision (DMAB-SWITCH); for a
    bisphosphonate stopped with no other osteoporosis treatment running, the drug holiday's reassessment
    (BP-HOLIDAY-3) and keep the patient's follow-up DXA.

    The patient's follow-up DXA is not the course's alone: a course started while this one was active found it
    open and did not plan its own (:func:`plan_course_start`), so it passes to the patient's latest other active
    course instead of being cancelled (else a switch would leave no follow-up DXA at all)."""
    now = utcnow()
    reg = regimen(course.drug)
    treated = any(regimen(c.drug).action in TREATMENT_ACTIONS for c in session.scalars(
        select(m.TreatmentCourse).where(m.TreatmentCourse.patient_id == course.patient_id,
                                        m.TreatmentCourse.status == "active", m.TreatmentCourse.id != course.id)))
    holiday = reg.drug_class in BISPHOSPHONATE_CLASSES and not treated
    heir = session.scalar(select(m.TreatmentCourse).where(
        m.TreatmentCourse.patient_id == course.patient_id, m.TreatmentCourse.status == "active",
        m.TreatmentCourse.id != course.id).order_by(m.TreatmentCourse.start_date.desc(), m.TreatmentCourse.id.desc())
        .limit(1))
    for it in open_items(session, course.id):
        if it.kind == "dxa" and heir is not None:
            it.course_id = heir.id
            continue
        if it.kind == "dxa" and holiday:  # the patient's follow-up DXA stays (BHOF-MON: after changing therapy)
            continue
        it.status, it.closed_at = "cancelled", now
    warnings: list[str] = reopen_followon_reviews(session, course)
    if holiday:
        review_on = course.review_on if course.review_rule == "BP-HOLIDAY-1" else None
        if review_on is not None and stop_date < review_on:  # a review found that this is said as a holiday
            warnings.append(f"{reg.name} stopped on {stop_date.isoformat()}, before its treatment review point "
                            f"({review_on.isoformat()}, BP-HOLIDAY-1): this is not a drug holiday. The reassessment "
                            "below keeps the patient on the schedule; a patient still at risk needs another "
                            "treatment decided now, not in the holiday's interval.")
        warnings.append(_plan_holiday(session, course, reg, stop_date))
    if reg.drug_class == "denosumab":
        months, text, status = dmab_switch()
        last = session.scalar(select(func.max(m.AdministeredDose.given_on)).where(
            m.AdministeredDose.course_id == course.id))
        due = add_months(last, months) if last is not None else stop_date
        add_item(session, course, patient_id=course.patient_id, kind="review", due_on=due, reason=text,
              rule_id="DMAB-SWITCH", status=lowest([status]))
        if last is not None:
            warnings.append("Denosumab must not be stopped without a follow-on antiresorptive (DMAB-NOSTOP): "
                            f"start it by {due.isoformat()} (DMAB-SWITCH).")
        else:  # nothing to date the follow-on from: the review is due now, to find out
            warnings.append("No denosumab dose of this course was recorded: find out when the last denosumab "
                            "injection was given (elsewhere, before this course); if there was one, the follow-on "
                            "antiresorptive starts from it (DMAB-SWITCH, DMAB-NOSTOP). The review is due now.")
    elif reg.action == "anabolic":
        rule = "ANAB-THEN-AR-ROMO" if reg.drug_class == "romosozumab" else "ANAB-THEN-AR-PTH"
        text, status = _sequencing_rule(rule)
        add_item(session, course, patient_id=course.patient_id, kind="review", due_on=stop_date, reason=text,
              rule_id=rule, status=status)
        warnings.append(f"{text} ({rule})")
    session.flush()
    return warnings
