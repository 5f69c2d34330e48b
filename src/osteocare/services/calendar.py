"""iCalendar (RFC 5545) export of a patient's schedule, with reminders (VALARM).

Privacy (codes.md 6): calendars leave the clinical system and event titles show on lock screens, so no
diagnosis and no drug name appears anywhere in the feed: titles are "Clinic appointment", "Blood test" or
"Medicine reminder", and there are no descriptions beyond that.

Dates (codes.md 6): a clinic dose is one VEVENT per date, each computed from the last dose actually given
(never an RRULE, which would skip the 29th-31st of short months). Home pills on a weekly day, or monthly on
day 1-28, use an RRULE; a monthly day after the 28th is published as explicit dates. Every recurrence ends
(UNTIL, UTC) at the course's end or the export horizon.

UIDs are stable across re-exports, so a calendar app updates an event instead of adding a copy: a clinic dose
is ``course-<course>-dose-<n>`` whether it is still a projection or already the open appointment, and an
explicit home-dose date is keyed by its date, not by its position in the export (which moves with "today").
Cancelled and closed items are left out of the feed (a subscribed calendar drops them); the horizon is bounded
(:data:`MAX_HORIZON_MONTHS`) so the document stays small.
"""

from __future__ import annotations

import datetime as dt
import re

from icalendar import Alarm, Calendar, Event, vRecur
from icalendar.prop import vDuration
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.errors import InputError
from ..core.schedule import add_months, dose_dates_between, planned_due_dates
from ..store import models as m
from ..store.audit import audit
from ..store.records import new_calendar_token
from ._common import patient_row
from .context import Clinic
from .drugs import regimen
from .errors import NotFound

PRODID = "-//OsteoCare//Clinic schedule//EN"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
TITLES = {"dose": "Clinic appointment", "dxa": "Clinic appointment", "review": "Clinic appointment",
          "lab": "Blood test"}
HOME_TITLE = "Medicine reminder"
APPOINTMENT_LENGTH = dt.timedelta(hours=1)  # calendar block only (not a clinical fact)
#: Longest export horizon: bounds the size of the document (one event per month for a day-31 pill). An export
#: size limit, not a clinical fact.
MAX_HORIZON_MONTHS = 120
#: RFC 5545 3.3.11: TEXT may not hold control characters (other than tab; newlines are escaped as ``\n``).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: str) -> str:
    """A TEXT value with the control characters RFC 5545 forbids replaced by spaces."""
    return _CONTROL.sub(" ", value)


def _alarms(event: Event, triggers: tuple[str, ...] | list[str]) -> None:
    for trig in triggers:
        a = Alarm()
        a.add("action", "DISPLAY")
        a.add("description", "Reminder")
        a.add("trigger", vDuration.from_ical(trig))  # type: ignore[no-untyped-call]
        event.add_component(a)


def _event(uid: str, summary: str, stamp: dt.datetime) -> Event:
    e = Event()
    e.add("uid", uid)
    e.add("dtstamp", stamp)
    e.add("summary", summary)
    e.add("transp", "OPAQUE")
    return e


def _all_day(e: Event, day: dt.date) -> None:
    e.add("dtstart", day)
    e.add("dtend", day + dt.timedelta(days=1))


def build_calendar(clinic: Clinic, session: Session, patient: m.Patient, *, today: dt.date,
                   horizon_months: int = 12) -> Calendar:
    """The patient's calendar: open clinic items, projected clinic doses and home-dose reminders."""
    zone = clinic.settings.zone
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    horizon = add_months(today, horizon_months)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Clinic schedule")
    host = "osteocare.invalid"
    items = list(session.scalars(
        select(m.ScheduleItem).where(m.ScheduleItem.patient_id == patient.id, m.ScheduleItem.status == "open")
        .order_by(m.ScheduleItem.due_on, m.ScheduleItem.id)))
    courses = {c.id: c for c in patient.courses}
    for it in items:
        if it.due_on > horizon and it.scheduled_at is None:
            continue
        uid = (f"course-{it.course_id}-dose-{it.seq}@{host}" if it.kind == "dose" and it.course_id is not None
               and it.seq is not None else f"item-{it.id}@{host}")
        e = _event(uid, TITLES[it.kind], stamp)
        if it.scheduled_at is not None:
            start = it.scheduled_at.astimezone(zone)
            e.add("dtstart", start)
            e.add("dtend", start + APPOINTMENT_LENGTH)
            if it.location:
                e.add("location", _text(it.location))
        else:
            _all_day(e, max(it.due_on, today))
        _alarms(e, clinic.settings.reminder_clinic)
        cal.add_component(e)
        course = courses.get(it.course_id) if it.course_id is not None else None
        if it.kind == "dose" and course is not None and course.status == "active":
            reg = regimen(course.drug)
            if reg.interval is None:
                continue
            given = len(course.doses)
            left = None if reg.max_doses is None else reg.max_doses - given - 1
            # From the day the dose will be given at the earliest: the booked day, or today if that has passed
            # (a missed appointment cannot bring the next doses forward).
            planned = it.scheduled_at.astimezone(zone).date() if it.scheduled_at is not None else it.due_on
            base = max(planned, today)
            for k, day in enumerate(planned_due_dates(base, reg.interval, 24), start=1):
                if day > horizon or (left is not None and k > left):
                    break
                pe = _event(f"course-{course.id}-dose-{(it.seq or 0) + k}@{host}", TITLES["dose"], stamp)
                _all_day(pe, day)
                _alarms(pe, clinic.settings.reminder_clinic)
                cal.add_component(pe)
    for c in patient.courses:
        if c.status != "active" or c.setting != "home":
            continue
        reg = regimen(c.drug)
        if reg.interval is None:
            continue
        first = max(c.start_date, today)
        end = horizon
        for it in items:
            if it.course_id == c.id and it.rule_id == "ANAB-COURSE-END":
                end = min(end, it.due_on)
        if end < first:
            continue
        at = clinic.settings.home_dose_time
        until = dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=zone).astimezone(dt.UTC)
        uid = f"course-{c.id}-home@{host}"
        iv = reg.interval
        weekly = (iv.unit == "day" and iv.count % 7 == 0) or iv.unit == "week"
        if iv.unit in ("month", "year") and (c.anchor_day or c.start_date.day) > 28:
            for day in dose_dates_between(c.start_date, end, iv, anchor=c.anchor_day or c.start_date.day,
                                          on_or_after=first):
                e = _event(f"course-{c.id}-home-{day:%Y%m%d}@{host}", HOME_TITLE, stamp)
                e.add("dtstart", dt.datetime.combine(day, at, tzinfo=zone))
                e.add("duration", dt.timedelta(minutes=15))
                _alarms(e, [clinic.settings.reminder_home])
                cal.add_component(e)
            continue
        e = _event(uid, HOME_TITLE, stamp)
        rule: dict[str, object] = {"until": until}
        if weekly:
            weekday = c.anchor_weekday if c.anchor_weekday is not None else c.start_date.weekday()
            start_day = next(iter(dose_dates_between(c.start_date, end, iv, anchor=weekday, on_or_after=first)), None)
            if start_day is None:
                continue
            start_dt = dt.datetime.combine(start_day, at, tzinfo=zone)
            rule.update(freq="WEEKLY", interval=(iv.count // 7 if iv.unit == "day" else iv.count),
                        byday=WEEKDAYS[weekday])
        elif iv.unit in ("month", "year"):
            dom = c.anchor_day or c.start_date.day
            start_day = next(iter(dose_dates_between(c.start_date, end, iv, anchor=dom, on_or_after=first)), None)
            if start_day is None:
                continue
            start_dt = dt.datetime.combine(start_day, at, tzinfo=zone)
            rule.update(freq="MONTHLY", interval=iv.count * (12 if iv.unit == "year" else 1), bymonthday=dom)
        else:
            start_day = next(iter(dose_dates_between(c.start_date, end, iv, on_or_after=first)), None)
            if start_day is None:
                continue
            start_dt = dt.datetime.combine(start_day, at, tzinfo=zone)
            rule.update(freq="DAILY", interval=iv.count)
            if reg.doses_per_day > 1:
                step = 24 // reg.doses_per_day
                rule["byhour"] = sorted({(at.hour + step * k) % 24 for k in range(reg.doses_per_day)})
                rule["byminute"] = at.minute
        e.add("dtstart", start_dt)
        e.add("duration", dt.timedelta(minutes=15))
        e.add("rrule", vRecur(rule))
        _alarms(e, [clinic.settings.reminder_home])
        cal.add_component(e)
    cal.add_missing_timezones()
    return cal


def patient_calendar(clinic: Clinic, record_id: str, *, today: dt.date | None = None,
                     horizon_months: int = 12) -> bytes:
    """The patient's schedule as an ``text/calendar`` document (the export is audited). ``horizon_months``: 1 to
    :data:`MAX_HORIZON_MONTHS` (else :class:`InputError`)."""
    day = today or clinic.today()
    max_months = min(MAX_HORIZON_MONTHS, 12 * (dt.date.max.year - 1 - day.year))
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int) or not 1 <= horizon_months <= max_months:
        raise InputError("horizon_months", horizon_months, f"a whole number of months from 1 to {max_months}")
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        data = build_calendar(clinic, s, p, today=day, horizon_months=horizon_months).to_ical()
        pid = p.id
    with clinic.db.write() as s:
        audit(s, actor=clinic.actor, action="export", entity="calendar", entity_id=record_id, patient_id=pid)
    return bytes(data)


def calendar_for_token(clinic: Clinic, token: str, *, today: dt.date | None = None) -> bytes:
    """The feed behind a patient's unguessable calendar URL."""
    with clinic.db.read() as s:
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.calendar_token == token))
    if rid is None:
        raise NotFound("calendar", "token")
    return patient_calendar(clinic.as_actor(f"calendar-feed:{rid}"), str(rid), today=today)


def calendar_token(clinic: Clinic, record_id: str, *, rotate: bool = False) -> str:
    """The patient's calendar feed token; ``rotate=True`` issues a new one (the old URL stops working)."""
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        if rotate:
            p.calendar_token = new_calendar_token()
            audit(s, actor=clinic.actor, action="update", entity="calendar_token", entity_id=record_id,
                  patient_id=p.id)
        return p.calendar_token
