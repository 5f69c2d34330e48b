"""The clinic worklist: today's appointments, what is due today and in the coming week, and what is overdue.

Every section is one indexed query on ``schedule_items`` (``(status, due_on)`` and ``(status, scheduled_at)``)
joined to the patient's name and the course's drug, with a row limit per section and exact counts, so it stays
fast on a clinic of 100,000 patients (see ``benchmarks/worklist.py``). "This week" is the ``days`` days after
today. Overdue is ordered by severity (urgent on top, whatever its kind); within a severity late doses come before
the other items (a late denosumab injection first), then the oldest first.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.errors import InputError
from ..store import models as m
from ._common import display_name, item_view
from .alerts import _ORDER, _joined, alert_for
from .context import Clinic
from .reads import ReadPlan, clinic_plan
from .views import Alert, ItemView, Worklist

OPEN = m.ScheduleItem.status == "open"


def _count(session: Session, *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(m.ScheduleItem).where(OPEN, *where)) or 0)  # type: ignore[arg-type]


def day_bounds_utc(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the clinic's local ``day`` starts and ends."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def worklist(clinic: Clinic, *, today: dt.date | None = None, days: int = 7, limit: int = 500) -> Worklist:
    """The whole clinic's worklist on ``today`` (default: today in the clinic's time zone). The read is audited;
    the result is cached on the store's data revision (do not mutate it)."""
    return worklist_plan(clinic, today=today, days=days, limit=limit).run(clinic)


def worklist_plan(clinic: Clinic, *, today: dt.date | None = None, days: int = 7,
                  limit: int = 500) -> ReadPlan[Worklist]:
    """:func:`worklist` as a :class:`~osteocare.services.reads.ReadPlan`. Raises :class:`InputError` for a
    negative ``days`` (or one past the last representable date) or a ``limit`` below 1."""
    day = today or clinic.today()
    max_days = (dt.date.max - day).days - 1
    if max_days < 0:  # the last representable date: no day follows it, whatever ``days`` is - the date is at fault
        ahead = days if 0 <= days <= (dt.date.max - dt.date.min).days - 1 else 0
        last = dt.date.max - dt.timedelta(days=ahead + 1)
        raise InputError("today", day.isoformat(), f"a date not after {last.isoformat()} (the worklist of {ahead} "
                         f"days ahead ends by {(dt.date.max - dt.timedelta(days=1)).isoformat()})")
    if not 0 <= days <= max_days:
        raise InputError("days", days, f"a whole number of days from 0 to {max_days} (after {day.isoformat()})")
    if limit < 1:
        raise InputError("limit", limit, "a whole number of rows from 1 up")
    return clinic_plan(clinic, entity="worklist", entity_id=day.isoformat(), key=("worklist", day, days, limit),
                       load=lambda: _worklist(clinic, day, days, limit))


def _worklist(clinic: Clinic, day: dt.date, days: int, limit: int) -> Worklist:
    t0 = time.perf_counter()
    week_end = day + dt.timedelta(days=days)
    start, end = day_bounds_utc(day, clinic.settings.zone)

    def views(session: Session, *where: object, order: tuple[object, ...]) -> list[ItemView]:
        rows = session.execute(_joined().where(OPEN, *where).order_by(*order).limit(limit)).all()  # type: ignore[arg-type]
        return [item_view(it, record_id=rid, patient_name=display_name(g, f, rid), drug=drug, today=day)
                for it, rid, g, f, drug in rows]

    with clinic.db.read() as s:
        si = m.ScheduleItem
        appts = views(s, si.scheduled_at >= start, si.scheduled_at < end, order=(si.scheduled_at, si.id))
        due_today = views(s, si.due_on == day, order=(si.kind, si.id))
        week = views(s, si.due_on > day, si.due_on <= week_end, order=(si.due_on, si.id))
        overdue: list[Alert] = []
        for kind_filter in (si.kind == "dose", si.kind != "dose"):
            rows = s.execute(_joined().where(OPEN, si.due_on < day, kind_filter)
                             .order_by(si.due_on, si.id).limit(limit)).all()
            overdue += [alert_for(it, record_id=rid, patient_name=display_name(g, f, rid), drug=drug, today=day)
                        for it, rid, g, f, drug in rows]
        # most pressing first (an urgent follow-on after stopping denosumab above a routine late dose, as
        # clinic_alerts orders them); within a severity, late doses before the other items, a late denosumab
        # injection before other late doses (its lateness is the dangerous one), then the oldest first
        overdue.sort(key=lambda a: (_ORDER[a.severity], a.kind != "dose_overdue",
                                    not (a.kind == "dose_overdue" and a.drug == "denosumab"), a.due_on))
        counts = {
            "appointments_today": _count(s, si.scheduled_at >= start, si.scheduled_at < end),
            "due_today": _count(s, si.due_on == day),
            "due_this_week": _count(s, si.due_on > day, si.due_on <= week_end),
            "overdue": _count(s, si.due_on < day),
            "overdue_doses": _count(s, si.due_on < day, si.kind == "dose"),
        }
    counts["urgent_shown"] = sum(1 for a in overdue if a.severity == "urgent")
    truncated = any(counts[k] > limit for k in ("appointments_today", "due_today", "due_this_week")) or (
        counts["overdue_doses"] > limit or counts["overdue"] - counts["overdue_doses"] > limit)
    return Worklist(today=day, week_end=week_end, appointments_today=appts, due_today=due_today,
                    due_this_week=week, overdue=overdue, counts=counts, truncated=truncated,
                    elapsed_ms=round((time.perf_counter() - t0) * 1000, 1))
