"""One definition of a report period: UTC days and ISO weeks (Monday 00:00 UTC), the same as the breakers'."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.clock import MS_PER_DAY, MS_PER_WEEK, utc_day_start, utc_week_start
from reports.model import ReportPeriod
from reports.periods import day_start_ms, latest_complete, period_bounds, utc_date

DAYS = st.dates(min_value=date(1970, 1, 5), max_value=date(2100, 12, 31))
MOMENTS = st.integers(min_value=day_start_ms(date(1970, 1, 12)), max_value=day_start_ms(date(2100, 12, 31)))


@given(DAYS)
def test_a_week_is_the_iso_week_the_breakers_use(day: date) -> None:
    start, end = period_bounds("week", day)
    monday = day - timedelta(days=day.isocalendar().weekday - 1)
    assert utc_date(start) == monday and end - start == MS_PER_WEEK
    assert datetime.fromtimestamp(start / 1000, tz=UTC).isoweekday() == 1
    assert start == utc_week_start(day_start_ms(day) + MS_PER_DAY - 1)  # the breakers' week of any moment of it


@given(MOMENTS, st.sampled_from(["day", "week"]))
def test_the_latest_complete_period_ended_by_the_clock_and_the_next_did_not(clock_ms: int,
                                                                           period: ReportPeriod) -> None:
    start, end = period_bounds(period, latest_complete(period, clock_ms))
    assert end <= clock_ms < end + (end - start)
    assert start == (utc_day_start(start) if period == "day" else utc_week_start(start))
