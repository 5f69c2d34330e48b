"""Shared helpers of the services: look-ups that raise NotFound, and row -> view conversions."""

from __future__ import annotations

import datetime as dt
import json
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.parts import TextPart
from ..core.schedule import days_late, timeliness
from ..store import models as m
from ..store.records import age_on
from .drugs import regimen
from .errors import NotFound
from .textparts import stored_parts
from .views import (
    ContraindicationReport,
    CourseView,
    DoseView,
    ItemView,
    LabView,
    PatientSummary,
    ReactionView,
)

#: The largest row id both stores can hold: the id columns are ``Integer``, a signed 32-bit ``integer`` (int4) on
#: PostgreSQL (SQLite's go to 2**63 - 1). A larger id names no row, and binding it would fail in the driver
#: (PostgreSQL: "integer out of range", a DataError with the SQL) instead of "not found". web/pages.py's form
#: numbers use the same bound.
MAX_ROW_ID = 2**31 - 1
R = TypeVar("R")


def in_id_range(row_id: int) -> bool:
    return 1 <= row_id <= MAX_ROW_ID


def get_row(session: Session, model: type[R], row_id: int, *, for_update: bool = False) -> R | None:
    """``session.get(model, row_id)`` for an id given by a user: ``None`` for an id no row can have. With
    ``for_update`` the row is locked until the transaction ends (PostgreSQL; SQLite's writer lock covers it) and
    read again."""
    if not in_id_range(row_id):
        return None
    if for_update:
        return session.get(model, row_id, with_for_update=True, populate_existing=True)
    return session.get(model, row_id)


def patient_row(session: Session, record_id: str, *, for_update: bool = False) -> m.Patient:
    stmt = select(m.Patient).where(m.Patient.record_id == record_id)
    if for_update:
        stmt = stmt.with_for_update()
    p = session.scalars(stmt).one_or_none()
    if p is None:
        raise NotFound("patient", record_id)
    return p


def course_row(session: Session, course_id: int, *, for_update: bool = False) -> m.TreatmentCourse:
    """A course by id; ``for_update``: locked (a change to a course or its appointments locks the course first,
    then the appointment, so that two changes never wait for each other)."""
    c = get_row(session, m.TreatmentCourse, course_id, for_update=for_update)
    if c is None:
        raise NotFound("course", course_id)
    return c


def item_row(session: Session, item_id: int, *, for_update: bool = False) -> m.ScheduleItem:
    """An appointment by id; ``for_update``: locked, with its course locked first if it has one (the order every
    change keeps)."""
    if for_update:
        first = get_row(session, m.ScheduleItem, item_id)
        if first is not None and first.course_id is not None:
            course_row(session, first.course_id, for_update=True)
    it = get_row(session, m.ScheduleItem, item_id, for_update=for_update)
    if it is None:
        raise NotFound("appointment", item_id)
    return it


def summary(p: m.Patient, as_of: dt.date) -> PatientSummary:
    age = age_on(p.birth_date, as_of) if p.birth_date is not None else int(p.age or 0)
    return PatientSummary(record_id=p.record_id, given_name=p.given_name, family_name=p.family_name, sex=p.sex,
                          age=age, birth_date=p.birth_date)


def display_name(given: str | None, family: str | None, record_id: str) -> str:
    return " ".join(x for x in (given, family) if x) or record_id


def urgent_after(drug: str | None) -> int | None:
    if drug is None:
        return None
    try:
        return regimen(drug).urgent_after_days
    except Exception:  # an unknown drug id in old data: no urgency threshold
        return None


def item_view(it: m.ScheduleItem, *, record_id: str, patient_name: str | None, drug: str | None,
              today: dt.date | None = None) -> ItemView:
    tl = None
    late = 0
    if today is not None and it.status == "open":
        tl = timeliness(it.due_on, today, urgent_after_days=urgent_after(drug) if it.kind == "dose" else None)
        late = days_late(it.due_on, today)
    return ItemView(
        id=it.id, record_id=record_id, patient_name=patient_name, kind=it.kind,
        course_id=it.course_id, drug=drug, seq=it.seq, lab_name=it.lab_name, due_on=it.due_on,
        scheduled_at=it.scheduled_at, location=it.location, status=it.status,
        reason=it.reason, reason_parts=stored_parts(it.reason, it.reason_parts), rule_id=it.rule_id,
        fact_status=it.fact_status,
        timeliness=tl, days_late=late,
    )


def dose_view(d: m.AdministeredDose) -> DoseView:
    return DoseView(
        id=d.id, course_id=d.course_id, item_id=d.item_id, drug=d.drug, given_on=d.given_on, given_at=d.given_at,
        dose_value=d.dose_value, dose_unit=d.dose_unit, route=d.route, body_site=d.body_site,
        lot_number=d.lot_number, given_by=d.given_by, observation_minutes=d.observation_minutes,
        observation_notes=d.observation_notes, recorded_by=d.recorded_by, recorded_at=d.recorded_at,
    )


def reaction_view(r: m.Reaction, record_id: str) -> ReactionView:
    return ReactionView(
        id=r.id, record_id=record_id, drug=r.drug, kind=r.kind, severity=r.severity, onset_on=r.onset_on,
        outcome=r.outcome, resolved_on=r.resolved_on, description=r.description, intolerance=r.intolerance,
        course_id=r.course_id, dose_id=r.dose_id, recorded_by=r.recorded_by, recorded_at=r.recorded_at,
    )


def lab_view(x: m.Lab) -> LabView:
    return LabView(id=x.id, name=x.name, value=x.value, unit=x.unit, date=x.date, reference_low=x.reference_low,
                   reference_high=x.reference_high)


def _regimen_parts(c: m.TreatmentCourse) -> list[TextPart]:
    """The course's regimen text as parts, if the drug's regimen still gives that text (else the text alone)."""
    from .drugs import regimen
    from .textparts import render

    try:
        found = regimen(c.drug).describe_part()
    except Exception:  # a drug the knowledge no longer has: the stored text, shown as it is
        return []
    return [found] if render(found) == c.regimen else []


def course_view(session: Session, c: m.TreatmentCourse, *, record_id: str) -> CourseView:
    doses = sorted(c.doses, key=lambda d: d.given_on)
    next_item = session.scalars(
        select(m.ScheduleItem)
        .where(m.ScheduleItem.course_id == c.id, m.ScheduleItem.kind == "dose", m.ScheduleItem.status == "open")
        .order_by(m.ScheduleItem.due_on)
        .limit(1)
    ).first()
    return CourseView(
        id=c.id, record_id=record_id, drug=c.drug, regimen=c.regimen, regimen_parts=_regimen_parts(c),
        setting=c.setting,
        route=c.route, dose_value=c.dose_value, dose_unit=c.dose_unit, start_date=c.start_date,
        stop_date=c.stop_date, stop_reason=c.stop_reason, status=c.status,
        origin=c.origin, assessment_id=c.assessment_id,
        check=ContraindicationReport.model_validate(json.loads(c.check_json)),
        override_reason=c.override_reason, review_on=c.review_on, review_rule=c.review_rule,
        doses_given=len(doses), last_dose=doses[-1].given_on if doses else None,
        next_due=next_item.due_on if next_item else None,
    )
