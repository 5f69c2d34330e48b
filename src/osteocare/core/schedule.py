"""Dose-schedule date arithmetic: pure, no I/O, no clinical numbers (intervals come from the drug files).

Rules (codes.md 6, treatment.md 0):

* Intervals in months are **calendar months**. A day that does not exist in the target month becomes that
  month's last day: 31 Aug + 6 months = 28 Feb (29 Feb in a leap year); 29 Feb + 12 months = 28 Feb.
* The next dose of a clinic-given drug is due one interval after the **last dose actually given**, not after
  the planned date ("every 6 months from the date of that injection"). A late dose moves every later date.
* Each due date is computed from the previous one, never by an RFC 5545 ``RRULE`` (which *skips* months
  without the day, turning a 6-monthly denosumab dose on 31 Aug into a 12-month gap).
* Home pills on a fixed day (weekly on the patient's weekday, monthly on the same date each month) use an
  anchor; a monthly anchor past the month's end falls on its last day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

IntervalUnit = Literal["day", "week", "month", "year"]
Timeliness = Literal["not_yet_due", "due", "overdue", "urgent"]

__all__ = [
    "Interval",
    "IntervalUnit",
    "Timeliness",
    "add_interval",
    "add_months",
    "days_covered",
    "days_late",
    "dose_dates_between",
    "monthly_on",
    "next_due",
    "planned_due_dates",
    "timeliness",
    "weekly_on",
]


@dataclass(frozen=True)
class Interval:
    """A dosing interval: ``count`` days, weeks, calendar months or calendar years."""

    count: int
    unit: IntervalUnit

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise ValueError(f"interval count must be a whole number, got {self.count!r}")
        if self.count < 1:
            raise ValueError(f"interval count must be >= 1, got {self.count}")
        if self.unit not in ("day", "week", "month", "year"):
            raise ValueError(f"interval unit must be day, week, month or year, got {self.unit!r}")

    @property
    def is_monthly(self) -> bool:
        """True for calendar-month based intervals (months or years)."""
        return self.unit in ("month", "year")

    def __str__(self) -> str:
        plural = "" if self.count == 1 else "s"
        return f"every {self.count} {self.unit}{plural}" if self.count != 1 else f"every {self.unit}"


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the last day of the target month."""
    total = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def add_interval(day: dt.date, interval: Interval, times: int = 1) -> dt.date:
    """``day`` plus ``times`` intervals, computed in one step from ``day`` (no clamping drift)."""
    n = interval.count * times
    if interval.unit == "day":
        return day + dt.timedelta(days=n)
    if interval.unit == "week":
        return day + dt.timedelta(weeks=n)
    if interval.unit == "month":
        return add_months(day, n)
    return add_months(day, 12 * n)


def next_due(last_given: dt.date, interval: Interval) -> dt.date:
    """When the next dose is due: one interval after the last dose actually given."""
    return add_interval(last_given, interval)


def planned_due_dates(last_given: dt.date, interval: Interval, count: int) -> list[dt.date]:
    """The next ``count`` due dates if every future dose is given on its due date.

    Each date is one interval after the previous *date* (each dose resets the clock), so month-end clamping
    carries forward: 31 Aug -> 28 Feb -> 28 Aug, exactly as the doses would fall if given on time.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    out: list[dt.date] = []
    day = last_given
    for _ in range(count):
        day = add_interval(day, interval)
        out.append(day)
    return out


def weekly_on(weekday: int, on_or_after: dt.date) -> dt.date:
    """The first date on or after ``on_or_after`` that falls on ``weekday`` (0 = Monday ... 6 = Sunday)."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
    return on_or_after + dt.timedelta(days=(weekday - on_or_after.weekday()) % 7)


def monthly_on(day_of_month: int, on_or_after: dt.date) -> dt.date:
    """The first "same date each month" on or after ``on_or_after``; day 29-31 falls on a short month's last day."""
    if not 1 <= day_of_month <= 31:
        raise ValueError(f"day of month must be 1 to 31, got {day_of_month}")
    for k in range(2):
        first = add_months(on_or_after.replace(day=1), k)
        last = calendar.monthrange(first.year, first.month)[1]
        candidate = first.replace(day=min(day_of_month, last))
        if candidate >= on_or_after:
            return candidate
    raise AssertionError("unreachable: the next month always has a candidate")  # pragma: no cover


def dose_dates_between(
    start: dt.date, end: dt.date, interval: Interval, *, anchor: int | None = None,
    on_or_after: dt.date | None = None,
) -> Iterator[dt.date]:
    """Home-dose dates of a course that started on ``start``, up to ``end`` inclusive, on a fixed anchor.

    Weekly (7-day or 1-week) intervals fall on weekday ``anchor`` (default: ``start``'s weekday); monthly
    intervals on day-of-month ``anchor`` (default: ``start``'s day), clamped to short months; daily intervals
    every ``count`` days from ``start``.

    ``on_or_after`` drops the dates before it **without moving the rhythm**: an every-2-weeks or every-3-months
    course keeps the phase set by ``start`` (the dates are those of the whole course from ``start``, only the
    earlier ones are skipped), and the skip is arithmetic, so a course that started decades ago costs nothing.
    """
    if end < start:
        return
    lo = start if on_or_after is None else max(start, on_or_after)
    if interval.unit in ("day", "week"):
        days = interval.count * (7 if interval.unit == "week" else 1)
        if days % 7 == 0:
            day = weekly_on(start.weekday() if anchor is None else anchor, start)
        else:
            day = start
        if day < lo:
            day += dt.timedelta(days=-(-(lo - day).days // days) * days)
        while day <= end:
            yield day
            day += dt.timedelta(days=days)
        return
    months = interval.count * (12 if interval.unit == "year" else 1)
    dom = start.day if anchor is None else anchor
    first = monthly_on(dom, start)
    k = 0
    if first < lo:
        k = max(0, ((lo.year - first.year) * 12 + (lo.month - first.month)) // months - 1)
    while True:
        base = add_months(first.replace(day=1), k * months)
        last = calendar.monthrange(base.year, base.month)[1]
        day = base.replace(day=min(dom, last))
        if day > end:
            return
        if day >= lo:
            yield day
        k += 1


def days_late(due: dt.date, today: dt.date) -> int:
    """Whole days past the due date (0 if not past)."""
    return max(0, (today - due).days)


def timeliness(due: dt.date, today: dt.date, *, urgent_after_days: int | None = None) -> Timeliness:
    """Where a dose stands on ``today``.

    ``due`` on the due date; ``overdue`` after it; ``urgent`` from ``due + urgent_after_days`` on (inclusive),
    where the drug's knowledge file sets such a threshold (e.g. denosumab, DMAB-LATE). Without a threshold a
    late dose is ``overdue``, never ``urgent``.
    """
    if today < due:
        return "not_yet_due"
    if today == due:
        return "due"
    if urgent_after_days is not None and today >= due + dt.timedelta(days=urgent_after_days):
        return "urgent"
    return "overdue"


def days_covered(periods: Iterable[tuple[dt.date, dt.date]]) -> int:
    """Number of distinct days covered by inclusive ``(first, last)`` periods (overlaps counted once)."""
    spans = sorted((a, b) for a, b in periods if b >= a)
    total = 0
    cur_start: dt.date | None = None
    cur_end: dt.date | None = None
    for a, b in spans:
        if cur_end is None or cur_start is None or a > cur_end + dt.timedelta(days=1):
            if cur_end is not None and cur_start is not None:
                total += (cur_end - cur_start).days + 1
            cur_start, cur_end = a, b
        elif b > cur_end:
            cur_end = b
    if cur_end is not None and cur_start is not None:
        total += (cur_end - cur_start).days + 1
    return total
