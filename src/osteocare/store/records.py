"""PatientRecord <-> rows: persist everything the core reads and rebuild it exactly.

* :data:`FLAT_FIELDS` are the record's scalar fields, stored one column each on ``patients``.
* The lists (DXA, fractures, falls, conditions, labs, medications, intolerances, vertebrae) are child rows,
  rebuilt in the order they were stored.
* DXA measurements are grouped into exams: consecutive measurements with the same date, manufacturer, device
  and reference database (and no repeated site) form one exam.
* Courses run in the clinic appear in the rebuilt record as medications (drug, start, end, last dose given),
  so the engine sees them; they are never written back into the medication history.
* The entries (conditions, medications, intolerances, fractures, falls, vertebrae) written here come from a
  record (patient add, import, FHIR import): ``entered_in_clinic`` is False on each. Those a clinician enters one
  by one (``services.entries.add_entry``) are True, and an import update keeps them (``services.patients``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..core.errors import InputError
from ..core.records import Condition as RCondition
from ..core.records import DxaMeasurement, PatientRecord, RecordErrors, VertebraHeights, parse_as
from ..core.records import Fall as RFall
from ..core.records import Fracture as RFracture
from ..core.records import Intolerance as RIntolerance
from ..core.records import Lab as RLab
from ..core.records import Medication as RMedication
from . import models as m

LIST_FIELDS: tuple[str, ...] = (
    "dxa",
    "fractures",
    "falls_history",
    "conditions",
    "labs",
    "medications",
    "intolerances",
    "vertebrae",
)
_COLUMNS = set(m.Patient.__table__.columns.keys())
#: Record fields stored as ``patients`` columns (``id`` is ``record_id``; ``age`` may come from the birth date).
FLAT_FIELDS: tuple[str, ...] = tuple(
    f for f in PatientRecord.model_fields if f not in LIST_FIELDS and f != "id" and f in _COLUMNS
)
#: Every other record field (added to the record after the store's schema) goes to ``patients.extra_json``.
EXTRA_FIELDS: tuple[str, ...] = tuple(
    f for f in PatientRecord.model_fields if f not in LIST_FIELDS and f != "id" and f not in _COLUMNS
)


def extra_json(record: PatientRecord) -> str | None:
    if not EXTRA_FIELDS:
        return None
    return json.dumps(record.model_dump(mode="json", include=set(EXTRA_FIELDS)), sort_keys=True)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years completed on ``day``."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


def _exam_key(d: DxaMeasurement) -> tuple[Any, ...]:
    return (d.date, d.manufacturer, d.device_model, d.reference)


def _set_children(patient: m.Patient, record: PatientRecord, *, course_meds: set[tuple[Any, ...]]) -> None:
    patient.dxa_exams.clear()
    exam: m.DxaExam | None = None
    key: tuple[Any, ...] | None = None
    for d in record.dxa:
        k = _exam_key(d)
        if exam is None or k != key or any(s.site == d.site for s in exam.sites):
            exam = m.DxaExam(exam_date=d.date, manufacturer=d.manufacturer, device_model=d.device_model,
                             reference=d.reference)
            patient.dxa_exams.append(exam)
            key = k
        exam.sites.append(m.DxaSite(site=d.site, bmd_g_cm2=d.bmd_g_cm2, t_score=d.t_score, z_score=d.z_score,
                                    evaluable_vertebrae=d.evaluable_vertebrae))
    imported = {"entered_in_clinic": False}  # written from a record: an import update replaces them
    patient.fractures[:] = [m.Fracture(**f.model_dump(), **imported) for f in record.fractures]
    patient.falls_history[:] = [m.Fall(**f.model_dump(), **imported) for f in record.falls_history]
    patient.conditions[:] = [m.Condition(**c.model_dump(), **imported) for c in record.conditions]
    patient.labs[:] = [m.Lab(**lab.model_dump(), **imported) for lab in record.labs]
    patient.medications[:] = [
        m.Medication(**x.model_dump(), **imported)
        for x in record.medications
        if (x.drug, x.start, x.end, x.last_dose) not in course_meds
    ]
    keep = [i for i in patient.intolerances if i.reaction_id is not None]
    kept = {(i.drug, i.reaction, i.date, i.severity) for i in keep}
    patient.intolerances[:] = keep + [
        m.Intolerance(**i.model_dump(), **imported)
        for i in record.intolerances
        if (i.drug, i.reaction, i.date, i.severity) not in kept
    ]
    patient.vertebrae[:] = [m.Vertebra(**v.model_dump(), **imported) for v in record.vertebrae]


def patient_from_record(record: PatientRecord, *, birth_date: dt.date | None = None, **identity: Any) -> m.Patient:
    """A new :class:`~osteocare.store.models.Patient` (not yet added to a session) holding ``record``."""
    p = m.Patient(record_id=record.id, calendar_token=new_calendar_token(), birth_date=birth_date, **identity)
    for f in FLAT_FIELDS:
        setattr(p, f, getattr(record, f))
    p.extra_json = extra_json(record)
    _set_children(p, record, course_meds=set())
    return p


def update_patient(patient: m.Patient, record: PatientRecord) -> None:
    """Replace ``patient``'s facts with ``record``'s (identity, courses, doses and reactions are kept); every entry
    is the record's (marked as imported), but for the intolerances that come from a recorded reaction."""
    for f in FLAT_FIELDS:
        setattr(patient, f, getattr(record, f))
    patient.extra_json = extra_json(record)
    _set_children(patient, record, course_meds={_course_med_key(c) for c in patient.courses})


def _course_med_key(c: m.TreatmentCourse) -> tuple[Any, ...]:
    med = course_medication(c)
    return (med.drug, med.start, med.end, med.last_dose)


def course_medication(c: m.TreatmentCourse) -> RMedication:
    last = max((d.given_on for d in c.doses), default=None)
    return RMedication(drug=c.drug, start=c.start_date, end=c.stop_date, last_dose=last)


_WHOLE_RECORD = (
    selectinload(m.Patient.dxa_exams).selectinload(m.DxaExam.sites),
    selectinload(m.Patient.fractures),
    selectinload(m.Patient.falls_history),
    selectinload(m.Patient.conditions),
    selectinload(m.Patient.labs),
    selectinload(m.Patient.medications),
    selectinload(m.Patient.intolerances),
    selectinload(m.Patient.vertebrae),
    selectinload(m.Patient.courses).selectinload(m.TreatmentCourse.doses),
)


def load_patient(session: Session, record_id: str) -> m.Patient | None:
    """The patient with all that the record needs, loaded in a few queries."""
    stmt = select(m.Patient).where(m.Patient.record_id == record_id).options(*_WHOLE_RECORD)
    return session.scalars(stmt).one_or_none()


def load_patients_after(session: Session, after_id: int, limit: int) -> list[m.Patient]:
    """Up to ``limit`` patients with ids above ``after_id``, in id order, each with all that the record needs (a
    walk over the whole store in pages)."""
    stmt = (select(m.Patient).where(m.Patient.id > after_id).order_by(m.Patient.id).limit(limit)
            .options(*_WHOLE_RECORD))
    return list(session.scalars(stmt))


def _stored_lab(record_id: str, lab: m.Lab) -> RLab:
    """A stored lab as the record reads it; one the record refuses (stored before names and units were checked
    against the knowledge) is an :class:`InputError` that says which row to correct."""
    try:
        return parse_as(RLab, {"name": lab.name, "value": lab.value, "unit": lab.unit, "date": lab.date})
    except RecordErrors as exc:
        raise InputError(f"labs (row {lab.id}) of patient {record_id!r}: {exc.field}", exc.value,
                         f"{exc.allowed}; this lab was stored before such labs were refused: delete it with "
                         f"`osteocare lab delete {lab.id} --reason ...` and record it again with `osteocare lab add`"
                         ) from None


def record_of(patient: m.Patient, *, as_of: dt.date | None = None, include_courses: bool = True) -> PatientRecord:
    """Rebuild the :class:`PatientRecord`. ``age`` comes from the birth date on ``as_of`` when known."""
    data: dict[str, Any] = {f: getattr(patient, f) for f in FLAT_FIELDS}
    data["id"] = patient.record_id
    if patient.extra_json:
        extra = json.loads(patient.extra_json)
        data.update({k: v for k, v in extra.items() if k in PatientRecord.model_fields})
    if patient.birth_date is not None:
        data["age"] = age_on(patient.birth_date, as_of or dt.date.today())
    dxa: list[DxaMeasurement] = []
    for exam in patient.dxa_exams:
        for s in exam.sites:
            dxa.append(DxaMeasurement(
                site=s.site, date=exam.exam_date, bmd_g_cm2=s.bmd_g_cm2, t_score=s.t_score, z_score=s.z_score,
                manufacturer=exam.manufacturer, device_model=exam.device_model, reference=exam.reference,
                evaluable_vertebrae=s.evaluable_vertebrae,
            ))
    data["dxa"] = dxa
    data["fractures"] = [RFracture(site=f.site, date=f.date, fragility=f.fragility, on_treatment=f.on_treatment)
                         for f in patient.fractures]
    data["falls_history"] = [RFall(date=f.date, injurious=f.injurious) for f in patient.falls_history]
    data["conditions"] = [RCondition(code=c.code, onset=c.onset, resolved=c.resolved) for c in patient.conditions]
    data["labs"] = [_stored_lab(patient.record_id, x) for x in patient.labs]
    meds = [RMedication(drug=x.drug, start=x.start, end=x.end, last_dose=x.last_dose) for x in patient.medications]
    if include_courses:
        meds += [course_medication(c) for c in patient.courses]
    data["medications"] = meds
    data["intolerances"] = [RIntolerance(drug=i.drug, reaction=i.reaction, date=i.date, severity=i.severity)
                            for i in patient.intolerances]
    data["vertebrae"] = [VertebraHeights(level=v.level, date=v.date, anterior_mm=v.anterior_mm,
                                         middle_mm=v.middle_mm, posterior_mm=v.posterior_mm)
                         for v in patient.vertebrae]
    return PatientRecord.model_validate(data, context={"stored": True})  # as stored: see PatientRecord._country
