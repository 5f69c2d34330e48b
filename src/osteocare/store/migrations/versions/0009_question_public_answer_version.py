"""``web_questions.public_answer`` and ``web_questions.version``.

``public_answer`` is the answer as the public Q&A shows it: anonymised like the published topic and question (e-mail
addresses and phone numbers removed) and editable by the doctor before publishing; until now the answer was
published exactly as sent to the asker. The answers of questions already published are copied into it anonymised
(with a frozen copy of ``web.questions.anonymise``), so that no name-free contact detail stays public.

``version`` counts the changes of a question's answer and publication (1 on every existing row): an edit of an
answer names the version it was made from and is refused if another doctor changed the question since.

Added in place, as in 0005 and 0008.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copy of osteocare.web.questions.anonymise as of this migration (the migration must not change with it)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{6,}\d")


def _anonymise(text: str) -> str:
    return _PHONE.sub("[…]", _EMAIL.sub("[…]", text))


def upgrade() -> None:
    op.add_column("web_questions", sa.Column("public_answer", sa.Text(), nullable=True))
    op.add_column("web_questions", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    questions = sa.table("web_questions", sa.column("id", sa.Integer()), sa.column("answer", sa.Text()),
                         sa.column("published", sa.Boolean()), sa.column("public_answer", sa.Text()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(questions.c.id, questions.c.answer)
                        .where(questions.c.published.is_(True), questions.c.answer.is_not(None))).all()
    for qid, answer in rows:
        conn.execute(questions.update().where(questions.c.id == qid).values(public_answer=_anonymise(answer)))


def downgrade() -> None:
    op.drop_column("web_questions", "version")  # in place, as in 0005
    op.drop_column("web_questions", "public_answer")
