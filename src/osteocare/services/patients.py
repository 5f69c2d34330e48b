"""Patients: add, import, read (audited), update, find."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..core.errors import InputError, OsteoCareError
from ..core.limits import limit
from ..core.records import Lab, PatientRecord, RecordErrors, check_record_id, errors_of, parse_record
from ..core.text import checked_text
from ..store import models as m
from ..store.audit import audit
from ..store.records import (
    age_on,
    load_patient,
    load_patients_after,
    patient_from_record,
    record_of,
    update_patient,
)
from ._common import patient_row, summary
from .context import Clinic
from .errors import Conflict, NotFound
from .reads import ReadPlan, patient_plan
from .views import ImportResult, PatientSummary, PatientView

#: Keys an import row may carry besides the PatientRecord fields (clinic identity, not read by the core).
IDENTITY_KEYS = ("given_name", "family_name", "birth_date", "phone")


def _identity(given_name: str | None, family_name: str | None, birth_date: dt.date | None,
              phone: str | None) -> dict[str, Any]:
    return {"given_name": _name_text("given_name", given_name), "family_name": _name_text("family_name", family_name),
            "birth_date": birth_date, "phone": _name_text("phone", phone)}


def _name_text(field: str, value: str | None) -> str | None:
    """A name or phone number: one line of text that fits its column (``InputError`` naming the field), composed
    (Unicode NFC): a name typed decomposed (Unikey's "Unicode tổ hợp", macOS) is stored as the same letters typed
    composed, so a search finds it whichever way it is typed (migration 0013 composed the names stored before)."""
    width = m.Patient.__table__.c[field].type.length
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value)
    return checked_text(field, value, max_length=int(width))


def check_birth_date(birth_date: dt.date | None, today: dt.date) -> None:
    """Refuse a birth date after ``today`` or one giving an age outside the input limits (input-limits: age)."""
    if birth_date is None:
        return
    lo, hi, _ = limit("age")
    if birth_date > today or not (lo <= age_on(birth_date, today) <= hi):
        oldest = _earliest_birth(int(hi), today)
        raise InputError("birth_date", birth_date.isoformat(),
                         f"a date from {oldest.isoformat()} to {today.isoformat()} (today; age {lo:g} to {hi:g} years)")


def check_age_matches(age: int, birth_date: dt.date | None, today: dt.date) -> None:
    """Refuse an ``age`` that contradicts ``birth_date`` (the age comes from the birth date when both are given)."""
    if birth_date is not None and age != age_on(birth_date, today):
        raise InputError("age", age, f"{age_on(birth_date, today)} (the age on {today.isoformat()} of birth_date "
                                     f"{birth_date.isoformat()}), or leave one of them out")


def _check_stored(p: m.Patient, day: dt.date) -> None:
    """A clear error (not a traceback) for a stored patient whose birth date cannot be right."""
    try:
        check_birth_date(p.birth_date, day)
    except InputError as exc:
        raise InputError("birth_date", exc.value, f"{exc.allowed}; the stored record of patient {p.record_id!r} "
                         "needs correcting: import it with --update and a correct \"birth_date\" (or null)") from None


def check_as_of(p: m.Patient, day: dt.date, today: dt.date) -> None:
    """The stored record can be read as of ``day``: its birth date is right (else the record needs correcting), and
    ``day`` lies between the birth date and the oldest age the input limits allow (else ``as_of`` is at fault, not
    the record: a review got "the stored record needs correcting" for ``as_of=2200-01-01``)."""
    _check_stored(p, today)
    if p.birth_date is None or day == today:
        return
    lo, hi, _ = limit("age")
    if day < p.birth_date or not (lo <= age_on(p.birth_date, day) <= hi):
        last = _years_before(p.birth_date, -int(hi) - 1) - dt.timedelta(days=1)
        raise InputError("as_of", day.isoformat(), f"a date from {p.birth_date.isoformat()} (the patient's birth "
                         f"date) to {last.isoformat()} (age {hi:g})")


def add_patient(clinic: Clinic, record: PatientRecord, *, given_name: str | None = None,
                family_name: str | None = None, birth_date: dt.date | None = None,
                phone: str | None = None) -> PatientSummary:
    """Add one patient. Raises :class:`Conflict` if the record id is already in use, :class:`InputError` for a
    birth date in the future or out of the age limits."""
    check_birth_date(birth_date, clinic.today())
    try:
        with clinic.db.write() as s:
            p = patient_from_record(record, **_identity(given_name, family_name, birth_date, phone))
            s.add(p)
            s.flush()
            audit(s, actor=clinic.actor, action="create", entity="patient", entity_id=p.record_id,
                  patient_id=p.id)
            return summary(p, clinic.today())
    except IntegrityError as exc:
        if _exists(clinic, record.id):
            raise Conflict(f"patient {record.id!r} already exists") from None
        raise exc


def _exists(clinic: Clinic, record_id: str) -> bool:
    with clinic.db.read() as s:
        n = s.scalar(select(func.count()).select_from(m.Patient).where(m.Patient.record_id == record_id))
        return bool(n)


def split_import_row(row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record fields, identity fields) of one import row; :class:`InputError` if the row is not a JSON object
    (a string, a number, a list or null)."""
    if not isinstance(row, Mapping):
        raise InputError("record", type(row).__name__, "a JSON object with the patient's fields")
    data = dict(row)
    ident = {k: data.pop(k) for k in IDENTITY_KEYS if k in data}
    for k in ("given_name", "family_name", "phone"):
        if ident.get(k) is not None and not isinstance(ident[k], str):
            raise InputError(k, ident[k], "text (a JSON string) or null")
        if k in ident:  # one line that fits its column, composed (NFC), as `patient add` stores it
            ident[k] = _name_text(k, ident[k])
    bd = ident.get("birth_date")
    if isinstance(bd, str):
        try:
            ident["birth_date"] = dt.date.fromisoformat(bd)
        except ValueError:
            raise InputError("birth_date", bd, "a date YYYY-MM-DD") from None
    elif bd is not None and not isinstance(bd, dt.date):
        raise InputError("birth_date", bd, "a date YYYY-MM-DD or null")
    return data, ident


def import_patients(clinic: Clinic, rows: Iterable[Mapping[str, Any]], *, update_existing: bool = False) -> ImportResult:
    """Import patient records (PatientRecord fields plus optional given_name, family_name, birth_date, phone).

    With ``update_existing`` the stored labs and DXA exams are kept (those of the row are added if new): the
    history recorded with ``lab add`` / ``exam add`` is never deleted by an import; nor is an entry (condition,
    medication, intolerance, fracture, fall, vertebral heights) entered in the clinic that the row does not carry
    (``ImportResult.kept``). The entries imported before are replaced by the row's. A birth date in the future or
    out of the age limits is refused (and a stored one must be corrected by the row).

    All or nothing: every row is validated first; if any row is invalid (or, without ``update_existing``, names
    a patient that already exists) nothing is written and :attr:`ImportResult.errors` says why, per record id.
    """
    result = ImportResult()
    parsed: list[tuple[PatientRecord, dict[str, Any], list[Lab]]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        key = str(row.get("id", f"row {i + 1}")) if isinstance(row, Mapping) else f"row {i + 1}"
        try:
            if not isinstance(row, Mapping):
                raise InputError("record", type(row).__name__, "a JSON object with the patient's fields")
            row = dict(row)
            retracted = _retracted_labs(row.pop(RETRACTED_KEY, None))
            data, ident = split_import_row(row)
            rec = parse_record(data)
            check_birth_date(ident.get("birth_date"), clinic.today())
        except OsteoCareError as exc:
            result.errors[key] = str(exc)
            continue
        if rec.id in seen:
            result.errors[key] = "the same id appears twice in the import"
            continue
        seen.add(rec.id)
        parsed.append((rec, ident, retracted))
    if result.errors:
        return result
    with clinic.db.write() as s:
        existing = set(s.scalars(select(m.Patient.record_id).where(m.Patient.record_id.in_(seen)))) if seen else set()
        if existing and not update_existing:
            for rid in sorted(existing):
                result.errors[rid] = "a patient with this id already exists (use --update to replace the facts)"
            return result
        for rec, ident, _ in parsed:  # a stored birth date that cannot be right must be corrected, not kept
            if rec.id in existing and "birth_date" not in ident:
                bd = s.scalar(select(m.Patient.birth_date).where(m.Patient.record_id == rec.id))
                try:
                    check_birth_date(bd, clinic.today())
                except InputError as exc:
                    result.errors[rec.id] = (f"{exc}; the stored birth date cannot be right: give a correct "
                                             "\"birth_date\" (or null) in the import")
        if result.errors:
            return result
        for rec, ident, retracted in parsed:
            if rec.id in existing:
                p = load_patient(s, rec.id)
                assert p is not None
                kept, removed, clinic_labs = _update_keeping_history(p, rec, retracted)
                for k, v in ident.items():
                    setattr(p, k, v)
                s.flush()
                detail: dict[str, Any] = {"via": "import", "kept": kept}
                if removed:  # what the removed results said, as `lab delete` keeps it
                    detail["retracted_labs"] = [_lab_said(x) for x in removed]
                    from .facts import reopen_for_removed_lab

                    reopened = [i for x in removed for i in reopen_for_removed_lab(s, x.id)]
                    if reopened:  # the follow-up items the removed results had answered
                        detail["reopened_items"] = reopened
                audit(s, actor=clinic.actor, action="update", entity="patient", entity_id=rec.id, patient_id=p.id,
                      detail=detail)
                if kept:
                    result.kept[rec.id] = kept
                if removed:
                    result.retracted[rec.id] = [_lab_text(x) for x in removed]
                if clinic_labs:
                    result.retracted_kept[rec.id] = [_lab_text(x) for x in clinic_labs]
                result.updated.append(rec.id)
            else:
                p = patient_from_record(rec, **ident)
                s.add(p)
                s.flush()
                audit(s, actor=clinic.actor, action="create", entity="patient", entity_id=rec.id, patient_id=p.id,
                      detail={"via": "import"})
                result.created.append(rec.id)
    return result


_KIND_WORDS = {"conditions": "condition", "medications": "medication", "intolerances": "intolerance",
               "fractures": "fracture", "falls_history": "fall", "vertebrae": "vertebral reading"}


def kept_lines(result: ImportResult) -> list[str]:
    """What an update kept of the entries entered in the clinic that the import did not carry, and the lab results
    the import retracted (removed, or kept because the clinic entered them), one line per patient (for the CLI)."""
    return ([f"kept for {rid}: " + ", ".join(f"{n} {_KIND_WORDS[k]}{'' if n == 1 else 's'}" for k, n in kept.items())
             + " entered in the clinic and not in the import (one entered in error: osteocare entry delete)"
             for rid, kept in result.kept.items()]
            + [f"removed for {rid}: " + "; ".join(labs) + " (imported before; marked entered-in-error in the import)"
               for rid, labs in result.retracted.items()]
            + [f"check for {rid}: " + "; ".join(labs) + " entered in the clinic and marked entered-in-error in the "
               "import: kept (one entered in error: osteocare lab delete)" for rid, labs in result.retracted_kept.items()])


#: The import row's key for the lab results the source marks entered-in-error (``fhir.importer.ImportResult``).
RETRACTED_KEY = "retracted_labs"


def _retracted_labs(value: Any) -> list[Lab]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(RETRACTED_KEY, type(value).__name__, "a list of lab results (name, value, unit, date)")
    out = []
    for i, x in enumerate(value):
        try:
            out.append(Lab.model_validate(x))
        except ValidationError as exc:
            first = errors_of(exc)[0]
            raise InputError(f"{RETRACTED_KEY}[{i}].{first.field}", first.value, first.allowed, unit=first.unit) from None
    return out


def _lab_said(x: m.Lab) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "value": x.value, "unit": x.unit, "date": str(x.date)}


def _lab_text(x: m.Lab) -> str:
    return f"{x.name} {x.value:g} {x.unit} on {x.date.isoformat() if x.date else 'no date'}"


def _lab_key(x: Any) -> tuple[Any, ...]:
    return (x.name, x.value, x.unit, x.date, x.reference_low, x.reference_high)


def _exam_key(e: m.DxaExam) -> tuple[Any, ...]:
    return (e.exam_date, e.manufacturer, e.device_model, e.reference,
            tuple(sorted((x.site, x.bmd_g_cm2, x.t_score, x.z_score) for x in e.sites)))


#: The entries an import update replaces, and what names one: an entry a clinician entered (``entered_in_clinic``)
#: that the import does not carry is kept; one it carries (the same key) is the import's from then on.
_ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "conditions": ("code", "onset"), "medications": ("drug", "start"), "intolerances": ("drug", "reaction", "date"),
    "fractures": ("site", "date"), "falls_history": ("date", "injurious"), "vertebrae": ("level", "date"),
}


def _update_keeping_history(p: m.Patient, rec: PatientRecord, retracted: Sequence[Lab] = ()
                            ) -> tuple[dict[str, int], list[m.Lab], list[m.Lab]]:
    """Replace the patient's facts with ``rec`` but keep the labs and DXA exams already stored (recorded with
    ``lab add`` / ``exam add``, closing schedule items, or pointed at by pre-dose check snapshots): the stored
    rows stay as they are (same ids) and the record's labs and exams are added if not already there.

    Every entry (condition, medication, intolerance, fracture, fall, vertebral heights) written from a record
    (imported, or stored before migration 0010: origin unknown) is replaced by the import's, so that one the EHR
    corrected (a course's start, a fracture's date) is not kept twice. An entry a clinician entered one by one (an
    anaphylaxis, a fracture: ``entered_in_clinic``) is kept as it is (same row), never dropped in silence, unless
    the import carries one with the same key (:data:`_ENTRY_KEYS`): then the import's alone is kept. An
    intolerance from a recorded reaction is kept by :func:`~osteocare.store.records.update_patient`.

    A stored lab result the import marks entered-in-error (``retracted``: the same name, value, unit and date) is
    removed if it was imported, and kept if the clinic entered it (a clinician checks it).

    Returns what was kept of the clinician's entries the import does not carry (kind -> count), the lab rows
    removed and the clinic's lab rows the import retracted."""
    gone = {(x.name, x.value, x.unit, x.date) for x in retracted}
    hit = [x for x in p.labs if (x.name, x.value, x.unit, x.date) in gone]
    removed = [x for x in hit if not x.entered_in_clinic]
    clinic_labs = [x for x in hit if x.entered_in_clinic]
    old_labs, old_exams = [x for x in p.labs if x not in removed], list(p.dxa_exams)
    clinic_entries = {kind: [r for r in getattr(p, kind) if r.entered_in_clinic and getattr(r, "reaction_id", None)
                             is None] for kind in _ENTRY_KEYS}
    update_patient(p, rec)
    kept: dict[str, int] = {}
    for kind, fields in _ENTRY_KEYS.items():
        rows = getattr(p, kind)
        carried = {tuple(getattr(r, f) for f in fields) for r in rows}
        mine = [r for r in clinic_entries[kind] if tuple(getattr(r, f) for f in fields) not in carried]
        if mine:
            rows[:] = mine + list(rows)  # the same rows (ids and audit trail kept), before the import's
            kept[kind] = len(mine)
    seen_labs = {_lab_key(x) for x in old_labs}
    seen_exams = {_exam_key(e) for e in old_exams}
    p.labs[:] = old_labs + [x for x in p.labs if x not in old_labs and _lab_key(x) not in seen_labs]
    p.dxa_exams[:] = old_exams + [e for e in p.dxa_exams if e not in old_exams and _exam_key(e) not in seen_exams]
    return kept, removed, clinic_labs


def get_record(clinic: Clinic, record_id: str, *, as_of: dt.date | None = None,
               include_courses: bool = True, with_reactions: bool = False) -> PatientRecord:
    """The patient's record as the core reads it (courses included as medications). The read is audited.
    ``with_reactions``: as an assessment or a contraindication check reads it, with the clinic's recorded
    reactions that matter to the drug rules added (``checks.clinic_record``).

    The record is cached on the store's data revision: do not mutate it (``model_copy(update=...)`` instead)."""
    return record_plan(clinic, record_id, as_of=as_of, include_courses=include_courses,
                       with_reactions=with_reactions).run(clinic)


def record_plan(clinic: Clinic, record_id: str, *, as_of: dt.date | None = None,
                include_courses: bool = True, with_reactions: bool = False) -> ReadPlan[PatientRecord]:
    """:func:`get_record` as a :class:`~osteocare.services.reads.ReadPlan`."""
    from .checks import clinic_record

    day = as_of or clinic.today()
    if with_reactions and not include_courses:
        raise ValueError("a record with the reactions added includes the courses")

    def load() -> PatientRecord:
        with clinic.db.read() as s:
            p = load_patient(s, record_id)
            if p is None:
                raise NotFound("patient", record_id)
            check_as_of(p, day, clinic.today())
            if with_reactions:
                return clinic_record(s, p, as_of=day)
            return record_of(p, as_of=day, include_courses=include_courses)

    return patient_plan(clinic, record_id, what="record", key=("record", day, include_courses, with_reactions),
                        load=load)


def update_record(clinic: Clinic, record: PatientRecord, **identity: Any) -> PatientSummary:
    """Replace the patient's facts with ``record`` (courses, doses and reactions stay; so do the stored labs and
    DXA exams, the record's new ones are added)."""
    unknown = set(identity) - set(IDENTITY_KEYS)
    if unknown:
        raise InputError(sorted(unknown)[0], identity[sorted(unknown)[0]], "one of " + ", ".join(IDENTITY_KEYS))
    with clinic.db.write() as s:
        p = load_patient(s, record.id)
        if p is None:
            raise NotFound("patient", record.id)
        _update_keeping_history(p, record)
        for k, v in identity.items():
            setattr(p, k, v if k == "birth_date" else _name_text(k, v))
        s.flush()
        audit(s, actor=clinic.actor, action="update", entity="patient", entity_id=record.id, patient_id=p.id)
        return summary(p, clinic.today())


def birth_date_of(clinic: Clinic, record_id: str) -> dt.date | None:
    """The patient's stored birth date (None if not recorded); :class:`InputError` if it cannot be right."""
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        _check_stored(p, clinic.today())
        return p.birth_date


def earliest_date_of(clinic: Clinic, record_id: str) -> tuple[dt.date | None, str]:
    """The earliest date a lab, exam or dose of this patient can have, and what it is: the birth date, or (birth
    date unknown) the earliest birth date the recorded age allows on the day it was recorded."""
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        _check_stored(p, clinic.today())
        if p.birth_date is not None:
            return p.birth_date, "the patient's birth date"
        if p.age is None:
            return None, ""
        recorded = _age_recorded_on(p, clinic.today())
        return (_earliest_birth(int(p.age), recorded),
                f"the earliest birth date for age {p.age} recorded on {recorded.isoformat()}")


def _age_recorded_on(p: m.Patient, today: dt.date) -> dt.date:
    """The day the patient's age (whole years, no birth date) was recorded: the age ages from then."""
    when = p.age_recorded_at or p.updated_at or p.created_at
    return when.date() if when else today


def _earliest_birth(age: int, on: dt.date) -> dt.date:
    """The earliest birth date of someone ``age`` years old on ``on``."""
    return _years_before(on, age + 1) + dt.timedelta(days=1)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def get_patient(clinic: Clinic, record_id: str) -> PatientSummary:
    with clinic.db.read() as s:
        return summary(patient_row(s, record_id), clinic.today())


def find_patients(clinic: Clinic, text: str = "", *, limit: int = 50) -> list[PatientSummary]:
    """Patients whose id or name contains ``text`` (case-insensitive), by family name."""
    with clinic.db.read() as s:
        stmt = select(m.Patient)
        if text:
            like = f"%{unicodedata.normalize('NFC', text).lower()}%"
            stmt = stmt.where(or_(func.lower(m.Patient.record_id).like(like),
                                  func.lower(m.Patient.family_name).like(like),
                                  func.lower(m.Patient.given_name).like(like)))
        stmt = stmt.order_by(m.Patient.family_name, m.Patient.record_id).limit(limit)
        today = clinic.today()
        return [summary(p, today) for p in s.scalars(stmt)]


def audit_trail(clinic: Clinic, record_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Who read or changed this patient's records, newest first."""
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.scalars(select(m.AuditEntry).where(m.AuditEntry.patient_id == p.id)
                         .order_by(m.AuditEntry.at.desc(), m.AuditEntry.id.desc()).limit(limit))
        return [{"at": a.at, "actor": a.actor, "action": a.action, "entity": a.entity, "entity_id": a.entity_id,
                 "detail": a.detail} for a in rows]


def show_patient(clinic: Clinic, record_id: str, *, today: dt.date | None = None) -> PatientView:
    """Everything the clinic shows about one patient.

    The read is audited. The view is cached on the store's data revision: do not mutate it.
    """
    return overview_plan(clinic, record_id, today=today).run(clinic)


def overview_plan(clinic: Clinic, record_id: str, *, today: dt.date | None = None) -> ReadPlan[PatientView]:
    """:func:`show_patient` as a :class:`~osteocare.services.reads.ReadPlan` (its revision and patient id may key
    what a caller derives from the view)."""
    day = today or clinic.today()
    return patient_plan(clinic, record_id, what="overview", key=("overview", day),
                        load=lambda: _overview(clinic, record_id, day))


def _overview(clinic: Clinic, record_id: str, day: dt.date) -> PatientView:
    from ._common import course_view, dose_view, item_view, lab_view, reaction_view
    from .alerts import patient_alerts
    from .checks import clinic_record

    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        _check_stored(p, day)
        name = " ".join(x for x in (p.given_name, p.family_name) if x) or None
        drugs = {c.id: c.drug for c in p.courses}
        items = s.scalars(select(m.ScheduleItem).where(m.ScheduleItem.patient_id == p.id)
                          .order_by(m.ScheduleItem.due_on, m.ScheduleItem.id))
        doses = s.scalars(select(m.AdministeredDose).where(m.AdministeredDose.patient_id == p.id)
                          .order_by(m.AdministeredDose.given_on, m.AdministeredDose.id))
        reactions = s.scalars(select(m.Reaction).where(m.Reaction.patient_id == p.id).order_by(m.Reaction.id))
        assessments = s.execute(select(m.StoredAssessment.id, m.StoredAssessment.as_of, m.StoredAssessment.guideline,
                                       m.StoredAssessment.knowledge_version, m.StoredAssessment.status,
                                       m.StoredAssessment.created_at)
                                .where(m.StoredAssessment.patient_id == p.id).order_by(m.StoredAssessment.id)).all()
        view = PatientView(
            summary=summary(p, day),
            record=clinic_record(s, p, as_of=day),  # as the assessment shown beside it reads it
            courses=[course_view(s, c, record_id=record_id) for c in p.courses],
            schedule=[item_view(it, record_id=record_id, patient_name=name,
                                drug=drugs.get(it.course_id) if it.course_id else None, today=day) for it in items],
            doses=[dose_view(d) for d in doses],
            reactions=[reaction_view(r, record_id) for r in reactions],
            labs=[lab_view(x) for x in p.labs],
            alerts=[],
            assessments=[{"id": a.id, "as_of": a.as_of, "guideline": a.guideline, "knowledge_version":
                          a.knowledge_version, "status": a.status, "created_at": a.created_at} for a in assessments],
        )
    view.alerts = patient_alerts(clinic, record_id, today=day)
    return view


def check_stored_records(clinic: Clinic, *, page: int = 500,
                         progress: Callable[[int, int], None] | None = None) -> list[tuple[str, str]]:
    """Every stored patient whose record the current rules refuse (stored before a rule was added, or written to
    the store from outside OsteoCare), as (record id, the first problem): such a patient cannot be opened or
    assessed until it is corrected. ``progress(done, total)`` is called after each page. The check is audited."""
    day = clinic.today()
    problems: list[tuple[str, str]] = []
    with clinic.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(m.Patient)) or 0)
    done, last = 0, 0
    while True:
        with clinic.db.read() as s:
            rows = load_patients_after(s, last, page)
            for p in rows:
                try:
                    check_record_id(p.record_id)
                    _check_stored(p, day)
                    record_of(p, as_of=day)
                except (OsteoCareError, ValidationError) as exc:
                    problems.append((p.record_id, _first_problem(exc)))
        if not rows:
            break
        last, done = rows[-1].id, done + len(rows)
        if progress is not None:
            progress(done, total)
    with clinic.db.write() as s:
        audit(s, actor=clinic.actor, action="read", entity="clinic", entity_id="stored-records",
              detail={"check": "every stored record against the current rules", "patients": done,
                      "refused": len(problems)})
    return problems


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(errors_of(exc)[0])
    if isinstance(exc, RecordErrors):
        return str(exc.errors[0])
    return str(exc)


def phone_of(clinic: Clinic, record_id: str) -> str | None:
    """The patient's stored phone number (for the identity form; the page's read is audited by its caller)."""
    with clinic.db.read() as s:
        return patient_row(s, record_id).phone


def _earliest_fact(s: Any, patient_id: int) -> tuple[dt.date, str] | None:
    """The earliest dated fact of the patient (a lab, DXA exam, course, dose, fracture, fall, condition onset or
    resolution, medication start, end or last dose, or intolerance), and what it is."""
    found: list[tuple[dt.date, str]] = []
    for model, col, what in ((m.Lab, m.Lab.date, "lab result"), (m.DxaExam, m.DxaExam.exam_date, "DXA exam"),
                             (m.TreatmentCourse, m.TreatmentCourse.start_date, "course start"),
                             (m.Fracture, m.Fracture.date, "fracture"), (m.Fall, m.Fall.date, "fall"),
                             (m.Condition, m.Condition.onset, "condition onset"),
                             (m.Condition, m.Condition.resolved, "condition resolved"),
                             (m.Medication, m.Medication.start, "medication start"),
                             (m.Medication, m.Medication.end, "medication end"),
                             (m.Medication, m.Medication.last_dose, "medication last dose"),
                             (m.Intolerance, m.Intolerance.date, "intolerance")):
        day = s.scalar(select(func.min(col)).where(model.patient_id == patient_id))
        if day is not None:
            found.append((day, what))
    dose = s.scalar(select(func.min(m.AdministeredDose.given_on)).join(m.TreatmentCourse)
                    .where(m.TreatmentCourse.patient_id == patient_id))
    if dose is not None:
        found.append((dose, "dose"))
    return min(found) if found else None


def _identity_values(p: m.Patient, today: dt.date) -> dict[str, Any]:
    """The identity as the audit compares it: the age is the one on ``today`` (from the birth date if known)."""
    return {"given_name": p.given_name, "family_name": p.family_name, "phone": p.phone, "sex": p.sex,
            "birth_date": None if p.birth_date is None else p.birth_date.isoformat(),
            "age": age_on(p.birth_date, today) if p.birth_date is not None else p.age}


def _version(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def identity_version(clinic: Clinic, record_id: str) -> str:
    """A fingerprint of the patient's identity as stored (names, phone, sex, birth date, age): name it when
    correcting the identity, so that a correction made by someone else in between is not overwritten."""
    with clinic.db.read() as s:
        return _version(_identity_values(patient_row(s, record_id), clinic.today()))


def update_identity(clinic: Clinic, record_id: str, *, sex: str, given_name: str | None, family_name: str | None,
                    birth_date: dt.date | None, phone: str | None, age: int | None = None,
                    expected_version: str | None = None) -> PatientSummary:
    """Correct the patient's identity: names, phone, sex, and the birth date (or, if it is not known, the age).
    Checked as when the patient was added, and against the whole record (sex and age are calculator inputs);
    a birth date after the patient's earliest dated fact is refused naming that fact. All or nothing, audited
    with each field's old and new value. With ``expected_version`` (:func:`identity_version` when the identity was
    read), :class:`Conflict` if it has changed since."""
    today = clinic.today()
    check_birth_date(birth_date, today)
    if birth_date is not None and age is not None:
        check_age_matches(age, birth_date, today)
    identity = _identity(given_name, family_name, birth_date, phone)
    with clinic.db.write() as s:
        patient_row(s, record_id, for_update=True)  # concurrent corrections wait here, then see this one's result
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        current = record_of(p, as_of=today, include_courses=False)
        if birth_date is not None:
            new_age: Any = age_on(birth_date, today)
        elif age is not None:
            new_age = age
        else:
            raise InputError("birth_date", "", "the birth date, or the age in whole years if it is not known")
        merged = parse_record({**current.model_dump(mode="json"), "sex": sex, "age": new_age})
        first = _earliest_fact(s, p.id)
        if first is not None and birth_date is not None and first[0] < birth_date:
            raise InputError("birth_date", birth_date.isoformat(),
                             f"on or before {first[0].isoformat()} (the patient's earliest {first[1]})")
        if first is not None and birth_date is None:  # the age as of the day it was recorded (today if it changes)
            on = _age_recorded_on(p, today) if p.birth_date is None and p.age == merged.age else today
            if first[0] < _earliest_birth(merged.age, on):
                raise InputError("age", merged.age, f"an age that makes the patient born by {first[0].isoformat()} "
                                 f"(the patient's earliest {first[1]}): at least {age_on(first[0], on)}")
        before = _identity_values(p, today)
        if expected_version is not None and expected_version != _version(before):
            raise Conflict(f"the identity of patient {record_id!r} was changed by someone else after it was read; "
                           "nothing was saved: read it again, then make the correction")
        for k, v in identity.items():
            setattr(p, k, v)
        p.sex, p.age = merged.sex, merged.age
        after = _identity_values(p, today)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        if changed:
            s.flush()
            audit(s, actor=clinic.actor, action="update", entity="patient", entity_id=p.record_id,
                  patient_id=p.id, detail={"what": "identity", "changed": changed})
        return summary(p, today)
