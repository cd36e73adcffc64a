"""The stop plan's money math (breakeven plus both fees, trailing, the 0.5–5 % caps) and the strategy size multiplier
that the risk gate applies (never above ×1.2 of the Kelly × confidence × allocation size, never above a hard cap)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.config import ExecutorConfig
from core.risk.breakers import BreakerState
from core.risk.gate import RiskContext, evaluate_entry, strategy_size_multiplier
from core.risk.sizing import KellyBasis, kelly_sizing
from core.stop_plan import (
    MAX_STOP_DISTANCE_PCT,
    MIN_STOP_DISTANCE_PCT,
    StopPlan,
    breakeven_price,
    capped_distance_pct,
    next_move_price,
    planned_stop,
)
from core.strategies.regime_atr import _pct
from core.types import MAX_SIGNAL_SIZE_MULTIPLIER, DecisionAction, Signal, StrategyName
from exchange.feeds.rules import offline_rules

prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)
fees = st.decimals(min_value=Decimal(0), max_value=Decimal("0.005"), places=5)
distances = st.decimals(min_value=MIN_STOP_DISTANCE_PCT, max_value=MAX_STOP_DISTANCE_PCT, places=2)


@given(fill=prices, fee=fees)
def test_breakeven_gives_back_the_entry_and_both_fees(fill: Decimal, fee: Decimal) -> None:
    stop = breakeven_price(fill, fee)
    # Bought at fill paying fee on it; sold at the stop paying fee on that: nothing is lost.
    assert stop * (1 - fee) >= fill * (1 + fee)
    assert stop >= fill


@given(fill=prices, fee=fees, distance=distances, rises=st.lists(st.decimals(min_value=Decimal(0),
       max_value=Decimal("0.02"), places=4), min_size=1, max_size=40))
def test_the_planned_stop_only_rises_stays_below_the_high_and_reaches_breakeven_then_trails(
        fill: Decimal, fee: Decimal, distance: Decimal, rises: list[Decimal]) -> None:
    plan = StopPlan(trail_distance_pct=distance)
    stop = fill * (1 - Decimal("0.02"))
    high = fill
    for rise in rises:
        high = high * (1 + rise)
        new = planned_stop(plan, fill, fee, high, stop)
        assert new >= stop, "a stop never moves down"
        assert new < high, "the stop stays below the high that moved it"
        if high * 100 >= fill * (100 + plan.breakeven_at_pct):
            assert new * (1 - fee) >= fill * (1 + fee), "past +1.5 % the stop is at least breakeven plus fees"
        if high * 100 >= fill * (100 + plan.trail_at_pct):
            with localcontext(prec=80):  # the exact product: 28 digits could round it above what the plan computed
                trailed = high * (100 - distance) / 100
            assert new >= trailed, "past +2.5 % it trails the high by the plan's distance"
            assert next_move_price(plan, fill, high) > high
        stop = new


@given(value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_every_stop_distance_is_capped_between_half_and_five_percent(value: float) -> None:
    assert MIN_STOP_DISTANCE_PCT <= capped_distance_pct(value) <= MAX_STOP_DISTANCE_PCT
    assert Decimal("0.5") <= _pct(value) <= Decimal("5")  # the regime strategy's initial and trailing distances


@pytest.mark.parametrize("distance", ["0.49", "5.01", "0"])
def test_a_plan_trailing_outside_the_caps_is_refused(distance: str) -> None:
    with pytest.raises(ValidationError):
        StopPlan(trail_distance_pct=Decimal(distance))


def test_a_plan_that_would_trail_before_breakeven_is_refused() -> None:
    with pytest.raises(ValidationError, match="below breakeven_at_pct"):
        StopPlan(trail_distance_pct=Decimal(1), breakeven_at_pct=Decimal(3), trail_at_pct=Decimal(2))


SYMBOL = "AAAUSDT"
NAME = StrategyName("sized")


def _context(equity: Decimal) -> RiskContext:
    return RiskContext(equity=equity, free_quote=equity, exposure=Decimal(0), open_symbols=frozenset(),
                       pending_symbols=frozenset(), breakers=BreakerState.initial(float(equity), 0),
                       strategy_stats={}, paused_symbols={}, data_outages={})


@settings(max_examples=200, deadline=None)
@given(asked=st.floats(min_value=0.0, max_value=MAX_SIGNAL_SIZE_MULTIPLIER),
       confidence=st.floats(min_value=0.01, max_value=1.0),
       allocation=st.floats(min_value=0.01, max_value=1.0),
       max_position=st.floats(min_value=0.5, max_value=25.0),
       equity=st.decimals(min_value=Decimal(500), max_value=Decimal(10_000_000), places=2))
def test_a_size_multiplier_never_lifts_a_size_above_a_cap_or_above_1_2_times_the_kelly_size(
        asked: float, confidence: float, allocation: float, max_position: float, equity: Decimal) -> None:
    config = ExecutorConfig.model_validate({"risk": {"max_position_size_pct": max_position},
                                            "strategies": {"allocation": {NAME: allocation}}})
    rules = offline_rules({SYMBOL: 100.0})[SYMBOL]
    signal = Signal(symbol=SYMBOL, strategy=NAME, confidence=confidence, reference_price=Decimal(100),
                    take_profit_pct=Decimal(3), stop_loss_pct=Decimal(2), time_ms=0, reason="test",
                    size_multiplier=asked)
    decision = evaluate_entry(signal, _context(equity), rules, config, 0)
    if decision.action is not DecisionAction.ENTER:
        return
    assert decision.quote_amount is not None
    kelly = kelly_sizing(KellyBasis(), config.risk, 0).fraction
    base = equity * Decimal(repr(kelly)) * Decimal(repr(confidence)) * Decimal(repr(allocation))
    assert decision.quote_amount <= base * Decimal(repr(MAX_SIGNAL_SIZE_MULTIPLIER))
    assert decision.quote_amount <= base * Decimal(repr(asked)) + Decimal("1e-8")
    assert decision.quote_amount <= equity * Decimal(repr(max_position)) / 100


@given(asked=st.floats(allow_nan=True, allow_infinity=True))
def test_the_gate_clamps_any_multiplier_it_is_handed(asked: float) -> None:
    applied = strategy_size_multiplier(asked)
    assert 0.0 <= applied <= MAX_SIGNAL_SIZE_MULTIPLIER


@pytest.mark.parametrize("asked", [1.21, 2.0, -0.1, float("nan"), float("inf")])
def test_a_signal_cannot_ask_for_more_than_1_2_or_a_negative_size(asked: float) -> None:
    with pytest.raises(ValidationError):
        Signal(symbol=SYMBOL, strategy=NAME, confidence=0.5, reference_price=Decimal(100),
               take_profit_pct=Decimal(3), stop_loss_pct=Decimal(2), time_ms=0, reason="test", size_multiplier=asked)
