"""The clinic store's tables (SQLAlchemy 2 typed ORM).

Conventions:

* Every value carries its unit, either in the column name (``bmd_g_cm2``, ``weight_kg``) or in a unit column
  beside it (``labs.unit``, ``administered_doses.dose_unit``).
* Enumerations are ``CHECK`` constraints on short strings (portable across SQLite and PostgreSQL, and easy to
  migrate), not native enum types.
* Timestamps are stored as UTC and read back as timezone-aware UTC datetimes (:class:`UTCDateTime`).
* Constraint names follow :data:`NAMING` so that Alembic migrations can drop them on every backend.
* The audit log has no foreign keys: it outlives what it describes and is only ever appended to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ..core.records import FRAX_COUNTRY_MAX_LENGTH

NAMING: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware (UTC), on SQLite and PostgreSQL."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


def _in(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    expr = f"{column} IN ({quoted})"
    return f"{column} IS NULL OR {expr}" if nullable else expr


SEXES = ("female", "male")
SEVERITIES = ("mild", "moderate", "severe")
COURSE_STATUSES = ("active", "stopped", "completed")
COURSE_ORIGINS = ("recommendation", "clinician", "imported")
SETTINGS = ("home", "hospital")
ITEM_KINDS = ("dose", "dxa", "lab", "review")
ITEM_STATUSES = ("open", "done", "cancelled")
REACTION_KINDS = (
    "fever",
    "muscle_aches",
    "joint_pain",
    "acute_phase_reaction",
    "allergy",
    "injection_site_reaction",
    "digestive_irritation",
    "hypocalcaemia",
    "headache",
    "orthostatic_hypotension",
    "other",
)
REACTION_OUTCOMES = ("ongoing", "resolving", "resolved", "resolved_with_sequelae", "unknown")
CHECK_OUTCOMES = ("ok", "not_ok", "to_review", "missing", "not_configured")
AUDIT_ACTIONS = ("read", "create", "update", "delete", "export")


class Patient(Base):
    """One patient: identity for the clinic, and the flat facts of :class:`~osteocare.core.records.PatientRecord`."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint("age IS NOT NULL OR birth_date IS NOT NULL", name="age_or_birth_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str | None] = mapped_column(String(120))
    family_name: Mapped[str | None] = mapped_column(String(120), index=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    calendar_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # PatientRecord's flat fields (names and units as in the record).
    sex: Mapped[str] = mapped_column(String(6))
    age: Mapped[int | None] = mapped_column(Integer, doc="Whole years as recorded; used when birth_date is unknown")
    age_recorded_at: Mapped[dt.datetime | None] = mapped_column(
        doc="When age was last set (it ages from then): set by the model whenever age changes")
    bmi: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    smoking: Mapped[str] = mapped_column(String(16), default="non_smoker")
    alcohol: Mapped[str] = mapped_column(String(8), default="none")
    antidepressant: Mapped[bool] = mapped_column(Boolean, default=False)
    cancer: Mapped[bool] = mapped_column(Boolean, default=False)
    asthma_copd: Mapped[bool] = mapped_column(Boolean, default=False)
    care_home: Mapped[bool] = mapped_column(Boolean, default=False)
    corticosteroids: Mapped[bool] = mapped_column(Boolean, default=False)
    cvd: Mapped[bool] = mapped_column(Boolean, default=False)
    dementia: Mapped[bool] = mapped_column(Boolean, default=False)
    endocrine: Mapped[bool] = mapped_column(Boolean, default=False)
    epilepsy: Mapped[bool] = mapped_column(Boolean, default=False)
    falls: Mapped[bool] = mapped_column(Boolean, default=False)
    prior_fracture: Mapped[bool] = mapped_column(Boolean, default=False)
    hrt_oestrogen: Mapped[bool] = mapped_column(Boolean, default=False)
    liver: Mapped[bool] = mapped_column(Boolean, default=False)
    malabsorption: Mapped[bool] = mapped_column(Boolean, default=False)
    parkinsons: Mapped[bool] = mapped_column(Boolean, default=False)
    ra_sle: Mapped[bool] = mapped_column(Boolean, default=False)
    renal: Mapped[bool] = mapped_column(Boolean, default=False)
    type1_diabetes: Mapped[bool] = mapped_column(Boolean, default=False)
    type2_diabetes: Mapped[bool] = mapped_column(Boolean, default=False)
    parental_osteoporosis: Mapped[bool] = mapped_column(Boolean, default=False)
    years: Mapped[int] = mapped_column(Integer, default=10)
    femoral_neck_t_score: Mapped[float | None] = mapped_column(Float)
    total_hip_t_score: Mapped[float | None] = mapped_column(Float)
    lumbar_spine_t_score: Mapped[float | None] = mapped_column(Float)
    femoral_neck_bmd_g_cm2: Mapped[float | None] = mapped_column(Float)
    frax_mof_percent: Mapped[float | None] = mapped_column(Float)
    frax_hip_percent: Mapped[float | None] = mapped_column(Float)
    glucocorticoid_mg_per_day: Mapped[float | None] = mapped_column(Float)
    menopausal_status: Mapped[str | None] = mapped_column(String(16))
    densitometer_manufacturer: Mapped[str | None] = mapped_column(String(16))
    creatinine_umol_l: Mapped[float | None] = mapped_column(Float)
    creatinine_mg_dl: Mapped[float | None] = mapped_column(Float)
    glucocorticoid_months: Mapped[float | None] = mapped_column(Float)
    frax_country: Mapped[str | None] = mapped_column(String(FRAX_COUNTRY_MAX_LENGTH))
    frax_with_bmd: Mapped[bool | None] = mapped_column(Boolean)
    frax_glucocorticoids_ticked: Mapped[bool | None] = mapped_column(Boolean)
    dietary_calcium_mg_per_day: Mapped[float | None] = mapped_column(Float)
    extra_json: Mapped[str | None] = mapped_column(
        Text, doc="Record fields without a column of their own (newer fields, nested answers), as JSON"
    )
    falls_screen_date: Mapped[dt.date | None] = mapped_column(
        Date, doc="The day the falls screen (extra_json's falls_screen_answers and brochure items) was last recorded "
                  "in the clinic; NULL: not known (recorded before migration 0012, imported, or not done)"
    )

    dxa_exams: Mapped[list[DxaExam]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="DxaExam.id"
    )
    fractures: Mapped[list[Fracture]] = relationship(cascade="all, delete-orphan", order_by="Fracture.id")
    falls_history: Mapped[list[Fall]] = relationship(cascade="all, delete-orphan", order_by="Fall.id")
    conditions: Mapped[list[Condition]] = relationship(cascade="all, delete-orphan", order_by="Condition.id")
    labs: Mapped[list[Lab]] = relationship(cascade="all, delete-orphan", order_by="Lab.id")
    medications: Mapped[list[Medication]] = relationship(cascade="all, delete-orphan", order_by="Medication.id")
    intolerances: Mapped[list[Intolerance]] = relationship(cascade="all, delete-orphan", order_by="Intolerance.id")
    vertebrae: Mapped[list[Vertebra]] = relationship(cascade="all, delete-orphan", order_by="Vertebra.id")
    courses: Mapped[list[TreatmentCourse]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="TreatmentCourse.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declared attribute


def _patient_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)


@event.listens_for(Patient.age, "set")
def _age_recorded(target: Patient, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Note when the age is set to a new value (a new patient, a corrected age), not when the row changes."""
    if value != oldvalue:
        target.age_recorded_at = utcnow()


class DxaExam(Base):
    """One DXA examination (one date, one device); its sites are :class:`DxaSite` rows."""

    __tablename__ = "dxa_exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    exam_date: Mapped[dt.date | None] = mapped_column(Date)
    manufacturer: Mapped[str | None] = mapped_column(String(16))
    device_model: Mapped[str | None] = mapped_column(String(80))
    reference: Mapped[str | None] = mapped_column(String(80), doc="Reference database of the reported T-scores")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="dxa_exams")
    sites: Mapped[list[DxaSite]] = relationship(cascade="all, delete-orphan", order_by="DxaSite.id")


class DxaSite(Base):
    __tablename__ = "dxa_sites"
    __table_args__ = (UniqueConstraint("exam_id", "site"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("dxa_exams.id", ondelete="CASCADE"), index=True)
    site: Mapped[str] = mapped_column(String(16))
    bmd_g_cm2: Mapped[float | None] = mapped_column(Float)
    t_score: Mapped[float | None] = mapped_column(Float)
    z_score: Mapped[float | None] = mapped_column(Float)
    evaluable_vertebrae: Mapped[int | None] = mapped_column(Integer)


class Fracture(Base):
    __tablename__ = "fractures"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    site: Mapped[str] = mapped_column(String(16))
    date: Mapped[dt.date | None] = mapped_column(Date)
    fragility: Mapped[bool] = mapped_column(Boolean, default=True)
    on_treatment: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class Fall(Base):
    __tablename__ = "falls"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    date: Mapped[dt.date | None] = mapped_column(Date)
    injurious: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class Condition(Base):
    __tablename__ = "conditions"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    code: Mapped[str] = mapped_column(String(64))
    onset: Mapped[dt.date | None] = mapped_column(Date)
    resolved: Mapped[dt.date | None] = mapped_column(Date)
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class Lab(Base):
    """A laboratory result with its unit, and the laboratory's own reference range where reported."""

    __tablename__ = "labs"
    __table_args__ = (Index("ix_labs_patient_id_name_date", "patient_id", "name", "date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(24))
    date: Mapped[dt.date | None] = mapped_column(Date)
    reference_low: Mapped[float | None] = mapped_column(Float, doc="Laboratory's lower limit, same unit")
    reference_high: Mapped[float | None] = mapped_column(Float, doc="Laboratory's upper limit, same unit")
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (lab add), never removed by an import; False: from a record (add, "
        "import), removed by an import update that retracts it (entered-in-error); NULL: stored before 0011, as False")


class Medication(Base):
    """Medication history entered or imported (courses run in the clinic are :class:`TreatmentCourse`)."""

    __tablename__ = "medications"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    drug: Mapped[str] = mapped_column(String(64))
    start: Mapped[dt.date | None] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)
    last_dose: Mapped[dt.date | None] = mapped_column(Date)
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class Intolerance(Base):
    __tablename__ = "intolerances"
    __table_args__ = (CheckConstraint(_in("severity", SEVERITIES, nullable=True), name="severity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    drug: Mapped[str] = mapped_column(String(64))
    reaction: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date)
    severity: Mapped[str | None] = mapped_column(String(8))
    reaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("reactions.id", ondelete="SET NULL"), unique=True, doc="The recorded reaction it came from"
    )
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class Vertebra(Base):
    __tablename__ = "vertebrae"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    level: Mapped[str] = mapped_column(String(8))
    date: Mapped[dt.date | None] = mapped_column(Date)
    anterior_mm: Mapped[float] = mapped_column(Float)
    middle_mm: Mapped[float | None] = mapped_column(Float)
    posterior_mm: Mapped[float] = mapped_column(Float)
    entered_in_clinic: Mapped[bool | None] = mapped_column(
        Boolean, doc="True: entered in the clinic (entry add), kept by an import update that does not carry it; "
        "False: from a record (add, import), replaced by an import update; NULL: stored before 0010, as False")


class StoredAssessment(Base):
    """An assessment exactly as it was given: the input record and the full result JSON, with provenance."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_patient_id_created_at", "patient_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    guideline: Mapped[str | None] = mapped_column(String(64))
    knowledge_version: Mapped[str] = mapped_column(String(32))
    knowledge_sha256: Mapped[str] = mapped_column(String(64))
    osteocare_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    record_json: Mapped[str] = mapped_column(Text, doc="The PatientRecord the assessment read, as JSON")
    result_json: Mapped[str] = mapped_column(Text, doc="The Assessment, byte for byte as produced")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))


class TreatmentCourse(Base):
    """A course of one drug: why it started (recommendation or clinician), the check shown, and its end."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(_in("status", COURSE_STATUSES), name="status"),
        CheckConstraint(_in("origin", COURSE_ORIGINS), name="origin"),
        CheckConstraint(_in("setting", SETTINGS), name="setting"),
        CheckConstraint("stop_date IS NULL OR stop_date >= start_date", name="stop_after_start"),
        CheckConstraint("anchor_weekday IS NULL OR (anchor_weekday BETWEEN 0 AND 6)", name="weekday"),
        CheckConstraint("anchor_day IS NULL OR (anchor_day BETWEEN 1 AND 31)", name="day"),
        # One active course of a given drug per patient.
        Index(
            "uq_courses_active_patient_drug",
            "patient_id",
            "drug",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_courses_status_review_on", "status", "review_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    drug: Mapped[str] = mapped_column(String(64))
    regimen: Mapped[str] = mapped_column(Text, doc="How it is given, in words (from the drug's knowledge file)")
    setting: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(40))
    dose_value: Mapped[float | None] = mapped_column(Float)
    dose_unit: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[dt.date] = mapped_column(Date)
    stop_date: Mapped[dt.date | None] = mapped_column(Date)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="active")
    origin: Mapped[str] = mapped_column(String(16))
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"))
    check_json: Mapped[str] = mapped_column(Text, doc="The contraindication check shown at the start, as JSON")
    override_reason: Mapped[str | None] = mapped_column(Text)
    anchor_weekday: Mapped[int | None] = mapped_column(Integer, doc="Home weekly dose: 0 = Monday")
    anchor_day: Mapped[int | None] = mapped_column(Integer, doc="Home monthly dose: day of the month")
    review_on: Mapped[dt.date | None] = mapped_column(Date, doc="Next review point (holiday decision, limit)")
    review_rule: Mapped[str | None] = mapped_column(Text)
    knowledge_version: Mapped[str] = mapped_column(String(32))
    started_by: Mapped[str] = mapped_column(String(120))
    stopped_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="courses")
    doses: Mapped[list[AdministeredDose]] = relationship(
        back_populates="course", order_by="AdministeredDose.given_on"
    )


class ScheduleItem(Base):
    """Something due for a patient: a dose (home or clinic), a follow-up DXA, a lab test or a course review.

    ``due_on`` is when it falls due; ``scheduled_at`` is the booked clinic appointment, if any.
    """

    __tablename__ = "schedule_items"
    __table_args__ = (
        CheckConstraint(_in("kind", ITEM_KINDS), name="kind"),
        CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
        # One appointment per dose number of a course.
        Index(
            "uq_schedule_items_course_dose_seq",
            "course_id",
            "seq",
            unique=True,
            sqlite_where=text("kind = 'dose'"),
            postgresql_where=text("kind = 'dose'"),
        ),
        Index("ix_schedule_items_status_due_on", "status", "due_on"),
        Index("ix_schedule_items_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_schedule_items_patient_id_status", "patient_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int | None] = mapped_column(Integer, doc="Dose number in the course (1 = first), or nth item")
    lab_name: Mapped[str | None] = mapped_column(String(40))
    due_on: Mapped[dt.date] = mapped_column(Date)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column()
    location: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="open")
    reason: Mapped[str] = mapped_column(Text, default="")
    reason_parts: Mapped[str | None] = mapped_column(
        Text, doc="The reason as parts (JSON list of services.views.TextPart), for translation; NULL: verbatim")
    rule_id: Mapped[str | None] = mapped_column(String(64))
    fact_status: Mapped[str] = mapped_column(String(12), default="verified")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow, onupdate=utcnow,
                                                           doc="Last change of the row (calendar SEQUENCE)")

    course: Mapped[TreatmentCourse | None] = relationship()
    checks: Mapped[list[PreDoseCheck]] = relationship(cascade="all, delete-orphan", order_by="PreDoseCheck.id")


class PreDoseCheck(Base):
    """One check before a clinic dose, as it stood when recorded (lab value and date, or the clinician's tick)."""

    __tablename__ = "predose_checks"
    __table_args__ = (CheckConstraint(_in("outcome", CHECK_OUTCOMES), name="outcome"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("schedule_items.id", ondelete="CASCADE"), index=True)
    check_id: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("labs.id", ondelete="SET NULL"))
    fact_status: Mapped[str] = mapped_column(String(12), default="verified")
    checked_by: Mapped[str] = mapped_column(String(120))
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AdministeredDose(Base):
    """A dose actually given. At most one per appointment (``uq_administered_doses_item_id``)."""

    __tablename__ = "administered_doses"
    __table_args__ = (Index("ix_administered_doses_course_id_given_on", "course_id", "given_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_items.id", ondelete="SET NULL"), unique=True)
    drug: Mapped[str] = mapped_column(String(64))
    given_on: Mapped[dt.date] = mapped_column(Date)
    given_at: Mapped[dt.datetime | None] = mapped_column()
    dose_value: Mapped[float | None] = mapped_column(Float)
    dose_unit: Mapped[str | None] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(40))
    body_site: Mapped[str | None] = mapped_column(String(40))
    lot_number: Mapped[str | None] = mapped_column(String(64))
    given_by: Mapped[str | None] = mapped_column(String(120))
    observation_minutes: Mapped[int | None] = mapped_column(Integer)
    observation_notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    course: Mapped[TreatmentCourse] = relationship(back_populates="doses")


class Reaction(Base):
    """An adverse reaction: kind, severity, onset and outcome; optionally recorded as an intolerance."""

    __tablename__ = "reactions"
    __table_args__ = (
        CheckConstraint(_in("kind", REACTION_KINDS), name="kind"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        CheckConstraint(_in("outcome", REACTION_OUTCOMES), name="outcome"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = _patient_fk()
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    dose_id: Mapped[int | None] = mapped_column(ForeignKey("administered_doses.id", ondelete="SET NULL"))
    drug: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    onset_on: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(24), default="unknown")
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    intolerance: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who read or changed which record, and when. Append-only; no foreign keys (it outlives its subjects)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(_in("action", AUDIT_ACTIONS), name="action"),
        Index("ix_audit_log_patient_id_at", "patient_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class DataRevision(Base):
    """One row: a counter bumped by every transaction that changes clinical data (anything but the audit log and
    the web adapter's own tables). Read caches key on it, so a cached view is never older than the database, in
    this process or any other one sharing the store (see :mod:`osteocare.store.revision`)."""

    __tablename__ = "data_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
