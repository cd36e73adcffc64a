"""The pace of one destination: Telegram's one message a second per chat and 20 a minute per group."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.pacing import TELEGRAM_GROUP_PER_MINUTE, ChatPaces, Pacing, discord_pace, telegram_pace


def _send_as_fast_as_allowed(pace: Pacing, count: int) -> list[float]:
    """The times `count` messages go out when each is sent the moment the pace allows it."""
    now, times = 0.0, []
    for _ in range(count):
        now += pace.wait_s(now)
        pace.note(now)
        times.append(now)
    return times


def test_a_private_chat_gets_one_message_a_second_and_no_minute_cap() -> None:
    times = _send_as_fast_as_allowed(telegram_pace("42", ChatPaces()), 30)
    assert times == [float(i) for i in range(30)]


def test_a_group_gets_at_most_20_messages_in_any_minute() -> None:
    times = _send_as_fast_as_allowed(telegram_pace("-100123456", ChatPaces()), 45)
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert times[TELEGRAM_GROUP_PER_MINUTE] == 60.0, "the 21st waits for the first to leave the minute"
    for i in range(len(times) - TELEGRAM_GROUP_PER_MINUTE):
        assert times[i + TELEGRAM_GROUP_PER_MINUTE] - times[i] >= 60.0


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(min_value=0, max_value=90, allow_nan=False), min_size=1, max_size=80))
def test_a_group_pace_never_allows_21_in_a_minute_whatever_the_arrivals(gaps: list[float]) -> None:
    pace = telegram_pace("-42", ChatPaces())
    now, times = 0.0, []
    for gap in gaps:
        now += gap
        now += pace.wait_s(now)
        pace.note(now)
        times.append(now)
    for i in range(len(times) - TELEGRAM_GROUP_PER_MINUTE):
        assert times[i + TELEGRAM_GROUP_PER_MINUTE] - times[i] >= 60.0 - 1e-9
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))


def test_nothing_waits_after_a_quiet_spell() -> None:
    pace = telegram_pace("-42", ChatPaces())
    _send_as_fast_as_allowed(pace, 20)
    assert pace.wait_s(1000.0) == 0.0
    assert discord_pace().wait_s(0.0) == 0.0
