"""iCalendar (RFC 5545) export of a patient's schedule, with reminders (VALARM).

Privacy (codes.md 6): calendars leave the clinical system and event titles show on lock screens, so no
diagnosis and no drug name appears anywhere in the feed: titles are "Clinic appointment", "Blood test",
"Medicine reminder" or, for an item past its date, "Overdue - please contact the clinic", and there are no
descriptions beyond that. The texts are in the patient's language (``lang``: en or vi, the web's translation
catalogue).

Overdue (codes.md 6 reminders): an open item past its due date (or its booked day) is shown on the export day,
all day, with that title, and its reminder is one alarm at an absolute time after the export: the next
``OSTEOCARE_HOME_DOSE_TIME`` (the clinic's reminder time of day) after it - the clinic's usual alarms (days before
the date) would all lie before the export and never fire.

Dates (codes.md 6): a clinic dose is one VEVENT per date, each computed from the last dose actually given
(never an RRULE, which would skip the 29th-31st of short months). Home pills on a weekly day, or monthly on
day 1-28, use an RRULE; a monthly day after the 28th is published as explicit dates. Every recurrence ends
(UNTIL, UTC) at the course's end or the export horizon.

UIDs are stable across re-exports, so a calendar app updates an event instead of adding a copy: a clinic dose
is ``course-<course>-dose-<n>`` whether it is still a projection or already the open appointment, and an
explicit home-dose date is keyed by its date, not by its position in the export (which moves with "today").

Changes reach calendars that imported the file once, not only those subscribed to the feed (RFC 5545 3.8.7.4,
RFC 5546 PUBLISH): an app keeps the copy it has unless the new one has a higher SEQUENCE. Every event's
SEQUENCE is the time of its last change, in seconds since :data:`SEQUENCE_EPOCH`, derived from stored data, so
it stays the same from one export to the next while nothing changes and grows whenever the event does: an
item's ``updated_at`` (set by every change of the row: booked, moved, cancelled); for a projected dose, its
anchor appointment's; for an overdue item shown on the export day, or doses projected from that day, the start
of that day (the day they moved to); for a recurring home reminder, whose first date and UNTIL follow the
export day, the start of the export day. Items cancelled, and home courses stopped, within the horizon before
the export day (what an imported copy can still hold in the future) are exported again with their UID,
STATUS:CANCELLED and a SEQUENCE above any they had (so an imported copy drops them); a cancelled appointment
takes the projected doses that hung on it with it. An item done before its date (an annual review seen early, a
follow-up DXA answered by an earlier scan) is exported as cancelled in the same way, so an imported copy does not
keep a future appointment that will not take place; other items done are left out (a done appointment is in the
past, or the patient was there). The horizon is bounded (:data:`MAX_HORIZON_MONTHS`) so the document stays
small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from icalendar import Alarm, Calendar, Event, vRecur
from icalendar.prop import vDuration
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.errors import InputError
from ..core.schedule import add_months, dose_dates_between, planned_due_dates
from ..core.text import without_controls
from ..store import models as m
from ..store.audit import audit
from ..store.records import new_calendar_token
from ._common import patient_row
from .context import Clinic
from .drugs import regimen
from .errors import NotFound

PRODID = "-//OsteoCare//Clinic schedule//EN"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: The feed's texts (English msgids of the web's translation catalogue; no drug name, no diagnosis).
TITLES = {"dose": "Clinic appointment", "dxa": "Clinic appointment", "review": "Clinic appointment",
          "lab": "Blood test"}
HOME_TITLE = "Medicine reminder"
CALENDAR_NAME = "Clinic schedule"
ALARM_TEXT = "Reminder"
OVERDUE_TITLE = "Overdue - please contact the clinic"
LANGS = ("en", "vi")


class _Texts:
    """The feed's fixed texts in one language (the web's gettext catalogue, ``web/translations``)."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise InputError("lang", lang, "one of " + ", ".join(LANGS))
        from ..web.i18n import translations  # the catalogue lives with the web's other texts

        t = translations(lang)
        self.title = {k: t.gettext(v) for k, v in TITLES.items()}
        self.home, self.name, self.alarm, self.overdue = (t.gettext(x) for x in (HOME_TITLE, CALENDAR_NAME,
                                                                                 ALARM_TEXT, OVERDUE_TITLE))
APPOINTMENT_LENGTH = dt.timedelta(hours=1)  # calendar block only (not a clinical fact)
#: Longest export horizon: bounds the size of the document (one event per month for a day-31 pill). An export
#: size limit, not a clinical fact.
MAX_HORIZON_MONTHS = 120
#: Zero of the SEQUENCE numbers (seconds since then): any fixed instant before the first export would do.
SEQUENCE_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
HOST = "osteocare.invalid"
def _text(value: str) -> str:
    """A TEXT value without the control characters RFC 5545 3.3.11 forbids (tab stays; line breaks are escaped as
    ``\n`` later)."""
    return without_controls(value)


def _alarms(event: Event, triggers: tuple[str, ...] | list[str], text: str = ALARM_TEXT) -> None:
    for trig in triggers:
        a = Alarm()
        a.add("action", "DISPLAY")
        a.add("description", text)
        a.add("trigger", vDuration.from_ical(trig))  # type: ignore[no-untyped-call]
        event.add_component(a)


def _alarm_at(event: Event, at: dt.datetime, text: str) -> None:
    """One alarm at an absolute time (TRIGGER;VALUE=DATE-TIME, UTC)."""
    a = Alarm()
    a.add("action", "DISPLAY")
    a.add("description", text)
    a.add("trigger", at.astimezone(dt.UTC), parameters={"VALUE": "DATE-TIME"})  # RFC 5545 3.8.6.3
    event.add_component(a)


def overdue_alarm_time(export: dt.datetime, at: dt.time) -> dt.datetime:
    """When an overdue item's reminder fires: the first ``at`` (local wall time, ``export``'s zone) after the
    export instant ``export`` - today if that time is still to come, else tomorrow."""
    zone = export.tzinfo
    first = dt.datetime.combine(export.date(), at, tzinfo=zone)
    return first if first > export else dt.datetime.combine(export.date() + dt.timedelta(days=1), at, tzinfo=zone)


def _event(uid: str, summary: str, stamp: dt.datetime, changed: dt.datetime) -> Event:
    e = Event()
    e.add("uid", uid)
    e.add("dtstamp", stamp)
    e.add("sequence", sequence(changed))
    e.add("summary", summary)
    e.add("transp", "OPAQUE")
    return e


def sequence(changed: dt.datetime) -> int:
    """RFC 5545 SEQUENCE of an event last changed at ``changed``: whole seconds since :data:`SEQUENCE_EPOCH`
    (an INTEGER, at most 2**31 - 1, reached in 2088)."""
    seconds = int((changed.astimezone(dt.UTC) - SEQUENCE_EPOCH).total_seconds())
    return max(0, min(seconds, 2**31 - 1))


def _cancelled(e: Event) -> Event:
    e.add("status", "CANCELLED")
    e["transp"] = "TRANSPARENT"
    return e


def _all_day(e: Event, day: dt.date) -> None:
    e.add("dtstart", day)
    e.add("dtend", day + dt.timedelta(days=1))


class _Feed:
    """The events of one export by UID: a live event wins over a cancelled one with the same UID (a cancelled
    extra appointment whose dose number is still projected), and between two cancelled ones the later."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[bool, dt.datetime, Event]] = {}

    def add(self, uid: str, e: Event, changed: dt.datetime, *, live: bool = True) -> None:
        old = self.events.get(uid)
        if old is None or (live and not old[0]) or (live == old[0] and changed > old[1]):
            self.events[uid] = (live, changed, e)


def build_calendar(clinic: Clinic, session: Session, patient: m.Patient, *, today: dt.date,
                   horizon_months: int = 12, lang: str = "en") -> Calendar:
    """The patient's calendar in ``lang`` (en, vi): open clinic items, projected clinic doses and home-dose
    reminders, and what was cancelled (or done before its date) within the horizon before ``today``
    (STATUS:CANCELLED)."""
    tx = _Texts(lang)
    zone = clinic.settings.zone
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    horizon = add_months(today, horizon_months)
    day_start = dt.datetime.combine(today, dt.time(), tzinfo=zone)  # when "today"-based dates last moved
    since = dt.datetime.combine(add_months(today, -horizon_months), dt.time(), tzinfo=zone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", tx.name)
    # The export instant: now, or the start of ``today`` for an export made for another day (as of a date).
    now_local = stamp.astimezone(zone)
    export_at = now_local if now_local.date() == today else day_start
    alarm_at = overdue_alarm_time(export_at, clinic.settings.home_dose_time)
    feed = _Feed()
    items = list(session.scalars(
        select(m.ScheduleItem).where(m.ScheduleItem.patient_id == patient.id, m.ScheduleItem.status == "open")
        .order_by(m.ScheduleItem.due_on, m.ScheduleItem.id)))
    courses = {c.id: c for c in patient.courses}

    def projected(it: m.ScheduleItem, course: m.TreatmentCourse, from_day: dt.date,
                  until: dt.date) -> Iterator[tuple[str, dt.date]]:
        """The clinic doses after ``it`` (UID, day) if each is given on time from ``from_day``."""
        reg = regimen(course.drug)
        if reg.interval is None:
            return
        left = None if reg.max_doses is None else reg.max_doses - len(course.doses) - 1
        for k, day in enumerate(planned_due_dates(from_day, reg.interval, 24), start=1):
            if day > until or (left is not None and k > left):
                break
            yield _uid(f"course-{course.id}-dose-{(it.seq or 0) + k}"), day

    for it in items:
        if it.due_on > horizon and it.scheduled_at is None:
            continue
        changed = _changed(it)
        booked = it.scheduled_at.astimezone(zone).date() if it.scheduled_at is not None else None
        if (it.due_on < today if booked is None else booked < today):
            # overdue: shown on the export day, all day (it moves every day), with one alarm after the export
            # (it moves when the previous alarm time has passed)
            changed = max(changed, day_start, alarm_at - dt.timedelta(days=1))
            e = _event(_item_uid(it), tx.overdue, stamp, changed)
            _all_day(e, today)
            _alarm_at(e, alarm_at, tx.overdue)
        else:
            e = _event(_item_uid(it), tx.title[it.kind], stamp, changed)
            _item_time(e, it, zone, max(it.due_on, today))
            _alarms(e, clinic.settings.reminder_clinic, tx.alarm)
        feed.add(_item_uid(it), e, changed)
        course = courses.get(it.course_id) if it.course_id is not None else None
        if it.kind == "dose" and course is not None and course.status == "active":
            # From the day the dose will be given at the earliest: the booked day, or today if that has passed
            # (a missed appointment cannot bring the next doses forward).
            planned = it.scheduled_at.astimezone(zone).date() if it.scheduled_at is not None else it.due_on
            base = max(planned, today)
            moved = max(_changed(it), day_start) if planned < today else _changed(it)
            for uid, day in projected(it, course, base, horizon):
                pe = _event(uid, tx.title["dose"], stamp, moved)
                _all_day(pe, day)
                _alarms(pe, clinic.settings.reminder_clinic, tx.alarm)
                feed.add(uid, pe, moved)
    for it in session.scalars(
            select(m.ScheduleItem).where(m.ScheduleItem.patient_id == patient.id,
                                         m.ScheduleItem.status.in_(("cancelled", "done")),
                                         m.ScheduleItem.closed_at >= since)
            .order_by(m.ScheduleItem.closed_at, m.ScheduleItem.id)):
        # Above any SEQUENCE it had while open (those are at most its last change, rounded down).
        gone = max(_changed(it), it.closed_at or _changed(it)) + dt.timedelta(seconds=1)
        closed_day = (it.closed_at or _changed(it)).astimezone(zone).date()
        shown = max(it.due_on, closed_day)
        if it.status == "done":  # only one done before its date, still ahead: an imported copy shows it there
            shown = it.scheduled_at.astimezone(zone).date() if it.scheduled_at is not None else it.due_on
            if shown <= today:
                continue
        e = _cancelled(_event(_item_uid(it), tx.title[it.kind], stamp, gone))
        _item_time(e, it, zone, shown)
        feed.add(_item_uid(it), e, gone, live=False)
        course = courses.get(it.course_id) if it.course_id is not None else None
        if it.kind == "dose" and course is not None:
            planned = it.scheduled_at.astimezone(zone).date() if it.scheduled_at is not None else it.due_on
            base = max(planned, closed_day)
            for uid, day in projected(it, course, base, add_months(closed_day, horizon_months)):
                pe = _cancelled(_event(uid, tx.title["dose"], stamp, gone))
                _all_day(pe, day)
                feed.add(uid, pe, gone, live=False)
    for c in patient.courses:
        if c.setting != "home":
            continue
        reg = regimen(c.drug)
        if reg.interval is None:
            continue
        if c.status != "active":
            _stopped_home_course(clinic, session, feed, c, stamp=stamp, today=today, since=since,
                                 horizon_months=horizon_months, title=tx.home)
            continue
        first = max(c.start_date, today)
        end = horizon
        end_changed = c.created_at
        for it in items:
            if it.course_id == c.id and it.rule_id == "ANAB-COURSE-END":
                end = min(end, it.due_on)
                end_changed = max(end_changed, _changed(it))
        if end < first:
            continue
        at = clinic.settings.home_dose_time
        until = dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=zone).astimezone(dt.UTC)
        uid = _uid(f"course-{c.id}-home")
        iv = reg.interval
        weekly = (iv.unit == "day" and iv.count % 7 == 0) or iv.unit == "week"
        if iv.unit in ("month", "year") and (c.anchor_day or c.start_date.day) > 28:
            for day in dose_dates_between(c.start_date, end, iv, anchor=c.anchor_day or c.start_date.day,
                                          on_or_after=first):
                duid = _uid(f"course-{c.id}-home-{day:%Y%m%d}")
                e = _event(duid, tx.home, stamp, c.created_at)
                e.add("dtstart", dt.datetime.combine(day, at, tzinfo=zone))
                e.add("duration", dt.timedelta(minutes=15))
                _alarms(e, [clinic.settings.reminder_home], tx.alarm)
                feed.add(duid, e, c.created_at)
            continue
        # Its first date and UNTIL (at the horizon) follow the export day.
        changed = max(end_changed, day_start) if (today > c.start_date or end == horizon) else end_changed
        e = _event(uid, tx.home, stamp, changed)
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
        _alarms(e, [clinic.settings.reminder_home], tx.alarm)
        feed.add(uid, e, changed)
    for _live, _when, e in feed.events.values():
        cal.add_component(e)
    cal.add_missing_timezones()
    return cal


def _uid(name: str) -> str:
    return f"{name}@{HOST}"


def _changed(it: m.ScheduleItem) -> dt.datetime:
    """When the item last changed (``updated_at``; a row written outside the models may lack it)."""
    return it.updated_at or it.closed_at or it.created_at


def _item_uid(it: m.ScheduleItem) -> str:
    if it.kind == "dose" and it.course_id is not None and it.seq is not None:
        return _uid(f"course-{it.course_id}-dose-{it.seq}")
    return _uid(f"item-{it.id}")


def _item_time(e: Event, it: m.ScheduleItem, zone: dt.tzinfo, day: dt.date) -> None:
    """The booked time (and place), else the all-day ``day``."""
    if it.scheduled_at is not None:
        start = it.scheduled_at.astimezone(zone)
        e.add("dtstart", start)
        e.add("dtend", start + APPOINTMENT_LENGTH)
        if it.location:
            e.add("location", _text(it.location))
    else:
        _all_day(e, day)


def _stopped_home_course(clinic: Clinic, session: Session, feed: _Feed, c: m.TreatmentCourse, *,
                         stamp: dt.datetime, today: dt.date, since: dt.datetime, horizon_months: int,
                         title: str = HOME_TITLE) -> None:
    """The reminders of a home course stopped since ``since``, as STATUS:CANCELLED (the stop is audited)."""
    stopped = session.scalar(select(func.max(m.AuditEntry.at)).where(
        m.AuditEntry.entity == "course", m.AuditEntry.entity_id == str(c.id), m.AuditEntry.action == "update"))
    if stopped is None or stopped < since:
        return
    zone = clinic.settings.zone
    gone = stopped + dt.timedelta(seconds=1)
    at = clinic.settings.home_dose_time
    stop_day = c.stop_date or stopped.astimezone(zone).date()
    reg = regimen(c.drug)
    iv = reg.interval
    assert iv is not None
    if iv.unit in ("month", "year") and (c.anchor_day or c.start_date.day) > 28:
        last = add_months(stopped.astimezone(zone).date(), horizon_months)
        for day in dose_dates_between(c.start_date, last, iv, anchor=c.anchor_day or c.start_date.day,
                                      on_or_after=max(stop_day, today, c.start_date)):
            uid = _uid(f"course-{c.id}-home-{day:%Y%m%d}")
            e = _cancelled(_event(uid, title, stamp, gone))
            e.add("dtstart", dt.datetime.combine(day, at, tzinfo=zone))
            e.add("duration", dt.timedelta(minutes=15))
            feed.add(uid, e, gone, live=False)
        return
    uid = _uid(f"course-{c.id}-home")  # the whole series: one event, its UID, no RRULE
    e = _cancelled(_event(uid, title, stamp, gone))
    e.add("dtstart", dt.datetime.combine(max(stop_day, c.start_date), at, tzinfo=zone))
    e.add("duration", dt.timedelta(minutes=15))
    feed.add(uid, e, gone, live=False)


def patient_calendar(clinic: Clinic, record_id: str, *, today: dt.date | None = None,
                     horizon_months: int = 12, lang: str = "en") -> bytes:
    """The patient's schedule as an ``text/calendar`` document (the export is audited). ``horizon_months``: 1 to
    :data:`MAX_HORIZON_MONTHS`; ``lang``: the language of its texts, one of :data:`LANGS` (else
    :class:`InputError`)."""
    day = today or clinic.today()
    if lang not in LANGS:
        raise InputError("lang", lang, "one of " + ", ".join(LANGS))
    max_months = min(MAX_HORIZON_MONTHS, 12 * (dt.date.max.year - 1 - day.year))
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int) or not 1 <= horizon_months <= max_months:
        raise InputError("horizon_months", horizon_months, f"a whole number of months from 1 to {max_months}")
    with clinic.db.read() as s:
        p = patient_row(s, record_id)
        data = build_calendar(clinic, s, p, today=day, horizon_months=horizon_months, lang=lang).to_ical()
        pid = p.id
    with clinic.db.write() as s:
        audit(s, actor=clinic.actor, action="export", entity="calendar", entity_id=record_id, patient_id=pid)
    return bytes(data)


def calendar_for_token(clinic: Clinic, token: str, *, today: dt.date | None = None, lang: str = "en") -> bytes:
    """The feed behind a patient's unguessable calendar URL (no web route serves it yet: ``docs/web.md``)."""
    with clinic.db.read() as s:
        rid = s.scalar(select(m.Patient.record_id).where(m.Patient.calendar_token == token))
    if rid is None:
        raise NotFound("calendar", "token")
    return patient_calendar(clinic.as_actor(f"calendar-feed:{rid}"), str(rid), today=today, lang=lang)


def calendar_token(clinic: Clinic, record_id: str, *, rotate: bool = False) -> str:
    """The patient's calendar feed token; ``rotate=True`` issues a new one (the old URL stops working)."""
    with clinic.db.write() as s:
        p = patient_row(s, record_id)
        if rotate:
            p.calendar_token = new_calendar_token()
            audit(s, actor=clinic.actor, action="update", entity="calendar_token", entity_id=record_id,
                  patient_id=p.id)
        return p.calendar_token
