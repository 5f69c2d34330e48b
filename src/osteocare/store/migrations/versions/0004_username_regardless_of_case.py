"""Usernames are unique regardless of case: ``web_users.username_key`` (the case-folded name) with a unique index.

The name as typed stays in ``username`` (the audit log's actors and doses' ``given_by`` already carry it); the
key decides who signs in. A database that already holds two accounts whose names differ only in case (``Admin``
and ``admin``) is not merged silently: the upgrade stops, names them and says what to do, and changes nothing.

The table is altered in place (ADD COLUMN, CREATE INDEX), never copied: on SQLite a batch copy drops
``web_users``, and with foreign keys on that would delete every session through ``ON DELETE CASCADE``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(username: str) -> str:
    """Frozen copy of ``osteocare.web.models.username_key`` as of this revision (a migration must not change
    when the application's code does)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username.strip()).casefold())


def upgrade() -> None:
    from osteocare.services.errors import Conflict

    conn = op.get_bind()
    users = sa.table("web_users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_key", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for uid, name in rows:
        groups.setdefault(_key(name), []).append((uid, name))
    clashes = [g for g in groups.values() if len(g) > 1]
    if clashes:
        listed = "; ".join(", ".join(f"{name!r} (id {uid})" for uid, name in g) for g in clashes)
        uid, _ = clashes[0][-1]
        raise Conflict(
            "cannot make usernames unique regardless of case: these accounts' usernames differ only in case: "
            f"{listed}. Nothing was changed. Decide which account each person keeps, rename or remove the "
            f"others (e.g. UPDATE web_users SET username = 'new-name' WHERE id = {uid}), then run "
            "`osteocare db upgrade` again")
    op.add_column("web_users", sa.Column("username_key", sa.String(length=240), nullable=False, server_default=""))
    for uid, name in rows:
        conn.execute(users.update().where(users.c.id == uid).values(username_key=_key(name)))
    op.create_index(op.f("ix_web_users_username_key"), "web_users", ["username_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_users_username_key"), table_name="web_users")
    op.drop_column("web_users", "username_key")
