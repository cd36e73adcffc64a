"""The 09:00 UTC schedule and the catch-up after downtime, independent of the process's time zone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import MS_PER_DAY, MS_PER_HOUR
from core.errors import InvalidArgument
from reports.periods import day_start_ms
from reports.schedule import (
    MAX_CATCH_UP,
    MAX_WEEKLY_CATCH_UP,
    due_reports,
    due_since,
    due_weekly_reports,
    latest_due_day,
    latest_due_week,
    next_daily_run_ms,
)
from tests.conftest import REPO_ROOT

NOV_20 = day_start_ms(date(2026, 11, 20))
NINE = 9 * MS_PER_HOUR


def test_next_run_from_just_before_and_just_after_nine() -> None:
    assert next_daily_run_ms(NOV_20 + NINE - 1) == NOV_20 + NINE
    assert next_daily_run_ms(NOV_20 + NINE) == NOV_20 + MS_PER_DAY + NINE
    assert next_daily_run_ms(NOV_20 + NINE + 1) == NOV_20 + MS_PER_DAY + NINE


def test_next_run_across_midnight_and_month_and_year_ends() -> None:
    assert next_daily_run_ms(NOV_20 - 1) == NOV_20 + NINE  # 23:59:59.999 the day before
    assert next_daily_run_ms(NOV_20 + 23 * MS_PER_HOUR) == NOV_20 + MS_PER_DAY + NINE
    new_year = day_start_ms(date(2027, 1, 1))
    assert next_daily_run_ms(new_year - MS_PER_HOUR) == new_year + NINE
    assert next_daily_run_ms(NOV_20, hour_utc=0) == NOV_20 + MS_PER_DAY


@given(st.integers(min_value=0, max_value=4_102_444_800_000), st.integers(min_value=0, max_value=23))
def test_next_run_is_the_first_such_hour_after_now(now_ms: int, hour: int) -> None:
    run = next_daily_run_ms(now_ms, hour)
    assert now_ms < run <= now_ms + MS_PER_DAY
    assert run % MS_PER_DAY == hour * MS_PER_HOUR


def test_due_before_and_after_nine() -> None:
    # Before 09:00 on the 20th the 18th is the latest due (the 19th's report goes out at 09:00 on the 20th).
    assert due_reports("2026-11-18", NOV_20 + NINE - 1) == []
    assert due_reports("2026-11-18", NOV_20 + NINE) == [date(2026, 11, 19)]
    assert due_reports("2026-11-19", NOV_20 + NINE + 5) == []


def test_catch_up_after_three_days_down() -> None:
    # Last report sent on the 16th at 09:00 (for the 15th); the process was down until the 19th at 10:00.
    now = day_start_ms(date(2026, 11, 19)) + 10 * MS_PER_HOUR
    assert due_reports("2026-11-15", now) == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]


def test_catch_up_is_capped_to_the_most_recent_days() -> None:
    due = due_reports("2026-10-01", NOV_20 + NINE)
    assert len(due) == MAX_CATCH_UP and due[-1] == date(2026, 11, 19) and due[0] == date(2026, 11, 13)


def test_first_run_sends_only_the_latest_day() -> None:
    assert due_reports(None, NOV_20 + NINE) == [date(2026, 11, 19)]
    assert latest_due_day(NOV_20 + NINE - 1) == date(2026, 11, 18)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="YYYY-MM-DD"):
        due_reports("yesterday", NOV_20)
    with pytest.raises(InvalidArgument, match="hour"):
        next_daily_run_ms(NOV_20, hour_utc=24)


_PROBE = """
import json
from datetime import date, timedelta
from reports.periods import period_bounds
from reports.schedule import due_reports, next_daily_run_ms
now = {now}
print(json.dumps([next_daily_run_ms(now), [d.isoformat() for d in due_reports("2026-11-15", now)],
                  period_bounds("week", date(2026, 11, 19))]))
"""


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kolkata"])
def test_schedule_does_not_depend_on_the_process_time_zone(zone: str) -> None:
    now = day_start_ms(date(2026, 11, 19)) + 10 * MS_PER_HOUR
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(now=now)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "TZ": zone, "PYTHONPATH": str(REPO_ROOT)}, check=True,
    )
    run, due, week = json.loads(result.stdout)
    assert run == day_start_ms(date(2026, 11, 20)) + NINE
    assert due == ["2026-11-16", "2026-11-17", "2026-11-18"]
    monday = day_start_ms(date(2026, 11, 16))
    assert week == [monday, monday + 7 * MS_PER_DAY]


def test_weekly_report_is_due_on_monday_at_nine_for_the_week_before() -> None:
    monday = day_start_ms(date(2026, 11, 23))
    assert latest_due_week(monday + NINE - 1) == date(2026, 11, 9)
    assert latest_due_week(monday + NINE) == date(2026, 11, 16)
    assert due_weekly_reports(None, monday + NINE) == [date(2026, 11, 16)]
    assert due_weekly_reports("2026-11-16", monday + NINE) == []
    # A Wednesday given as the last sent week counts as its week.
    assert due_weekly_reports("2026-11-04", monday + NINE) == [date(2026, 11, 9), date(2026, 11, 16)]
    assert len(due_weekly_reports("2026-01-05", monday + NINE)) == MAX_WEEKLY_CATCH_UP


@given(first=st.integers(0, 400), span=st.integers(0, 120), sent=st.none() | st.integers(0, 120))
def test_a_replay_gets_every_day_from_its_data_s_first_on_uncapped_and_never_twice(first: int, span: int,
                                                                                      sent: int | None) -> None:
    first_day = date(2023, 1, 1) + timedelta(days=first)
    now = day_start_ms(first_day + timedelta(days=span))  # the replay just passed midnight
    last = None if sent is None else (first_day + timedelta(days=sent - 1)).isoformat()
    days = due_since("day", last, first_day, now, hour_utc=0)
    start = first_day if sent is None else max(first_day, first_day + timedelta(days=sent))
    assert days == [start + timedelta(days=n) for n in range((first_day + timedelta(days=span) - start).days)]
    weeks = due_since("week", None, first_day, now, hour_utc=0)
    assert all(w.weekday() == 0 and day_start_ms(w) + 7 * MS_PER_DAY <= now for w in weeks)
    assert not weeks or weeks[0] <= first_day < weeks[0] + timedelta(days=7)  # nothing before the data's week
