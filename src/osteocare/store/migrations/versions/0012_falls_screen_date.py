"""``patients.falls_screen_date``: the day the falls screen (the STEADI key questions and the Stay Independent
brochure, kept in ``extra_json``) was last recorded in the clinic, so that the screen's age can be shown beside its
result (knowledge steadi gives no re-screen interval: nothing is declared due from it).

Existing rows get NULL (not known): the audit log has a "falls screen" entry only where the answers changed, at a
UTC time whose day may not be the clinic's, and none for answers that came with an import. Added in place and
nullable, as in 0010 and 0011.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("patients", sa.Column("falls_screen_date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("patients", "falls_screen_date")  # in place, as in 0010 and 0011
