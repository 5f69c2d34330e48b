"""``patients.age_recorded_at``: when the patient's age (whole years, for a patient without a birth date) was last
set. The age ages: the earliest date a fact of such a patient can have is worked out from the day the age was
recorded, which ``updated_at`` (bumped by every change of the row, a falls screen or a phone number too) does not
tell.

Existing rows get their ``updated_at``, else their creation time: the latest change the store knows of, as the
application used until this revision. Added in place and nullable, as in 0005.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("patients", sa.Column("age_recorded_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE patients SET age_recorded_at = COALESCE(updated_at, created_at) WHERE age IS NOT NULL")


def downgrade() -> None:
    op.drop_column("patients", "age_recorded_at")  # in place, as in 0005
