"""``schedule_items.reason_parts``: an item's reason as parts (a JSON list of ``services.views.TextPart``: an English
template with named values), so that alerts and schedules are shown in the reader's language from what the
schedule wrote, not by reading its English back.

Existing rows are filled from their English ``reason`` by the patterns the schedule wrote up to this revision
(frozen below, with their English rendering: a migration must not change when the application's code does); a
pattern's parts are kept only where they give the stored text back exactly. A reason that matches none (a
knowledge sentence, or text changed by hand) stays NULL: shown verbatim. Only rows a pattern can match are read,
in pages, and written in batches. The column is added in place and stays nullable, as in 0005.

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
_PAGE = 1000


def _p(template: str, kinds: dict[str, str] | None = None, **params: Any) -> Part:
    return {"template": template, "params": params, "kinds": kinds or {}}


def _render(part: Part) -> str:
    """Frozen copy of the English rendering (``services.textparts.render``) for the kinds used below."""
    kinds = part["kinds"]
    values = {k: (f"{v} month{'' if v == 1 else 's'}" if kinds.get(k) == "months" else str(v))
              for k, v in part["params"].items()}
    return str(part["template"]).format(**values) if values else str(part["template"])


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
#: A clinic dose: "<the drug's name> dose <n>" (the name is the drug knowledge's, looked up when shown: if it has
#: changed since, the parts no longer give the stored text back and the text is shown verbatim).
_DOSE = re.compile(r".+ dose (\d+)", re.DOTALL)


def parts_of(reason: str, *, kind: str, drug: str | None) -> list[Part] | None:
    """The parts of a reason stored before this revision (``kind``: the item's; ``drug``: its course's), or None
    for a reason the schedule did not generate (a knowledge sentence, or text changed by hand): shown verbatim."""
    if kind == "dose" and drug is not None:
        found = _DOSE.fullmatch(reason)
        if found:
            return [_p("{drug} dose {seq}", {"drug": "drug"}, drug=drug, seq=int(found[1]))]
    for pattern, parts_from in _GENERATED:
        found = pattern.fullmatch(reason)
        if found:
            parts = parts_from(found)
            if " ".join(_render(p) for p in parts) == reason:
                return parts
    return None


def upgrade() -> None:
    op.add_column("schedule_items", sa.Column("reason_parts", sa.Text(), nullable=True))
    conn = op.get_bind()
    items = sa.table("schedule_items", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                     sa.column("reason", sa.Text), sa.column("reason_parts", sa.Text),
                     sa.column("course_id", sa.Integer))
    courses = sa.table("courses", sa.column("id", sa.Integer), sa.column("drug", sa.String))
    # only the rows a pattern can match: clinic doses, and reasons that hold a date, a month count or a lab
    candidates = sa.or_(items.c.kind == "dose", items.c.reason.like("%Due from %"),
                        items.c.reason.like("Calcitriol monitoring: %"), items.c.reason.like("% days after the %"))
    update = (items.update().where(items.c.id == sa.bindparam("item_id"))
              .values(reason_parts=sa.bindparam("parts")))
    after = 0
    while True:  # in pages of ids, each written with one executemany
        rows = conn.execute(sa.select(items.c.id, items.c.kind, items.c.reason, courses.c.drug)
                            .select_from(items.outerjoin(courses, courses.c.id == items.c.course_id))
                            .where(items.c.id > after, candidates).order_by(items.c.id).limit(_PAGE)).all()
        if not rows:
            break
        after = rows[-1][0]
        found = [(item_id, parts_of(reason or "", kind=kind, drug=drug)) for item_id, kind, reason, drug in rows]
        batch = [{"item_id": i, "parts": json.dumps(p, ensure_ascii=False, separators=(",", ":"))}
                 for i, p in found if p is not None]
        if batch:
            conn.execute(update, batch)


def downgrade() -> None:
    # In place, never a batch copy (see 0005: a copy of schedule_items on SQLite deletes its pre-dose checks).
    op.drop_column("schedule_items", "reason_parts")
