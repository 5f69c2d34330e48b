"""The patient's clinical history: the risk factors, body measures and clinician-entered results (FRAX) of the
record that are not dated facts of their own (DXA exams, labs, fractures, ... are recorded one by one).

Edits are checked against the whole record (a FRAX hip probability above the major one is refused, as is a
glucocorticoid duration beyond the patient's age), written in one transaction, and audited with each field's
old and new value. A form or client that read the history names the ``version`` it read; if another user has
changed it since, the edit is refused (:class:`~osteocare.services.errors.Conflict`) rather than silently
overwriting theirs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, Field

from ..core.errors import InputError
from ..core.knowledge import load
from ..core.records import PatientRecord, parse_record
from ..store.audit import audit
from ..store.records import FLAT_FIELDS, extra_json, load_patient, record_of
from ._common import patient_row
from .context import Clinic
from .entries import recheck_active_courses
from .errors import Conflict, NotFound
from .views import HistoryView

#: QFracture's yes/no inputs (knowledge ``qfracture-inputs``: ``boolean_inputs``), in the record's order.
RISK_FLAGS: tuple[str, ...] = (
    "prior_fracture", "parental_osteoporosis", "falls", "corticosteroids", "ra_sle", "cvd", "renal", "liver",
    "malabsorption", "endocrine", "type1_diabetes", "type2_diabetes", "asthma_copd", "cancer", "dementia",
    "epilepsy", "parkinsons", "antidepressant", "hrt_oestrogen", "care_home",
)
#: Every field the history covers: body measures, ethnicity, lifestyle, menopause, the risk flags, glucocorticoid
#: exposure, diet, and the FRAX result typed from an official FRAX tool.
HISTORY_FIELDS: tuple[str, ...] = (
    "weight_kg", "height_cm", "bmi", "ethnicity", "smoking", "alcohol", "menopausal_status", *RISK_FLAGS,
    "glucocorticoid_mg_per_day", "glucocorticoid_months", "dietary_calcium_mg_per_day",
    "frax_mof_percent", "frax_hip_percent", "frax_country", "frax_with_bmd", "frax_glucocorticoids_ticked",
)
assert set(HISTORY_FIELDS) <= set(FLAT_FIELDS), set(HISTORY_FIELDS) - set(FLAT_FIELDS)

#: How the history is shown (web form, CLI): a section's title and its fields, in order; every field once.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Body measures", ("weight_kg", "height_cm", "bmi")),
    ("Background", ("ethnicity", "menopausal_status", "smoking", "alcohol", "dietary_calcium_mg_per_day")),
    ("Risk factors", RISK_FLAGS),
    ("Glucocorticoids", ("glucocorticoid_mg_per_day", "glucocorticoid_months")),
    ("FRAX result typed from an official FRAX tool",
     ("frax_mof_percent", "frax_hip_percent", "frax_country", "frax_with_bmd", "frax_glucocorticoids_ticked")),
)
assert sorted(f for _, fs in GROUPS for f in fs) == sorted(HISTORY_FIELDS)


def field_type(field: str) -> tuple[Any, bool]:
    """The type of a history field in :class:`PatientRecord` (``bool``, ``float``, a ``Literal`` of its choices,
    ``str``), without ``None``, and whether ``None`` is allowed (the field can be cleared)."""
    ann = PatientRecord.model_fields[field].annotation
    args = get_args(ann) if get_origin(ann) in (Union, types.UnionType) else (ann,)
    inner = [a for a in args if a is not type(None)]
    return (inner[0] if len(inner) == 1 else str), len(inner) < len(args)


def _values(record: PatientRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", include=set(HISTORY_FIELDS))


def version_of(values: Mapping[str, Any]) -> str:
    """A short fingerprint of the history's values: what a reader names when it writes (``expected_version``)."""
    text = json.dumps({k: values[k] for k in HISTORY_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _view(record_id: str, record: PatientRecord) -> HistoryView:
    values = _values(record)
    return HistoryView(record_id=record_id, version=version_of(values), values=values)


def history_of(clinic: Clinic, record_id: str) -> HistoryView:
    """The patient's history as stored, with its version (the read is audited)."""
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        view = _view(p.record_id, record_of(p, as_of=clinic.today(), include_courses=False))
        patient_id = p.id
    # a read session is never committed: the read is audited through the store's read log (as ReadPlan does)
    clinic.db.audit_reads.append(actor=clinic.actor, action="read", entity="patient", entity_id=record_id,
                                 patient_id=patient_id, detail={"what": "history"})
    return view


def update_history(clinic: Clinic, record_id: str, changes: Mapping[str, Any], *,
                   expected_version: str | None = None) -> HistoryView:
    """Change some of the history's fields (``changes``: field -> new value; None clears an optional field).

    Raises :class:`InputError` naming a field that is not part of the history or a value the record refuses (all
    of them at once, as :class:`~osteocare.core.records.RecordErrors`), :class:`Conflict` if ``expected_version``
    is given and the history has changed since it was read. Nothing is written unless every change is valid."""
    unknown = sorted(set(changes) - set(HISTORY_FIELDS))
    if unknown:
        raise InputError(unknown[0], changes[unknown[0]], "a field of the clinical history: "
                         + ", ".join(HISTORY_FIELDS))
    with clinic.db.write() as s:
        patient_row(s, record_id, for_update=True)  # a concurrent change waits here, then sees this one's version
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        current = record_of(p, as_of=clinic.today(), include_courses=False)
        before = _values(current)
        if expected_version is not None and expected_version != version_of(before):
            raise Conflict(f"the clinical history of patient {record_id!r} was changed by someone else after it "
                           "was read; nothing was saved: read it again, then make the change")
        merged = parse_record({**current.model_dump(mode="json"), **dict(changes)})
        after = _values(merged)
        changed = {k: {"from": before[k], "to": after[k]} for k in HISTORY_FIELDS if before[k] != after[k]}
        if changed:
            for k in changed:
                setattr(p, k, getattr(merged, k))
            s.flush()
            audit(s, actor=clinic.actor, action="update", entity="patient", entity_id=p.record_id, patient_id=p.id,
                  detail={"what": "history", "changed": changed})
        view = _view(p.record_id, merged)
    if changed:  # after the commit: a finding is a warning, the change stays (as for an entry)
        view.warnings = recheck_active_courses(clinic, record_id)
    return view


# --- the falls screen (CDC STEADI: three key questions, and the Stay Independent brochure) -------------------------

class FallsScreenView(BaseModel):
    """The falls screen as recorded: each key question's answer (absent: not asked) and the brochure items
    answered yes (None: the brochure was not filled in), the day it was recorded and how many days ago (None: not
    known), with the questions' wording and its status."""

    record_id: str
    key_questions: dict[str, bool]
    brochure_items: list[str] | None
    answered_on: dt.date | None = Field(default=None, description="The day the screen was last recorded (None: not "
                                                                  "known, or no screen recorded)")
    age_days: int | None = Field(default=None, description="Days from answered_on to today (no re-screen interval "
                                                           "is declared: the knowledge gives none)")
    questions: dict[str, str] = Field(description="Key question id -> wording (knowledge steadi)")
    brochure: dict[str, str] = Field(description="Brochure item id -> wording (knowledge steadi)")
    brochure_wording_status: str = Field(description="Status of the brochure items' wording (knowledge steadi)")


def _screen_view(record: PatientRecord, answered_on: dt.date | None, today: dt.date) -> FallsScreenView:
    kf = load("steadi")
    return FallsScreenView(
        record_id=record.id, key_questions=dict(record.falls_screen_answers),
        brochure_items=None if record.falls_screen_brochure_items is None else list(record.falls_screen_brochure_items),
        answered_on=answered_on, age_days=None if answered_on is None else (today - answered_on).days,
        questions={str(k): str(v) for k, v in kf.data["key_questions"].items()},
        brochure={str(k): str(v) for k, v in kf.data["brochure_items"].items()},
        brochure_wording_status=str(kf.fact("brochure_other_items_wording").status))


def falls_screen_of(clinic: Clinic, record_id: str) -> FallsScreenView:
    """The recorded falls screen (the read is audited)."""
    today = clinic.today()
    with clinic.db.read() as s:
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        view = _screen_view(record_of(p, as_of=today, include_courses=False), p.falls_screen_date, today)
        patient_id = p.id
    clinic.db.audit_reads.append(actor=clinic.actor, action="read", entity="patient", entity_id=record_id,
                                 patient_id=patient_id, detail={"what": "falls screen"})
    return view


def set_falls_screen(clinic: Clinic, record_id: str, *, key_questions: Mapping[str, bool],
                     brochure_items: list[str] | None) -> FallsScreenView:
    """Record the falls screen as asked today: the key questions answered (a question left out was not asked)
    and the brochure items answered yes (None: the brochure was not filled in). Replaces the earlier answers;
    checked by the record (known ids only), audited with the old and new answers. The screen's date
    (``patients.falls_screen_date``) becomes today, also when the answers are the same as before (asked again);
    a screen with nothing answered has no date."""
    today = clinic.today()
    with clinic.db.write() as s:
        patient_row(s, record_id, for_update=True)
        p = load_patient(s, record_id)
        if p is None:
            raise NotFound("patient", record_id)
        current = record_of(p, as_of=today, include_courses=False)
        merged = parse_record({**current.model_dump(mode="json"), "falls_screen_answers": dict(key_questions),
                               "falls_screen_brochure_items": brochure_items})
        before = current.model_dump(mode="json", include={"falls_screen_answers", "falls_screen_brochure_items"})
        after = merged.model_dump(mode="json", include={"falls_screen_answers", "falls_screen_brochure_items"})
        day = today if (key_questions or brochure_items is not None) else None
        if before != after or p.falls_screen_date != day:
            old_day = p.falls_screen_date
            p.extra_json = extra_json(merged)
            p.falls_screen_date = day
            s.flush()
            audit(s, actor=clinic.actor, action="update", entity="patient", entity_id=p.record_id,
                  patient_id=p.id, detail={"what": "falls screen", "from": before, "to": after,
                                           "on": {"from": None if old_day is None else old_day.isoformat(),
                                                  "to": None if day is None else day.isoformat()}})
        return _screen_view(merged, day, today)
