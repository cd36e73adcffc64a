"""UTC calendar arithmetic for reports: a date to its day or week in epoch milliseconds, and back.

Pure integer arithmetic on epoch milliseconds (with `core.clock`'s day and week starts), so the process's
TZ setting can never shift a report by a few hours.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta

from core.clock import MS_PER_DAY, MS_PER_WEEK, utc_week_start
from core.errors import InvalidArgument
from reports.model import ReportPeriod

_EPOCH_DAY = Date(1970, 1, 1)


def day_start_ms(day: Date) -> int:
    """00:00 UTC of `day`, in ms since the epoch."""
    return (day - _EPOCH_DAY).days * MS_PER_DAY


def utc_date(ms: int) -> Date:
    """The UTC calendar date containing `ms`."""
    return _EPOCH_DAY + timedelta(days=ms // MS_PER_DAY)


def period_bounds(period: ReportPeriod, day: Date) -> tuple[int, int]:
    """[start_ms, end_ms) of the UTC day, or of the Monday-based UTC week, that contains `day`."""
    start = day_start_ms(day)
    if period == "day":
        return start, start + MS_PER_DAY
    if period == "week":
        week = utc_week_start(start)
        return week, week + MS_PER_WEEK
    raise InvalidArgument(f"report period must be 'day' or 'week', not {period!r}", field="period", value=period)


def latest_complete(period: ReportPeriod, clock_ms: int) -> Date:
    """The first day of the latest UTC day or week that ended at or before `clock_ms`."""
    current_start, _ = period_bounds(period, utc_date(clock_ms))
    previous_start, _ = period_bounds(period, utc_date(current_start - 1))
    return utc_date(previous_start)


def parse_date(text: str) -> Date:
    """A YYYY-MM-DD date, or InvalidArgument naming the bad value."""
    try:
        return Date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidArgument(f"date {text!r} is not a YYYY-MM-DD date", field="date", value=text) from None
