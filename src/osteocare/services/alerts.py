"""Alerts: late doses (urgent where the drug's knowledge sets a window, e.g. denosumab), review points, follow-up
DXA and monitoring labs. Computed from the open schedule items on the day asked, so they always follow the
current knowledge files and the doses actually given.

A late-dose alert says how late (in days) and cites its rule and source; an alert resting on a fact that is not
verified says so in its text (knowledge README, rule 3), not only in its ``status`` field."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from sqlalchemy import Select, select

from ..core.knowledge import load
from ..core.schedule import days_late, timeliness
from ..core.status import Status, lowest, status_warning
from ..store import models as m
from ._common import display_name, patient_row
from .context import Clinic
from .drugs import SEQUENCING, regimen
from .textparts import part as _p
from .textparts import stored_parts, text_of
from .views import Alert, PartKind, TextPart


@cache
def _rule(rule_id: str) -> tuple[str, Status]:
    f = load(SEQUENCING).fact(rule_id)
    return str(f.value), lowest([f.status])


@cache
def _citation(rule_id: str) -> str:
    kf = load(SEQUENCING)
    return kf.citation(kf.fact(rule_id).source)


def _cite(rule_id: str) -> TextPart:
    """``(DMAB-LATE; source: <citation>)`` for a rule of the sequencing knowledge."""
    return _p("({rule_id}; source: {citation})", {"citation": "en"}, rule_id=rule_id, citation=_citation(rule_id))


def _flagged(parts: list[TextPart], status: Status) -> list[TextPart]:
    """``parts`` with the visible warning a non-verified alert must carry."""
    warning = status_warning(status, "This alert")
    return parts if warning is None else [*parts, _p(warning)]


def _reason(it: m.ScheduleItem) -> list[TextPart]:
    """The item's reason as the schedule stored it: its parts, or (an older row) its text verbatim."""
    return stored_parts(it.reason, it.reason_parts)


def _what(drug: str | None, seq: int | None) -> TextPart:
    """"Denosumab dose 2" (a drug id, or none: "Dose dose 2", as the English text has always read)."""
    if drug is None:
        return _p("Dose dose {seq}", seq=seq) if seq else _p("Dose dose")
    return _p("{drug} dose {seq}", {"drug": "drug"}, drug=drug, seq=seq) if seq else _p("{drug} dose", {"drug": "drug"},
                                                                                       drug=drug)


def _alert(parts: list[TextPart], status: Status, **fields: Any) -> Alert:
    parts = _flagged(parts, status)
    return Alert(**fields, status=status, text=text_of(parts), parts=parts)


def alert_for(it: m.ScheduleItem, *, record_id: str, patient_name: str | None, drug: str | None,
              today: dt.date) -> Alert:
    """The alert an open item raises on ``today`` (severity ``info`` if it is not yet due). Its ``text`` is English;
    its ``parts`` are the same text sentence by sentence, for translation."""
    late = days_late(it.due_on, today)
    base = dict(record_id=record_id, patient_name=patient_name, item_id=it.id, course_id=it.course_id, drug=drug,
                due_on=it.due_on, days_late=late)
    status: Status = it.fact_status  # type: ignore[assignment]
    due = it.due_on.isoformat()
    what: dict[str, PartKind] = {"what": "part"}
    if it.kind == "dose":
        reg = regimen(drug) if drug is not None else None
        tl = timeliness(it.due_on, today, urgent_after_days=reg.urgent_after_days if reg else None)
        w = _what(drug, it.seq).model_dump()
        is_late = _p("{what} is {days} late (due {due}).", {**what, "days": "days", "due": "date"}, what=w, days=late,
                     due=due)
        if tl == "urgent" and reg is not None and reg.urgent_rule is not None:
            text, st = _rule(reg.urgent_rule)
            return _alert([is_late, _p(text), _cite(reg.urgent_rule)], lowest([st, reg.urgent_status, status]),
                          **base, severity="urgent", kind="dose_overdue", rule_id=reg.urgent_rule)
        if tl in ("overdue", "urgent"):
            if reg is not None and reg.overdue_rule is not None:
                text, st = _rule(reg.overdue_rule)
                return _alert([is_late, _p(text), _cite(reg.overdue_rule)], lowest([st, status]),
                              **base, severity="warning", kind="dose_overdue", rule_id=reg.overdue_rule)
            return _alert([_p("{what} is {days} past its due date ({due}).", {**what, "days": "days", "due": "date"},
                              what=w, days=late, due=due),
                           _p("The knowledge base sets no late-dose window for this drug.")], status,
                          **base, severity="warning", kind="dose_overdue", rule_id=None)
        when = (_p("{what} due today.", what, what=w) if tl == "due"
                else _p("{what} due on {due}.", {**what, "due": "date"}, what=w, due=due))
        return _alert([when], status, **base, severity="info", kind="dose_due", rule_id=it.rule_id)
    if it.rule_id == "DMAB-SWITCH" and drug is not None:
        # A stopped denosumab course is as dangerous as a late dose (rebound, DMAB-NOSTOP): once the follow-on
        # drug is later than denosumab's urgency window it is urgent (DMAB-URGENT: "... or start zoledronic acid
        # if stopping").
        reg = regimen(drug)
        tl = timeliness(it.due_on, today, urgent_after_days=reg.urgent_after_days)
        if tl == "urgent" and reg.urgent_rule is not None:
            text, st = _rule(reg.urgent_rule)
            head = _p("Follow-on treatment after stopping {drug} is {days} late (due {due}):",
                      {"drug": "drug", "days": "days", "due": "date"}, drug=drug, days=late, due=due)
            return _alert([head, *_reason(it), _p(text), _cite(reg.urgent_rule)],
                          lowest([st, reg.urgent_status, status]),
                          **base, severity="urgent", kind="review", rule_id=reg.urgent_rule)
    kind = {"review": "review", "dxa": "dxa", "lab": "lab"}[it.kind]
    if late:
        sev = "warning"
        when = _p("{days} overdue (due {due}):", {"days": "days", "due": "date"}, days=late, due=due)
    else:
        sev = "info"
        when = _p("due today:") if it.due_on == today else _p("due {due}:", {"due": "date"}, due=due)
    label = {"review": _p("Review"), "dxa": _p("Follow-up DXA"),
             "lab": _p("Lab: {lab}", {"lab": "lab"}, lab=it.lab_name)}[it.kind]
    if it.kind == "review" and drug is not None:
        label = _p("Review of {drug}", {"drug": "drug"}, drug=drug)
    return _alert([label, when, *_reason(it)], status, **base, severity=sev, kind=kind,
                  rule_id=it.rule_id)


def _joined() -> Select:  # type: ignore[type-arg]
    return (
        select(m.ScheduleItem, m.Patient.record_id, m.Patient.given_name, m.Patient.family_name, m.TreatmentCourse.drug)
        .join(m.Patient, m.Patient.id == m.ScheduleItem.patient_id)
        .outerjoin(m.TreatmentCourse, m.TreatmentCourse.id == m.ScheduleItem.course_id)
    )


_ORDER = {"urgent": 0, "warning": 1, "info": 2}


def patient_alerts(clinic: Clinic, record_id: str, *, today: dt.date | None = None,
                   horizon_days: int = 7) -> list[Alert]:
    """This patient's alerts: everything open that is due within ``horizon_days`` or late, most pressing first."""
    day = today or clinic.today()
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        rows = s.execute(_joined().where(m.ScheduleItem.patient_id == p.id, m.ScheduleItem.status == "open",
                                         m.ScheduleItem.due_on <= day + dt.timedelta(days=horizon_days))
                         .order_by(m.ScheduleItem.due_on)).all()
        out = [alert_for(it, record_id=rid, patient_name=display_name(g, f, rid), drug=drug, today=day)
               for it, rid, g, f, drug in rows]
    return sorted(out, key=lambda a: (_ORDER[a.severity], a.due_on))


def clinic_alerts(clinic: Clinic, *, today: dt.date | None = None, limit: int = 1000) -> list[Alert]:
    """Late items across the clinic (overdue doses, reviews, DXA, labs), urgent first, then most late."""
    day = today or clinic.today()
    with clinic.db.read() as s:
        rows = s.execute(_joined().where(m.ScheduleItem.status == "open", m.ScheduleItem.due_on < day)
                         .order_by(m.ScheduleItem.due_on, m.ScheduleItem.id).limit(limit)).all()
        out = [alert_for(it, record_id=rid, patient_name=display_name(g, f, rid), drug=drug, today=day)
               for it, rid, g, f, drug in rows]
    return sorted(out, key=lambda a: (_ORDER[a.severity], a.due_on))
