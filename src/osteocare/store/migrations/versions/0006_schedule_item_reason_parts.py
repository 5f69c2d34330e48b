"""``schedule_items.reason_parts``: an item's reason as parts (a JSON list of ``services.views.TextPart``: an English
template with named values), so that alerts and schedules are shown in the reader's language from what the
schedule wrote, not by reading its English back.

Existing rows are filled from their English ``reason`` by the patterns the schedule wrote up to this revision
(frozen below); a reason that matches none (a knowledge sentence, or text changed by hand) becomes one verbatim
part. A pattern's parts are kept only where they give the stored text back exactly. The column is added in place
and stays nullable (NULL: show the reason verbatim), as in 0005.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ISO = r"(\d{4}-\d{2}-\d{2})"
_LAB = r"([a-z0-9_]+)"
Part = dict[str, Any]


def _p(template: str, kinds: dict[str, str] | None = None, **params: Any) -> Part:
    return {"template": template, "params": params, "kinds": kinds or {}}


#: Frozen copy of the reasons ``services/schedule.py`` wrote as English up to revision 0005: pattern, parts.
_GENERATED: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[Part]]], ...] = (
    (re.compile(rf"(.+) Due from {_ISO}, by {_ISO}\.", re.DOTALL),
     lambda g: [_p(g[1]), _p("Due from {start}, by {end}.", {"start": "date", "end": "date"}, start=g[2], end=g[3])]),
    (re.compile(rf"Calcitriol monitoring: {_LAB} at (\d+) months?"),
     lambda g: [_p("Calcitriol monitoring: {lab} at {months}", {"lab": "lab", "months": "months"}, lab=g[1],
                   months=int(g[2]))]),
    (re.compile(rf"Calcitriol monitoring: {_LAB} every (\d+) months"),
     lambda g: [_p("Calcitriol monitoring: {lab} every {n} months", {"lab": "lab"}, lab=g[1], n=int(g[2]))]),
    (re.compile(rf"{_LAB} (\d+)-(\d+) days after the denosumab injection of {_ISO} \(predisposed to hypocalcaemia\)"),
     lambda g: [_p("{lab} {lo}-{hi} days after the denosumab injection of {date} (predisposed to hypocalcaemia)",
                   {"lab": "lab", "date": "date"}, lab=g[1], lo=int(g[2]), hi=int(g[3]), date=g[4])]),
)
_DOSE = re.compile(r".+ dose (\d+)", re.DOTALL)


def parts_of(reason: str, *, kind: str, drug: str | None) -> list[Part]:
    """The parts of a reason stored before this revision (``kind``: the item's; ``drug``: its course's)."""
    from osteocare.services.textparts import text_of
    from osteocare.services.views import TextPart

    candidates: list[list[Part]] = []
    if kind == "dose" and drug is not None:
        found = _DOSE.fullmatch(reason)
        if found:
            candidates.append([_p("{drug} dose {seq}", {"drug": "drug"}, drug=drug, seq=int(found[1]))])
    for pattern, parts_from in _GENERATED:
        found = pattern.fullmatch(reason)
        if found:
            candidates.append(parts_from(found))
    for parts in candidates:
        try:
            if text_of([TextPart.model_validate(p) for p in parts]) == reason:
                return parts
        except (ValueError, KeyError, IndexError, TypeError):
            continue
    return [_p(reason)]


def upgrade() -> None:
    op.add_column("schedule_items", sa.Column("reason_parts", sa.Text(), nullable=True))
    conn = op.get_bind()
    items = sa.table("schedule_items", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                     sa.column("reason", sa.Text), sa.column("reason_parts", sa.Text),
                     sa.column("course_id", sa.Integer))
    courses = sa.table("courses", sa.column("id", sa.Integer), sa.column("drug", sa.String))
    rows = conn.execute(sa.select(items.c.id, items.c.kind, items.c.reason, courses.c.drug)
                        .select_from(items.outerjoin(courses, courses.c.id == items.c.course_id))
                        .order_by(items.c.id)).all()
    for item_id, kind, reason, drug in rows:
        parts = parts_of(reason or "", kind=kind, drug=drug)
        conn.execute(items.update().where(items.c.id == item_id).values(
            reason_parts=json.dumps(parts, ensure_ascii=False, separators=(",", ":"))))


def downgrade() -> None:
    # In place, never a batch copy (see 0005: a copy of schedule_items on SQLite deletes its pre-dose checks).
    op.drop_column("schedule_items", "reason_parts")
