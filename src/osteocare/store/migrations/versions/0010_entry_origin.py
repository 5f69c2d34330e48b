"""``entered_in_clinic`` on the entry tables (conditions, medications, intolerances, fractures, falls, vertebrae):
where an entry came from. An import update (``patient import --update``, ``import-fhir --update``) replaces every
entry written from a record (patient add, import, FHIR import: False) with the import's, and keeps every entry a
clinician entered one by one (``entry add``, the web page, the API: True) that the import does not carry. Matching
the stored entries to the import's by key fields instead kept an entry the EHR had corrected (a course's start, a
fracture's date) twice.

Existing rows that the audit log shows added one by one (``create`` of entity ``condition``, ``fracture``, ...
with the row's id) are marked entered in the clinic, so that the next update keeps them as it did before; the
others get NULL: where they came from is not known, and they are treated as imported. Added in place and
nullable, as in 0005.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the audit log's entity of an entry added one by one (``services.entries.add_entry``), per table
ENTITIES = {"conditions": "condition", "medications": "medication", "intolerances": "intolerance",
            "fractures": "fracture", "falls": "fall", "vertebrae": "vertebra"}
TABLES = tuple(ENTITIES)


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("entered_in_clinic", sa.Boolean(), nullable=True))
    # an entry the audit log shows added one by one (entry add, the web page, the API) was entered in the clinic:
    # an import update must keep it, as it did before this revision
    bind = op.get_bind()
    for table in TABLES:
        bind.execute(sa.text(
            f"UPDATE {table} SET entered_in_clinic = :yes WHERE CAST(id AS VARCHAR(64)) IN (SELECT entity_id "
            "FROM audit_log WHERE action = 'create' AND entity = :entity AND entity_id IS NOT NULL)"),
            {"yes": True, "entity": ENTITIES[table]})


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "entered_in_clinic")  # in place, as in 0005
