"""Calendar arithmetic for the treatment rules (intervals in months are calendar months, codes.md §6)."""

from __future__ import annotations

import datetime as dt

from ..schedule import add_months  # the one implementation (month-end clamping)

__all__ = ["add_months", "add_years", "whole_months_between", "within_months"]


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
