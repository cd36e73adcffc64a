"""When reports are sent: the daily one at 09:00 UTC for the UTC day that ended nine hours before, the weekly
one at 09:00 UTC on Monday for the Monday-to-Sunday week that just ended.

After downtime the missed reports are caught up (at most `MAX_CATCH_UP` days or `MAX_WEEKLY_CATCH_UP`
weeks, the most recent), so a restart never floods a chat with a month of reports. Times are epoch
milliseconds supplied by the caller; nothing here reads the clock or depends on the process's time zone.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta

from core.clock import MS_PER_DAY, MS_PER_HOUR, utc_day_start, utc_week_start
from core.errors import InvalidArgument
from reports.model import ReportPeriod
from reports.periods import parse_date, period_bounds, utc_date

DEFAULT_HOUR_UTC = 9
MAX_CATCH_UP = 7
MAX_WEEKLY_CATCH_UP = 4


def next_daily_run_ms(now_ms: int, hour_utc: int = DEFAULT_HOUR_UTC) -> int:
    """The first `hour_utc`:00 UTC strictly after `now_ms` (at exactly 09:00 the next run is tomorrow's)."""
    _check_hour(hour_utc)
    today_run = utc_day_start(now_ms) + hour_utc * MS_PER_HOUR
    return today_run if today_run > now_ms else today_run + MS_PER_DAY


def latest_due_day(now_ms: int, hour_utc: int = DEFAULT_HOUR_UTC) -> Date:
    """The most recent day whose report is due: yesterday from `hour_utc`:00 UTC on, the day before until then."""
    _check_hour(hour_utc)
    today = utc_date(now_ms)
    sent_time_passed = now_ms >= utc_day_start(now_ms) + hour_utc * MS_PER_HOUR
    return today - timedelta(days=1 if sent_time_passed else 2)


def due_reports(last_sent_date: str | None, now_ms: int, hour_utc: int = DEFAULT_HOUR_UTC) -> list[Date]:
    """Days whose daily report is due and not yet sent, oldest first, at most MAX_CATCH_UP of them.

    `last_sent_date` is the YYYY-MM-DD of the last day reported; None (nothing sent yet) means only the
    latest due day, not a backlog of the whole history.
    """
    return _catch_up(last_sent_date, latest_due_day(now_ms, hour_utc), step_days=1, cap=MAX_CATCH_UP)


def latest_due_week(now_ms: int, hour_utc: int = DEFAULT_HOUR_UTC) -> Date:
    """The Monday of the most recent week whose report is due (it goes out on the next Monday at `hour_utc`)."""
    _check_hour(hour_utc)
    this_monday = utc_week_start(now_ms)
    sent_time_passed = now_ms >= this_monday + hour_utc * MS_PER_HOUR
    return utc_date(this_monday) - timedelta(days=7 if sent_time_passed else 14)


def due_weekly_reports(last_sent_week: str | None, now_ms: int, hour_utc: int = DEFAULT_HOUR_UTC) -> list[Date]:
    """Mondays of the weeks whose report is due and not yet sent, oldest first, at most MAX_WEEKLY_CATCH_UP.

    `last_sent_week` is the YYYY-MM-DD Monday of the last week reported (any day of it is taken as its week).
    """
    last = None
    if last_sent_week is not None:
        last = utc_date(period_bounds("week", parse_date(last_sent_week))[0]).isoformat()
    return _catch_up(last, latest_due_week(now_ms, hour_utc), step_days=7, cap=MAX_WEEKLY_CATCH_UP)


def due_since(period: ReportPeriod, last_sent: str | None, first_day: Date, now_ms: int,
              hour_utc: int = DEFAULT_HOUR_UTC) -> list[Date]:
    """A replay's due reports: first days of every day or week due by `now_ms` and not sent yet, oldest first,
    from the period that holds `first_day` (the data's first day: nothing before it has any data) on.

    Uncapped, unlike `due_reports`: a replay passes its days faster than a person reads them, and each one is a
    report the person asked to see; the notifiers' own pacing spreads them out.
    """
    latest = latest_due_day(now_ms, hour_utc) if period == "day" else latest_due_week(now_ms, hour_utc)
    step = timedelta(days=1 if period == "day" else 7)
    first = utc_date(period_bounds(period, first_day)[0])
    if last_sent is not None:
        first = max(first, utc_date(period_bounds(period, parse_date(last_sent))[0]) + step)
    return [first + step * n for n in range(max(0, (latest - first).days // step.days + 1))]


def _catch_up(last_sent: str | None, latest: Date, *, step_days: int, cap: int) -> list[Date]:
    if last_sent is None:
        return [latest]
    step = timedelta(days=step_days)
    first = parse_date(last_sent) + step
    if first > latest:
        return []
    first = max(first, latest - step * (cap - 1))
    return [first + step * n for n in range((latest - first).days // step_days + 1)]


def _check_hour(hour_utc: int) -> None:
    if not 0 <= hour_utc <= 23:
        raise InvalidArgument(f"report hour {hour_utc} is not an hour of the day (0-23 UTC)", field="hour_utc",
                              value=hour_utc)
