"""``entered_in_clinic`` on labs: where a lab result came from. An import update keeps every stored lab (the
history), but removes one the EHR has since marked ``entered-in-error`` (an Observation with that status naming
the same lab, value, unit and date) - only if it was imported (False or NULL); a result the clinic entered itself
(``lab add``, the web page, the API: True) is kept and reported, for a clinician to check.

Existing rows that the audit log shows added one by one (``create`` of entity ``lab`` with the row's id) are marked
entered in the clinic; the others get NULL (not known: treated as imported). Added in place and nullable, as in
0010.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("labs", sa.Column("entered_in_clinic", sa.Boolean(), nullable=True))
    op.get_bind().execute(sa.text(
        "UPDATE labs SET entered_in_clinic = :yes WHERE CAST(id AS VARCHAR(64)) IN (SELECT entity_id FROM audit_log "
        "WHERE action = 'create' AND entity = 'lab' AND entity_id IS NOT NULL)"), {"yes": True})


def downgrade() -> None:
    op.drop_column("labs", "entered_in_clinic")  # in place, as in 0010
