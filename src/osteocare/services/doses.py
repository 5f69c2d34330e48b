"""Doses: the checks before a clinic dose, recording a dose (once per appointment), booking appointments.

Recording a clinic dose is one transaction: the dose (with lot number and observation), the check snapshot,
closing the appointment and scheduling the next dose from this one. Two clients recording the same
appointment at once give one dose: the appointment row is locked (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite
``BEGIN IMMEDIATE``) and, whatever happens, the unique constraint on ``administered_doses.item_id`` refuses
a second dose; the loser gets :class:`DoseAlreadyRecorded`.

Before any dose is written the drug's contraindication check is run again on the current record (reactions
recorded since the start count) and the dose is checked against the drug's dosing interval (its knowledge
file). A finding that needs a written reason and was not already overridden when the course started, or a dose
earlier than one interval after (or before) another dose of the drug, raises :class:`OverrideRequired` unless
``override_reason`` is given; the reason is kept in the audit trail (and with the appointment's checks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core.errors import InputError
from ..core.limits import limit
from ..core.schedule import add_interval, days_late, timeliness
from ..core.text import checked_text
from ..store import models as m
from ..store.audit import audit
from ..store.models import utcnow
from ..store.records import load_patient, record_of
from ._common import course_row, dose_view, in_id_range, item_row, item_view
from .checks import blocking_findings, clinic_record, contraindication_check, evaluate_predose_checks
from .context import Clinic
from .drugs import Regimen, regimen, sequencing_rule
from .errors import DoseAlreadyRecorded, InvalidState, NotFound, OverrideRequired
from .schedule import OVERRIDDEN, after_dose, overridden_rules
from .views import ContraindicationReport, DoseResult, DoseView, PreDoseCheckResult

CONFIRMABLE_OUTCOMES = ("ok", "not_ok", "to_review")


def predose_checks(clinic: Clinic, item_id: int, *, as_of: dt.date | None = None) -> list[PreDoseCheckResult]:
    """The checks due before the dose of appointment ``item_id``, evaluated on ``as_of`` (default today)."""
    day = as_of or clinic.today()
    with clinic.db.read() as s:
        it = item_row(s, item_id)
        if it.kind != "dose" or it.course_id is None:
            raise InvalidState(f"appointment {item_id} is not a dose")
        c = course_row(s, it.course_id)
        p = load_patient(s, s.scalar(select(m.Patient.record_id).where(m.Patient.id == c.patient_id)) or "")
        assert p is not None
        prev = s.scalar(select(m.AdministeredDose.given_on).where(m.AdministeredDose.course_id == c.id)
                        .order_by(m.AdministeredDose.given_on.desc()).limit(1))
        out = evaluate_predose_checks(s, patient=p, record=record_of(p, as_of=day), reg=regimen(c.drug),
                                      item=it, as_of=day, settings=clinic.settings, previous_dose=prev)
        report = contraindication_check(clinic_record(s, p, as_of=day), c.drug, as_of=day)
        earlier = _started_with(c)
        blocking = blocking_findings(report)
        new = [f for f in blocking if str(f["rule_id"]) not in earlier]
        if new:
            out.insert(0, PreDoseCheckResult(
                check_id="contraindication_check", text="Contraindication check of the drug on the current record",
                outcome="not_ok", detail="; ".join(f"{f['kind']} {f['rule_id']}: {f['text']}" for f in new)
                + " - the dose needs a written override reason"))
        elif blocking:
            out.insert(0, PreDoseCheckResult(
                check_id="contraindication_check", text="Contraindication check of the drug on the current record",
                outcome="to_review", detail="; ".join(f"{f['kind']} {f['rule_id']}: {f['text']}" for f in blocking)
                + f" - overridden when the course started: {c.override_reason}"))
        elif not report.available:
            out.insert(0, PreDoseCheckResult(
                check_id="contraindication_check", text="Contraindication check of the drug on the current record",
                outcome="missing", detail=f"not run: {report.reason}"))
        return out


def confirm_check(clinic: Clinic, item_id: int, check_id: str, *, outcome: str, detail: str) -> None:
    """Record the clinician's answer to a check (e.g. dental review done: ok) for this appointment."""
    if outcome not in CONFIRMABLE_OUTCOMES:
        raise InputError("outcome", outcome, "one of " + ", ".join(CONFIRMABLE_OUTCOMES))
    if not detail.strip():
        raise InputError("detail", detail, "what was checked (e.g. 'dental review 2025-01-10, no invasive work')")
    with clinic.db.write() as s:
        it = item_row(s, item_id)
        if it.course_id is None:
            raise InvalidState(f"appointment {item_id} has no course")
        items = regimen(course_row(s, it.course_id).drug).check_items
        if check_id not in items:
            raise InputError("check_id", check_id, "one of " + ", ".join(items))
        s.add(m.PreDoseCheck(item_id=it.id, check_id=check_id, outcome=outcome, detail=detail.strip(),
                             checked_by=clinic.actor, checked_at=utcnow()))
        audit(s, actor=clinic.actor, action="create", entity="predose_check", entity_id=f"{item_id}:{check_id}",
              patient_id=it.patient_id, detail={"outcome": outcome})


#: the lab checks whose failure holds back a dose given today (the other labs warn); a check the clinician answered
#: "not OK" by hand (a recent myocardial infarction before romosozumab, a pregnancy test) always does
_GATING_CHECKS = frozenset({"serum_calcium", "creatinine_crcl", "creatinine_egfr"})


def _interval_fact(reg: Regimen) -> str:
    for name in ("interval_days", "interval_months", "doses_per_day"):
        if f"{reg.knowledge_id}#{name}" in reg.statuses:
            return f"{reg.knowledge_id}#{name}"
    return reg.knowledge_id


def _given_dates(session: Any, c: m.TreatmentCourse) -> list[dt.date]:
    """Every day the patient was given the course's drug: the doses the clinic recorded, and the last dose of the
    medication history (given elsewhere)."""
    given = list(session.scalars(select(m.AdministeredDose.given_on).where(
        m.AdministeredDose.patient_id == c.patient_id, m.AdministeredDose.drug == c.drug)))
    history = session.scalars(select(m.Medication.last_dose).where(
        m.Medication.patient_id == c.patient_id, m.Medication.drug == c.drug, m.Medication.last_dose.is_not(None)))
    return given + [d for d in history if d not in given]


def _spacing_findings(session: Any, c: m.TreatmentCourse, reg: Regimen, day: dt.date) -> list[dict[str, Any]]:
    """More doses of the drug on one day than its knowledge file gives (``doses_per_day``, else one): a second
    weekly tablet on the same day needs a written reason. (A clinic drug twice on one day is refused earlier as
    a duplicate entry.)"""
    if reg.interval is None:
        return []
    same = [g for g in _given_dates(session, c) if g == day]
    if len(same) < reg.doses_per_day:
        return []
    fact = _interval_fact(reg)
    how = f"{reg.doses_per_day} times a day" if reg.doses_per_day > 1 else str(reg.interval)
    text = (f"{reg.name} is given {how} ({fact}); {len(same)} dose{'s' if len(same) > 1 else ''} already recorded "
            f"on {day.isoformat()}: this dose comes before the interval allows.")
    return [{"kind": "caution", "rule_id": "DOSE-INTERVAL", "text": text, "status": reg.interval_status,
             "citation": fact}]


def _early_warnings(session: Any, c: m.TreatmentCourse, reg: Regimen, day: dt.date) -> list[str]:
    """A dose within one dosing interval of another dose of the drug (not on the same day): a warning. The
    knowledge gives no window for an early dose, so it is not refused (an early dose moves the plan forward)."""
    if reg.interval is None or reg.doses_per_day > 1:
        return []
    close = sorted((g for g in _given_dates(session, c)
                    if g != day and day < add_interval(g, reg.interval) and g < add_interval(day, reg.interval)),
                   key=lambda g: abs((day - g).days))
    if not close:
        return []
    g = close[0]
    fact = _interval_fact(reg)
    if g < day:
        return [f"Early dose: {reg.name} is given {reg.interval} ({fact}); the last dose was on {g.isoformat()}, "
                f"{(day - g).days} days before, so the next was due on {add_interval(g, reg.interval).isoformat()}."]
    return [f"Early dose: {reg.name} is given {reg.interval} ({fact}); a dose is recorded on {g.isoformat()}, "
            f"only {(g - day).days} days after {day.isoformat()}."]


def _started_with(c: m.TreatmentCourse) -> set[str]:
    """Rule ids the clinician already overrode (with a written reason) when the course started."""
    if not c.override_reason or not c.check_json:
        return set()
    try:
        stored = ContraindicationReport.model_validate_json(c.check_json)
    except ValueError:
        return set()
    return {str(f["rule_id"]) for f in blocking_findings(stored)}


def _overridden_at_doses(session: Any, c: m.TreatmentCourse) -> set[str]:
    """Rule ids a clinician overrode, with a written reason, at an earlier dose of this course (the ``override``
    pre-dose snapshot, :func:`~osteocare.services.schedule.overridden_rules`)."""
    details = session.scalars(
        select(m.PreDoseCheck.detail).join(m.ScheduleItem, m.ScheduleItem.id == m.PreDoseCheck.item_id)
        .where(m.ScheduleItem.course_id == c.id, m.PreDoseCheck.check_id == "override"))
    return {rid for d in details for rid in overridden_rules(d)}


def _late_warning(reg: Regimen, due: dt.date, day: dt.date) -> str | None:
    """'This dose is N days late' for a clinic dose given after its due date, with the drug's late-dose rule."""
    late = days_late(due, day)
    if late <= 0:
        return None
    text = f"This dose is {late} days late (due {due.isoformat()})."
    if reg.overdue_rule is not None:
        urgent = timeliness(due, day, urgent_after_days=reg.urgent_after_days) == "urgent"
        rule = reg.urgent_rule if urgent and reg.urgent_rule is not None else reg.overdue_rule
        rule_text, status = sequencing_rule(rule)
        text += f" {rule}: {rule_text} (status: {status})"
    return text


def record_dose(
    clinic: Clinic,
    *,
    item_id: int | None = None,
    course_id: int | None = None,
    given_on: dt.date | None = None,
    given_at: dt.datetime | None = None,
    lot_number: str | None = None,
    body_site: str | None = None,
    given_by: str | None = None,
    observation_minutes: int | None = None,
    observation_notes: str | None = None,
    dose_value: float | None = None,
    dose_unit: str | None = None,
    override_reason: str | None = None,
) -> DoseResult:
    """Record a dose actually given, for an appointment (``item_id``) or a course (``course_id``).

    For a clinic drug given by course, the dose goes to the course's open dose appointment. A clinic dose needs
    its lot number. The next dose falls due one interval after this one (if it is the latest). Raises
    :class:`DoseAlreadyRecorded` if the appointment already has its dose, :class:`OverrideRequired` (nothing
    written) if the contraindication check or the dosing interval needs a written reason and
    ``override_reason`` is not given.
    """
    if (item_id is None) == (course_id is None):
        raise InputError("item_id/course_id", None, "exactly one of the appointment id and the course id")
    day = given_on or (given_at.astimezone(clinic.settings.zone).date() if given_at else clinic.today())
    if day > clinic.today():
        raise InputError("given_on", day.isoformat(), f"a date not after today ({clinic.today()})")
    if given_at is not None and given_at.tzinfo is None:
        given_at = given_at.replace(tzinfo=clinic.settings.zone)
    if observation_minutes is not None:
        lo, hi, unit = limit("observation_minutes")  # an OsteoCare plausibility limit (input-limits), not clinical
        if not lo <= observation_minutes <= hi:
            raise InputError("observation_minutes", observation_minutes,
                             f"a whole number from {lo:g} to {hi:g} (an OsteoCare plausibility limit, "
                             "not a clinical one)", unit=unit)
    col = m.AdministeredDose.__table__.c
    lot, body_site, given_by, dose_unit = (
        checked_text(f, v, max_length=int(col[f].type.length))
        for f, v in (("lot_number", lot_number), ("body_site", body_site), ("given_by", given_by),
                     ("dose_unit", dose_unit)))
    observation_notes = checked_text("observation_notes", observation_notes, max_length=2000, one_line=False)
    reason = checked_text("override_reason", override_reason, max_length=2000, one_line=False)
    warnings: list[str] = []
    try:
        with clinic.db.write() as s:
            it: m.ScheduleItem | None = None
            if item_id is not None:
                if not in_id_range(item_id):
                    raise NotFound("appointment", item_id)
                it = item_row(s, item_id, for_update=True)  # its course locked first, as stop_course does
                if it.kind != "dose" or it.course_id is None:
                    raise InvalidState(f"appointment {item_id} is a {it.kind}, not a dose")
                c = course_row(s, it.course_id)
            else:
                assert course_id is not None
                if not in_id_range(course_id):
                    raise NotFound("course", course_id)
                locked = s.scalars(select(m.TreatmentCourse).where(m.TreatmentCourse.id == course_id)
                                   .with_for_update()).one_or_none()
                if locked is None:
                    raise NotFound("course", course_id)
                c = locked
                reg0 = regimen(c.drug)
                if reg0.given_in_clinic:
                    it = s.scalars(select(m.ScheduleItem).where(
                        m.ScheduleItem.course_id == c.id, m.ScheduleItem.kind == "dose",
                        m.ScheduleItem.status == "open").order_by(m.ScheduleItem.due_on).limit(1)
                        .with_for_update()).first()
                    if it is None:
                        raise InvalidState(f"course {course_id} has no open clinic dose")
            if it is not None and it.status != "open":
                existing = s.scalar(select(m.AdministeredDose.id).where(m.AdministeredDose.item_id == it.id))
                if existing is not None:
                    raise DoseAlreadyRecorded(it.id, existing)
                raise InvalidState(f"appointment {it.id} is {it.status}")
            if c.status != "active":
                raise InvalidState(f"course {c.id} is {c.status}")
            if day < c.start_date:
                raise InputError("given_on", day.isoformat(), f"on or after the course start {c.start_date}")
            reg = regimen(c.drug)
            if reg.given_in_clinic:
                same_day = s.scalars(select(m.AdministeredDose).where(
                    m.AdministeredDose.course_id == c.id, m.AdministeredDose.given_on == day)).first()
                if same_day is not None:  # a clinic drug is never given twice on one day: a duplicate entry
                    raise DoseAlreadyRecorded(same_day.item_id or 0, same_day.id)
            if reg.given_in_clinic and lot is None:
                raise InputError("lot_number", lot_number, "the lot (batch) number of the injection or infusion")
            policy = clinic.settings.observation_minutes
            if reg.given_in_clinic and policy is not None and (observation_minutes or 0) < policy:
                warnings.append(f"Observation after the dose: {observation_minutes or 0} min recorded; local policy "
                                f"is {policy} min.")
            patient = s.get(m.Patient, c.patient_id)
            assert patient is not None
            full = load_patient(s, patient.record_id)
            assert full is not None
            report = contraindication_check(clinic_record(s, full, as_of=day), c.drug, as_of=day)
            if not report.available:
                warnings.append(f"Contraindication check not run: {report.reason}")
            earlier = _started_with(c)
            blocking = blocking_findings(report)
            # a caution (not a must-not or a fix-first) overridden at an earlier dose of this course was reviewed:
            # it is said again as a warning, not asked again at every dose (a review: after a mild reaction
            # recorded as an intolerance, every later injection needed a new written reason)
            at_doses = {str(f["rule_id"]) for f in blocking if f["kind"] == "caution"} & _overridden_at_doses(s, c)
            new = [f for f in blocking if str(f["rule_id"]) not in earlier | at_doses]
            # A dose given today is gated; a dose entered for a past date was already given: it is recorded (the
            # record must show it) with the finding as a warning.
            checks: list[Any] = []
            prev: dt.date | None = None
            if it is not None:
                prev = s.scalar(select(m.AdministeredDose.given_on).where(m.AdministeredDose.course_id == c.id)
                                .order_by(m.AdministeredDose.given_on.desc()).limit(1))
                checks = evaluate_predose_checks(s, patient=full, record=record_of(full, as_of=day), reg=reg,
                                                 item=it, as_of=day, settings=clinic.settings, previous_dose=prev)
            # a pre-dose lab the labels say to correct first (low calcium) or kidney function below the drug's
            # limit gates a dose given today as a finding to fix first does; 25(OH)D below the guideline's target
            # is a warning (the knowledge holds no deficiency threshold: a deficiency is a recorded condition,
            # FIX-VITD)
            failed = [{"kind": "fix_first", "rule_id": f"PREDOSE-{ch.check_id}",
                       "text": f"Pre-dose check {ch.check_id}: {ch.detail}", "status": ch.status, "citation": None}
                      for ch in checks if ch.outcome == "not_ok"
                      and (ch.check_id in _GATING_CHECKS or ch.confirmed_by is not None)]
            need = (new + failed if day >= clinic.today() else []) + _spacing_findings(s, c, reg, day)
            if need and reason is None:
                raise OverrideRequired(c.drug, need)
            warnings += _early_warnings(s, c, reg, day)
            for f in blocking:
                if str(f["rule_id"]) in earlier:
                    warnings.append(f"Contraindication {f['rule_id']} still applies (overridden when the course "
                                    f"started: {c.override_reason}): {f['text']}")
                elif str(f["rule_id"]) in at_doses:
                    warnings.append(f"Caution {f['rule_id']} still applies (overridden at an earlier dose of this "
                                    f"course): {f['text']}")
                elif day < clinic.today():
                    warnings.append(f"Contraindication {f['kind']} {f['rule_id']} applied on {day.isoformat()} "
                                    f"(dose entered afterwards, recorded as given): {f['text']}")
            for f in need:
                warnings.append(f"{f['kind']} {f['rule_id']} overridden for this dose ({reason}): {f['text']}")
            if it is not None and reg.given_in_clinic:
                late = _late_warning(reg, it.due_on, day)
                if late is not None:
                    warnings.append(late)
            if it is not None:
                has_snapshot = s.scalar(select(m.PreDoseCheck.id).where(m.PreDoseCheck.item_id == it.id).limit(1))
                if need:
                    s.add(m.PreDoseCheck(item_id=it.id, check_id="override", outcome="not_ok",
                                         detail=f"{', '.join(str(f['rule_id']) for f in need)}{OVERRIDDEN}{reason}",
                                         checked_by=clinic.actor, checked_at=utcnow()))
                for ch in checks:
                    if has_snapshot is None or ch.lab_id is not None:
                        s.add(m.PreDoseCheck(item_id=it.id, check_id=ch.check_id, outcome=ch.outcome,
                                             detail=ch.detail, lab_id=ch.lab_id, fact_status=ch.status,
                                             checked_by=clinic.actor, checked_at=utcnow()))
                    if ch.outcome in ("not_ok", "missing") or (ch.outcome == "to_review" and ch.lab_id is not None):
                        warnings.append(f"Pre-dose check {ch.check_id}: {ch.detail}")
            dose = m.AdministeredDose(
                patient_id=c.patient_id, course_id=c.id, item_id=it.id if it is not None else None, drug=c.drug,
                given_on=day, given_at=given_at.astimezone(dt.UTC) if given_at else None,
                dose_value=dose_value if dose_value is not None else reg.dose_value,
                dose_unit=dose_unit if dose_unit is not None else reg.dose_unit, route=reg.route,
                body_site=body_site, lot_number=lot, given_by=given_by or clinic.actor,
                observation_minutes=observation_minutes, observation_notes=observation_notes,
                recorded_by=clinic.actor, recorded_at=utcnow(),
            )
            s.add(dose)
            s.flush()
            nxt, completed = after_dose(s, c, dose, it)
            audit(s, actor=clinic.actor, action="create", entity="dose", entity_id=dose.id, patient_id=c.patient_id,
                  detail={"course": c.id, "item": it.id if it is not None else None, "given_on": day.isoformat(),
                          "lot": lot, "override": [str(f["rule_id"]) for f in need], "override_reason": reason})
            result = DoseResult(
                dose=dose_view(dose),
                next_item=item_view(nxt, record_id=patient.record_id, patient_name=None, drug=c.drug,
                                    today=clinic.today()) if nxt is not None else None,
                course_completed=completed, warnings=warnings,
            )
    except IntegrityError as exc:
        if item_id is None and course_id is None:  # pragma: no cover - guarded above
            raise
        key = item_id
        if key is None:
            with clinic.db.read() as s:
                key = s.scalar(select(m.ScheduleItem.id).where(
                    m.ScheduleItem.course_id == course_id, m.ScheduleItem.kind == "dose",
                    m.ScheduleItem.status == "done").order_by(m.ScheduleItem.closed_at.desc()).limit(1))
        with clinic.db.read() as s:
            existing = s.scalar(select(m.AdministeredDose.id).where(m.AdministeredDose.item_id == key))
        if existing is not None and key is not None:
            raise DoseAlreadyRecorded(key, existing) from None
        raise exc
    return result


def doses_of(clinic: Clinic, record_id: str) -> list[DoseView]:
    from ._common import patient_row

    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.scalars(select(m.AdministeredDose).where(m.AdministeredDose.patient_id == p.id)
                         .order_by(m.AdministeredDose.given_on, m.AdministeredDose.id))
        return [dose_view(d) for d in rows]
