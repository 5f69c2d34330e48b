"""``schedule_items.updated_at``: when an item last changed (its calendar event's SEQUENCE is derived from it).

Existing rows get their closing time, or else their creation time: the latest change the store knows of. The
column is added in place (ADD COLUMN) and stays nullable in the schema (the models always fill it): making it NOT
NULL on SQLite would copy the table, and dropping ``schedule_items`` with foreign keys on would delete its
pre-dose checks through ``ON DELETE CASCADE`` (as migration 0004 explains for ``web_users``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("schedule_items", sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE schedule_items SET updated_at = COALESCE(closed_at, created_at)")


def downgrade() -> None:
    # In place (SQLite has DROP COLUMN since 3.35), never a batch copy: on SQLite a copy drops schedule_items, and
    # with foreign keys on that deletes every pre-dose check (ON DELETE CASCADE) and unlinks every dose's
    # appointment (ON DELETE SET NULL).
    op.drop_column("schedule_items", "updated_at")
