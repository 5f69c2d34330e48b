"""Alerts: late doses (urgent where the drug's knowledge sets a window, e.g. denosumab), review points, follow-up
DXA and monitoring labs. Computed from the open schedule items on the day asked, so they always follow the
current knowledge files and the doses actually given.

A late-dose alert says how late (in days) and cites its rule and source; an alert resting on a fact that is not
verified says so in its text (knowledge README, rule 3), not only in its ``status`` field."""

from __future__ import annotations

import datetime as dt
from functools import cache

from sqlalchemy import Select, select

from ..core.knowledge import load
from ..core.schedule import days_late, timeliness
from ..core.status import Status, lowest, status_warning
from ..store import models as m
from ._common import display_name, patient_row
from .context import Clinic
from .drugs import SEQUENCING, regimen
from .views import Alert


@cache
def _rule(rule_id: str) -> tuple[str, Status]:
    f = load(SEQUENCING).fact(rule_id)
    return str(f.value), lowest([f.status])


@cache
def _cite(rule_id: str) -> str:
    """`` (DMAB-LATE; source: <citation>)`` for a rule of the sequencing knowledge."""
    kf = load(SEQUENCING)
    return f" ({rule_id}; source: {kf.citation(kf.fact(rule_id).source)})"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _flagged(text: str, status: Status) -> str:
    """``text`` with the visible warning a non-verified alert must carry."""
    warning = status_warning(status, "This alert")
    return text if warning is None else f"{text} {warning}"


def _drug_name(drug: str | None) -> str:
    if drug is None:
        return "Dose"
    try:
        return regimen(drug).name
    except Exception:
        return drug


def alert_for(it: m.ScheduleItem, *, record_id: str, patient_name: str | None, drug: str | None,
              today: dt.date) -> Alert:
    """The alert an open item raises on ``today`` (severity ``info`` if it is not yet due)."""
    late = days_late(it.due_on, today)
    base = dict(record_id=record_id, patient_name=patient_name, item_id=it.id, course_id=it.course_id, drug=drug,
                due_on=it.due_on, days_late=late)
    status: Status = it.fact_status  # type: ignore[assignment]
    if it.kind == "dose":
        reg = regimen(drug) if drug is not None else None
        tl = timeliness(it.due_on, today, urgent_after_days=reg.urgent_after_days if reg else None)
        what = f"{_drug_name(drug)} dose {it.seq or ''}".strip()
        if tl == "urgent" and reg is not None and reg.urgent_rule is not None:
            text, st = _rule(reg.urgent_rule)
            overall = lowest([st, reg.urgent_status, status])
            return Alert(**base, severity="urgent", kind="dose_overdue", rule_id=reg.urgent_rule, status=overall,
                         text=_flagged(f"{what} is {_days(late)} late (due {it.due_on.isoformat()}). {text}"
                                       f"{_cite(reg.urgent_rule)}", overall))
        if tl in ("overdue", "urgent"):
            if reg is not None and reg.overdue_rule is not None:
                text, st = _rule(reg.overdue_rule)
                overall = lowest([st, status])
                return Alert(**base, severity="warning", kind="dose_overdue", rule_id=reg.overdue_rule,
                             status=overall,
                             text=_flagged(f"{what} is {_days(late)} late (due {it.due_on.isoformat()}). {text}"
                                           f"{_cite(reg.overdue_rule)}", overall))
            return Alert(**base, severity="warning", kind="dose_overdue", rule_id=None, status=status,
                         text=_flagged(f"{what} is {_days(late)} past its due date ({it.due_on.isoformat()}). The "
                                       "knowledge base sets no late-dose window for this drug.", status))
        word = "today" if tl == "due" else f"on {it.due_on.isoformat()}"
        return Alert(**base, severity="info", kind="dose_due", rule_id=it.rule_id, status=status,
                     text=_flagged(f"{what} due {word}.", status))
    if it.rule_id == "DMAB-SWITCH" and drug is not None:
        # A stopped denosumab course is as dangerous as a late dose (rebound, DMAB-NOSTOP): once the follow-on
        # drug is later than denosumab's urgency window it is urgent (DMAB-URGENT: "... or start zoledronic acid
        # if stopping").
        reg = regimen(drug)
        tl = timeliness(it.due_on, today, urgent_after_days=reg.urgent_after_days)
        if tl == "urgent" and reg.urgent_rule is not None:
            text, st = _rule(reg.urgent_rule)
            overall = lowest([st, reg.urgent_status, status])
            return Alert(**base, severity="urgent", kind="review", rule_id=reg.urgent_rule, status=overall,
                         text=_flagged(f"Follow-on treatment after stopping {_drug_name(drug)} is {_days(late)} late "
                                       f"(due {it.due_on.isoformat()}): {it.reason} {text}{_cite(reg.urgent_rule)}",
                                       overall))
    kind = {"review": "review", "dxa": "dxa", "lab": "lab"}[it.kind]
    if late:
        sev = "warning"
        when = f"{_days(late)} overdue (due {it.due_on.isoformat()})"
    else:
        sev = "info"
        when = "due today" if it.due_on == today else f"due {it.due_on.isoformat()}"
    label = {"review": "Review", "dxa": "Follow-up DXA", "lab": f"Lab: {it.lab_name}"}[it.kind]
    if it.kind == "review" and drug is not None:
        label = f"Review of {_drug_name(drug)}"
    return Alert(**base, severity=sev, kind=kind, rule_id=it.rule_id, status=status,
                 text=_flagged(f"{label} {when}: {it.reason}", status))


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
