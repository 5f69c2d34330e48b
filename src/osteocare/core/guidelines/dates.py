"""Calendar arithmetic for the treatment rules (intervals in months are calendar months, codes.md §6)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; a day past the end of the month becomes its last day."""
    total = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def add_years(day: dt.date, years: float) -> dt.date:
    """``day`` plus ``years`` (whole or fractional years as calendar months, rounded down)."""
    return add_months(day, int(years * 12))


def whole_months_between(start: dt.date, end: dt.date) -> int:
    """Completed calendar months from ``start`` to ``end`` (0 if ``end`` is before ``start``)."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    return months


def within_months(event: dt.date, as_of: dt.date, months: int) -> bool:
    """True if ``event`` lies on or after ``as_of`` minus ``months`` calendar months (and not after as_of)."""
    return add_months(as_of, -months) <= event <= as_of
