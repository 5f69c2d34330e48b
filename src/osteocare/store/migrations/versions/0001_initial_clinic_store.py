"""Initial clinic store: patients and their facts, assessments, courses, schedule, doses, reactions, audit log.

Timestamps are naive UTC ``DateTime`` columns (the models' ``UTCDateTime`` type adds the time zone on read).

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 20:55:25.996126
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint("action IN ('read', 'create', 'update', 'delete', 'export')", name=op.f("ck_audit_log_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_log_patient_id_at", ["patient_id", "at"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("given_name", sa.String(length=120), nullable=True),
        sa.Column("family_name", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("calendar_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("bmi", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("ethnicity", sa.String(length=32), nullable=True),
        sa.Column("smoking", sa.String(length=16), nullable=False),
        sa.Column("alcohol", sa.String(length=8), nullable=False),
        sa.Column("antidepressant", sa.Boolean(), nullable=False),
        sa.Column("cancer", sa.Boolean(), nullable=False),
        sa.Column("asthma_copd", sa.Boolean(), nullable=False),
        sa.Column("care_home", sa.Boolean(), nullable=False),
        sa.Column("corticosteroids", sa.Boolean(), nullable=False),
        sa.Column("cvd", sa.Boolean(), nullable=False),
        sa.Column("dementia", sa.Boolean(), nullable=False),
        sa.Column("endocrine", sa.Boolean(), nullable=False),
        sa.Column("epilepsy", sa.Boolean(), nullable=False),
        sa.Column("falls", sa.Boolean(), nullable=False),
        sa.Column("prior_fracture", sa.Boolean(), nullable=False),
        sa.Column("hrt_oestrogen", sa.Boolean(), nullable=False),
        sa.Column("liver", sa.Boolean(), nullable=False),
        sa.Column("malabsorption", sa.Boolean(), nullable=False),
        sa.Column("parkinsons", sa.Boolean(), nullable=False),
        sa.Column("ra_sle", sa.Boolean(), nullable=False),
        sa.Column("renal", sa.Boolean(), nullable=False),
        sa.Column("type1_diabetes", sa.Boolean(), nullable=False),
        sa.Column("type2_diabetes", sa.Boolean(), nullable=False),
        sa.Column("parental_osteoporosis", sa.Boolean(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("femoral_neck_t_score", sa.Float(), nullable=True),
        sa.Column("total_hip_t_score", sa.Float(), nullable=True),
        sa.Column("lumbar_spine_t_score", sa.Float(), nullable=True),
        sa.Column("femoral_neck_bmd_g_cm2", sa.Float(), nullable=True),
        sa.Column("frax_mof_percent", sa.Float(), nullable=True),
        sa.Column("frax_hip_percent", sa.Float(), nullable=True),
        sa.Column("glucocorticoid_mg_per_day", sa.Float(), nullable=True),
        sa.Column("menopausal_status", sa.String(length=16), nullable=True),
        sa.Column("densitometer_manufacturer", sa.String(length=16), nullable=True),
        sa.Column("creatinine_umol_l", sa.Float(), nullable=True),
        sa.Column("creatinine_mg_dl", sa.Float(), nullable=True),
        sa.Column("glucocorticoid_months", sa.Float(), nullable=True),
        sa.Column("frax_country", sa.String(length=64), nullable=True),
        sa.Column("frax_with_bmd", sa.Boolean(), nullable=True),
        sa.Column("frax_glucocorticoids_ticked", sa.Boolean(), nullable=True),
        sa.Column("dietary_calcium_mg_per_day", sa.Float(), nullable=True),
        sa.Column("extra_json", sa.Text(), nullable=True),
        sa.CheckConstraint("sex IN ('female', 'male')", name=op.f("ck_patients_sex")),
        sa.CheckConstraint("age IS NOT NULL OR birth_date IS NOT NULL", name=op.f("ck_patients_age_or_birth_date")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("calendar_token", name=op.f("uq_patients_calendar_token")),
        sa.UniqueConstraint("record_id", name=op.f("uq_patients_record_id")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_family_name"), ["family_name"], unique=False)

    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("guideline", sa.String(length=64), nullable=True),
        sa.Column("knowledge_version", sa.String(length=32), nullable=False),
        sa.Column("knowledge_sha256", sa.String(length=64), nullable=False),
        sa.Column("osteocare_version", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_assessments_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index("ix_assessments_patient_id_created_at", ["patient_id", "created_at"], unique=False)

    op.create_table(
        "conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("onset", sa.Date(), nullable=True),
        sa.Column("resolved", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_conditions_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conditions")),
    )
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conditions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "dxa_exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("exam_date", sa.Date(), nullable=True),
        sa.Column("manufacturer", sa.String(length=16), nullable=True),
        sa.Column("device_model", sa.String(length=80), nullable=True),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_dxa_exams_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dxa_exams")),
    )
    with op.batch_alter_table("dxa_exams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dxa_exams_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "falls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("injurious", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_falls_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_falls")),
    )
    with op.batch_alter_table("falls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_falls_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "fractures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=16), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("fragility", sa.Boolean(), nullable=False),
        sa.Column("on_treatment", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_fractures_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fractures")),
    )
    with op.batch_alter_table("fractures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fractures_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "labs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=24), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("reference_low", sa.Float(), nullable=True),
        sa.Column("reference_high", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_labs_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labs")),
    )
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.create_index("ix_labs_patient_id_name_date", ["patient_id", "name", "date"], unique=False)

    op.create_table(
        "medications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("last_dose", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_medications_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
    )
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medications_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "vertebrae",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("anterior_mm", sa.Float(), nullable=False),
        sa.Column("middle_mm", sa.Float(), nullable=True),
        sa.Column("posterior_mm", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_vertebrae_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vertebrae")),
    )
    with op.batch_alter_table("vertebrae", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vertebrae_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("regimen", sa.Text(), nullable=False),
        sa.Column("setting", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("dose_value", sa.Float(), nullable=True),
        sa.Column("dose_unit", sa.String(length=16), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("check_json", sa.Text(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("anchor_weekday", sa.Integer(), nullable=True),
        sa.Column("anchor_day", sa.Integer(), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("review_rule", sa.Text(), nullable=True),
        sa.Column("knowledge_version", sa.String(length=32), nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("stopped_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("origin IN ('recommendation', 'clinician', 'imported')", name=op.f("ck_courses_origin")),
        sa.CheckConstraint("setting IN ('home', 'hospital')", name=op.f("ck_courses_setting")),
        sa.CheckConstraint("status IN ('active', 'stopped', 'completed')", name=op.f("ck_courses_status")),
        sa.CheckConstraint("anchor_day IS NULL OR (anchor_day BETWEEN 1 AND 31)", name=op.f("ck_courses_day")),
        sa.CheckConstraint("anchor_weekday IS NULL OR (anchor_weekday BETWEEN 0 AND 6)", name=op.f("ck_courses_weekday")),
        sa.CheckConstraint("stop_date IS NULL OR stop_date >= start_date", name=op.f("ck_courses_stop_after_start")),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessments.id"], name=op.f("fk_courses_assessment_id_assessments"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_courses_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_courses_status_review_on", ["status", "review_on"], unique=False)
        batch_op.create_index(
            "uq_courses_active_patient_drug",
            ["patient_id", "drug"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "dxa_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=16), nullable=False),
        sa.Column("bmd_g_cm2", sa.Float(), nullable=True),
        sa.Column("t_score", sa.Float(), nullable=True),
        sa.Column("z_score", sa.Float(), nullable=True),
        sa.Column("evaluable_vertebrae", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["dxa_exams.id"], name=op.f("fk_dxa_sites_exam_id_dxa_exams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dxa_sites")),
        sa.UniqueConstraint("exam_id", "site", name=op.f("uq_dxa_sites_exam_id_site")),
    )
    with op.batch_alter_table("dxa_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dxa_sites_exam_id"), ["exam_id"], unique=False)

    op.create_table(
        "schedule_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("lab_name", sa.String(length=40), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(), nullable=True),
        sa.Column("location", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("fact_status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('dose', 'dxa', 'lab', 'review')", name=op.f("ck_schedule_items_kind")),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f("ck_schedule_items_status")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_schedule_items_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_schedule_items_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_items")),
    )
    with op.batch_alter_table("schedule_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_items_course_id"), ["course_id"], unique=False)
        batch_op.create_index("ix_schedule_items_patient_id_status", ["patient_id", "status"], unique=False)
        batch_op.create_index("ix_schedule_items_status_due_on", ["status", "due_on"], unique=False)
        batch_op.create_index("ix_schedule_items_status_scheduled_at", ["status", "scheduled_at"], unique=False)
        batch_op.create_index(
            "uq_schedule_items_course_dose_seq",
            ["course_id", "seq"],
            unique=True,
            sqlite_where=sa.text("kind = 'dose'"),
            postgresql_where=sa.text("kind = 'dose'"),
        )

    op.create_table(
        "administered_doses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=True),
        sa.Column("dose_value", sa.Float(), nullable=True),
        sa.Column("dose_unit", sa.String(length=16), nullable=True),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("body_site", sa.String(length=40), nullable=True),
        sa.Column("lot_number", sa.String(length=64), nullable=True),
        sa.Column("given_by", sa.String(length=120), nullable=True),
        sa.Column("observation_minutes", sa.Integer(), nullable=True),
        sa.Column("observation_notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_administered_doses_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["schedule_items.id"],
            name=op.f("fk_administered_doses_item_id_schedule_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_administered_doses_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administered_doses")),
        sa.UniqueConstraint("item_id", name=op.f("uq_administered_doses_item_id")),
    )
    with op.batch_alter_table("administered_doses", schema=None) as batch_op:
        batch_op.create_index("ix_administered_doses_course_id_given_on", ["course_id", "given_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_administered_doses_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "predose_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("lab_id", sa.Integer(), nullable=True),
        sa.Column("fact_status", sa.String(length=12), nullable=False),
        sa.Column("checked_by", sa.String(length=120), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('ok', 'not_ok', 'to_review', 'missing', 'not_configured')", name=op.f("ck_predose_checks_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["schedule_items.id"], name=op.f("fk_predose_checks_item_id_schedule_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["lab_id"], ["labs.id"], name=op.f("fk_predose_checks_lab_id_labs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predose_checks")),
    )
    with op.batch_alter_table("predose_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_predose_checks_item_id"), ["item_id"], unique=False)

    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("dose_id", sa.Integer(), nullable=True),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("onset_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("intolerance", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('fever', 'muscle_aches', 'joint_pain', 'acute_phase_reaction', 'allergy', "
            "'injection_site_reaction', 'digestive_irritation', 'hypocalcaemia', 'headache', "
            "'orthostatic_hypotension', 'other')",
            name=op.f("ck_reactions_kind"),
        ),
        sa.CheckConstraint(
            "outcome IN ('ongoing', 'resolving', 'resolved', 'resolved_with_sequelae', 'unknown')",
            name=op.f("ck_reactions_outcome"),
        ),
        sa.CheckConstraint("severity IN ('mild', 'moderate', 'severe')", name=op.f("ck_reactions_severity")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_reactions_course_id_courses"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["dose_id"], ["administered_doses.id"], name=op.f("fk_reactions_dose_id_administered_doses"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_reactions_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reactions")),
    )
    with op.batch_alter_table("reactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reactions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "intolerances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("reaction", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("reaction_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('mild', 'moderate', 'severe')", name=op.f("ck_intolerances_severity")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_intolerances_patient_id_patients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reaction_id"], ["reactions.id"], name=op.f("fk_intolerances_reaction_id_reactions"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intolerances")),
        sa.UniqueConstraint("reaction_id", name=op.f("uq_intolerances_reaction_id")),
    )
    with op.batch_alter_table("intolerances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intolerances_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intolerances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intolerances_patient_id"))

    op.drop_table("intolerances")
    with op.batch_alter_table("reactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reactions_patient_id"))

    op.drop_table("reactions")
    with op.batch_alter_table("predose_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_predose_checks_item_id"))

    op.drop_table("predose_checks")
    with op.batch_alter_table("administered_doses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_administered_doses_patient_id"))
        batch_op.drop_index("ix_administered_doses_course_id_given_on")

    op.drop_table("administered_doses")
    with op.batch_alter_table("schedule_items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_schedule_items_course_dose_seq",
            sqlite_where=sa.text("kind = 'dose'"),
            postgresql_where=sa.text("kind = 'dose'"),
        )
        batch_op.drop_index("ix_schedule_items_status_scheduled_at")
        batch_op.drop_index("ix_schedule_items_status_due_on")
        batch_op.drop_index("ix_schedule_items_patient_id_status")
        batch_op.drop_index(batch_op.f("ix_schedule_items_course_id"))

    op.drop_table("schedule_items")
    with op.batch_alter_table("dxa_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dxa_sites_exam_id"))

    op.drop_table("dxa_sites")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_courses_active_patient_drug",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_courses_status_review_on")
        batch_op.drop_index(batch_op.f("ix_courses_patient_id"))

    op.drop_table("courses")
    with op.batch_alter_table("vertebrae", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vertebrae_patient_id"))

    op.drop_table("vertebrae")
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medications_patient_id"))

    op.drop_table("medications")
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.drop_index("ix_labs_patient_id_name_date")

    op.drop_table("labs")
    with op.batch_alter_table("fractures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fractures_patient_id"))

    op.drop_table("fractures")
    with op.batch_alter_table("falls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_falls_patient_id"))

    op.drop_table("falls")
    with op.batch_alter_table("dxa_exams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dxa_exams_patient_id"))

    op.drop_table("dxa_exams")
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conditions_patient_id"))

    op.drop_table("conditions")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_assessments_patient_id_created_at")

    op.drop_table("assessments")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_family_name"))

    op.drop_table("patients")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_patient_id_at")
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
