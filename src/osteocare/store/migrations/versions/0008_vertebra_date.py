"""``vertebrae.date``: the day of the radiograph or VFA the heights were read from, so that a level can be
measured again later (the grading takes each level's latest measurement up to the assessment date) and an
assessment on an earlier day leaves later readings out.

Existing rows keep no date (the store never had one); such a measurement is graded until a dated one of the same
level is recorded. Added in place and nullable, as in 0005.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("vertebrae", sa.Column("date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("vertebrae", "date")  # in place, as in 0005
