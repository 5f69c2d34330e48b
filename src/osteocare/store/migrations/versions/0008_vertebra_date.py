"""``vertebrae.date``: the day of the radiograph or VFA the heights were read from, so that a level can be
measured again later (the grading takes each level's latest measurement up to the assessment date) and an
assessment on an earlier day leaves later readings out.

Existing rows keep no date (the store never had one); such a measurement is graded until a dated one of the same
level is recorded. Added in place and nullable, as in 0005. The downgrade keeps each level's latest reading only
(the code before this revision grades each level once).

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
    # the code of 0007 grades each level once: keep each level's latest reading (a dated one before an undated
    # one, then the last entered), as the grading of 0008 reads it; the earlier ones go with their dates
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, patient_id, level, date FROM vertebrae")).all()
    latest: dict[tuple[int, str], tuple[bool, str, int]] = {}
    for rid, pid, level, day in rows:
        key = (pid, str(level).upper())
        rank = (day is not None, str(day or ""), rid)
        if key not in latest or rank > latest[key]:
            latest[key] = rank
    keep = {rank[2] for rank in latest.values()}
    for rid in sorted(r[0] for r in rows if r[0] not in keep):
        bind.execute(sa.text("DELETE FROM vertebrae WHERE id = :id"), {"id": rid})
    op.drop_column("vertebrae", "date")  # in place, as in 0005
