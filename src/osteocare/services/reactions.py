"""Reactions to a drug: kind, severity, onset and outcome. Recorded as an intolerance, a reaction becomes a
``PatientRecord.intolerances`` entry, so later recommendations see it (e.g. an allergy is read as a
hypersensitivity reaction by the engine's conditions knowledge)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ..core.errors import InputError
from ..store import models as m
from ..store.audit import audit
from ..store.models import REACTION_KINDS, REACTION_OUTCOMES, SEVERITIES, utcnow
from ._common import get_row, patient_row, reaction_view
from .appointments import check_date_range
from .context import Clinic
from .drugs import drug_ids
from .errors import NotFound
from .patients import earliest_date_of
from .views import ReactionView

#: How each reaction kind reads in the intolerance text the engine sees.
REACTION_LABELS: dict[str, str] = {
    "fever": "fever",
    "muscle_aches": "muscle aches (myalgia)",
    "joint_pain": "joint pain (arthralgia)",
    "acute_phase_reaction": "acute-phase (flu-like) reaction",
    "allergy": "allergy (hypersensitivity reaction)",
    "injection_site_reaction": "injection-site reaction",
    "digestive_irritation": "digestive irritation",
    "hypocalcaemia": "hypocalcaemia",
    "headache": "headache",
    "orthostatic_hypotension": "orthostatic hypotension",
    "other": "other reaction",
}
assert set(REACTION_LABELS) == set(REACTION_KINDS)

#: Outcomes for which a date of resolution makes sense.
RESOLVED_OUTCOMES = ("resolved", "resolved_with_sequelae")


def _check_resolution(outcome: str, resolved_on: dt.date | None, onset_on: dt.date | None, today: dt.date) -> None:
    if resolved_on is None:
        return
    if outcome not in RESOLVED_OUTCOMES:
        raise InputError("resolved_on", resolved_on.isoformat(),
                         f"no date unless the outcome is {' or '.join(RESOLVED_OUTCOMES)} (outcome is {outcome!r})")
    if resolved_on > today:
        raise InputError("resolved_on", resolved_on.isoformat(), f"a date not after {today.isoformat()} (today)")
    if onset_on is not None and resolved_on < onset_on:
        raise InputError("resolved_on", resolved_on.isoformat(), f"on or after the onset {onset_on}")


def _check_in_life(clinic: Clinic, record_id: str, **days: dt.date | None) -> None:
    """Refuse a reaction date before the patient was born (the birth date, or the earliest one the recorded age
    allows), in the words ``entry add`` uses for an intolerance's date: an intolerance dated before birth is
    dropped by a FHIR export and import."""
    if all(d is None for d in days.values()):
        return
    earliest, what = earliest_date_of(clinic, record_id)  # NotFound for an unknown patient
    for field, day in days.items():
        if day is not None:
            check_date_range(field, day, today=clinic.today(), earliest=earliest, earliest_what=what)


def record_reaction(
    clinic: Clinic,
    record_id: str,
    *,
    kind: str,
    severity: str,
    drug: str | None = None,
    onset_on: dt.date | None = None,
    outcome: str = "unknown",
    resolved_on: dt.date | None = None,
    description: str | None = None,
    intolerance: bool = False,
    course_id: int | None = None,
    dose_id: int | None = None,
) -> ReactionView:
    """Record a reaction. With ``dose_id`` (or ``course_id``) the drug is taken from it; a ``drug`` or
    ``course_id`` given as well must agree with it (else :class:`InputError`), and the onset cannot be before the
    dose, or before the course started. ``resolved_on`` only with a resolved outcome, never after today; a
    resolved outcome without it is dated today (known resolved by then: a hypocalcaemia reaction stops holding
    back the drug from that day).

    ``intolerance=True`` also adds an intolerance to the patient's record (drug, reaction text, date, severity).
    """
    if kind not in REACTION_KINDS:
        raise InputError("kind", kind, "one of " + ", ".join(REACTION_KINDS))
    if severity not in SEVERITIES:
        raise InputError("severity", severity, "one of " + ", ".join(SEVERITIES))
    if outcome not in REACTION_OUTCOMES:
        raise InputError("outcome", outcome, "one of " + ", ".join(REACTION_OUTCOMES))
    if kind == "other" and not (description or "").strip():
        raise InputError("description", description, "a description of the reaction (kind 'other')")
    if onset_on is not None and onset_on > clinic.today():
        raise InputError("onset_on", onset_on.isoformat(), f"a date not after {clinic.today().isoformat()} (today)")
    _check_resolution(outcome, resolved_on, onset_on, clinic.today())
    _check_in_life(clinic, record_id, onset_on=onset_on, resolved_on=resolved_on)
    if outcome in RESOLVED_OUTCOMES and resolved_on is None:
        resolved_on = clinic.today()  # known resolved today; the day it resolved was not given
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        if dose_id is not None:
            d = get_row(s, m.AdministeredDose, dose_id)
            if d is None or d.patient_id != p.id:
                raise NotFound("dose of this patient", dose_id)
            if course_id is not None and course_id != d.course_id:
                raise InputError("course_id", course_id, f"the course of dose {dose_id} ({d.course_id}) or none")
            if drug is not None and drug != d.drug:
                raise InputError("drug", drug, f"the drug of dose {dose_id} ({d.drug}) or none")
            course_id, drug = d.course_id, d.drug
            if onset_on is not None and onset_on < d.given_on:
                raise InputError("onset_on", onset_on.isoformat(), f"on or after the dose ({d.given_on})")
        elif course_id is not None:
            c = get_row(s, m.TreatmentCourse, course_id)
            if c is None or c.patient_id != p.id:
                raise NotFound("course of this patient", course_id)
            if drug is not None and drug != c.drug:
                raise InputError("drug", drug, f"the drug of course {course_id} ({c.drug}) or none")
            if onset_on is not None and onset_on < c.start_date:
                raise InputError("onset_on", onset_on.isoformat(), f"on or after the course's start ({c.start_date})")
            drug = c.drug
        if drug is None:
            raise InputError("drug", None, "the drug (or a course or dose of this patient)")
        if drug not in drug_ids():
            raise InputError("drug", drug, "one of " + ", ".join(drug_ids()))
        r = m.Reaction(patient_id=p.id, course_id=course_id, dose_id=dose_id, drug=drug, kind=kind,
                       description=(description or "").strip() or None, severity=severity, onset_on=onset_on,
                       outcome=outcome, resolved_on=resolved_on, intolerance=intolerance, recorded_by=clinic.actor,
                       recorded_at=utcnow())
        s.add(r)
        s.flush()
        if intolerance:
            text = REACTION_LABELS[kind] + (f": {r.description}" if r.description else "")
            s.add(m.Intolerance(patient_id=p.id, drug=drug, reaction=text, date=onset_on, severity=severity,
                                reaction_id=r.id, entered_in_clinic=True))
        audit(s, actor=clinic.actor, action="create", entity="reaction", entity_id=r.id, patient_id=p.id,
              detail={"drug": drug, "kind": kind, "severity": severity, "intolerance": intolerance})
        return reaction_view(r, record_id)


def update_reaction_outcome(clinic: Clinic, reaction_id: int, *, outcome: str,
                            resolved_on: dt.date | None = None) -> ReactionView:
    if outcome not in REACTION_OUTCOMES:
        raise InputError("outcome", outcome, "one of " + ", ".join(REACTION_OUTCOMES))
    if resolved_on is not None:  # not before the patient was born (the reaction's onset is checked below)
        with clinic.db.read() as s:
            found = get_row(s, m.Reaction, reaction_id)
            rid = s.scalar(select(m.Patient.record_id).where(m.Patient.id == found.patient_id)) if found else None
        if rid is not None:
            _check_in_life(clinic, rid, resolved_on=resolved_on)
    with clinic.db.write() as s:
        r = get_row(s, m.Reaction, reaction_id)
        if r is None:
            raise NotFound("reaction", reaction_id)
        _check_resolution(outcome, resolved_on, r.onset_on, clinic.today())
        if outcome in RESOLVED_OUTCOMES and resolved_on is None:
            resolved_on = clinic.today()  # known resolved today; the day it resolved was not given
        before = {"outcome": r.outcome, "resolved_on": r.resolved_on.isoformat() if r.resolved_on else None}
        r.outcome, r.resolved_on = outcome, resolved_on
        audit(s, actor=clinic.actor, action="update", entity="reaction", entity_id=r.id, patient_id=r.patient_id,
              detail={"outcome": {"from": before["outcome"], "to": outcome},
                      "resolved_on": {"from": before["resolved_on"],
                                      "to": resolved_on.isoformat() if resolved_on else None}})
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.id == r.patient_id))
        return reaction_view(r, str(rid))


def reactions_of(clinic: Clinic, record_id: str) -> list[ReactionView]:
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.scalars(select(m.Reaction).where(m.Reaction.patient_id == p.id).order_by(m.Reaction.id))
        return [reaction_view(r, record_id) for r in rows]
