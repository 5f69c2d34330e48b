"""Treatment courses: check, start (from a recommendation or the clinician's choice), stop, list.

Starting a course always runs the treatment engine's contraindication check on the stored record (with the
clinic's recorded reactions, :func:`~osteocare.services.checks.clinic_record`) and keeps it with the course. A
``must_not``, ``caution`` or ``fix_first`` finding, or a ``must_not`` rule left undecided for a missing fact,
needs a written override reason (treatment.md 0: absolute contraindication = the drug is not offered;
relative = needs a recorded clinician override with a reason; fix first = correct it, then start); without one
:class:`OverrideRequired` is raised and nothing is written (:func:`~osteocare.services.checks.blocking_findings`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..core.errors import InputError
from ..core.knowledge import release
from ..core.schedule import add_months
from ..store import models as m
from ..store.audit import audit
from ..store.records import load_patient
from ._common import course_row, course_view, get_row
from .appointments import BOOKING_HORIZON_MONTHS, check_date_range
from .checks import blocking_findings, clinic_record, contraindication_check, evaluate_predose_checks, recheck_day
from .context import Clinic
from .drugs import course_drug_ids, followon_classes, regimen
from .errors import Conflict, InvalidState, NotFound, OverrideRequired
from .patients import earliest_date_of
from .schedule import close_followon_reviews, on_course_stop, plan_course_start
from .views import ContraindicationReport, CourseView

Origin = Literal["recommendation", "clinician", "imported"]


def check_course(clinic: Clinic, record_id: str, drug: str, *, as_of: dt.date | None = None,
                 region: str | None = None) -> ContraindicationReport:
    """The contraindication check the clinician sees before starting ``drug`` (no write except the audit)."""
    regimen(drug)
    day = as_of or clinic.today()
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        rec = clinic_record(s, p, as_of=day)
        pid = p.id
    report = contraindication_check(rec, drug, as_of=day, region=region)
    with clinic.db.write() as s:
        audit(s, actor=clinic.actor, action="read", entity="contraindication_check", entity_id=drug,
              patient_id=pid)
    return report


def _check_start(clinic: Clinic, record_id: str, field: str, day: dt.date) -> None:
    """A course starts (or its first dose falls due) no earlier than the patient's birth and no later than the
    booking horizon (a size limit: every appointment of the course can be booked and exported)."""
    earliest, what = earliest_date_of(clinic, record_id)
    last = add_months(clinic.today(), BOOKING_HORIZON_MONTHS)
    if (earliest is not None and day < earliest) or day > last:
        start = f"from {earliest.isoformat()} ({what}) " if earliest is not None else ""
        raise InputError(field, day.isoformat(), f"a date {start}to {last.isoformat()} "
                         f"({BOOKING_HORIZON_MONTHS} months after today)")


def _undecided(report: ContraindicationReport) -> bool:
    return bool(report.undecided)


def start_course(
    clinic: Clinic,
    record_id: str,
    drug: str,
    *,
    start_date: dt.date | None = None,
    origin: Origin = "clinician",
    assessment_id: int | None = None,
    override_reason: str | None = None,
    anchor_weekday: int | None = None,
    anchor_day: int | None = None,
    first_dose_due: dt.date | None = None,
    region: str | None = None,
) -> CourseView:
    """Start a course of ``drug``. The schedule (interval, where it is given) comes from the drug's knowledge file.

    ``origin='recommendation'`` needs the stored ``assessment_id`` it came from. A finding that needs an
    override raises :class:`OverrideRequired` unless ``override_reason`` is given. ``anchor_weekday`` /
    ``anchor_day`` fix the patient's day for weekly / monthly pills (default: the start date's). For a clinic
    drug the first dose is due on ``first_dose_due`` (default: the start date).
    """
    reg = regimen(drug)
    if reg.interval is None:
        raise InputError("drug", drug, "a drug with a dosing interval in its knowledge file: "
                         + ", ".join(course_drug_ids()))
    start = start_date or clinic.today()
    reason = (override_reason or "").strip() or None
    if origin == "recommendation" and assessment_id is None:
        raise InputError("assessment_id", None, "the stored assessment the recommendation came from")
    if anchor_weekday is not None and not 0 <= anchor_weekday <= 6:
        raise InputError("anchor_weekday", anchor_weekday, "0 (Monday) to 6 (Sunday)")
    if anchor_day is not None and not 1 <= anchor_day <= 31:
        raise InputError("anchor_day", anchor_day, "1 to 31")
    if first_dose_due is not None and first_dose_due < start:
        raise InputError("first_dose_due", first_dose_due.isoformat(), f"on or after the start date {start}")
    _check_start(clinic, record_id, "start_date", start)
    if first_dose_due is not None:
        _check_start(clinic, record_id, "first_dose_due", first_dose_due)
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        rec = clinic_record(s, p, as_of=start)
        now_day = recheck_day(s, p, start, clinic.today())
        rec_now = clinic_record(s, p, as_of=now_day) if now_day is not None else None
    report = contraindication_check(rec, drug, as_of=start, region=region)
    now = None
    if rec_now is not None and now_day is not None and _undecided(report):
        now = contraindication_check(rec_now, drug, as_of=now_day, region=region)
    need = blocking_findings(report, now)
    if need and reason is None:
        raise OverrideRequired(drug, need)
    weekly = reg.interval.unit == "day" and reg.interval.count % 7 == 0
    monthly = reg.interval.unit == "month" and not reg.given_in_clinic
    try:
        with clinic.db.write() as s:
            p = load_patient(s, record_id)
            if p is None:
                raise NotFound("patient", record_id)
            offered: list[str] | None = None
            if assessment_id is not None:
                a = get_row(s, m.StoredAssessment, assessment_id)
                if a is None or a.patient_id != p.id:
                    raise NotFound("assessment of this patient", assessment_id)
                rec_json = (json.loads(a.result_json).get("recommendation") or {})
                offered = [str(o.get("drug")) for o in rec_json.get("options", [])]
            course = m.TreatmentCourse(
                patient_id=p.id, drug=drug, regimen=reg.describe(), setting=reg.setting, route=reg.route,
                dose_value=reg.dose_value, dose_unit=reg.dose_unit, start_date=start, status="active",
                origin=origin, assessment_id=assessment_id, check_json=report.model_dump_json(),
                override_reason=reason,
                anchor_weekday=(anchor_weekday if anchor_weekday is not None else start.weekday()) if weekly else None,
                anchor_day=(anchor_day if anchor_day is not None else start.day) if monthly else None,
                knowledge_version=release().version, started_by=clinic.actor,
            )
            s.add(course)
            s.flush()
            notes = plan_course_start(s, course, reg, first_due=first_dose_due)
            closed = close_followon_reviews(s, course, reg)
            notes += [f"The follow-on review {rule} (appointment {item}) is closed: {reg.name} is started "
                      f"(followon_classes, status: {followon_classes()[1]})." for item, rule in closed]
            if reg.check_items:  # what the first dose will be held for, said now
                notes += [f"Before the first dose: pre-dose check {ch.check_id}: {ch.detail}"
                          for ch in evaluate_predose_checks(s, patient=p, record=rec, reg=reg, item=None, as_of=start,
                                                            settings=clinic.settings, previous_dose=None)
                          if ch.outcome == "not_ok"]
            audit(s, actor=clinic.actor, action="create", entity="course", entity_id=course.id, patient_id=p.id,
                  detail={"drug": drug, "origin": origin, "override": [str(f["rule_id"]) for f in need],
                          "check_available": report.available,
                          "closed_reviews": [{"item": i, "rule": r} for i, r in closed]})
            view = course_view(s, course, record_id=record_id)
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_courses_active_patient_drug" in text or "courses.patient_id, courses.drug" in text:
            raise Conflict(f"patient {record_id!r} already has an active course of {drug}") from None
        raise
    view.warnings = notes
    if origin == "recommendation" and offered is not None and drug not in offered:
        view.warnings.insert(0, f"{drug} is not among the options of assessment {assessment_id} "
                                f"({', '.join(offered) or 'none'}): started as the clinician's choice.")
    if not report.available:
        view.warnings.insert(0, f"Contraindication check not run: {report.reason}")
    return view


def stop_course(clinic: Clinic, course_id: int, *, reason: str, stop_date: dt.date | None = None) -> CourseView:
    """Stop an active course (open appointments are cancelled). Stopping denosumab schedules DMAB-SWITCH."""
    if not reason.strip():
        raise InputError("reason", reason, "why the course is stopped")
    with clinic.db.write() as s:
        c = course_row(s, course_id, for_update=True)  # a dose being recorded meanwhile waits, then sees it stopped
        if c.status != "active":
            raise InvalidState(f"course {course_id} is {c.status}, not active")
        day = stop_date or clinic.today()
        last = s.scalar(select(func.max(m.AdministeredDose.given_on)).where(m.AdministeredDose.course_id == c.id))
        earliest, what = ((last, "the course's last dose") if last is not None and last > c.start_date
                          else (c.start_date, "the course's start"))
        check_date_range("stop_date", day, today=clinic.today(), earliest=earliest, earliest_what=what)
        c.status, c.stop_date, c.stop_reason, c.stopped_by = "stopped", day, reason.strip(), clinic.actor
        warnings = on_course_stop(s, c, stop_date=day)
        audit(s, actor=clinic.actor, action="update", entity="course", entity_id=c.id, patient_id=c.patient_id,
              detail={"stopped": day.isoformat(), "reason": reason.strip()})
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.id == c.patient_id))
        view = course_view(s, c, record_id=str(rid))
    view.warnings = warnings
    return view


def courses_of(clinic: Clinic, record_id: str, *, active_only: bool = False) -> list[CourseView]:
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        return [course_view(s, c, record_id=record_id) for c in p.courses
                if not active_only or c.status == "active"]


def get_course(clinic: Clinic, course_id: int) -> CourseView:
    with clinic.db.read() as s:
        c = course_row(s, course_id)
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.id == c.patient_id))
        return course_view(s, c, record_id=str(rid))


def check_of(course: CourseView) -> str:
    """The stored check as JSON text, exactly as it was shown when the course started."""
    return json.dumps(course.check.model_dump(mode="json"), indent=2)
