"""The entries of a patient's record kept one by one besides labs and DXA exams: conditions, medication
history, intolerances, falls, fractures, and measured vertebral heights (for the Genant grade). Each is added, and
a condition resolved or a medication ended, with the record's own checks (a known condition or drug id, a known
vertebral level measured once a day, dates in order, none after today or before the patient was born), in one
transaction and audited. An entry made in error is deleted with a reason; the audit log keeps what it said.

A change to the record can change what the active courses may give: after each change the contraindication
check runs again for every active course, and what it now finds comes back as warnings (the dose itself is
checked again when it is recorded)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from ..core.errors import InputError
from ..core.knowledge import load
from ..core.records import Condition as RCondition
from ..core.records import Fall as RFall
from ..core.records import Fracture as RFracture
from ..core.records import Intolerance as RIntolerance
from ..core.records import Medication as RMedication
from ..core.records import VertebraHeights, parse_as
from ..core.text import checked_text
from ..core.vertebral import LEVELS
from ..store import models as m
from ..store.audit import audit
from ._common import get_row, patient_row
from .context import Clinic
from .errors import Conflict, NotFound
from .textparts import part, render
from .views import TextPart

EntryKind = Literal["condition", "medication", "intolerance", "fall", "fracture", "vertebra"]
KINDS: tuple[EntryKind, ...] = ("condition", "medication", "intolerance", "fall", "fracture", "vertebra")
MODELS: dict[str, Any] = {"condition": RCondition, "medication": RMedication, "intolerance": RIntolerance,
                          "fall": RFall, "fracture": RFracture, "vertebra": VertebraHeights}
_ROW: dict[str, Any] = {"condition": m.Condition, "medication": m.Medication, "intolerance": m.Intolerance,
                        "fall": m.Fall, "fracture": m.Fracture, "vertebra": m.Vertebra}
#: The date fields of each kind (none may be after today or before the patient's birth).
_DATES: dict[str, tuple[str, ...]] = {"condition": ("onset", "resolved"), "medication": ("start", "end", "last_dose"),
                                      "intolerance": ("date",), "fall": ("date",), "fracture": ("date",),
                                      "vertebra": ("date",)}


#: The fields that make two entries of a kind the same one (an entry with the same values is refused as a duplicate
#: unless the caller confirms it is another one): a retried request must not double a fracture, a fall or a condition
#: that the guideline rules count. A missing date is a value like any other: two undated hip fractures may be a true
#: history, but are far more often the same one sent twice, so the second one needs the confirmation too. Vertebral
#: heights have their own rule (one reading per level and day, :func:`_check_level_free`).
SAME_ENTRY: dict[str, tuple[str, ...]] = {"condition": ("code", "onset"), "medication": ("drug", "start"),
                                          "intolerance": ("drug", "reaction", "date"), "fall": ("date",),
                                          "fracture": ("site", "date")}


class Entry(BaseModel):
    """One entry: its kind, id and fields (as the record has them), and for a condition its label and whether
    it is present today."""

    kind: EntryKind
    id: int
    fields: dict[str, Any]
    label: str | None = Field(default=None, description="A condition's label from knowledge/conditions")
    current: bool = Field(default=True, description="A condition not resolved, a medication not ended, a vertebral "
                          "measurement not replaced by a later one of the same level")


class EntryResult(BaseModel):
    entry: Entry
    warnings: list[str] = Field(default_factory=list,
                                description="What the contraindication check now finds for the active courses")


class DuplicateEntry(Conflict, InputError):
    """An entry with the same key fields (:data:`SAME_ENTRY`) as one already recorded: a conflict (409) naming the
    existing entry; added only with ``confirm_duplicate`` (it is another one, not the same one sent again). Also an
    :class:`InputError` of the field ``confirm_duplicate``, so that a form shows it beside that box."""

    def __init__(self, kind: str, existing: Entry, same: dict[str, Any]) -> None:
        self.kind = kind
        self.existing = existing
        self.same = same
        what = ", ".join(f"{k} {'not given' if v is None else v}" for k, v in same.items())
        allowed = (f"true, if this {kind} is another one and not {kind} {existing.id} ({what}) sent again")
        InputError.__init__(self, "confirm_duplicate", False, allowed)
        self.args = (f"{kind} {existing.id} with the same {', '.join(same)} ({what}) is already recorded; if this "
                     f"is another {kind}, not the same one sent again, send it with confirm_duplicate: true",)


def condition_labels() -> dict[str, str]:
    """Condition id -> label (knowledge ``conditions``)."""
    data = load("conditions").data
    return {k: str(v.get("label", k)) for k, v in data["conditions"].items()}


def _fields(kind: str, row: Any) -> dict[str, Any]:
    return MODELS[kind].model_validate({k: getattr(row, k) for k in MODELS[kind].model_fields}).model_dump(
        mode="json")


def _entry(kind: str, row: Any, today: dt.date) -> Entry:
    fields = _fields(kind, row)
    current = True
    if kind == "condition":
        current = row.resolved is None or row.resolved > today
    elif kind == "medication":
        current = row.end is None or row.end > today
    label = condition_labels().get(row.code) if kind == "condition" else None
    return Entry(kind=kind, id=row.id, fields=fields, label=label, current=current)  # type: ignore[arg-type]


def _level(level: str) -> str:
    """A vertebral level as the grading reads it (C1-C7, T1-T12, L1-L5)."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise InputError("level", level, "a vertebral level C1-C7, T1-T12 or L1-L5")
    return name


def _check_level_free(s: Any, patient_id: int, item: VertebraHeights) -> None:
    """The grading takes each level once per day (and once without a date): a second measurement of a level on
    the same day replaces the first only after that one is deleted; a later day's is graded instead of it."""
    if item.date is None:  # graded as the oldest reading of its level: a newer collapse would be missed
        dated = s.scalar(select(func.max(m.Vertebra.date)).where(m.Vertebra.patient_id == patient_id,
                                                                 m.Vertebra.level == item.level))
        if dated is not None:
            raise InputError("date", None, f"the day of the reading: {item.level} has a reading of "
                             f"{dated.isoformat()}, and one without a day is graded as older than any dated one")
    same_day = m.Vertebra.date.is_(None) if item.date is None else m.Vertebra.date == item.date
    if s.scalar(select(m.Vertebra.id).where(m.Vertebra.patient_id == patient_id, m.Vertebra.level == item.level,
                                            same_day)) is not None:
        when = "without a date" if item.date is None else f"on {item.date.isoformat()}"
        raise InputError("level", item.level, f"a level not measured {when} yet: {item.level} is on the record "
                         f"{when}; delete that measurement (entered in error) to replace it, or give the day of "
                         "the new reading")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError("kind", kind, "one of " + ", ".join(KINDS))
    return kind


def _check_dates(clinic: Clinic, record_id: str, kind: str, item: Any) -> None:
    from .facts import _check_patient_day

    for f in _DATES[kind]:
        day = getattr(item, f)
        if day is not None:
            _check_patient_day(f, day, clinic, record_id)
    if kind == "medication" and item.end is not None and item.last_dose is not None and item.last_dose > item.end:
        # checked here, not by the record: a stored history that says so must stay readable
        raise InputError("end", item.end.isoformat(), f"on or after the last dose ({item.last_dose.isoformat()})")


def _check_readable(clinic: Clinic, record_id: str) -> None:
    """Refuse a change to a patient whose stored record the current rules refuse (an old lab with a name the
    knowledge does not list, ...: ``osteocare db check``), before anything is written: the error names the row
    to correct."""
    from ..store.records import load_patient, record_of

    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        record_of(p, as_of=clinic.today())


def recheck_active_courses(clinic: Clinic, record_id: str) -> list[str]:
    """The contraindication check again for each active course: what it finds, as warnings (English). Runs after
    the change is committed, so it never raises: a check that cannot run says so as a warning."""
    return [render(p) for p in active_course_findings(clinic, record_id)]


def active_course_findings(clinic: Clinic, record_id: str) -> list[TextPart]:
    """:func:`recheck_active_courses` as parts (an adapter shows them in the reader's language). Never raises."""
    try:
        return _findings(clinic, record_id)
    except Exception as exc:  # the change is saved; the clinician must know the check did not run
        return [part("The contraindication check of the active courses could not be run after this change: "
                     "{error}", {"error": "en"}, error=str(exc))]


def _findings(clinic: Clinic, record_id: str) -> list[TextPart]:
    from ..store.records import load_patient
    from .checks import clinic_record, contraindication_check

    day = clinic.today()
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        drugs = [c.drug for c in p.courses if c.status == "active"]
        if not drugs:
            return []
        record = clinic_record(s, p, as_of=day)
    out = []
    for drug in drugs:
        report = contraindication_check(record, drug, as_of=day)
        for f in report.findings:
            if f.kind in ("must_not", "caution", "fix_first"):
                out.append(part("Active course of {drug}: the contraindication check now finds {rule_id} ({kind}): "
                                "{finding}", {"drug": "drug", "kind": "term", "finding": "part"}, drug=drug,
                                rule_id=f.rule_id, kind=f.kind.replace("_", " "), finding=part(f.text)))
    return out


def _same_entry(s: Any, patient_id: int, kind: str, item: Any, today: dt.date) -> None:
    """Refuse (:class:`DuplicateEntry`) an entry whose key fields (:data:`SAME_ENTRY`) match a recorded one's."""
    keys = SAME_ENTRY.get(kind)
    if not keys:
        return
    row_type = _ROW[kind]
    stmt = select(row_type).where(row_type.patient_id == patient_id)
    for k in keys:
        value = getattr(item, k)
        if k == "reaction":  # free text: compared below without case and surrounding spaces
            continue
        stmt = stmt.where(getattr(row_type, k).is_(None) if value is None else getattr(row_type, k) == value)
    for row in s.scalars(stmt.order_by(row_type.id)):
        if kind == "intolerance" and (row.reaction or "").strip().casefold() != item.reaction.strip().casefold():
            continue
        values = {k: getattr(item, k) for k in keys}
        same = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()}
        raise DuplicateEntry(kind, _entry(kind, row, today), same)


def add_entry(clinic: Clinic, record_id: str, kind: str, data: dict[str, Any], *,
              confirm_duplicate: bool = False) -> EntryResult:
    """Add a condition, medication, intolerance, fall or fracture (``data``: the record's fields of that kind). An
    entry with the same key fields as a recorded one (:data:`SAME_ENTRY`: a fracture of the same site and date, a
    fall of the same date, a condition with the same code and onset...) is refused (:class:`DuplicateEntry`, nothing
    written) unless ``confirm_duplicate`` says it is another one."""
    kind = _kind(kind)
    if not isinstance(data, dict):
        raise InputError(kind, type(data).__name__, "an object with the fields of a " + kind)
    item = parse_as(MODELS[kind], data)
    if kind == "vertebra":
        item = item.model_copy(update={"level": _level(item.level)})
    if kind == "intolerance":
        checked_text("reaction", item.reaction, max_length=500)
        if not item.reaction.strip():
            raise InputError("reaction", item.reaction, "what the reaction was (e.g. heartburn, rash)")
    _check_dates(clinic, record_id, kind, item)
    _check_readable(clinic, record_id)
    with clinic.db.write() as s:
        # the patient's row locked: two retries of one request at once cannot both find no duplicate
        p = patient_row(s, record_id, for_update=kind == "vertebra" or kind in SAME_ENTRY)
        if kind == "vertebra":
            _check_level_free(s, p.id, item)
        if not confirm_duplicate:
            _same_entry(s, p.id, kind, item, clinic.today())
        row = _ROW[kind](patient_id=p.id, entered_in_clinic=True, **item.model_dump())  # kept by an import update
        s.add(row)
        s.flush()
        audit(s, actor=clinic.actor, action="create", entity=kind, entity_id=row.id, patient_id=p.id,
              detail=item.model_dump(mode="json"))
        entry = _entry(kind, row, clinic.today())
    return EntryResult(entry=entry, warnings=recheck_active_courses(clinic, record_id))


def _own_row(s: Any, kind: str, entry_id: int, record_id: str | None) -> Any:
    owner = patient_row(s, record_id).id if record_id is not None else None  # an unknown patient is said first
    row = get_row(s, _ROW[kind], entry_id)
    if row is None:
        raise NotFound(kind, entry_id)
    if owner is not None and owner != row.patient_id:
        raise NotFound(kind, entry_id)  # another patient's entry is not found through this one
    return row


def end_entry(clinic: Clinic, kind: str, entry_id: int, on: dt.date, *, record_id: str | None = None) -> EntryResult:
    """Resolve a condition (``resolved``) or end a medication (``end``) on ``on``."""
    kind = _kind(kind)
    field = {"condition": "resolved", "medication": "end"}.get(kind)
    if field is None:
        raise InputError("kind", kind, "condition (resolved) or medication (ended)")
    with clinic.db.read() as s:
        row = _own_row(s, kind, entry_id, record_id)
        rid = s.get(m.Patient, row.patient_id).record_id
        data = {**_fields(kind, row), field: on.isoformat()}
    item = parse_as(MODELS[kind], data)  # e.g. a condition resolved before its onset is refused here
    _check_dates(clinic, rid, kind, item)
    _check_readable(clinic, rid)
    with clinic.db.write() as s:
        row = _own_row(s, kind, entry_id, record_id)
        before = getattr(row, field)
        setattr(row, field, on)
        s.flush()
        audit(s, actor=clinic.actor, action="update", entity=kind, entity_id=row.id, patient_id=row.patient_id,
              detail={field: {"from": None if before is None else before.isoformat(), "to": on.isoformat()}})
        entry = _entry(kind, row, clinic.today())
    return EntryResult(entry=entry, warnings=recheck_active_courses(clinic, rid))


def delete_entry(clinic: Clinic, kind: str, entry_id: int, *, reason: str,
                 record_id: str | None = None) -> Entry:
    """Delete an entry made in error; the audit log keeps what it said and why it went."""
    kind = _kind(kind)
    reason = checked_text("reason", reason, max_length=500) or ""
    if not reason:
        raise InputError("reason", reason, f"why the {kind} is deleted")
    with clinic.db.write() as s:
        row = _own_row(s, kind, entry_id, record_id)
        if kind == "intolerance" and row.reaction_id is not None:
            raise InputError("id", entry_id, "an intolerance entered by hand: this one comes from recorded "
                             f"reaction {row.reaction_id}; change that reaction instead")
        entry = _entry(kind, row, clinic.today())
        s.delete(row)
        audit(s, actor=clinic.actor, action="delete", entity=kind, entity_id=entry_id, patient_id=row.patient_id,
              detail={**entry.fields, "reason": reason})
        return entry


def entries_in(s: Any, patient_id: int, today: dt.date) -> dict[str, list[Entry]]:
    """Every entry of the patient by kind, oldest first (undated first), read in session ``s`` (not audited:
    for a caller whose read is audited already)."""
    out: dict[str, list[Entry]] = {}
    for kind in KINDS:
        rows = list(s.scalars(select(_ROW[kind]).where(_ROW[kind].patient_id == patient_id).order_by(_ROW[kind].id)))
        date_of = _DATES[kind][0]
        rows.sort(key=lambda r, f=date_of: (getattr(r, f) is not None, getattr(r, f) or dt.date.min, r.id))
        if kind == "vertebra":
            rows.sort(key=lambda r: LEVELS.index(r.level) if r.level in LEVELS else len(LEVELS))  # stable: by day
        out[kind] = [_entry(kind, r, today) for r in rows]
        if kind == "vertebra":  # a level's earlier measurements are replaced by its latest (core.vertebral)
            for a, b in itertools.pairwise(out[kind]):
                if a.fields["level"] == b.fields["level"]:
                    a.current = False
    return out


def entries_of(clinic: Clinic, record_id: str) -> dict[str, list[Entry]]:
    """Every entry of the patient by kind, oldest first (undated first); the read is audited."""
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        out = entries_in(s, p.id, clinic.today())
        pid = p.id
    clinic.db.audit_reads.append(actor=clinic.actor, action="read", entity="patient", entity_id=record_id,
                                 patient_id=pid, detail={"what": "entries"})
    return out
