"""One test per bug class of the original crypto-executor, each named for the bug it would have caught."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_WEEK
from core.config import ExecutorConfig, RiskConfig
from core.risk import BreakerLevel, BreakerState, evaluate_entry, trailing_stop, update_breakers
from core.types import DecisionAction, RuleId
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal

CONFIG = ExecutorConfig()
RISK = CONFIG.risk
RULES = btc_rules()
H = MS_PER_HOUR
D = Decimal


def test_bug_kill_switch_unreachable_because_a_lesser_level_was_checked_first() -> None:
    # Already in a daily pause and a drawdown pause: a lesser level is in force when the kill threshold is crossed.
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, _ = update_breakers(state, 9_250.0, MONDAY_MS + H, RISK, equity_before=10_000.0)
    assert state.level(MONDAY_MS + H) is BreakerLevel.DRAWDOWN_PAUSE
    state, events = update_breakers(state, 8_950.0, MONDAY_MS + 2 * H, RISK, equity_before=9_250.0)
    assert state.level(MONDAY_MS + 2 * H) is BreakerLevel.KILLED
    assert [e.breaker for e in events] == ["drawdown_kill"]
    # And straight from NORMAL in one step.
    fresh, events = update_breakers(BreakerState.initial(10_000.0, MONDAY_MS), 5_000.0, MONDAY_MS + H, RISK,
                                    equity_before=10_000.0)
    assert fresh.level(MONDAY_MS + H) is BreakerLevel.KILLED and events[0].breaker == "drawdown_kill"


def test_bug_breaker_spins_tripping_every_call_without_pausing() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    trips = 0
    for i in range(1, 121):  # two hours of one-minute updates deep in a daily breach
        now = MONDAY_MS + H + i * 60_000
        state, events = update_breakers(state, 9_700.0, now, RISK, equity_before=10_000.0 if i == 1 else 9_700.0)
        trips += sum(e.transition == "tripped" for e in events)
        if now < MONDAY_MS + H + 60_000 + 2 * H:
            assert state.entries_allowed(now)[0] is False  # it pauses...
    assert trips == 1  # ...and trips once


def test_bug_size_multiplier_never_reset_at_the_new_week() -> None:
    state, _ = update_breakers(BreakerState.initial(10_000.0, MONDAY_MS), 9_400.0, MONDAY_MS + H,
                               RiskConfig(daily_loss_limit_pct=10.0), equity_before=10_000.0)
    assert state.size_multiplier(MONDAY_MS + H) == 0.5
    next_week = MONDAY_MS + MS_PER_WEEK + H
    reduced = evaluate_entry(signal(time_ms=MONDAY_MS + H), context("9400", breakers=state), RULES, CONFIG,
                             MONDAY_MS + H)
    full = evaluate_entry(signal(time_ms=next_week), context("9400", breakers=state), RULES, CONFIG, next_week)
    assert full.quote_amount > reduced.quote_amount * D("1.9")
    state, events = update_breakers(state, 9_400.0, next_week, RISK, equity_before=9_400.0)
    assert state.size_multiplier(next_week) == 1.0 and [e.transition for e in events] == ["expired"]


def test_bug_pause_that_refires_forever_on_the_same_breach() -> None:
    config = RiskConfig(daily_loss_limit_pct=10.0, weekly_loss_limit_pct=20.0)
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    events = []
    for i in range(1, 24 * 6):  # six days at a steady 8% drawdown, one update an hour
        state, new = update_breakers(state, 9_200.0, MONDAY_MS + i * H, config,
                                     equity_before=10_000.0 if i == 1 else 9_200.0)
        events.extend(new)
    assert [(e.breaker, e.transition) for e in events] == [("drawdown_pause", "tripped"),
                                                           ("drawdown_pause", "expired")]
    assert state.entries_allowed(MONDAY_MS + 5 * MS_PER_DAY) == (True, None)


def test_bug_sizing_on_total_equity_instead_of_free_balance() -> None:
    # 10 000 of equity but only 50 free (the rest is in positions): the entry must fit the 50, fee included.
    decision = evaluate_entry(signal(), context(equity="10000", free="50", exposure="3000"), RULES, CONFIG,
                              MONDAY_MS)
    assert decision.action is DecisionAction.ENTER
    assert decision.quote_amount * (1 + RISK.fee_rate) <= D("50")
    assert "risk.free_balance" in [c.rule for c in decision.clamps]


def test_bug_max_open_positions_not_enforced() -> None:
    config = ExecutorConfig.model_validate({"risk": {"max_open_positions": 2}})
    full = context(open_symbols=frozenset({"ETHUSDT"}), pending_symbols=frozenset({"SOLUSDT"}))
    decision = evaluate_entry(signal(), full, RULES, config, MONDAY_MS)
    assert decision.action is DecisionAction.SKIP and decision.reasons[-1].rule is RuleId.MAX_OPEN_POSITIONS
    # The code ceiling (20) holds even for a config built around validation.
    loose = ExecutorConfig.model_construct(risk=RiskConfig.model_construct(
        **{**RiskConfig().model_dump(), "max_open_positions": 500}), strategies=CONFIG.strategies)
    twenty = context(open_symbols=frozenset(f"S{i}USDT" for i in range(20)))
    assert evaluate_entry(signal(), twenty, RULES, loose, MONDAY_MS).action is DecisionAction.SKIP


def test_bug_repeated_entries_on_the_same_symbol_while_a_signal_lasts() -> None:
    pending: frozenset[str] = frozenset()
    opened: frozenset[str] = frozenset()
    entries = 0
    for bar in range(10):  # the same signal on ten consecutive bars; the entry fills after two
        now = MONDAY_MS + bar * 300_000
        decision = evaluate_entry(signal(time_ms=now), context(open_symbols=opened, pending_symbols=pending),
                                  RULES, CONFIG, now)
        if decision.action is DecisionAction.ENTER:
            entries += 1
            pending = frozenset({"BTCUSDT"})
        if bar == 2:
            pending, opened = frozenset(), frozenset({"BTCUSDT"})
    assert entries == 1


def test_bug_unreachable_trailing_stop_rungs() -> None:
    entry = D("0.07")
    float_misses = 0
    for rung in range(60):
        threshold = entry * (100 + D("0.1") + rung * D("0.1")) / 100
        float_misses += float(threshold) < 0.07 * (1 + (0.1 + rung * 0.1) / 100)
        assert trailing_stop(entry, D("0.06"), threshold, 0.1, 0.1) == entry * (100 + rung * D("0.1")) / 100
    assert float_misses > 0  # a float ladder misses some of these rungs; the Decimal one reaches every one


@pytest.fixture(params=["Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kathmandu"])
def foreign_local_time(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_bug_local_time_used_for_utc_boundaries(foreign_local_time: str) -> None:
    assert time.localtime(MONDAY_MS / 1000).tm_hour != 0  # this process's local midnight is not UTC midnight
    sunday_night = MONDAY_MS + MS_PER_WEEK - 1  # Sunday 23:59:59.999 UTC
    assert datetime.fromtimestamp(sunday_night / 1000, tz=UTC).strftime("%a %H:%M:%S") == "Sun 23:59:59"
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    # Sunday's reference is 9 850: the equity in force at Sunday 00:00 UTC, whatever the local midnight.
    state, _ = update_breakers(state, 9_850.0, sunday_night - H, RISK, equity_before=9_850.0)
    state, events = update_breakers(state, 9_650.0, sunday_night, RISK, equity_before=9_850.0)  # -2.03%, same day
    assert [e.breaker for e in events] == ["daily_loss"]
    midnight = sunday_night + 1
    state, _ = update_breakers(state, 9_650.0, midnight, RISK, equity_before=9_650.0)
    assert state.day_start_ms == midnight and state.week_start_ms == midnight
    assert state.daily_ref_equity == 9_650.0 and state.week_start_equity == 9_650.0
    # Local midnight in these zones is not a boundary: no roll until the next UTC midnight.
    state, _ = update_breakers(state, 9_640.0, midnight + MS_PER_DAY - 1, RISK, equity_before=9_650.0)
    assert state.day_start_ms == midnight
