"""Appointments and other schedule items: list a patient's schedule, book, complete, cancel.

Completing an annual review (MON-ANNUAL) schedules the next one from the day it was done; cancelling one, from the
day the cancelled one was due (so is the drug-holiday reassessment, BP-HOLIDAY-3). Cancelling a follow-on review
(DMAB-SWITCH, ANAB-THEN-AR-*) needs an active follow-on course or a doctor's written override reason. A DXA exam or a lab
result recorded with :mod:`osteocare.services.facts` closes its items by itself; doses are closed by
:func:`osteocare.services.doses.record_dose`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.errors import InputError
from ..core.schedule import add_months
from ..core.status import lowest
from ..core.text import checked_text
from ..store import models as m
from ..store.audit import audit
from ..store.models import utcnow
from ._common import course_row, display_name, item_row, item_view, patient_row
from .context import Clinic
from .drugs import annual_review, followon_classes, regimen, sequencing_rule
from .errors import InvalidState, OverrideRequired
from .schedule import HOLIDAY_RULE, TREATMENT_ACTIONS, add_item, holiday_reassessment, stored_reason
from .views import ItemView

__all__ = ["FollowOnCancelRefused", "book_appointment", "cancel_item", "check_date_range", "complete_item",
           "patient_schedule"]

#: How far ahead a time can be booked: as far as the calendar export reaches (services.calendar), so every booked
#: appointment can be exported. A size limit, not a clinical fact.
BOOKING_HORIZON_MONTHS = 120


def check_date_range(field: str, day: dt.date, *, today: dt.date, earliest: dt.date | None = None,
                     earliest_what: str = "the patient's birth date") -> None:
    """Refuse a date after ``today`` or before ``earliest`` (e.g. the patient's birth date), naming the range."""
    if day > today or (earliest is not None and day < earliest):
        allowed = (f"a date from {earliest.isoformat()} ({earliest_what}) to {today.isoformat()} (today)"
                   if earliest is not None else f"a date not after {today.isoformat()} (today)")
        raise InputError(field, day.isoformat(), allowed)


def book_appointment(clinic: Clinic, item_id: int, *, at: dt.datetime, location: str | None = None) -> ItemView:
    """Book a time for an open item; a day before today, or past the booking horizon, is refused. A naive ``at``
    is read in the clinic's time zone, and must exist there: a wall time skipped when the clocks go forward is
    refused rather than silently moved by an hour. ``location``: one line of at most 120 characters."""
    zone = clinic.settings.zone
    today = clinic.today()
    last = add_months(today, BOOKING_HORIZON_MONTHS)
    allowed = (f"a time from {today.isoformat()} (today) to {last.isoformat()} ({BOOKING_HORIZON_MONTHS} months "
               f"ahead), in {clinic.settings.timezone}")
    when = at if at.tzinfo is not None else at.replace(tzinfo=zone)
    try:
        day = when.astimezone(zone).date()
        if at.tzinfo is None and when.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != at:
            raise InputError("at", at.isoformat(), f"a time that exists in {clinic.settings.timezone} (this wall "
                             "time is skipped when the clocks go forward)")
    except OverflowError:
        raise InputError("at", at.isoformat(), allowed) from None
    if not today <= day <= last:
        raise InputError("at", when.isoformat(), allowed)
    location = checked_text("location", location, max_length=int(m.ScheduleItem.__table__.c.location.type.length))
    return _book(clinic, item_id, at=when, location=location)


def patient_schedule(clinic: Clinic, record_id: str, *, include_closed: bool = False,
                     today: dt.date | None = None) -> list[ItemView]:
    day = today or clinic.today()
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        stmt = (select(m.ScheduleItem, m.TreatmentCourse.drug)
                .outerjoin(m.TreatmentCourse, m.TreatmentCourse.id == m.ScheduleItem.course_id)
                .where(m.ScheduleItem.patient_id == p.id))
        if not include_closed:
            stmt = stmt.where(m.ScheduleItem.status == "open")
        rows = s.execute(stmt.order_by(m.ScheduleItem.due_on, m.ScheduleItem.id)).all()
        name = display_name(p.given_name, p.family_name, p.record_id)
        return [item_view(it, record_id=record_id, patient_name=name, drug=drug, today=day) for it, drug in rows]


def complete_item(clinic: Clinic, item_id: int, *, done_on: dt.date | None = None, note: str = "") -> ItemView:
    """Mark a review, DXA or lab item done (doses are recorded with ``record_dose``)."""
    day = done_on or clinic.today()
    with clinic.db.write() as s:
        it = item_row(s, item_id, for_update=True)  # completed once: a second nurse waits, then sees it done
        if it.kind == "dose":
            raise InvalidState("a dose appointment is completed by recording the dose")
        if it.status != "open":
            raise InvalidState(f"appointment {item_id} is {it.status}")
        course = s.get(m.TreatmentCourse, it.course_id) if it.course_id is not None else None
        p = s.get(m.Patient, it.patient_id)
        earliest = course.start_date if course is not None else (p.birth_date if p is not None else None)
        check_date_range("done_on", day, earliest=earliest, today=clinic.today(),
                         earliest_what="the course's start" if course is not None else "the patient's birth date")
        it.status, it.closed_at = "done", utcnow()
        _next_recurring(s, it, day)
        _clear_review_point(s, it)
        audit(s, actor=clinic.actor, action="update", entity="appointment", entity_id=it.id,
              patient_id=it.patient_id, detail={"done_on": day.isoformat(), "note": note})
        s.flush()
        assert p is not None
        drug = s.get(m.TreatmentCourse, it.course_id).drug if it.course_id is not None else None  # type: ignore[union-attr]
        return item_view(it, record_id=p.record_id, patient_name=None, drug=drug, today=clinic.today())


def _next_recurring(session: Session, it: m.ScheduleItem, from_day: dt.date) -> m.ScheduleItem | None:
    """After a recurring review is done or cancelled, the next one, ``from_day`` on: the annual review (MON-ANNUAL)
    while its course is active; the drug-holiday reassessment (BP-HOLIDAY-3) while the patient has no active
    osteoporosis treatment. ``None`` for any other item."""
    course = session.get(m.TreatmentCourse, it.course_id) if it.course_id is not None else None
    if it.kind != "review" or course is None:
        return None
    if it.rule_id == "MON-ANNUAL" and course.status == "active":
        months, text, status = annual_review()
        return add_item(session, course, patient_id=it.patient_id, kind="review", seq=(it.seq or 0) + 1,
                        due_on=add_months(from_day, months), reason=text, rule_id="MON-ANNUAL", status=status)
    if it.rule_id == HOLIDAY_RULE:
        treated = any(regimen(c.drug).action in TREATMENT_ACTIONS for c in session.scalars(
            select(m.TreatmentCourse).where(m.TreatmentCourse.patient_id == it.patient_id,
                                            m.TreatmentCourse.status == "active")))
        if treated:
            return None
        months, _text, status = holiday_reassessment()
        return add_item(session, course, patient_id=it.patient_id, kind="review", seq=(it.seq or 0) + 1,
                        due_on=add_months(from_day, months), reason=stored_reason(it), rule_id=HOLIDAY_RULE,
                        status=status)
    return None


def _clear_review_point(s: Session, it: m.ScheduleItem) -> None:
    """The course's review point (``review_on``/``review_rule``) is no longer this item once it is closed."""
    if it.rule_id is not None and it.course_id is not None:
        course = s.get(m.TreatmentCourse, it.course_id)
        if course is not None and course.review_rule == it.rule_id:
            course.review_on, course.review_rule = None, None


def _followon_resolved(s: Session, it: m.ScheduleItem, classes: frozenset[str]) -> bool:
    """Whether the patient has an active course of a drug class that fulfils the follow-on review ``it``."""
    return any(regimen(c.drug).drug_class in classes for c in s.scalars(select(m.TreatmentCourse).where(
        m.TreatmentCourse.patient_id == it.patient_id, m.TreatmentCourse.status == "active")))


class FollowOnCancelRefused(OverrideRequired):
    """Cancelling a follow-on review (DMAB-SWITCH, ANAB-THEN-AR-*) that no active course fulfils needs a doctor's
    written override reason (an :class:`OverrideRequired`: adapters ask for it as for a dose's override)."""

    def __init__(self, drug: str, findings: list[dict[str, object]]) -> None:
        super().__init__(drug, findings)
        self.args = (" ".join(str(f["text"]) for f in findings),)


def cancel_item(clinic: Clinic, item_id: int, *, reason: str, override_reason: str | None = None) -> ItemView:
    """Cancel an open review, DXA or lab item (a dose moves with its course). A recurring review (the annual
    review, the drug-holiday reassessment) falls due again one interval after the cancelled one's due date; the
    course's review point is cleared as when it is done. A follow-on review (DMAB-SWITCH after denosumab,
    ANAB-THEN-AR-* after an anabolic: ``followon_classes``) is the patient's only safety net after the stop: it is
    cancelled only if an active course already fulfils it, or with a doctor's written ``override_reason`` (else
    :class:`OverrideRequired`, nothing changed; the reason is audited)."""
    if not reason.strip():
        raise InputError("reason", reason, "why the appointment is cancelled")
    override = checked_text("override_reason", override_reason, max_length=2000, one_line=False) or None
    with clinic.db.write() as s:
        it = item_row(s, item_id, for_update=True)
        if it.status != "open":
            raise InvalidState(f"appointment {item_id} is {it.status}")
        if it.kind == "dose":
            raise InvalidState("a dose appointment moves with the course: stop the course, or book another time")
        fulfils, fstatus = followon_classes()
        rule = str(it.rule_id)
        if rule in fulfils and not _followon_resolved(s, it, fulfils[rule]) and override is None:
            text, status = sequencing_rule(rule)
            course = s.get(m.TreatmentCourse, it.course_id) if it.course_id is not None else None
            raise FollowOnCancelRefused(course.drug if course is not None else rule, [{
                "kind": "must_not", "rule_id": rule, "status": lowest([status, fstatus]), "citation": None,
                "text": (f"Cancelling the follow-on review {rule} (due {it.due_on.isoformat()}) leaves no reminder "
                         f"to start the follow-on treatment: {text} Start a follow-on course (it closes the review), "
                         "or give a doctor's written override reason to cancel it.")}])
        it.status, it.closed_at = "cancelled", utcnow()
        nxt = _next_recurring(s, it, it.due_on)
        _clear_review_point(s, it)
        detail: dict[str, object] = {"cancelled": reason.strip()}
        if override is not None and rule in fulfils:
            detail["override_reason"] = override
        if nxt is not None:
            s.flush()
            detail["next_item"] = nxt.id
        audit(s, actor=clinic.actor, action="update", entity="appointment", entity_id=it.id,
              patient_id=it.patient_id, detail=detail)
        p = s.get(m.Patient, it.patient_id)
        assert p is not None
        return item_view(it, record_id=p.record_id, patient_name=None, drug=None, today=clinic.today())


def _book(clinic: Clinic, item_id: int, *, at: dt.datetime, location: str | None = None) -> ItemView:
    """Book ``at`` (already checked by :func:`book_appointment`) for an open item."""
    when = at if at.tzinfo is not None else at.replace(tzinfo=clinic.settings.zone)
    with clinic.db.write() as s:
        it = item_row(s, item_id, for_update=True)
        if it.status != "open":
            raise InvalidState(f"appointment {item_id} is {it.status}")
        it.scheduled_at = when.astimezone(dt.UTC)
        it.location = location
        audit(s, actor=clinic.actor, action="update", entity="appointment", entity_id=it.id,
              patient_id=it.patient_id, detail={"scheduled_at": it.scheduled_at.isoformat(), "location": location})
        p = s.get(m.Patient, it.patient_id)
        assert p is not None
        drug = course_row(s, it.course_id).drug if it.course_id is not None else None
        return item_view(it, record_id=p.record_id, patient_name=None, drug=drug, today=clinic.today())
