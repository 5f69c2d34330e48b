"""Assessments stored with their provenance, so that a past recommendation is shown exactly as it was given.

The stored row keeps the input record (JSON) and the whole :class:`~osteocare.core.assessment.Assessment`
JSON byte for byte, with the knowledge release version and hash, the guideline and the as-of date in columns.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from ..core.assessment import Assessment, assess
from ..core.errors import InputError
from ..store import models as m
from ..store.audit import audit
from ..store.records import load_patient
from ._common import get_row, patient_row
from .checks import clinic_record
from .context import Clinic
from .errors import NotFound
from .patients import check_as_of
from .views import StoredAssessmentView


def _view(a: m.StoredAssessment, record_id: str) -> StoredAssessmentView:
    return StoredAssessmentView(
        id=a.id, record_id=record_id, as_of=a.as_of, guideline=a.guideline, knowledge_version=a.knowledge_version,
        knowledge_sha256=a.knowledge_sha256, osteocare_version=a.osteocare_version, status=a.status,
        created_at=a.created_at, created_by=a.created_by, result=json.loads(a.result_json), result_json=a.result_json,
    )


def store_assessment(clinic: Clinic, record_id: str, assessment: Assessment, *, record_json: str) -> StoredAssessmentView:
    """Store an assessment produced elsewhere (e.g. by the web app) for this patient."""
    if assessment.patient_id != record_id:
        raise NotFound(f"assessment for patient {record_id!r} (it is for {assessment.patient_id!r})", record_id)
    text = assessment.model_dump_json()
    prov = assessment.provenance
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        a = m.StoredAssessment(
            patient_id=p.id, as_of=assessment.as_of, guideline=prov.guideline,
            knowledge_version=prov.knowledge_version, knowledge_sha256=prov.knowledge_sha256,
            osteocare_version=prov.osteocare_version, status=assessment.status, record_json=record_json,
            result_json=text, created_by=clinic.actor,
        )
        s.add(a)
        s.flush()
        audit(s, actor=clinic.actor, action="create", entity="assessment", entity_id=a.id, patient_id=p.id,
              detail={"guideline": prov.guideline, "as_of": assessment.as_of.isoformat(),
                      "knowledge": prov.knowledge_version})
        return _view(a, record_id)


def assess_and_store(clinic: Clinic, record_id: str, *, guideline: str | None = None,
                     as_of: dt.date | None = None) -> StoredAssessmentView:
    """Assess the stored record now (or as of a past date) and keep the result with its provenance. A date after
    today is refused: a stored assessment goes into the chart, and a course can be started from it."""
    today = clinic.today()
    day = as_of or today
    if day > today:
        raise InputError("as_of", day.isoformat(), f"a date up to today ({today.isoformat()}): a stored assessment "
                         "is of what is known (assess a later date without storing it)")
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        check_as_of(p, day, today)
        rec = clinic_record(s, p, as_of=day)  # the recorded reactions that matter to the drug rules included
    result = assess(rec, guideline=guideline or clinic.settings.guideline, as_of=day)
    return store_assessment(clinic, record_id, result, record_json=rec.model_dump_json())


def get_assessment(clinic: Clinic, assessment_id: int) -> StoredAssessmentView:
    """A stored assessment, exactly as it was given (the read is audited)."""
    with clinic.db.write() as s:
        a = get_row(s, m.StoredAssessment, assessment_id)
        if a is None:
            raise NotFound("assessment", assessment_id)
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.id == a.patient_id))
        audit(s, actor=clinic.actor, action="read", entity="assessment", entity_id=a.id, patient_id=a.patient_id)
        return _view(a, str(rid))


def assessments_of(clinic: Clinic, record_id: str) -> list[StoredAssessmentView]:
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.scalars(select(m.StoredAssessment).where(m.StoredAssessment.patient_id == p.id)
                         .order_by(m.StoredAssessment.created_at, m.StoredAssessment.id))
        return [_view(a, record_id) for a in rows]


def as_given(view: StoredAssessmentView) -> Assessment:
    """The stored assessment as the core's model (parsed from the stored JSON, not recomputed)."""
    return Assessment.model_validate_json(view.result_json)
