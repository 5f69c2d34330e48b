"""Hostile inputs to the pure schedule arithmetic: rhythm kept when skipping ahead, bad intervals, long courses."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osteocare.core.schedule import Interval, dose_dates_between, planned_due_dates

D = dt.date


@pytest.mark.parametrize("count", [1.5, True, "6", None])
def test_an_interval_count_must_be_a_whole_number(count: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        Interval(count, "month")  # type: ignore[arg-type]


def test_skipping_to_today_keeps_the_rhythm_of_an_every_two_weeks_course() -> None:
    # Started on Monday 3 Mar 2025, every 2 weeks: 3 Mar, 17 Mar, 31 Mar ... Asked from 10 Mar, the next is
    # 17 Mar, not 10 Mar (which the old code gave by restarting the rhythm at the day asked).
    dates = list(dose_dates_between(D(2025, 3, 3), D(2025, 4, 30), Interval(14, "day"), on_or_after=D(2025, 3, 10)))
    assert dates == [D(2025, 3, 17), D(2025, 3, 31), D(2025, 4, 14), D(2025, 4, 28)]


def test_skipping_to_today_keeps_the_rhythm_of_an_every_three_months_course_on_the_31st() -> None:
    dates = list(dose_dates_between(D(2025, 1, 31), D(2025, 12, 31), Interval(3, "month"), on_or_after=D(2025, 2, 1)))
    assert dates == [D(2025, 4, 30), D(2025, 7, 31), D(2025, 10, 31)]


def test_a_course_started_long_ago_is_skipped_ahead_at_once() -> None:
    t0 = time.perf_counter()
    dates = list(dose_dates_between(D(1901, 1, 1), D(2025, 3, 9), Interval(1, "day"), on_or_after=D(2025, 3, 3)))
    monthly = list(dose_dates_between(D(1901, 1, 31), D(2025, 6, 30), Interval(1, "month"),
                                      on_or_after=D(2025, 3, 3)))
    assert time.perf_counter() - t0 < 0.05
    assert dates == [D(2025, 3, d) for d in range(3, 10)]
    assert monthly == [D(2025, 3, 31), D(2025, 4, 30), D(2025, 5, 31), D(2025, 6, 30)]


UNITS = st.sampled_from([Interval(1, "day"), Interval(2, "day"), Interval(7, "day"), Interval(14, "day"),
                         Interval(3, "week"), Interval(1, "month"), Interval(3, "month"), Interval(6, "month"),
                         Interval(1, "year")])


@given(start=st.dates(D(2000, 1, 1), D(2030, 12, 31)), skip=st.integers(0, 900), span=st.integers(0, 900),
       interval=UNITS, anchor=st.one_of(st.none(), st.integers(1, 31)))
def test_skipping_ahead_gives_exactly_the_later_dates_of_the_whole_course(
        start: dt.date, skip: int, span: int, interval: Interval, anchor: int | None) -> None:
    if interval.unit in ("day", "week") and anchor is not None:
        anchor = anchor % 7
    lo = start + dt.timedelta(days=skip)
    end = lo + dt.timedelta(days=span)
    whole = [d for d in dose_dates_between(start, end, interval, anchor=anchor) if d >= lo]
    assert list(dose_dates_between(start, end, interval, anchor=anchor, on_or_after=lo)) == whole


def test_six_monthly_doses_from_a_leap_day_stay_on_the_28th_once_clamped() -> None:
    assert planned_due_dates(D(2024, 2, 29), Interval(6, "month"), 3) == [D(2024, 8, 29), D(2025, 2, 28),
                                                                           D(2025, 8, 28)]
