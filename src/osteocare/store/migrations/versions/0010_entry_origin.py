"""``entered_in_clinic`` on the entry tables (conditions, medications, intolerances, fractures, falls, vertebrae):
where an entry came from. An import update (``patient import --update``, ``import-fhir --update``) replaces every
entry written from a record (patient add, import, FHIR import: False) with the import's, and keeps every entry a
clinician entered one by one (``entry add``, the web page, the API: True) that the import does not carry. Matching
the stored entries to the import's by key fields instead kept an entry the EHR had corrected (a course's start, a
fracture's date) twice.

Existing rows get NULL: where they came from is not known, and they are treated as imported (replaced by an
update, as before). Added in place and nullable, as in 0005.

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

TABLES = ("conditions", "medications", "intolerances", "fractures", "falls", "vertebrae")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("entered_in_clinic", sa.Boolean(), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "entered_in_clinic")  # in place, as in 0005
