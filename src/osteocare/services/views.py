"""What the services return: plain pydantic models (JSON-ready for the web app, printable by the CLI)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..core.parts import PartKind as PartKind  # re-exported: the services' texts as parts
from ..core.parts import TextPart as TextPart
from ..core.records import PatientRecord
from ..core.schedule import Timeliness
from ..core.status import Status


class PatientSummary(BaseModel):
    record_id: str
    given_name: str | None = None
    family_name: str | None = None
    sex: str
    age: int
    birth_date: dt.date | None = None

    @property
    def display_name(self) -> str:
        name = " ".join(x for x in (self.given_name, self.family_name) if x)
        return name or self.record_id


class HistoryView(BaseModel):
    """The clinical history of a patient (``services.history.HISTORY_FIELDS``) and its version: name the version
    when changing it, so that a change made by someone else in between is not overwritten."""

    record_id: str
    version: str = Field(description="Fingerprint of the values read; send it back as expected_version / If-Match")
    values: dict[str, Any]
    warnings: list[str] = Field(default_factory=list, description=(
        "After a change: what the contraindication check of the patient's active courses now finds"))


class CheckFinding(BaseModel):
    """One finding of the contraindication check shown when a course starts."""

    kind: str = Field(description="must_not, caution or fix_first")
    rule_id: str
    text: str
    status: Status
    citation: str | None = None


class ContraindicationReport(BaseModel):
    drug: str
    as_of: dt.date
    available: bool = Field(description="False if the check could not be run (the reason says why)")
    reason: str | None = None
    findings: list[CheckFinding] = Field(default_factory=list)
    undecided: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def must_not(self) -> list[CheckFinding]:
        return [f for f in self.findings if f.kind == "must_not"]

    @property
    def needs_override(self) -> list[CheckFinding]:
        """Findings that need a written clinician reason to go ahead: must_not and caution."""
        return [f for f in self.findings if f.kind in ("must_not", "caution")]


class ItemView(BaseModel):
    """A schedule item: a dose (home or clinic), a follow-up DXA, a lab test or a review."""

    id: int
    record_id: str
    patient_name: str | None = None
    kind: Literal["dose", "dxa", "lab", "review"]
    course_id: int | None = None
    drug: str | None = None
    seq: int | None = None
    lab_name: str | None = None
    due_on: dt.date
    scheduled_at: dt.datetime | None = None
    location: str | None = None
    status: Literal["open", "done", "cancelled"]
    reason: str = ""
    reason_parts: list[TextPart] = Field(default_factory=list,
                                         description="``reason`` as parts, for translation (see ``TextPart``)")
    rule_id: str | None = None
    fact_status: Status = "verified"
    timeliness: Timeliness | None = None
    days_late: int = 0


class DoseView(BaseModel):
    id: int
    course_id: int
    item_id: int | None
    drug: str
    given_on: dt.date
    given_at: dt.datetime | None = None
    dose_value: float | None = None
    dose_unit: str | None = None
    route: str
    body_site: str | None = None
    lot_number: str | None = None
    given_by: str | None = None
    observation_minutes: int | None = None
    observation_notes: str | None = None
    recorded_by: str
    recorded_at: dt.datetime


class DoseResult(BaseModel):
    dose: DoseView
    next_item: ItemView | None = Field(default=None, description="The next clinic dose, due from this one")
    course_completed: bool = False
    warnings: list[str] = Field(default_factory=list)


class CourseView(BaseModel):
    id: int
    record_id: str
    drug: str
    regimen: str
    regimen_parts: list[TextPart] = Field(default_factory=list, description=(
        "``regimen`` as parts, for translation, where the drug's regimen still reads as the course stored it"))
    setting: Literal["home", "hospital"]
    route: str
    dose_value: float | None = None
    dose_unit: str | None = None
    start_date: dt.date
    stop_date: dt.date | None = None
    stop_reason: str | None = None
    status: Literal["active", "stopped", "completed"]
    origin: str
    assessment_id: int | None = None
    check: ContraindicationReport
    override_reason: str | None = None
    review_on: dt.date | None = None
    review_rule: str | None = None
    doses_given: int = 0
    last_dose: dt.date | None = None
    next_due: dt.date | None = None
    warnings: list[str] = Field(default_factory=list)


class ReactionView(BaseModel):
    id: int
    record_id: str
    drug: str
    kind: str
    severity: str
    onset_on: dt.date | None = None
    outcome: str
    resolved_on: dt.date | None = None
    description: str | None = None
    intolerance: bool
    course_id: int | None = None
    dose_id: int | None = None
    recorded_by: str
    recorded_at: dt.datetime


class LabView(BaseModel):
    id: int
    name: str
    value: float
    unit: str
    date: dt.date | None = None
    reference_low: float | None = None
    reference_high: float | None = None


class PreDoseCheckResult(BaseModel):
    """One check before a clinic dose."""

    check_id: str
    text: str
    outcome: Literal["ok", "not_ok", "to_review", "missing", "not_configured"]
    detail: str
    value: float | None = None
    unit: str | None = None
    measured_on: dt.date | None = None
    lab_id: int | None = None
    status: Status = "verified"
    confirmed_by: str | None = None


class Alert(BaseModel):
    severity: Literal["urgent", "warning", "info"]
    kind: Literal["dose_overdue", "dose_due", "review", "dxa", "lab"]
    record_id: str
    patient_name: str | None = None
    item_id: int
    course_id: int | None = None
    drug: str | None = None
    due_on: dt.date
    days_late: int = 0
    text: str
    parts: list[TextPart] = Field(default_factory=list,
                                  description="``text`` sentence by sentence, for translation (joined by spaces, "
                                              "the parts give ``text`` in English)")
    rule_id: str | None = None
    status: Status = "verified"


class PatientView(BaseModel):
    """Everything the clinic shows about one patient."""

    summary: PatientSummary
    record: PatientRecord
    courses: list[CourseView]
    schedule: list[ItemView]
    doses: list[DoseView]
    reactions: list[ReactionView]
    labs: list[LabView]
    alerts: list[Alert]
    assessments: list[dict[str, Any]] = Field(default_factory=list)


class WorklistEntry(BaseModel):
    item: ItemView
    alert: Alert | None = None


class Worklist(BaseModel):
    today: dt.date
    week_end: dt.date
    appointments_today: list[ItemView]
    due_today: list[ItemView]
    due_this_week: list[ItemView]
    overdue: list[Alert]
    counts: dict[str, int]
    truncated: bool = False
    elapsed_ms: float | None = None


class ImportResult(BaseModel):
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)
    kept: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per updated patient: entries entered in the clinic that the import "
        "does not carry, kept (kind -> count); one entered in error is deleted with its reason")
    retracted: dict[str, list[str]] = Field(
        default_factory=dict, description="Per updated patient: imported lab results that the import marks "
        "entered-in-error, removed (the audit log keeps what they said)")
    retracted_kept: dict[str, list[str]] = Field(
        default_factory=dict, description="Per updated patient: lab results entered in the clinic that the import "
        "marks entered-in-error, kept for a clinician to check")


class StoredAssessmentView(BaseModel):
    id: int
    record_id: str
    as_of: dt.date
    guideline: str | None
    knowledge_version: str
    knowledge_sha256: str
    osteocare_version: str
    status: str
    created_at: dt.datetime
    created_by: str
    result: dict[str, Any] = Field(description="The assessment exactly as it was given")
    result_json: str
