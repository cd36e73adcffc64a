"""Time, injected. The core never reads the wall clock: every function takes `now_ms` from the caller.

Day and week boundaries are UTC (weeks start Monday 00:00 UTC, as Binance's weekly candles do).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
MS_PER_WEEK = 7 * MS_PER_DAY
# 1970-01-01 was a Thursday; Monday 1970-01-05 00:00 UTC is the first week boundary after the epoch.
_FIRST_MONDAY_MS = 4 * MS_PER_DAY


class Clock(Protocol):
    def now_ms(self) -> int: ...


def utc_day_start(ms: int) -> int:
    return ms - ms % MS_PER_DAY


def utc_week_start(ms: int) -> int:
    return ms - (ms - _FIRST_MONDAY_MS) % MS_PER_WEEK


def utc_text(ms: int) -> str:
    """A timestamp as people read it in reasons and alerts, e.g. "2021-05-19 13:05 UTC". Formatting only."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
