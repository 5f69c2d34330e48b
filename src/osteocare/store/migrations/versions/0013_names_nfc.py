"""Patients' names and phone numbers composed (Unicode NFC). A name typed decomposed (NFD: Vietnamese Unikey's
"Unicode tổ hợp", macOS) was stored as typed, and the patient search never found it; names are now composed on
every write (services/patients.py), and this composes the ones stored before. Done in Python, row by row and
only where the text changes, so that it works the same on SQLite and PostgreSQL (whatever its version). The same
letters either way: the downgrade leaves them composed.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIELDS = ("given_name", "family_name", "phone")


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, given_name, family_name, phone FROM patients")).all()
    for pid, *values in rows:
        changed = {f: unicodedata.normalize("NFC", v) for f, v in zip(_FIELDS, values, strict=True)
                   if isinstance(v, str) and unicodedata.normalize("NFC", v) != v}
        if changed:
            sets = ", ".join(f"{f} = :{f}" for f in changed)
            bind.execute(sa.text(f"UPDATE patients SET {sets} WHERE id = :id"), {**changed, "id": pid})


def downgrade() -> None:
    pass  # the same names, composed: nothing to undo
