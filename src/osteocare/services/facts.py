"""Clinical facts recorded in the clinic: DXA exams (per site), labs (with units), fractures, falls, conditions.

A DXA exam or a lab result also closes the follow-up items it answers: the open items of that kind (and lab
name) due on or before the result's date; if none is due yet, the next open one (an early test counts). A result
answers an item only if it is dated after the day of the event the item follows (the injection for a
post-injection lab; the course start for a follow-up DXA or a calcitriol lab; the stop for the holiday's scan):
OsteoCare's convention ITEM-EVENT (``schedule.answers``; the knowledge gives no early window), so the morning's
pre-dose calcium does not close the post-injection check, nor a baseline DXA the follow-up DXA.

A lab result deleted as entered in error (or removed by an import as entered-in-error at the source) opens again
the items it closed (named in its ``create`` audit entry), unless another stored result answers them
(:func:`reopen_items`).
"""

from __future__ import annotations

import datetime as dt
import json

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.errors import InputError
from ..core.records import Condition as RCondition
from ..core.records import DxaMeasurement, Manufacturer, Site, parse_as
from ..core.records import Fall as RFall
from ..core.records import Fracture as RFracture
from ..core.records import Lab as RLab
from ..core.text import checked_text
from ..core.units import canonical_lab_unit
from ..store import models as m
from ..store.audit import audit
from ..store.models import utcnow
from ._common import get_row, lab_view, patient_row
from .context import Clinic
from .errors import NotFound
from .views import LabView


class SiteResult(BaseModel):
    """One site of a DXA exam."""

    model_config = ConfigDict(extra="forbid")
    site: Site
    bmd_g_cm2: float | None = None
    t_score: float | None = None
    z_score: float | None = None
    evaluable_vertebrae: int | None = Field(default=None, ge=0, le=4)


class DxaExamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exam_date: dt.date
    sites: list[SiteResult] = Field(min_length=1)
    manufacturer: Manufacturer | None = None
    device_model: str | None = None
    reference: str | None = Field(default=None, description="Reference database of the reported T-scores")


def close_items(session: Session, patient_id: int, kind: str, on: dt.date, *, lab_name: str | None = None,
                actor: str) -> list[int]:
    """Close the open items of ``kind`` answered by a result dated ``on``; returns their ids."""
    stmt = select(m.ScheduleItem).where(m.ScheduleItem.patient_id == patient_id, m.ScheduleItem.kind == kind,
                                        m.ScheduleItem.status == "open")
    if lab_name is not None:
        stmt = stmt.where(m.ScheduleItem.lab_name == lab_name)
    from .schedule import answers

    items = [i for i in session.scalars(stmt.order_by(m.ScheduleItem.due_on, m.ScheduleItem.id))
             if answers(session, i, on)]
    due = [i for i in items if i.due_on <= on]
    if not due and items:
        due = [items[0]]
    now = utcnow()
    for it in due:
        it.status = "done"
        it.closed_at = now
    return [i.id for i in due]


def _answered_by_another(session: Session, it: m.ScheduleItem, *, except_lab: int | None) -> bool:
    """Whether a stored result other than lab ``except_lab`` answers ``it`` (same kind and lab name, dated after
    the event the item follows: :func:`~osteocare.services.schedule.answers`)."""
    from .schedule import answers

    if it.kind == "lab":
        # a result that answered another item of the series (the 1-month calcium for the 3-month check) is used:
        # it does not answer this one too
        days = [d for lab_id, d in session.execute(select(m.Lab.id, m.Lab.date).where(
            m.Lab.patient_id == it.patient_id, m.Lab.name == it.lab_name, m.Lab.date.is_not(None),
            m.Lab.id != (except_lab if except_lab is not None else -1)))
            if not (set(closed_by_lab(session, lab_id)) - {it.id})]
    elif it.kind == "dxa":
        days = session.scalars(select(m.DxaExam.exam_date).where(m.DxaExam.patient_id == it.patient_id))
    else:
        return True  # not closed by results: left as it is
    return any(d is not None and answers(session, it, d) for d in days)


def reopen_items(session: Session, item_ids: list[int], *, except_lab: int | None = None) -> list[int]:
    """Open again the items ``item_ids`` that a removed result had closed (status done), unless another stored
    result answers them; returns the ids opened again. ``except_lab``: the removed lab, if still in the session."""
    reopened = []
    for it in session.scalars(select(m.ScheduleItem).where(m.ScheduleItem.id.in_(sorted(set(item_ids))),
                                                           m.ScheduleItem.status == "done")
                              .order_by(m.ScheduleItem.id)):
        if it.kind not in ("lab", "dxa") or _answered_by_another(session, it, except_lab=except_lab):
            continue
        it.status, it.closed_at = "open", None
        reopened.append(it.id)
    return reopened


def closed_by_lab(session: Session, lab_id: int) -> list[int]:
    """The items lab ``lab_id`` closed when it was recorded (its ``create`` audit entry's ``closed_items``). Only
    the entries since the id was last deleted count: SQLite may give a deleted row's id to a new lab."""
    out: list[int] = []
    entries = session.execute(select(m.AuditEntry.action, m.AuditEntry.detail).where(
        m.AuditEntry.entity == "lab", m.AuditEntry.action.in_(("create", "delete")),
        m.AuditEntry.entity_id == str(lab_id)).order_by(m.AuditEntry.id)).all()
    last_delete = max((i for i, (action, _) in enumerate(entries) if action == "delete"), default=-1)
    for action, detail in entries[last_delete + 1:]:
        if action != "create":
            continue
        try:
            out += [int(x) for x in json.loads(detail or "{}").get("closed_items", [])]
        except (ValueError, TypeError, AttributeError):
            continue
    return out


def reopen_for_removed_lab(session: Session, lab_id: int) -> list[int]:
    """After lab ``lab_id`` is removed (deleted, or retracted by an import): open again what it closed unless
    another result answers it (:func:`reopen_items`); returns the ids opened again."""
    return reopen_items(session, closed_by_lab(session, lab_id), except_lab=lab_id)


def add_dxa_exam(clinic: Clinic, record_id: str, exam: DxaExamIn) -> int:
    """Record a DXA exam with its sites; returns the exam id. Closes due follow-up DXA items."""
    for s_ in exam.sites:  # same validation as the record (plausibility limits)
        DxaMeasurement(site=s_.site, bmd_g_cm2=s_.bmd_g_cm2, t_score=s_.t_score, z_score=s_.z_score)
    sites = [x.site for x in exam.sites]
    if len(set(sites)) != len(sites):
        raise InputError("sites", sites, "each site at most once per exam")
    _check_patient_day("exam_date", exam.exam_date, clinic, record_id)
    device, reference = (checked_text(f, getattr(exam, f), max_length=int(m.DxaExam.__table__.c[f].type.length))
                         for f in ("device_model", "reference"))
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        e = m.DxaExam(patient_id=p.id, exam_date=exam.exam_date, manufacturer=exam.manufacturer,
                      device_model=device, reference=reference)
        e.sites = [m.DxaSite(**x.model_dump()) for x in exam.sites]
        s.add(e)
        s.flush()
        closed = close_items(s, p.id, "dxa", exam.exam_date, actor=clinic.actor)
        audit(s, actor=clinic.actor, action="create", entity="dxa_exam", entity_id=e.id, patient_id=p.id,
              detail={"sites": sites, "closed_items": closed})
        return e.id


def _checked_lab(name: str, value: float, unit: str) -> tuple[str, str]:
    """(name, unit) to store: the record's own :class:`~osteocare.core.records.Lab` check (a lab stored here must be
    one the patient's record accepts when it is loaded, else the patient could not be opened again: name,
    unit and plausibility range from the knowledge), the name in the knowledge's form, the unit in its
    canonical spelling where the knowledge lists the lab's units, and a unit required."""
    if not unit.strip():
        raise InputError("unit", unit, "the unit of the value (e.g. umol/L, mmol/L, nmol/L)")
    lab = parse_as(RLab, {"name": name, "value": value, "unit": unit})
    return lab.name, canonical_lab_unit(lab.name, unit) or unit.strip()


def _check_patient_day(field: str, day: dt.date, clinic: Clinic, record_id: str) -> None:
    """Refuse a result dated after the clinic's today or before the patient was born: a typo'd 2099 would close
    the monitoring items it seems to answer (an adversarial review, 2026-12-07)."""
    from .appointments import check_date_range
    from .patients import earliest_date_of

    earliest, what = earliest_date_of(clinic, record_id)
    check_date_range(field, day, today=clinic.today(), earliest=earliest, earliest_what=what)


def add_lab(clinic: Clinic, record_id: str, *, name: str, value: float, unit: str, date: dt.date,
            reference_low: float | None = None, reference_high: float | None = None) -> LabView:
    """Record a lab result with its unit (and the laboratory's reference range, if reported)."""
    name = name.strip().lower()
    if not name:
        raise InputError("name", name, "a lab name such as creatinine, calcium, vitamin_d_25oh")
    name, unit = _checked_lab(name, value, unit)
    _check_patient_day("date", date, clinic, record_id)
    if reference_low is not None and reference_high is not None and reference_low > reference_high:
        raise InputError("reference_low", reference_low, f"at most reference_high ({reference_high})", unit=unit)
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        lab = m.Lab(patient_id=p.id, name=name, value=value, unit=unit, date=date, reference_low=reference_low,
                    reference_high=reference_high, entered_in_clinic=True)  # never removed by an import
        s.add(lab)
        s.flush()
        closed = close_items(s, p.id, "lab", date, lab_name=name, actor=clinic.actor)
        _after_lab(s, p.id, name, date)
        audit(s, actor=clinic.actor, action="create", entity="lab", entity_id=lab.id, patient_id=p.id,
              detail={"name": name, "closed_items": closed})
        return lab_view(lab)


def delete_lab(clinic: Clinic, lab_id: int, *, reason: str) -> LabView:
    """Delete a lab result entered in error (or stored before its name or unit was checked, which makes the
    patient's record unreadable: ``osteocare db check``). The audit log keeps what it said and why it went."""
    reason = (checked_text("reason", reason, max_length=500) or "")
    if not reason:
        raise InputError("reason", reason, "why the lab result is deleted")
    with clinic.db.write() as s:
        lab = get_row(s, m.Lab, lab_id)
        if lab is None:
            raise NotFound("lab result", lab_id)
        view = lab_view(lab)
        s.delete(lab)
        s.flush()
        reopened = reopen_for_removed_lab(s, lab_id)
        audit(s, actor=clinic.actor, action="delete", entity="lab", entity_id=lab_id, patient_id=lab.patient_id,
              detail={"name": lab.name, "value": lab.value, "unit": lab.unit, "date": str(lab.date),
                      "reason": reason, "reopened_items": reopened})
        return view


def _after_lab(session: Session, patient_id: int, name: str, on: dt.date) -> None:
    from .schedule import after_monitoring_lab

    after_monitoring_lab(session, patient_id, name, on)


def add_fracture(clinic: Clinic, record_id: str, fracture: RFracture, *, confirm_duplicate: bool = False) -> int:
    """A fracture (:func:`osteocare.services.entries.add_entry`: dates checked, audited)."""
    from .entries import add_entry

    return add_entry(clinic, record_id, "fracture", fracture.model_dump(mode="json"),
                     confirm_duplicate=confirm_duplicate).entry.id


def add_fall(clinic: Clinic, record_id: str, fall: RFall, *, confirm_duplicate: bool = False) -> int:
    from .entries import add_entry

    return add_entry(clinic, record_id, "fall", fall.model_dump(mode="json"),
                     confirm_duplicate=confirm_duplicate).entry.id


def add_condition(clinic: Clinic, record_id: str, condition: RCondition, *, confirm_duplicate: bool = False) -> int:
    from .entries import add_entry

    return add_entry(clinic, record_id, "condition", condition.model_dump(mode="json"),
                     confirm_duplicate=confirm_duplicate).entry.id


def latest_labs(session: Session, patient_id: int, names: list[str]) -> dict[str, m.Lab]:
    """The most recent dated result of each lab name (undated results are ignored)."""
    out: dict[str, m.Lab] = {}
    if not names:
        return out
    rows = session.scalars(
        select(m.Lab)
        .where(m.Lab.patient_id == patient_id, m.Lab.name.in_(names), m.Lab.date.is_not(None))
        .order_by(m.Lab.date, m.Lab.id)
    )
    for r in rows:
        out[r.name] = r
    return out


def labs_of(clinic: Clinic, record_id: str) -> list[LabView]:
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.scalars(select(m.Lab).where(m.Lab.patient_id == p.id).order_by(m.Lab.date, m.Lab.id))
        return [lab_view(x) for x in rows]
